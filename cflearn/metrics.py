"""Accuracy metrics on the rating scale, computed from predictions (NumPy only).

Introduced in lesson 01. A metric here never includes a regulariser: it compares
predicted ratings with true ratings and nothing else.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as 1-D float64 arrays of equal length, or a clear ValueError."""
    t = np.asarray(_numpy(y_true), dtype=np.float64).reshape(-1)
    p = np.asarray(_numpy(y_pred), dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}; predict one rating per row.")
    if t.size == 0:
        raise ValueError("no ratings to score: y_true and y_pred are empty.")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"{name} has {bad} NaN or infinite value(s); check the model's inputs and outputs.")
    return t, p


def _numpy(x):
    """Accept tensors too (torch, TF), without importing either framework."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return x


def rmse(y_true, y_pred) -> float:
    """Root mean squared error between true and predicted ratings.

    Introduced in lesson 01.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error between true and predicted ratings.

    Introduced in lesson 01.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))
