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

from cflearn.check.compare import allclose
from cflearn.check.core import Case, close, describe, exercise

_TRAINED = ("user_bias", "item_bias", "user_factors", "item_factors")


def _case(seed: int, users, items):
    import numpy as np

    rng = np.random.default_rng(seed)
    params = {
        "global_mean": 3.5,
        "user_bias": np.round(rng.normal(0, 0.5, 4), 2),
        "item_bias": np.round(rng.normal(0, 0.5, 5), 2),
        "user_factors": np.round(rng.normal(0, 0.7, (4, 2)), 2),
        "item_factors": np.round(rng.normal(0, 0.7, (5, 2)), 2),
    }
    users, items = np.array(users), np.array(items)
    ratings = np.array([4.0, 2.5, 5.0, 3.0, 1.5, 4.5, 2.0])[: len(users)]
    return params, users, items, ratings


def _copy(params):
    return {k: (v.copy() if hasattr(v, "copy") else v) for k, v in params.items()}


def _reference_loss(params, users, items, ratings, reg):
    from cflearn.scratch import loss

    return loss(params, users, items, ratings, reg)


def _reference_gradients(params, users, items, ratings, reg):
    from cflearn.scratch import gradients

    return gradients(params, users, items, ratings, reg)


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


# (seed, users, items, reg): batch sizes 3, 5, 6 and 7 (never 2, so "halved" and "divided by the
# batch size" differ); repeated users and items; users and items missing from the batch (so a
# penalty on the whole table shows); reg > 0 in most cases (so penalty mistakes show).
_CASES = [
    (0, [0, 2, 3], [1, 3, 4], 0.0),
    (1, [1, 0, 1, 2, 2], [2, 3, 0, 2, 1], 0.1),
    (2, [3, 3, 3, 0, 1, 3], [0, 4, 0, 2, 2, 1], 0.5),
    (3, [2, 0, 2, 2, 1, 0, 1], [4, 4, 1, 3, 3, 0, 4], 0.3),
]


def _variant(params, users, items, ratings, reg, *, err2=2.0, reg2=2.0, sign=1.0, scale=1.0,
             scatter="add", penalty="row"):
    """The gradient of the summed loss computed with one deliberate mistake (the knobs)."""
    import numpy as np

    mean = params["global_mean"]
    bu, bi, P, Q = (params[k] for k in _TRAINED)
    err = mean + bu[users] + bi[items] + (P[users] * Q[items]).sum(1) - ratings  # (batch,)
    out = {}
    for name, rows, own, other in (("user_bias", users, bu, None), ("item_bias", items, bi, None),
                                   ("user_factors", users, P, Q[items]), ("item_factors", items, Q, P[users])):
        data = err2 * err if other is None else err2 * err[:, None] * other  # (batch,) or (batch, n_factors)
        g = np.zeros_like(own, dtype=float)
        pen = reg2 * reg * own[rows]
        if penalty == "row":
            data = data + pen
        if scatter == "add":
            np.add.at(g, rows, data)
        else:
            g[rows] += data
        if penalty == "distinct":
            uniq = np.unique(rows)
            g[uniq] += reg2 * reg * own[uniq]
        elif penalty == "table":
            g += reg2 * reg * own
        out[name] = sign * g / scale
    return out


_GRADIENT_MISTAKES = [
    ("the sign is flipped: use err = prediction - rating, and the gradient points uphill", {"sign": -1.0}),
    ("the derivative of err**2 is 2 * err (and of reg * b**2 is 2 * reg * b)", {"err2": 1.0, "reg2": 1.0}),
    ("the derivative of err**2 is 2 * err", {"err2": 1.0}),
    ("the derivative of reg * b**2 is 2 * reg * b: the penalty's gradient is missing its 2", {"reg2": 1.0}),
    ("the penalty has a gradient too: 2 * reg * (the parameter itself), once per row it appears in", {"reg2": 0.0}),
    ("this is the gradient of the mean; take the gradient of the summed loss (no division by the batch size)", {"scale": "n"}),
    ("the penalty counts once per row a user/item appears in, not once per distinct user/item",
     {"penalty": "distinct"}),
    ("the penalty applies to the rows in the batch (once per row), not to the whole table",
     {"penalty": "table"}),
    ("some users/items appear in several rows: their gradients add up (np.add.at; g[idx] += x or g[idx] = x "
     "keeps only one)", {"scatter": "fancy"}),
    ("some users/items appear in several rows: their gradients add up, and so do their penalties (np.add.at)",
     {"scatter": "fancy", "penalty": "distinct"}),
]


@exercise("mf_loss", lesson="08", reference=_reference_loss)
def _mf_loss(answer):
    import numpy as np

    for seed, users, items, reg in _CASES:
        params, users, items, ratings = _case(seed, users, items)
        expected = _reference_loss(params, users, items, ratings, reg)
        got = answer(_copy(params), users.copy(), items.copy(), ratings.copy(), reg)
        label = f"{len(ratings)} ratings, users={users.tolist()}, items={items.tolist()}, reg={reg}"
        shown = tuple(round(v, 6) for v in expected)
        problem = _loss_problem(got)
        if problem:
            yield Case(input=label, expected=shown, got=describe(got), passed=False, hint=problem)
            continue
        got = tuple(float(np.asarray(v).reshape(-1)[0]) for v in got)
        ok, why = close(list(got), list(expected), atol=1e-8)
        hint = "" if ok else _loss_hint(got, expected, params, users, items, ratings, reg)
        yield Case(input=label, expected=shown, got=tuple(round(v, 6) for v in got), passed=ok, hint=hint or why)


def _loss_problem(got) -> str:
    """Why ``got`` is not a pair of numbers ("" when it is)."""
    import numpy as np

    if got is None:
        return "your function returned None: did you forget the return statement?"
    if not isinstance(got, (tuple, list)):
        return f"returned {describe(got)}; return two numbers, (regularised loss, mse)"
    if len(got) != 2:
        return f"returned {describe(got)}; return two numbers, (regularised loss, mse)"
    for what, v in zip(("regularised loss", "mse"), got):
        if v is None:
            return f"the {what} is None: compute it and return both numbers"
        try:
            arr = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            return f"the {what} should be one number, got {describe(v)}"
        if arr.size != 1:
            return f"the {what} should be one number (the mean over the rows), got {describe(v)}: average it"
    return ""


def _loss_hint(got, expected, params, users, items, ratings, reg) -> str:
    import numpy as np

    reg_loss, mse = expected
    n = len(ratings)
    penalty = (reg_loss - mse) / reg if reg else 0.0
    if np.isclose(got[1], np.sqrt(mse)):
        return "the second number is the mean squared error, not its square root"
    if np.isclose(got[0], mse) and np.isclose(got[1], reg_loss) and reg:
        return "the two numbers are swapped: return (regularised loss, mse)"
    if np.isclose(got[1], mse * n) or np.isclose(got[0], reg_loss * n):
        return "average over the rows (a mean), do not sum"
    if np.isclose(got[1], mse) and reg and np.isclose(got[0], mse + reg * penalty * n):
        return "the penalty is averaged over the rows too, like the squared error"
    if np.isclose(got[0], mse) and reg:
        return "the first number adds reg * (squared biases + squared vector lengths) of each row's user and item"
    bu, bi = params["user_bias"][users], params["item_bias"][items]
    p, q = params["user_factors"][users], params["item_factors"][items]
    err = params["global_mean"] + bu + bi + (p * q).sum(1) - ratings  # (batch,)
    if np.isclose(got[1], np.mean(np.abs(err))):
        return "the error is squared (mean squared error), not taken as its absolute value"
    if np.isclose(got[1], np.mean((err - params["global_mean"]) ** 2)):
        return "the prediction starts from the global mean: global_mean + user bias + item bias + user . item"
    if np.isclose(got[1], mse) and reg:
        table = sum(float(np.sum(params[k] ** 2)) for k in _TRAINED)
        if np.isclose(got[0], mse + reg * table):
            return "the penalty covers the user and item of each row (averaged over the rows), not the whole table"
        if np.isclose(got[0], mse + reg * np.mean((p**2).sum(1) + (q**2).sum(1))):
            return "the biases are penalised too: reg * (b_u**2 + b_i**2 + |p_u|**2 + |q_i|**2)"
    if np.isclose(got[1], mse) and not np.isclose(got[0], reg_loss):
        return "square each bias and each vector entry of the row's user and item, sum, times reg"
    return "prediction = global_mean + user bias + item bias + user vector . item vector"


@exercise("mf_gradients", lesson="08", reference=_reference_gradients)
def _mf_gradients(answer):
    import numpy as np

    runs = []
    for seed, users, items, reg in _CASES:
        params, users, items, ratings = _case(seed, users, items)
        expected = _finite_differences(params, users, items, ratings, reg)
        got = answer(_copy(params), users.copy(), items.copy(), ratings.copy(), reg)
        runs.append((params, users, items, ratings, reg, expected, got))
    # the same mistake shows in every case: name the one whose output matches them all
    hints = {name: _gradient_diagnosis(name, runs) for name in _TRAINED}
    for params, users, items, ratings, reg, expected, got in runs:
        label = f"{len(ratings)} ratings, users={users.tolist()}, items={items.tolist()}, reg={reg}"
        if not isinstance(got, dict) or not set(_TRAINED) <= set(got):
            if got is None:
                hint = "your function returned None: did you forget the return statement?"
            else:
                missing = sorted(set(_TRAINED) - set(got)) if isinstance(got, dict) else list(_TRAINED)
                hint = f"returned {describe(got)}; return a dict of gradient arrays with keys {list(_TRAINED)} (missing: {missing})"
            yield Case(input=label, expected=f"a dict with keys {list(_TRAINED)}", got=describe(got), passed=False, hint=hint)
            continue
        for name in _TRAINED:
            g = got[name]
            ok, why = close(g, expected[name], atol=1e-5)
            hint = ""
            if not ok:
                hint = _shape_problem(name, g, expected[name]) or hints[name] or why
            yield Case(input=f"{label}: d loss / d {name}", expected=np.round(expected[name], 5), got=g, passed=ok, hint=hint)


def _shape_problem(name, got, expected) -> str:
    import numpy as np

    if got is None:
        return f"the gradient of {name} is None: compute it"
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"return an array shaped like params[{name!r}], got {describe(got)}"
    if arr.shape != expected.shape:
        return (f"the gradient of {name} has the parameter's shape {expected.shape}, got {arr.shape}: "
                "scatter each row's part into it")
    return ""


def _gradient_diagnosis(name, runs) -> str:
    """The known mistake whose gradient of ``name`` matches the answer's in every case ("" if none)."""
    import numpy as np

    failing = []
    for params, users, items, ratings, reg, expected, got in runs:
        if not isinstance(got, dict) or name not in got:
            return ""
        try:
            g = np.asarray(got[name], dtype=float)
        except (TypeError, ValueError):
            return ""
        if g.shape != expected[name].shape:
            return ""
        failing.append((params, users, items, ratings, reg, expected[name], g))
    for hint, knobs in _GRADIENT_MISTAKES:
        matches_all, differs_somewhere = True, False
        for params, users, items, ratings, reg, expected, g in failing:
            kw = dict(knobs)
            if kw.get("scale") == "n":
                kw["scale"] = float(len(ratings))
            v = _variant(params, users, items, ratings, reg, **kw)[name]
            if not allclose(g, v, atol=1e-5):
                matches_all = False
                break
            differs_somewhere |= not allclose(v, expected, atol=1e-5)
        if matches_all and differs_somewhere:
            return hint
    return "chain rule: d err**2 / d b_u = 2 * err; d err**2 / d p_u = 2 * err * q_i (and q_i's uses p_u)"
