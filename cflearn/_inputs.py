"""Argument and input checks shared by ``cflearn.torch`` and ``cflearn.keras`` (NumPy only).

Both frameworks refuse the same bad settings with the same messages, before any tensor is
built: a bad layer size or ``y_range`` at construction, and NaN ratings, mismatched lengths
or indices the model never saw when training or predicting.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

ACTIVATIONS = ("relu", "elu", "gelu", "tanh", "silu")

# Names shared by both frameworks for ``get_weights``/``set_weights`` dictionaries.
EMBEDDINGS = ("user_factors", "item_factors", "user_bias", "item_bias")


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def model_args(n_users, n_items, n_factors) -> tuple[int, int, int]:
    """The three sizes every model takes, checked."""
    return positive_int(n_users, "n_users"), positive_int(n_items, "n_items"), positive_int(n_factors, "n_factors")


def y_range_arg(y_range):
    """``None`` or a ``(low, high)`` pair of finite floats with low < high."""
    if y_range is None:
        return None
    try:
        low, high = (float(v) for v in y_range)
    except (TypeError, ValueError):
        raise ValueError(f"y_range must be None or a pair (low, high), got {y_range!r}.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"y_range must be (low, high) with low < high, got {y_range!r}; for ratings try (0.5, 5.5).")
    return (low, high)


def global_mean_arg(global_mean, y_range):
    """``None`` or a finite float; inside ``y_range`` when one is given."""
    if global_mean is None:
        return None
    try:
        mean = float(global_mean)
    except (TypeError, ValueError):
        raise ValueError(f"global_mean must be None or a number, got {global_mean!r}.") from None
    if not math.isfinite(mean):
        raise ValueError(f"global_mean must be finite, got {global_mean!r}.")
    if y_range is not None and not y_range[0] < mean < y_range[1]:
        raise ValueError(f"global_mean {mean} must lie strictly inside y_range {y_range}.")
    return mean


def mlp_args(hidden, dropout, activation) -> tuple[tuple[int, ...], float, str]:
    """Hidden sizes (non-empty tuple of positive ints), dropout in [0, 1), a known activation."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        hidden = tuple(hidden)
    except TypeError:
        raise ValueError(f"hidden must be a tuple of layer sizes such as (64,), got {hidden!r}.") from None
    if not hidden:
        raise ValueError("hidden must list at least one layer size, for example (64,).")
    hidden = tuple(positive_int(h, f"each hidden layer size (in {hidden!r})") for h in hidden)
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}.")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}.")
    return hidden, float(dropout), activation


def offset_logit(global_mean, y_range) -> float:
    """The raw score that the model adds before squashing, so a zero score predicts ``global_mean``.

    Without ``y_range`` it is the mean itself; with one it is the logit of where the mean sits
    in the range (the sigmoid maps 0 to the middle of the range, not to the mean rating).
    """
    if global_mean is None:
        return 0.0
    if y_range is None:
        return global_mean
    low, high = y_range
    p = (global_mean - low) / (high - low)
    return math.log(p / (1.0 - p))


def train_args(lr, n_epochs, batch_size, weight_decay) -> None:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not float(lr) > 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    positive_int(n_epochs, "n_epochs")
    positive_int(batch_size, "batch_size")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not float(weight_decay) >= 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}.")


def _frame_columns(data, need_rating: bool, name: str):
    """``(user, item, rating)`` arrays from a frame with those columns or a tuple of arrays."""
    if hasattr(data, "columns"):
        wanted = ["user", "item"] + (["rating"] if need_rating else [])
        missing = [c for c in wanted if c not in data.columns]
        if missing:
            raise ValueError(
                f"{name} has no column(s) {missing} (it has {list(data.columns)}); add 'user' and 'item' "
                "with data.IdEncoder().fit(train).transform(df)."
            )
        columns = [data[c].to_numpy() for c in wanted]
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        columns = [np.asarray(c) for c in data]
        if need_rating and len(columns) != 3:
            raise ValueError(f"{name} must be a frame or a tuple (user, item, rating) for training.")
    else:
        raise ValueError(f"{name} must be a DataFrame with columns user, item, rating or a tuple of arrays, got {type(data).__name__}.")
    lengths = [np.shape(c)[0] if np.ndim(c) else -1 for c in columns]
    if any(np.ndim(c) != 1 for c in columns) or len(set(lengths)) != 1:
        raise ValueError(f"{name}: user, item (and rating) must be 1-D and of equal length, got lengths {lengths}.")
    return columns


def _indices(values, n: int, what: str, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))  # 1.7 or inf would be cast silently
        if bad.any():
            raise ValueError(f"{name}: column {what!r} must hold integer indices, got floats: {int(bad.sum()):,} value(s) "
                             f"are not whole numbers (e.g. {values[bad][0]!r}); encode with data.IdEncoder.")
    elif values.dtype.kind not in "iu":
        raise ValueError(f"{name}: column {what!r} must hold integer indices, got dtype {values.dtype}.")
    values = values.astype(np.int64)
    negative = int(np.count_nonzero(values < 0))
    beyond = int(np.count_nonzero(values >= n))
    if negative or beyond:
        parts = []
        if negative:
            parts.append(f"{negative:,} negative (unseen in training, -1)")
        if beyond:
            parts.append(f"{beyond:,} >= n_{what}s={n:,} (out of range)")
        raise ValueError(
            f"{name}: {' and '.join(parts)} {what} index value(s); the model only knows {what}s 0..{n - 1}. "
            "Encode with the IdEncoder fitted on the training split and drop unseen rows: "
            "encoder.transform(df, unseen='drop')."
        )
    return values


def encoded_arrays(data, n_users: int, n_items: int, *, need_rating: bool = True, name: str = "train"):
    """Checked ``user`` (int64), ``item`` (int64) and ``rating`` (float32, or None) arrays.

    Raises ``ValueError`` naming the problem: missing columns, mismatched lengths, an empty
    frame, NaN ratings, or indices outside ``0..n_users-1`` / ``0..n_items-1``.
    """
    columns = _frame_columns(data, need_rating, name)
    if len(columns[0]) == 0:
        raise ValueError(f"{name} is empty: there are no rows to use.")
    user = _indices(columns[0], n_users, "user", name)
    item = _indices(columns[1], n_items, "item", name)
    rating = None
    if need_rating:
        rating = np.asarray(columns[2], dtype=np.float32)
        bad = int(np.count_nonzero(~np.isfinite(rating)))
        if bad:
            raise ValueError(f"{name}: {bad:,} rating(s) are NaN or infinite; drop or fix those rows before training.")
    return user, item, rating


_FRAMEWORK_NAMES = {"torch": "PyTorch", "keras": "Keras"}


def model_framework(model) -> str | None:
    """"keras", "torch" or None, decided by type; a framework not imported yet is not imported."""
    import sys

    keras, torch = sys.modules.get("keras"), sys.modules.get("torch")
    # Keras first: under KERAS_BACKEND=torch a keras.Model is also a torch.nn.Module.
    if keras is not None and isinstance(model, getattr(keras, "Model", ())):
        return "keras"
    if torch is not None and isinstance(model, torch.nn.Module):
        return "torch"
    return None


def framework_of(model, expected: str) -> None:
    """Refuse a model built with the other framework, naming the ``fit``/``predict`` that takes it.

    Lessons import both ``cflearn.torch`` and ``cflearn.keras``, so handing one framework's model
    to the other's helper is an easy slip; without this it fails deep inside with an
    ``AttributeError``. Only frameworks already imported are asked (importing one is slow).
    """
    actual = model_framework(model)
    if actual == expected:
        return
    if actual is None:
        raise TypeError(
            f"cflearn.{expected} trains {_FRAMEWORK_NAMES[expected]} models, got a {type(model).__name__}; "
            f"build one first, for example cflearn.{expected}.DotProductBias(n_users, n_items)."
        )
    raise TypeError(
        f"{type(model).__name__} is a {_FRAMEWORK_NAMES[actual]} model, but this is cflearn.{expected}; "
        f"use cflearn.{actual}.fit and cflearn.{actual}.predict for it."
    )


# -- index checks for a model called directly, ``model(user, item)`` -------------------------------
# ``encoded_arrays`` checks whole frames before ``fit``/``predict``; these check the arrays a learner
# hands to a model, with one message per fault shared by both frameworks.

def index_shape_message(user_shape, item_shape) -> str:
    return f"user and item must have the same shape, got {tuple(user_shape)} and {tuple(item_shape)}."


def index_dtype_message(what: str) -> str:
    return (
        f"{what} indices must be integers (an integer array such as int64), got non-integer values; "
        f"pass the '{what}' column added by the IdEncoder, not IDs or ratings."
    )


def index_range_message(what: str, n: int, negative: int, beyond: int) -> str:
    return (
        f"{negative + beyond} {what} index value(s) are outside 0..{n - 1} ({negative} negative, i.e. unseen in "
        f"training; {beyond} >= n_{what}s={n}); encode with the IdEncoder fitted on the training split and drop "
        "unseen rows: encoder.transform(df, unseen='drop')."
    )


def check_index_arrays(user, item, n_users: int, n_items: int) -> None:
    """Refuse mismatched shapes, non-integer values or out-of-range values in concrete (NumPy) index arrays."""
    user, item = np.asarray(user), np.asarray(item)
    if user.shape != item.shape:
        raise ValueError(index_shape_message(user.shape, item.shape))
    for values, n, what in ((user, n_users, "user"), (item, n_items, "item")):
        if values.dtype.kind not in "iu":
            raise ValueError(index_dtype_message(what))
        negative, beyond = int(np.count_nonzero(values < 0)), int(np.count_nonzero(values >= n))
        if negative or beyond:
            raise ValueError(index_range_message(what, n, negative, beyond))
