"""Checks for lesson 02 (embeddings): one-hot encoding, and a lookup as a one-hot matrix product.

The inputs are tiny NumPy arrays whose answers can be worked out by hand.
"""

from __future__ import annotations

from cflearn.check.core import Case, close, exercise


def _shape_hint(got, n_rows: int, n_cols: int, rows: str, cols: str) -> str:
    shape = tuple(getattr(got, "shape", ()))
    if shape == (n_cols, n_rows) and n_rows != n_cols:
        return f"the result looks transposed: one row per {rows}, one column per {cols}"
    if shape and shape != (n_rows, n_cols):
        return f"the result should have shape ({n_rows}, {n_cols}): one row per {rows}, one column per {cols}"
    return ""


@exercise("one_hot", lesson="02")
def _one_hot(answer):
    import numpy as np

    cases = [
        (np.array([0, 2]), 3),
        (np.array([1, 1, 0]), 2),
        (np.array([3]), 5),
    ]
    for idx, n in cases:
        expected = np.zeros((len(idx), n), dtype=np.float32)
        expected[np.arange(len(idx)), idx] = 1.0
        got = answer(idx.copy(), n)
        ok, why = close(got, expected)
        hint = _shape_hint(got, len(idx), n, "index in idx", "possible index 0..n-1") or why
        if not ok and not hint:
            hint = "row k holds a single 1, in column idx[k]; everything else is 0"
        elif not ok:
            hint = f"{hint}; row k holds a single 1, in column idx[k]"
        yield Case(input=f"one_hot(idx={idx.tolist()}, n={n})", expected=expected, got=got, passed=ok, hint=hint)


@exercise("one_hot_lookup", lesson="02")
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
        ok, why = close(got, expected, atol=1e-5)
        hint = _shape_hint(got, len(idx), weight.shape[1], "index", "factor (column of weight)") or why
        if not ok:
            hint = (hint + "; " if hint else "") + "build the (len(idx), n_rows) one-hot matrix, then multiply it by weight"
        yield Case(
            input=f"one_hot_lookup(weight of shape {weight.shape}, idx={idx.tolist()})",
            expected=expected,
            got=got,
            passed=ok,
            hint=hint,
        )

