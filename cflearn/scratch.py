"""Biased matrix factorisation from scratch: NumPy only, gradients derived by hand.

The model predicts ``rating ~ global_mean + user_bias[u] + item_bias[i] + user_factors[u] . item_factors[i]``
and is trained by mini-batch SGD on the per-rating loss

    loss_j = (prediction_j - rating_j)**2
             + reg * (user_bias[u]**2 + item_bias[i]**2 + |user_factors[u]|**2 + |item_factors[i]|**2)

A mini-batch step follows the gradient of the batch's *summed* loss (``gradients``), with a
handful of vectorised NumPy calls: each parameter gets one term per rating it appears in, all
computed from the parameters as they were before the step. A batch of one is exactly classic
per-rating SGD; a larger batch is not, since per-rating SGD would update between ratings.
Introduced in lesson 08.
"""

from __future__ import annotations

import time

import numpy as np

from cflearn.history import History

__all__ = ["BiasedMF", "ScratchHistory", "init_params", "predict_params", "loss", "gradients"]

PARAM_NAMES = ("user_bias", "item_bias", "user_factors", "item_factors")


def init_params(n_users: int, n_items: int, n_factors: int, global_mean: float = 0.0, scale: float = 0.1, seed: int = 42) -> dict:
    """Starting parameters: zero biases, small random factors (symmetry must be broken).

    Introduced in lesson 08.
    """
    rng = np.random.default_rng(seed)
    return {
        "global_mean": float(global_mean),  # fixed, never trained
        "user_bias": np.zeros(n_users),
        "item_bias": np.zeros(n_items),
        "user_factors": rng.normal(0.0, scale, (n_users, n_factors)),
        "item_factors": rng.normal(0.0, scale, (n_items, n_factors)),
    }


def predict_params(params: dict, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Raw predictions (not clipped) for index arrays ``users`` and ``items``, shape (batch,).

    Introduced in lesson 08.
    """
    p = params["user_factors"][users]  # (batch, n_factors)
    q = params["item_factors"][items]  # (batch, n_factors)
    return params["global_mean"] + params["user_bias"][users] + params["item_bias"][items] + np.sum(p * q, axis=1)


def loss(params: dict, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, reg: float) -> tuple[float, float]:
    """``(regularised loss, mse)``, both averaged over the rows given.

    The first is what SGD minimises; the second is the plain squared error, whose square root
    is the RMSE. Never report the first as an accuracy. Introduced in lesson 08.
    """
    err = predict_params(params, users, items) - ratings  # (batch,)
    penalty = (
        params["user_bias"][users] ** 2
        + params["item_bias"][items] ** 2
        + np.sum(params["user_factors"][users] ** 2, axis=1)
        + np.sum(params["item_factors"][items] ** 2, axis=1)
    )
    mse = float(np.mean(err**2))
    return mse + reg * float(np.mean(penalty)), mse


def gradients(params: dict, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, reg: float) -> dict:
    """Gradient of the summed loss of a batch with respect to each trained parameter array.

    Returns a dict with the keys ``user_bias``, ``item_bias``, ``user_factors``, ``item_factors``,
    each the same shape as the parameter. A user appearing in several rows collects the sum of
    their contributions (``np.add.at``; plain ``g[users] += ...`` would keep only one of them).
    Introduced in lesson 08.
    """
    bu, bi = params["user_bias"], params["item_bias"]
    P, Q = params["user_factors"], params["item_factors"]
    err = predict_params(params, users, items) - ratings  # (batch,)
    p, q = P[users], Q[items]  # (batch, n_factors)
    grads = {name: np.zeros_like(params[name]) for name in PARAM_NAMES}
    np.add.at(grads["user_bias"], users, 2 * (err + reg * bu[users]))
    np.add.at(grads["item_bias"], items, 2 * (err + reg * bi[items]))
    np.add.at(grads["user_factors"], users, 2 * (err[:, None] * q + reg * p))
    np.add.at(grads["item_factors"], items, 2 * (err[:, None] * p + reg * q))
    return grads


class ScratchHistory(History):
    """A :class:`~cflearn.history.History` that also keeps the regularised loss and the train RMSE.

    ``train_loss`` stays the plain training MSE (as in every History); ``reg_loss`` is the
    objective SGD minimised. Introduced in lesson 08.
    """

    def add(self, *, epoch=None, train_loss, valid_rmse=None, seconds, reg_loss=float("nan")) -> None:
        super().add(epoch=epoch, train_loss=train_loss, valid_rmse=valid_rmse, seconds=seconds)
        self.epochs[-1]["reg_loss"] = float(reg_loss)
        self.epochs[-1]["train_rmse"] = float(np.sqrt(train_loss))

    def to_frame(self):
        import pandas as pd

        cols = ["epoch", "reg_loss", "train_loss", "train_rmse", "valid_rmse", "seconds"]
        return pd.DataFrame(self.epochs, columns=cols)


def _columns(df, need_rating: bool = True):
    missing = [c for c in ("user", "item") + (("rating",) if need_rating else ()) if c not in df.columns]
    if missing:
        raise ValueError(
            f"the frame lacks column(s) {missing} (it has {list(df.columns)}); encode it with data.IdEncoder first."
        )
    users, items = (_whole_numbers(df[c].to_numpy(), c) for c in ("user", "item"))
    ratings = df["rating"].to_numpy(dtype=np.float64) if need_rating else None
    return users, items, ratings


def _whole_numbers(values: np.ndarray, column: str) -> np.ndarray:
    """int64 indices; floats such as 1.7 are refused rather than truncated to 1."""
    if values.dtype.kind == "f" and not (np.isfinite(values).all() and np.all(values == np.round(values))):
        raise ValueError(f"column {column!r} must hold whole-number indices from data.IdEncoder, got {values.dtype} "
                         "values such as 1.7 or NaN.")
    if values.dtype.kind not in "iuf":
        raise ValueError(f"column {column!r} must hold integer indices from data.IdEncoder, got dtype {values.dtype}.")
    return values.astype(np.int64)


class BiasedMF:
    """Biased matrix factorisation trained by mini-batch SGD with hand-derived gradients (NumPy).

    Parameters
    ----------
    n_factors : int
        Length of each user and item vector.
    lr : float
        SGD step size per rating.
    reg : float
        L2 penalty on the biases and factors touched by each rating.
    n_epochs : int
        Passes over the training rows.
    batch_size : int
        Ratings updated together in one vectorised step.
    init_scale : float
        Standard deviation of the random starting factors.
    clip : bool
        Clip predictions to the range of training ratings.
    seed : int
        Seeds the starting factors and the shuffling.

    Fitted attributes: ``params_`` (see :func:`init_params`), ``n_users_``, ``n_items_``,
    ``rating_range_``, ``history_`` (a :class:`ScratchHistory`).
    Introduced in lesson 08.
    """

    # Defaults chosen on an inner split of the course training data (split_ratings(train, seed=1)).
    def __init__(self, n_factors: int = 50, lr: float = 0.01, reg: float = 0.1, n_epochs: int = 25,
                 batch_size: int = 128, init_scale: float = 0.1, clip: bool = True, seed: int = 42):
        self.n_factors = n_factors
        self.lr = lr
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.init_scale = init_scale
        self.clip = clip
        self.seed = seed

    def fit(self, train, valid=None, progress: bool = False) -> "BiasedMF":
        """Train on the encoded frame ``train``; ``valid`` (optional) is scored after each epoch."""
        users, items, ratings = _columns(train)
        if ratings.size == 0:
            raise ValueError("cannot fit on an empty frame.")
        if users.min() < 0 or items.min() < 0:
            raise ValueError("training rows must all have known users and items (index >= 0).")
        self.n_users_, self.n_items_ = int(users.max()) + 1, int(items.max()) + 1
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        rng = np.random.default_rng(self.seed)
        self.params_ = init_params(self.n_users_, self.n_items_, self.n_factors, ratings.mean(), self.init_scale, self.seed)
        self.history_ = ScratchHistory("numpy", "BiasedMF", n_ratings=ratings.size)
        epochs = range(self.n_epochs)
        if progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="BiasedMF epochs")
        for epoch in epochs:
            start = time.perf_counter()
            order = rng.permutation(ratings.size)
            for lo in range(0, ratings.size, self.batch_size):
                batch = order[lo : lo + self.batch_size]
                grads = gradients(self.params_, users[batch], items[batch], ratings[batch], self.reg)
                for name in PARAM_NAMES:
                    self.params_[name] -= self.lr * grads[name]
            seconds = time.perf_counter() - start
            reg_loss, mse = loss(self.params_, users, items, ratings, self.reg)
            valid_rmse = None
            if valid is not None:
                valid_rmse = float(np.sqrt(np.mean((self.predict(valid) - valid["rating"].to_numpy(np.float64)) ** 2)))
            self.history_.add(train_loss=mse, valid_rmse=valid_rmse, seconds=seconds, reg_loss=reg_loss)
        return self

    def predict(self, df) -> np.ndarray:
        """Predicted ratings for the encoded frame ``df``; unseen users/items (-1) get a zero bias and vector."""
        if not hasattr(self, "params_"):
            raise RuntimeError("call fit(train) before predict().")
        users, items, _ = _columns(df, need_rating=False)
        ku = (users >= 0) & (users < self.n_users_)
        ki = (items >= 0) & (items < self.n_items_)
        u, i = np.where(ku, users, 0), np.where(ki, items, 0)
        p = self.params_["user_factors"][u] * ku[:, None]  # (batch, n_factors), zero when unseen
        q = self.params_["item_factors"][i] * ki[:, None]
        pred = (
            self.params_["global_mean"]
            + np.where(ku, self.params_["user_bias"][u], 0.0)
            + np.where(ki, self.params_["item_bias"][i], 0.0)
            + np.sum(p * q, axis=1)
        )
        if self.clip:
            pred = np.clip(pred, *self.rating_range_)
        return pred.astype(np.float32)

    def __repr__(self) -> str:
        return (
            f"BiasedMF(n_factors={self.n_factors}, lr={self.lr}, reg={self.reg}, n_epochs={self.n_epochs}, "
            f"batch_size={self.batch_size}, seed={self.seed})"
        )
