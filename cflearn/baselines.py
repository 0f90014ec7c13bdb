"""Baselines every model must beat: the global mean and regularised user + item biases.

They follow scikit-learn's habits: ``__init__`` stores settings, ``fit`` returns self,
fitted attributes end in ``_``. Both read the encoded columns ``user``, ``item`` and
``rating`` (see ``data.IdEncoder``). Introduced in lesson 01.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["GlobalMean", "BiasBaseline"]


def _column(df, name: str, dtype) -> np.ndarray:
    if not hasattr(df, "columns"):
        raise TypeError(f"expected a pandas DataFrame with columns user, item, rating, got {type(df).__name__}.")
    if name not in df.columns:
        raise ValueError(
            f"the frame has no column {name!r} (it has {list(df.columns)}); "
            "encode it first with data.IdEncoder, which adds 'user' and 'item'."
        )
    raw = df[name].to_numpy()
    if dtype is np.int64:
        return _indices(raw, name)
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"column {name!r} must hold numbers, got dtype {raw.dtype}; "
                         f"convert it with pd.to_numeric(df[{name!r}]).")
    values = raw.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"column {name!r} has {int((~np.isfinite(values)).sum())} NaN or infinite value(s); "
                         "drop or fix those rows first.")
    return values


def _indices(raw: np.ndarray, name: str) -> np.ndarray:
    """Integer indices; floats only when whole numbers (1.7 is not an index, and casting would make it 1)."""
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if bad.any():
            raise ValueError(f"column {name!r} must hold integer indices, got floats: {int(bad.sum()):,} value(s) are not "
                             f"whole numbers (e.g. {raw[bad][0]!r}); encode the ids with data.IdEncoder.")
    elif raw.dtype.kind not in "iu":
        raise ValueError(f"column {name!r} must hold integer indices, got dtype {raw.dtype}; "
                         "encode the ids with data.IdEncoder.")
    return raw.astype(np.int64)


class GlobalMean:
    """Predict the mean training rating for everyone.

    It takes no settings. Introduced in lesson 01.
    """

    def __init__(self):
        pass

    def fit(self, train) -> "GlobalMean":
        ratings = _column(train, "rating", np.float64)
        if ratings.size == 0:
            raise ValueError("cannot fit on an empty frame.")
        self.mean_ = float(ratings.mean())
        return self

    def predict(self, df) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("call fit(train) before predict().")
        if not hasattr(df, "__len__"):
            raise TypeError(f"expected a frame of rows to predict, got {type(df).__name__}.")
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
        # settings are checked here, scikit-learn style, so a changed attribute is checked too
        reg, n_iter = self.reg, self.n_iter
        if isinstance(reg, bool) or not isinstance(reg, numbers.Real) or not math.isfinite(reg) or reg < 0:
            raise ValueError(f"reg must be >= 0 (a finite number such as 3.0), got {reg!r}.")
        if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral) or n_iter < 1:
            raise ValueError(f"n_iter must be a positive integer such as 10, got {n_iter!r}.")
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
