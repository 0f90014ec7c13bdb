"""Checks for lesson 04 (biases): squashing into a rating range, and a forward pass with biases.

``sigmoid_range(x, low, high)`` maps any real number into (low, high) with a scaled sigmoid.
``bias_forward(user_emb, item_emb, user_bias, item_bias, user, item, y_range=None)`` adds a
user bias and an item bias (1-D tensors, one number per user / item) to the dot product and,
when ``y_range=(low, high)`` is given, squashes the sum into that range. Inputs are tiny.
``torch_dot_product_bias`` / ``keras_dot_product_bias``: the learner's ``DotProductBias`` class
in each framework (with ``y_range`` and ``global_mean``), compared with the package's on the
same weights (see ``model_class``).
"""

from __future__ import annotations

from cflearn.check.core import Case, close, describe, diagnose, exercise
from cflearn.check.guard import LearnerError
from cflearn.check.model_class import Setting, bias_mistakes, keras_cases, torch_cases


def _reference_sigmoid_range(x, low, high):
    """``x`` squashed into (low, high): low + (high - low) * sigmoid(x)."""
    import torch

    return low + (high - low) * torch.sigmoid(x)


def _sigmoid_mistakes(x, low, high):
    import torch

    sig = torch.sigmoid(x)
    return [
        ("a plain sigmoid lies in (0, 1); stretch it to (low, high)", lambda: sig),
        ("the width of the range is high - low, not high", lambda: low + high * sig),
        ("add low: the result must start at low, not at 0", lambda: (high - low) * sig),
        ("clamping cuts values off (and stops their gradient); squash smoothly with a scaled sigmoid",
         lambda: x.clamp(low, high)),
        ("the sign is flipped: large x must land near high, so squash x itself, not -x",
         lambda: low + (high - low) * torch.sigmoid(-x)),
        ("tanh is not the sigmoid: use torch.sigmoid (tanh(x) lies in (-1, 1) and rises twice as fast)",
         lambda: low + (high - low) * (torch.tanh(x) + 1) / 2),
        ("tanh is not the sigmoid: use torch.sigmoid, which lies in (0, 1)", lambda: low + (high - low) * torch.tanh(x)),
    ]


@exercise("sigmoid_range", lesson="04", reference=_reference_sigmoid_range)
def _sigmoid_range(answer):
    import torch

    cases = [
        (torch.tensor([0.0]), 0.0, 5.5),
        (torch.tensor([0.0, 2.0, -2.0]), 1.0, 5.0),
        (torch.tensor([10.0, -10.0, 0.5, -0.75]), 0.5, 5.5),
        (torch.tensor([[1.0, -3.0], [0.25, 4.0]]), -1.0, 1.0),
    ]
    for x, low, high in cases:
        expected = _reference_sigmoid_range(x, low, high)
        got = answer(x.clone(), low, high)
        ok, hint = diagnose(got, expected, _sigmoid_mistakes(x, low, high), atol=1e-5,
                            shape_hint=lambda shape: f"return the same shape as x, {tuple(x.shape)}",
                            fallback="low + (high - low) * sigmoid(x): x = 0 lands half way between low and high")
        yield Case(input=f"x={x.tolist()}, low={low}, high={high}", expected=expected.numpy(), got=got, passed=ok, hint=hint)

    # training needs the gradient to flow back through the squash
    x = torch.tensor([0.0, 1.5, -2.0], requires_grad=True)
    try:
        got = answer(x, 1.0, 5.0)
    except LearnerError as err:  # e.g. .numpy() on a tensor that requires grad
        got = f"an error: {err}"
    want = (4.0 * torch.sigmoid(x) * (1 - torch.sigmoid(x))).detach().numpy()
    grad, why = None, ""
    if isinstance(got, torch.Tensor) and got.requires_grad and tuple(got.shape) == (3,):
        try:
            (grad,) = torch.autograd.grad(got.sum(), x, allow_unused=True)
        except RuntimeError as exc:
            why = str(exc)
    ok = grad is not None and close(grad.numpy(), want, atol=1e-5)[0]
    yield Case(
        input="x=[0.0, 1.5, -2.0] with requires_grad=True, low=1.0, high=5.0: the gradient of the sum",
        expected=want,
        got=grad.numpy() if grad is not None else (describe(got) + (" that does not require grad" if isinstance(got, torch.Tensor) else "")) + (f" ({why})" if why else ""),
        passed=ok,
        hint="" if ok else "use torch operations only (no NumPy, math, .item() or .detach()) so the gradient flows back to x",
    )


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


def _bias_mistakes(args):
    import torch

    user_emb, item_emb, user_bias, item_bias, user, item, y_range = args
    u, v = user_emb[user], item_emb[item]  # (batch, n_factors)
    dot = (u * v).sum(-1)  # (batch,)
    bu, bi = user_bias[user], item_bias[item]
    if y_range is None:
        squash = lambda t: t  # noqa: E731
    else:
        low, high = y_range
        squash = lambda t: low + (high - low) * torch.sigmoid(t)  # noqa: E731
    raw = dot + bu + bi
    out = [
        ("a (batch, batch) result: that is every user against every item (a matrix product); "
         "take the dot product row by row", lambda: squash(u @ v.T + bu + bi)),
        ("a (batch, batch) result: a (batch, 1) tensor plus a (batch,) tensor broadcasts; keep every term (batch,)",
         lambda: squash((u * v).sum(-1, keepdim=True) + bu + bi)),
        ("add the item bias too", lambda: squash(dot + bu)),
        ("add the user bias too", lambda: squash(dot + bi)),
        ("add user_bias[user] and item_bias[item] to the dot product", lambda: squash(dot)),
        ("look up user biases with user indices and item biases with item indices",
         lambda: squash(dot + user_bias[item] + item_bias[user])),
    ]
    if y_range is None:
        out.append(("with y_range=None, return the raw sum (no sigmoid)", lambda: torch.sigmoid(raw)))
    else:
        low, high = y_range
        out += [
            ("the raw sum is right; now squash it into y_range", lambda: raw),
            ("squash the whole sum, biases included: the sigmoid comes last", lambda: squash(dot) + bu + bi),
            ("a plain sigmoid lies in (0, 1); stretch it to (low, high)", lambda: torch.sigmoid(raw)),
            ("the width of the range is high - low, not high", lambda: low + high * torch.sigmoid(raw)),
            ("clamping cuts values off (and stops their gradient); squash with the scaled sigmoid",
             lambda: raw.clamp(low, high)),
        ]
    return out


def _reference_bias_forward(user_emb, item_emb, user_bias, item_bias, user, item, y_range=None):
    """Dot product plus user and item biases, squashed into ``y_range`` when given."""
    return _bias_reference(user_emb, item_emb, user_bias, item_bias, user, item, y_range)


@exercise("bias_forward", lesson="04", reference=_reference_bias_forward)
def _bias_forward(answer):
    import torch

    for args in _bias_cases():
        user_emb, item_emb, user_bias, item_bias, user, item, y_range = args
        expected = _bias_reference(*args)
        clones = [a.clone() for a in args[:6]]
        got = answer(*clones) if y_range is None else answer(*clones, y_range=y_range)
        ok, hint = diagnose(got, expected, _bias_mistakes(args), atol=1e-5,
                            shape_hint=lambda shape: f"return one prediction per (user, item) pair: shape ({len(user)},)",
                            fallback="prediction = dot product + user bias + item bias, then (only if y_range is given) "
                            "the scaled sigmoid")
        yield Case(
            input=f"user={user.tolist()}, item={item.tolist()}, y_range={y_range}",
            expected=expected.numpy(),
            got=got,
            passed=ok,
            hint=hint,
        )

    user_emb = torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    item_emb = torch.tensor([[3.0, 1.0], [1.0, 1.0]], requires_grad=True)
    user_bias = torch.tensor([0.1, 0.2], requires_grad=True)
    item_bias = torch.tensor([0.3, -0.4], requires_grad=True)
    try:
        got = answer(user_emb, item_emb, user_bias, item_bias, torch.tensor([0, 1]), torch.tensor([1, 0]), y_range=(0.5, 5.5))
    except LearnerError as err:  # e.g. .numpy() on a tensor that requires grad
        got = f"an error: {err}"
    ok = isinstance(got, torch.Tensor) and got.requires_grad
    yield Case(
        input="tables and biases with requires_grad=True, y_range=(0.5, 5.5)",
        expected="a torch tensor that requires grad",
        got=describe(got) + (" that requires grad" if ok else ""),
        passed=ok,
        hint="" if ok else "use torch operations only (no .numpy(), .item() or .detach()) so gradients reach the tables",
    )


# --------------------------------------------------------------------------- the model classes

BIAS_SETTINGS = [
    # batch of 3 = n_factors, so a sum over the wrong axis gives numbers (and a hint), not an error;
    # item indices below n_users, so swapped bias lookups give numbers too
    Setting(5, 6, 3, batches=[([0, 4, 2], [4, 1, 3])], seed=3),
    Setting(5, 6, 3, {"y_range": (0.5, 5.5)}, batches=[([1, 3, 0, 2], [0, 2, 4, 3])], seed=4),
    Setting(5, 6, 3, {"y_range": (0.5, 5.5), "global_mean": 3.5}, batches=[([0, 1, 2, 3, 4], [1, 2, 3, 4, 0])], seed=5),
    Setting(4, 6, 2, {"global_mean": 3.5}, batches=[([2], [3]), ([0, 3, 1], [1, 2, 0])], seed=6),
    # large weights push the sigmoid to its ends: predictions must still stay inside y_range
    Setting(4, 4, 3, {"y_range": (1.0, 5.0), "global_mean": 3.0}, batches=[([0, 1, 2, 3], [3, 2, 1, 0])], scale=3.0,
            seed=7),
]


def _build_torch(*args, **kwargs):
    """The package's PyTorch model, imported when first built (importing a framework is slow)."""
    from cflearn.torch import DotProductBias

    return DotProductBias(*args, **kwargs)


def _build_keras(*args, **kwargs):
    """The package's Keras model, imported when first built."""
    from cflearn.keras import DotProductBias

    return DotProductBias(*args, **kwargs)


@exercise("torch_dot_product_bias", lesson="04", reference=_build_torch, takes_class=True)
def _torch_dot_product_bias(answer):
    from cflearn.torch import DotProductBias

    yield from torch_cases(answer, DotProductBias, BIAS_SETTINGS, bias_mistakes, "DotProductBias")


@exercise("keras_dot_product_bias", lesson="04", reference=_build_keras, takes_class=True)
def _keras_dot_product_bias(answer):
    from cflearn.keras import DotProductBias

    yield from keras_cases(answer, DotProductBias, BIAS_SETTINGS, bias_mistakes, "DotProductBias")
