"""Comparing a learner's return value with the expected one, and saying what differs.

The order of questions is always the same: is it the right *type* (a tensor, an array, a
number, a tuple of two things), then the right *shape*, then the right *values*; when the
values differ, does the answer match one of a list of known mistakes (each named by the hint
to show)? The NumPy functions used here are taken when this module is imported, so an answer
that replaces ``np.allclose`` cannot make later answers pass.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["close", "describe", "diagnose", "type_problem", "as_numpy", "short"]

# Captured before any answer can run (see the module docstring).
_allclose = np.allclose
_array_equal = np.array_equal
_asarray = np.asarray
_nanmax = np.nanmax
_abs = np.abs
_ndarray = np.ndarray
_number = np.number
_isfinite = np.isfinite
allclose = _allclose  # for checkers: NumPy's own, whatever an answer does to ``np.allclose``
array_equal = _array_equal


def short(value: Any, limit: int = 120) -> str:
    """``value`` (or its repr) on one line, cut to ``limit`` characters."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, _number)) and not isinstance(value, (bool, np.bool_))


def describe(value: Any) -> str:
    """A short description of a value's type and shape, e.g. "a numpy array of shape (3,)"."""
    try:
        if isinstance(value, _ndarray):
            return f"a numpy array of shape {value.shape}"
        mod = type(value).__module__
        if mod.startswith("pandas") and hasattr(value, "shape"):
            return f"a pandas {type(value).__name__} of shape {value.shape}"
        if _is_torch(value) and hasattr(value, "shape"):
            return f"a torch tensor of shape {tuple(value.shape)}"
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            return f"a {type(value).__name__} of shape {tuple(value.shape)}"
        if isinstance(value, (list, tuple)):
            return f"a {type(value).__name__} of length {len(value)}"
        if isinstance(value, dict):
            return f"a dict with keys {short(list(value)[:6], 60)}"
        if value is None:
            return "None"
        return f"a {type(value).__name__}"
    except Exception:
        return f"a {type(value).__name__}"


def as_numpy(value: Any):
    """A tensor, array, list or number as a float-or-int numpy array; None when it is not one."""
    try:
        if _is_torch(value):
            value = value.detach().cpu().numpy()
        if type(value).__module__.startswith("pandas"):
            value = value.to_numpy()
        arr = _asarray(value)
    except Exception:
        return None
    return arr if arr.dtype.kind in "fciub" else None


def type_problem(got: Any, expected: Any) -> str:
    """Why ``got`` is not of ``expected``'s kind ("" when it is): the first thing to tell a learner."""
    if got is None and expected is not None:
        return "your function returned None: did you forget the return statement?"
    if _is_torch(expected) and not _is_torch(got):
        return f"returned {describe(got)}; return a torch tensor (use torch operations throughout)"
    if isinstance(expected, _ndarray) and not isinstance(got, _ndarray) and not _is_torch(got):
        return f"returned {describe(got)}; return a numpy array"
    if _is_number(expected) or (hasattr(expected, "ndim") and getattr(expected, "ndim", 1) == 0):
        if not _is_number(got) and not (hasattr(got, "item") and getattr(got, "ndim", 1) == 0 and _is_number(_item(got))):
            return f"returned {describe(got)}; return one number"
    if isinstance(expected, tuple) and not isinstance(got, tuple):
        return f"returned {describe(got)}; return a tuple of {len(expected)} things"
    if isinstance(expected, (tuple, list)) and isinstance(got, (tuple, list)) and len(got) != len(expected):
        return f"returned {describe(got)}; return {len(expected)} things"
    if isinstance(expected, dict) and not isinstance(got, dict):
        return f"returned {describe(got)}; return a dict"
    if type(expected).__module__.startswith("pandas") and type(got) is not type(expected):
        return f"returned {describe(got)}; return {describe(expected).split(' of ')[0]}"
    return ""


def _item(value):
    try:
        return value.item()
    except Exception:
        return None


def close(got: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-5) -> tuple[bool, str]:
    """Compare ``got`` with ``expected`` (scalars, arrays, tensors, frames).

    Returns ``(ok, message)``; the message says what differs, for example
    "got a list, expected a numpy array of shape (3,)". Never raises.
    """
    try:
        if type(expected).__module__.startswith("pandas"):
            if type(got) is not type(expected):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            if got.shape != expected.shape:
                return False, f"got shape {got.shape}, expected shape {expected.shape}"
            if hasattr(expected, "columns") and list(got.columns) != list(expected.columns):
                return False, f"got columns {list(got.columns)}, expected {list(expected.columns)}"
            got, expected = got.to_numpy(), expected.to_numpy()
        if _is_torch(expected):
            expected = expected.detach().cpu().numpy()
        if isinstance(expected, _ndarray):
            if _is_torch(got):
                got = got.detach().cpu().numpy()
            elif hasattr(got, "numpy") and not isinstance(got, _ndarray):
                got = _asarray(got)
            if not isinstance(got, _ndarray):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            if got.shape != expected.shape:
                return False, f"got shape {got.shape}, expected shape {expected.shape}"
        elif _is_number(expected):
            if hasattr(got, "item") and getattr(got, "ndim", 0) == 0:
                got = _item(got)
            if not _is_number(got):
                return False, f"got {describe(got)}, expected a number"
        elif isinstance(expected, (list, tuple)):
            if not isinstance(got, (list, tuple)) or len(got) != len(expected):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            for i, (g, e) in enumerate(zip(got, expected)):
                ok, why = close(g, e, atol=atol, rtol=rtol)
                if not ok:
                    return False, f"item {i}: {why}"
            return True, ""
        else:
            ok = bool(got == expected)
            return ok, "" if ok else f"got {short(got)}, expected {short(expected)}"
        g, e = _asarray(got), _asarray(expected)
        if g.dtype.kind in "fciub" and e.dtype.kind in "fciub":
            ok = bool(_allclose(g, e, atol=atol, rtol=rtol, equal_nan=True))
            if ok:
                return True, ""
            diff = float(_nanmax(_abs(g.astype(float) - e.astype(float)))) if g.size else 0.0
            return False, f"values differ (largest difference {diff:.3g}, allowed {atol:g})"
        ok = bool(_array_equal(g, e))
        return ok, "" if ok else "values differ"
    except Exception as exc:
        return False, f"could not compare: {type(exc).__name__}: {exc}"


def _matches(got: Any, value: Any, atol: float) -> bool:
    """Loose match for known mistakes: numbers, arrays and tensors compared as numpy arrays."""
    if isinstance(value, (tuple, list)) and isinstance(got, (tuple, list)):
        return len(got) == len(value) and all(_matches(g, v, atol) for g, v in zip(got, value))
    g, v = as_numpy(got), as_numpy(value)
    if g is None or v is None or g.shape != v.shape:
        return False
    try:
        return bool(_allclose(g.astype(float), v.astype(float), atol=atol, rtol=1e-5))
    except Exception:
        return False


def diagnose(
    got: Any,
    expected: Any,
    mistakes: Iterable[tuple[str, Callable[[], Any]]] = (),
    *,
    fallback: str = "",
    atol: float = 1e-6,
    rtol: float = 1e-5,
    shape_hint: Callable[[tuple], str] | None = None,
) -> tuple[bool, str]:
    """Whether ``got`` equals ``expected`` and, if not, the hint naming the mistake.

    Questions, in order: the return type (:func:`type_problem`); then ``mistakes``,
    ``(hint, make)`` pairs where ``make()`` computes what that mistake returns (a mistake
    may have the wrong shape, like a (batch, batch) matrix product): the first that ``got``
    matches, and that differs from ``expected``, names the hint; then the shape
    (``shape_hint(shape)`` may explain it, e.g. a transposed result); then ``fallback``, or
    what :func:`close` says differs. Never raises.
    """
    ok, why = close(got, expected, atol=atol, rtol=rtol)
    if ok:
        return True, ""
    problem = type_problem(got, expected)
    if problem:
        return False, problem
    g, e = as_numpy(got), as_numpy(expected)
    for hint, make in mistakes:
        try:
            value = make()
        except Exception:  # that mistake cannot happen with these inputs
            continue
        if _matches(got, value, atol) and not _matches(expected, value, atol):
            return False, hint
    if g is not None and e is not None and g.shape != e.shape:
        if shape_hint is not None:
            text = shape_hint(tuple(g.shape))
            if text:
                return False, text
        return False, f"returned shape {tuple(g.shape)}; expected shape {tuple(e.shape)}"
    if g is not None and g.size and not bool(_isfinite(g.astype(float)).all()):
        return False, "the result holds nan or inf values"
    return False, fallback or why
