"""Baselines every model must beat: the global mean and regularised user + item biases.

They follow scikit-learn's habits: ``__init__`` stores settings, ``fit`` returns self,
fitted attributes end in ``_``. Both read the encoded columns ``user``, ``item`` and
``rating`` (see ``data.IdEncoder``). Introduced in lesson 01.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GlobalMean", "BiasBaseline"]


def _column(df, name: str, dtype) -> np.ndarray:
    if name not in df.columns:
        raise ValueError(
            f"the frame has no column {name!r} (it has {list(df.columns)}); "
            "encode it first with data.IdEncoder, which adds 'user' and 'item'."
        )
    values = df[name].to_numpy(dtype=dtype)
    if dtype is np.float64 and np.isnan(values).any():
        raise ValueError(f"column {name!r} has {int(np.isnan(values).sum())} NaN value(s); drop or fix those rows first.")
    return values


class GlobalMean:
    """Predict the mean training rating for everyone.

    Introduced in lesson 01.
    """

    def fit(self, train) -> "GlobalMean":
        ratings = _column(train, "rating", np.float64)
        if ratings.size == 0:
            raise ValueError("cannot fit on an empty frame.")
        self.mean_ = float(ratings.mean())
        return self

    def predict(self, df) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("call fit(train) before predict().")
        return np.full(len(df), self.mean_, dtype=np.float32)


class BiasBaseline:
    """``rating ~ mean + user bias + item bias``, biases shrunk towards 0 by ``reg``.

    Fitted by alternating closed-form updates of the regularised least-squares problem:
    ``b_i = sum(r - mean - b_u) / (reg + n_i)`` and the same for users. A user or item
    not seen in training (index -1 or beyond the fitted range) gets a bias of 0.

    Parameters
    ----------
    reg : float
        Shrinkage: a film with few ratings keeps a bias near 0.
    n_iter : int
        Alternating sweeps (a handful is enough to converge).

    Introduced in lesson 01.
    """

    # reg=3 was chosen on an inner split of the course training data (split_ratings(train, seed=1)),
    # never on the validation split it is reported on.
    def __init__(self, reg: float = 3.0, n_iter: int = 10):
        self.reg = reg
        self.n_iter = n_iter

    def fit(self, train) -> "BiasBaseline":
        if not self.reg >= 0:
            raise ValueError(f"reg must be >= 0, got {self.reg!r}.")
        users = _column(train, "user", np.int64)
        items = _column(train, "item", np.int64)
        ratings = _column(train, "rating", np.float64)
        if ratings.size == 0:
            raise ValueError("cannot fit on an empty frame.")
        if users.min() < 0 or items.min() < 0:
            raise ValueError("training rows must all have known users and items (index >= 0).")
        n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
        self.mean_ = float(ratings.mean())
        residual = ratings - self.mean_
        user_count = np.bincount(users, minlength=n_users)
        item_count = np.bincount(items, minlength=n_items)
        self.user_bias_ = np.zeros(n_users)
        self.item_bias_ = np.zeros(n_items)
        for _ in range(self.n_iter):
            self.item_bias_ = np.bincount(items, residual - self.user_bias_[users], n_items) / (self.reg + item_count)
            self.user_bias_ = np.bincount(users, residual - self.item_bias_[items], n_users) / (self.reg + user_count)
        return self

    def predict(self, df) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("call fit(train) before predict().")
        users = _column(df, "user", np.int64)
        items = _column(df, "item", np.int64)
        return (self.mean_ + _lookup(self.user_bias_, users) + _lookup(self.item_bias_, items)).astype(np.float32)


def _lookup(bias: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``bias[index]``, with 0 where the index was never seen in training."""
    known = (index >= 0) & (index < bias.size)
    return np.where(known, bias[np.where(known, index, 0)], 0.0)
