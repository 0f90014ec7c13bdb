"""Checks for lesson 02 (embeddings): one-hot encoding, and a lookup as a one-hot matrix product.

The inputs are tiny NumPy arrays whose answers can be worked out by hand.
"""

from __future__ import annotations

from cflearn.check.core import Case, diagnose, exercise


def _shape_hint(n_rows: int, n_cols: int, rows: str, cols: str):
    def hint(shape: tuple) -> str:
        if shape == (n_cols, n_rows) and n_rows != n_cols:
            return f"the result looks transposed: one row per {rows}, one column per {cols}"
        return f"the result should have shape ({n_rows}, {n_cols}): one row per {rows}, one column per {cols}"

    return hint


def _reference_one_hot(idx, n):
    """A (len(idx), n) float matrix with a single 1 per row, in column idx[k]."""
    import numpy as np

    out = np.zeros((len(idx), n), dtype=np.float32)
    out[np.arange(len(idx)), idx] = 1.0
    return out


def _reference_lookup(weight, idx):
    """The rows of ``weight`` picked by ``idx``, as a one-hot matrix times ``weight``."""
    return _reference_one_hot(idx, weight.shape[0]) @ weight


@exercise("one_hot", lesson="02", reference=_reference_one_hot)
def _one_hot(answer):
    import numpy as np

    cases = [
        (np.array([0, 2]), 3),
        (np.array([1, 1, 0]), 2),
        (np.array([3]), 5),
        (np.array([2, 0, 1, 2]), 4),
    ]
    for idx, n in cases:
        expected = _reference_one_hot(idx, n)
        got = answer(idx.copy(), n)
        mistakes = [
            ("put the 1 of row k in column idx[k] (the index's value), not in column k",
             lambda: np.eye(len(idx), n)),
            ("indices start at 0: index i goes in column i, not column i + 1",
             lambda: _reference_one_hot(idx + 1, n + 1)[:, :n]),
            ("one column per possible index 0..n-1: the width is n, not max(idx) + 1",
             lambda: _reference_one_hot(idx, int(idx.max()) + 1)),
        ]
        ok, hint = diagnose(got, expected, mistakes, shape_hint=_shape_hint(len(idx), n, "index in idx", "possible index 0..n-1"),
                            fallback="row k holds a single 1, in column idx[k]; everything else is 0")
        yield Case(input=f"one_hot(idx={idx.tolist()}, n={n})", expected=expected, got=got, passed=ok, hint=hint)


@exercise("one_hot_lookup", lesson="02", reference=_reference_lookup)
def _one_hot_lookup(answer):
    import numpy as np

    weight_a = np.array([[0.1, 0.2], [1.0, -1.0], [3.0, 0.5]], dtype=np.float32)  # 3 rows, 2 factors
    weight_b = np.arange(12, dtype=np.float32).reshape(4, 3) / 4  # 4 rows, 3 factors
    cases = [
        (weight_a, np.array([2, 0, 2])),
        (weight_a, np.array([1])),
        (weight_b, np.array([3, 1])),
    ]
    for weight, idx in cases:
        expected = weight[idx]  # (len(idx), n_factors)
        got = answer(weight.copy(), idx.copy())
        onehot = _reference_one_hot(idx, weight.shape[0])
        mistakes = [
            ("that is the one-hot matrix itself; multiply it by weight to pick the rows", lambda: onehot),
            ("the one-hot matrix goes on the left: one_hot(idx, n_rows) @ weight", lambda: weight.T @ onehot.T),
            ("the one-hot matrix needs one column per row of weight (n = weight.shape[0]), "
             "not one per index in idx", lambda: weight[: len(idx)]),
            ("those are the columns of weight; an embedding lookup picks rows", lambda: weight[:, idx].T),
        ]
        ok, hint = diagnose(got, expected, mistakes, atol=1e-5,
                            shape_hint=_shape_hint(len(idx), weight.shape[1], "index", "factor (column of weight)"),
                            fallback="build the (len(idx), n_rows) one-hot matrix, then multiply it by weight")
        yield Case(
            input=f"one_hot_lookup(weight of shape {weight.shape}, idx={idx.tolist()})",
            expected=expected,
            got=got,
            passed=ok,
            hint=hint,
        )
