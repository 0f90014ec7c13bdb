"""Checks for lesson 04 (biases): squashing into a rating range, and a forward pass with biases.

``sigmoid_range(x, low, high)`` maps any real number into (low, high) with a scaled sigmoid.
``bias_forward(user_emb, item_emb, user_bias, item_bias, user, item, y_range=None)`` adds a
user bias and an item bias (1-D tensors, one number per user / item) to the dot product and,
when ``y_range=(low, high)`` is given, squashes the sum into that range. Inputs are tiny.
"""

from __future__ import annotations

from cflearn.check.core import Case, close, describe, exercise


def _as_float_array(value):
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


@exercise("sigmoid_range", lesson="04")
def _sigmoid_range(answer):
    import torch

    cases = [
        (torch.tensor([0.0]), 0.0, 5.5),
        (torch.tensor([0.0, 2.0, -2.0]), 1.0, 5.0),
        (torch.tensor([10.0, -10.0, 0.5]), 0.5, 5.5),
    ]
    for x, low, high in cases:
        expected = (low + (high - low) * torch.sigmoid(x)).numpy()
        got = answer(x.clone(), low, high)
        ok, why = close(got, expected, atol=1e-5)
        hint = ""
        if not ok:
            values = _as_float_array(got) if getattr(got, "shape", None) == x.shape else None
            if values is not None and close(values, torch.sigmoid(x).numpy(), atol=1e-5)[0]:
                hint = "a plain sigmoid lies in (0, 1); stretch it to (low, high)"
            elif values is not None and close(values, (low + high * torch.sigmoid(x)).numpy(), atol=1e-5)[0]:
                hint = "the width of the range is high - low, not high"
            elif values is not None:
                hint = "sigmoid(0) = 0.5, so x = 0 must land exactly half way between low and high"
            else:
                hint = why
        yield Case(input=f"x={x.tolist()}, low={low}, high={high}", expected=expected, got=got, passed=ok, hint=hint)


def _bias_cases():
    import torch

    t = torch.tensor
    user_emb = t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 3 users, 2 factors
    item_emb = t([[2.0, 3.0], [4.0, 5.0], [-1.0, 1.0], [0.5, 0.5]])  # 4 items
    user_bias = t([0.5, -1.0, 0.0])  # (n_users,)
    item_bias = t([1.0, 0.0, 2.0, -0.5])  # (n_items,)
    user, item = t([0, 1, 2]), t([1, 3, 2])
    return [
        (user_emb, item_emb, user_bias, item_bias, user, item, None),
        (user_emb, item_emb, user_bias, item_bias, t([2]), t([0]), None),
        (user_emb, item_emb, user_bias, item_bias, user, item, (0.5, 5.5)),
        (user_emb * 0.1, item_emb, user_bias, item_bias, t([0, 0, 1, 2]), t([0, 1, 2, 3]), (1.0, 5.0)),
    ]


def _bias_reference(user_emb, item_emb, user_bias, item_bias, user, item, y_range):
    import torch

    x = (user_emb[user] * item_emb[item]).sum(-1) + user_bias[user] + item_bias[item]  # (batch,)
    if y_range is not None:
        low, high = y_range
        x = low + (high - low) * torch.sigmoid(x)
    return x


def _bias_hint(got, args) -> str:
    import torch

    user_emb, item_emb, user_bias, item_bias, user, item, y_range = args
    batch = len(user)
    shape = tuple(getattr(got, "shape", ()))
    if shape == (batch, batch) and batch > 1:
        return "a (batch, batch) result: a (batch, 1) tensor plus a (batch,) tensor broadcasts; keep every term (batch,)"
    if shape != (batch,):
        return f"return one prediction per (user, item) pair: shape ({batch},)"
    values = _as_float_array(got)
    dot = (user_emb[user] * item_emb[item]).sum(-1)
    squash = (lambda v: v) if y_range is None else (lambda v: y_range[0] + (y_range[1] - y_range[0]) * torch.sigmoid(v))
    raw = lambda: dot + user_bias[user] + item_bias[item]  # noqa: E731
    guesses = [
        (raw, "the raw sum is right; now squash it into y_range" if y_range else ""),
        (lambda: squash(dot + user_bias[user]), "add the item bias too"),
        (lambda: squash(dot + item_bias[item]), "add the user bias too"),
        (lambda: squash(dot), "add user_bias[user] and item_bias[item] to the dot product"),
        (
            lambda: squash(dot + user_bias[item] + item_bias[user]),
            "look up user biases with user indices and item biases with item indices",
        ),
    ]
    if y_range is None:
        guesses.append((lambda: torch.sigmoid(raw()), "with y_range=None, return the raw sum (no sigmoid)"))
    for guess, hint in guesses:
        try:
            if hint and close(values, guess().numpy(), atol=1e-5)[0]:
                return hint
        except IndexError:  # that guess is impossible for these indices
            continue
    return "prediction = dot product + user bias + item bias, then (only if y_range is given) the scaled sigmoid"


@exercise("bias_forward", lesson="04")
def _bias_forward(answer):
    import torch

    for args in _bias_cases():
        user_emb, item_emb, user_bias, item_bias, user, item, y_range = args
        expected = _bias_reference(*args).numpy()
        clones = [a.clone() for a in args[:6]]
        got = answer(*clones) if y_range is None else answer(*clones, y_range=y_range)
        ok, why = close(got, expected, atol=1e-5)
        yield Case(
            input=f"user={user.tolist()}, item={item.tolist()}, y_range={y_range}",
            expected=expected,
            got=got,
            passed=ok,
            hint="" if ok else _bias_hint(got, args) or why,
        )

    user_emb = torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    item_emb = torch.tensor([[3.0, 1.0], [1.0, 1.0]], requires_grad=True)
    user_bias = torch.tensor([0.1, 0.2], requires_grad=True)
    item_bias = torch.tensor([0.3, -0.4], requires_grad=True)
    got = answer(user_emb, item_emb, user_bias, item_bias, torch.tensor([0, 1]), torch.tensor([1, 0]), y_range=(0.5, 5.5))
    ok = isinstance(got, torch.Tensor) and got.requires_grad
    yield Case(
        input="tables and biases with requires_grad=True, y_range=(0.5, 5.5)",
        expected="a torch tensor that requires grad",
        got=describe(got) + (" that requires grad" if ok else ""),
        passed=ok,
        hint="" if ok else "use torch operations only (no .numpy(), .item() or .detach()) so gradients reach the tables",
    )
