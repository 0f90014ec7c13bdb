"""Checks for lesson 08 (matrix factorisation from scratch in NumPy): the loss and its gradients.

Parameters are a dict of NumPy arrays: ``global_mean`` (a float, not trained), ``user_bias``
(n_users,), ``item_bias`` (n_items,), ``user_factors`` (n_users, n_factors), ``item_factors``
(n_items, n_factors). For one rating, the loss is

    (prediction - rating)**2 + reg * (b_u**2 + b_i**2 + |p_u|**2 + |q_i|**2)

- ``mf_loss(params, users, items, ratings, reg)`` returns ``(regularised loss, mse)``, both the
  mean over the rows.
- ``mf_gradients(params, users, items, ratings, reg)`` returns the gradient of the batch's
  *summed* loss as a dict of arrays shaped like the parameters; it is checked against central
  finite differences, so any correct derivation passes.
"""

from __future__ import annotations

from cflearn.check.core import Case, close, describe, exercise

_TRAINED = ("user_bias", "item_bias", "user_factors", "item_factors")


def _case(seed: int, duplicates: bool):
    import numpy as np

    rng = np.random.default_rng(seed)
    params = {
        "global_mean": 3.5,
        "user_bias": np.round(rng.normal(0, 0.5, 3), 2),
        "item_bias": np.round(rng.normal(0, 0.5, 4), 2),
        "user_factors": np.round(rng.normal(0, 0.7, (3, 2)), 2),
        "item_factors": np.round(rng.normal(0, 0.7, (4, 2)), 2),
    }
    if duplicates:  # users 1 and 2 and item 2 appear twice: their contributions must add up
        users, items = np.array([1, 0, 1, 2, 2]), np.array([2, 3, 0, 2, 1])
    else:
        users, items = np.array([0, 2]), np.array([1, 3])
    ratings = np.array([4.0, 2.5, 5.0, 3.0, 1.5])[: len(users)]
    return params, users, items, ratings


def _copy(params):
    return {k: (v.copy() if hasattr(v, "copy") else v) for k, v in params.items()}


def _reference_loss(params, users, items, ratings, reg):
    from cflearn.scratch import loss

    return loss(params, users, items, ratings, reg)


def _finite_differences(params, users, items, ratings, reg, eps=1e-6):
    """Central differences of the summed regularised loss, for every trained entry."""
    import numpy as np

    n = len(ratings)
    p = _copy(params)
    grads = {}
    for name in _TRAINED:
        g = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            old = p[name][idx]
            p[name][idx] = old + eps
            up = _reference_loss(p, users, items, ratings, reg)[0] * n
            p[name][idx] = old - eps
            down = _reference_loss(p, users, items, ratings, reg)[0] * n
            p[name][idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


_CASES = [(0, False, 0.0), (1, True, 0.0), (2, True, 0.1), (3, False, 0.5)]


@exercise("mf_loss", lesson="08")
def _mf_loss(answer):
    import numpy as np

    for seed, dup, reg in _CASES:
        params, users, items, ratings = _case(seed, dup)
        expected = _reference_loss(params, users, items, ratings, reg)
        got = answer(_copy(params), users.copy(), items.copy(), ratings.copy(), reg)
        label = f"{len(ratings)} ratings, users={users.tolist()}, items={items.tolist()}, reg={reg}"
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            yield Case(input=label, expected="(regularised loss, mse)", got=got, passed=False,
                       hint=f"return two numbers, (regularised loss, mse); got {describe(got)}")
            continue
        got = tuple(float(np.asarray(v)) if np.size(v) == 1 else v for v in got)
        ok, why = close(list(got), list(expected), atol=1e-8)
        hint = ""
        if not ok:
            reg_loss, mse = expected
            n = len(ratings)
            penalty = (reg_loss - mse) / reg if reg else 0.0
            if np.isclose(got[1], np.sqrt(mse)):
                hint = "the second number is the mean squared error, not its square root"
            elif np.isclose(got[1], mse * n) or np.isclose(got[0], reg_loss * n):
                hint = "average over the rows (a mean), do not sum"
            elif np.isclose(got[1], mse) and reg and np.isclose(got[0], mse + reg * penalty * n):
                hint = "the penalty is averaged over the rows too, like the squared error"
            elif np.isclose(got[0], mse) and reg:
                hint = "the first number adds reg * (squared biases + squared vector lengths) of each row's user and item"
            elif np.isclose(got[1], mse) and not np.isclose(got[0], reg_loss):
                hint = "square each bias and each vector entry of the row's user and item, sum, times reg"
            else:
                hint = "prediction = global_mean + user bias + item bias + user vector . item vector"
        yield Case(input=label, expected=tuple(round(v, 6) for v in expected),
                   got=tuple(round(v, 6) if isinstance(v, float) else v for v in got), passed=ok, hint=hint or why)


@exercise("mf_gradients", lesson="08")
def _mf_gradients(answer):
    import numpy as np

    for seed, dup, reg in _CASES:
        params, users, items, ratings = _case(seed, dup)
        expected = _finite_differences(params, users, items, ratings, reg)
        got = answer(_copy(params), users.copy(), items.copy(), ratings.copy(), reg)
        label = f"{len(ratings)} ratings, users={users.tolist()}, items={items.tolist()}, reg={reg}"
        if not isinstance(got, dict) or not set(_TRAINED) <= set(got):
            missing = sorted(set(_TRAINED) - set(got)) if isinstance(got, dict) else list(_TRAINED)
            yield Case(input=label, expected=f"a dict with keys {list(_TRAINED)}", got=describe(got), passed=False,
                       hint=f"return a dict of gradient arrays; missing: {missing}")
            continue
        for name in _TRAINED:
            g = got[name]
            ok, why = close(g, expected[name], atol=1e-5)
            hint = ""
            if not ok:
                hint = _gradient_hint(name, g, expected[name], params, users, items, ratings, reg) or why
            yield Case(input=f"{label}: d loss / d {name}", expected=np.round(expected[name], 5), got=g, passed=ok, hint=hint)


def _gradient_hint(name, got, expected, params, users, items, ratings, reg):
    import numpy as np

    try:
        got = np.asarray(got, dtype=float)
    except Exception:
        return f"return an array shaped like params[{name!r}]"
    if got.shape != expected.shape:
        return f"the gradient of {name} has the parameter's shape {expected.shape}: scatter each row's part into it"
    if np.allclose(got, -expected, atol=1e-5):
        return "the sign is flipped: use err = prediction - rating, and the gradient points uphill"
    if np.allclose(got, expected / 2, atol=1e-5):
        return "the derivative of err**2 is 2 * err (and of reg * b**2 is 2 * reg * b)"
    if np.allclose(got, expected / len(ratings), atol=1e-5):
        return "this is the gradient of the mean; take the gradient of the summed loss"
    no_reg = _finite_differences(params, users, items, ratings, 0.0)[name]
    if reg and np.allclose(got, no_reg, atol=1e-5):
        return "the penalty has a gradient too: 2 * reg * (the parameter itself), once per row it appears in"
    rows = users if name.startswith("user") else items
    if len(set(rows.tolist())) < len(rows):
        return "some users/items appear in several rows: their gradients add up (np.add.at; g[idx] += x keeps only one)"
    return "chain rule: d err**2 / d b_u = 2 * err; d err**2 / d p_u = 2 * err * q_i (and q_i's uses p_u)"
