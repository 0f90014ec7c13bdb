"""Checks for lesson 06 (residual): the learner adds the MLP side branch to the main branch.

``combine_branches(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp)`` gets a
batch of looked-up user and item vectors (batch, n_factors), their biases (batch,), the
global mean (a float) and the side branch ``mlp`` (a module mapping (batch, 2 * n_factors)
to (batch, 1)); it returns one prediction per row, shape (batch,):
main branch (global mean + biases + row-wise dot product) plus side branch
(``mlp`` of the user and item vectors side by side, user first).
"""

from __future__ import annotations

from cflearn.check.core import Case, close, describe, diagnose, exercise
from cflearn.check.guard import LearnerError
from cflearn.check.lesson05 import check_model_class

_HINT_MAIN = (
    "the main branch adds the global mean, the user's bias, the item's bias and, for each row, "
    "the dot product of the user's vector with its item's vector (multiply entry by entry, then sum over the factors)"
)
_HINT_SIDE = "add the side branch: the mlp applied to the user and item vectors joined side by side (along the last dimension)"
_HINT_ORDER = "join the vectors with the user's first and the item's second, the order the mlp was trained on"
_HINT_SHAPE = (
    "return shape (batch,): the mlp gives (batch, 1), so drop its last dimension before adding "
    "(a (batch,) tensor plus a (batch, 1) tensor broadcasts to (batch, batch))"
)
_HINT_MATMUL = (
    "a (batch, batch) result: a matrix product pairs every user with every item; "
    "the dot product is row by row (multiply entry by entry, then sum over the factors)"
)
_HINT_GRAD = (
    "keep the result connected to its inputs: use torch operations only (no .detach(), .numpy(), .item() "
    "or torch.no_grad()) so gradients reach the vectors, the biases and the mlp"
)


def _reference(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    """Main branch (mean, biases, row-wise dot product) plus the mlp side branch, shape (batch,)."""
    import torch

    dot = (user_vecs * item_vecs).sum(dim=1)  # (batch,)
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)  # (batch, 1) -> (batch,)
    return global_mean + user_bias + item_bias + dot + side


def _mistakes(u, v, bu, bi, mean, mlp):
    import torch

    dot = (u * v).sum(dim=1)
    side = lambda a, b: mlp(torch.cat([a, b], dim=1)).squeeze(-1)  # noqa: E731
    main = mean + bu + bi + dot
    return [
        (_HINT_SHAPE, lambda: main + mlp(torch.cat([u, v], dim=1))),
        (_HINT_MATMUL, lambda: mean + bu + bi + u @ v.T + side(u, v)),
        (_HINT_ORDER, lambda: main + side(v, u)),
        (_HINT_SIDE, lambda: main),
        ("add the global mean too", lambda: bu + bi + dot + side(u, v)),
        ("add the user's and the item's biases too", lambda: mean + dot + side(u, v)),
        ("add the item's bias too", lambda: mean + bu + dot + side(u, v)),
        ("add the user's bias too", lambda: mean + bi + dot + side(u, v)),
        ("add the dot product of the user and item vectors too", lambda: mean + bu + bi + side(u, v)),
        ("the side branch is added to the main branch, not multiplied", lambda: main * side(u, v)),
    ]


class _Zero:
    """A side branch that always outputs 0: isolates the main branch."""

    def __call__(self, x):
        import torch

        return torch.zeros(x.shape[0], 1)


def _side(n_factors, hidden=3):
    """A small fixed MLP whose output depends on which half of the input is which."""
    import torch
    import torch.nn as nn

    with torch.random.fork_rng():  # leave the notebook's random state as it was
        mlp = nn.Sequential(nn.Linear(2 * n_factors, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    with torch.no_grad():
        w1 = torch.zeros(hidden, 2 * n_factors)
        w1[0, :n_factors] = 1.0  # reads the user half
        w1[1, n_factors:] = -1.0  # reads the item half, flipped
        w1[2, 0] = 0.5
        mlp[0].weight.copy_(w1)
        mlp[0].bias.copy_(torch.tensor([0.0, 0.5, -0.25]))
        mlp[2].weight.copy_(torch.tensor([[0.5, 1.0, -2.0]]))
        mlp[2].bias.copy_(torch.tensor([0.1]))
    mlp.eval()
    mlp.requires_grad_(False)  # the value cases need no gradients; the gradient case turns them on
    return mlp


def _case(answer, label, u, v, bu, bi, mean, mlp, expected, hint):
    import torch

    with torch.no_grad():
        mistakes = [(h, (lambda make=make: make().detach())) for h, make in _mistakes(u, v, bu, bi, mean, mlp)]
        expected = expected.detach()
    got = answer(u.clone(), v.clone(), bu.clone(), bi.clone(), mean, mlp)
    ok, why = diagnose(got, expected, mistakes, atol=1e-5, fallback=hint,
                       shape_hint=lambda shape: f"got shape {shape}, expected ({len(u)},); " + _HINT_SHAPE)
    return Case(label, expected.numpy(), got, ok, why)


def _gradient_case(answer):
    """The result must stay differentiable: training updates the vectors, biases and mlp through it."""
    import torch

    mlp = _side(2)
    for p in mlp.parameters():
        p.requires_grad_(True)
    inputs = [
        torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True),
        torch.tensor([[0.5, 1.0], [2.0, 1.0]], requires_grad=True),
        torch.tensor([0.25, -0.5], requires_grad=True),
        torch.tensor([0.0, 0.5], requires_grad=True),
    ]
    label = "vectors, biases and mlp weights with requires_grad=True: gradients of the summed result"
    try:
        got = answer(*inputs, 3.5, mlp)
    except LearnerError as err:
        return Case(label, "a tensor that requires grad", f"raised {err}", False, _HINT_GRAD)
    wanted = [*inputs, *mlp.parameters()]
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        return Case(label, "a tensor that requires grad", describe(got), False, _HINT_GRAD)
    try:
        grads = torch.autograd.grad(got.sum(), wanted, allow_unused=True)
    except RuntimeError as exc:
        return Case(label, "gradients for every input", f"backward failed: {exc}", False, _HINT_GRAD)
    ref = torch.autograd.grad(_reference(*inputs, 3.5, mlp).sum(), wanted)
    names = ["user_vecs", "item_vecs", "user_bias", "item_bias", "the mlp's weights"]
    for i, (g, r) in enumerate(zip(grads, ref)):
        # judge only that gradients arrive: wrong values are the value cases' business
        if g is None or (bool((g == 0).all()) and not bool((r == 0).all())):
            return Case(label, "gradients for every input", f"no gradient reaches {names[min(i, 4)]}", False, _HINT_GRAD)
    return Case(label, "gradients for every input", "gradients for every input", True, "")


@exercise("combine_branches", lesson="06", reference=_reference)
def check_combine_branches(answer):
    import torch

    u = torch.tensor([[1.0, 2.0], [0.5, -1.0], [0.0, 1.5]])  # (batch=3, n_factors=2)
    v = torch.tensor([[0.5, 1.0], [2.0, 1.0], [-1.0, 0.0]])
    bu = torch.tensor([0.25, -0.5, 0.0])
    bi = torch.tensor([0.0, 0.5, -0.25])
    mean = 3.5
    main = mean + bu + bi + (u * v).sum(dim=1)  # [6.25, 3.5, 3.25]
    label = "u={}, v={}, user_bias={}, item_bias={}, global_mean={}".format(u.tolist(), v.tolist(), bu.tolist(), bi.tolist(), mean)

    yield _case(answer, f"{label}, mlp always 0 (main branch alone)", u, v, bu, bi, mean, _Zero(), main, _HINT_MAIN)

    mlp = _side(2)
    with torch.no_grad():
        side = mlp(torch.cat([u, v], dim=1)).squeeze(-1)
        swapped = mlp(torch.cat([v, u], dim=1)).squeeze(-1)
    assert not torch.allclose(side, swapped)  # the order check below means something
    yield _case(answer, f"{label}, a fixed 2-layer mlp", u, v, bu, bi, mean, mlp, main + side, _HINT_SIDE)

    # a second batch: zero vectors, so only biases, mean and the side branch's constant remain
    z = torch.zeros(2, 3)
    bu2, bi2 = torch.tensor([1.0, -1.0]), torch.tensor([0.5, 0.0])
    mlp3 = _side(3)
    with torch.no_grad():
        side3 = mlp3(torch.cat([z, z], dim=1)).squeeze(-1)
    yield _case(answer, "zero vectors (n_factors=3), user_bias=[1, -1], item_bias=[0.5, 0], global_mean=0.0",
                z, z, bu2, bi2, 0.0, mlp3, 0.0 + bu2 + bi2 + side3, _HINT_MAIN)

    # user first, item second: vectors that differ only by which side they are on
    u4 = torch.tensor([[1.0, 0.0], [2.0, 1.0]])
    v4 = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    b0 = torch.zeros(2)
    with torch.no_grad():
        expected = (u4 * v4).sum(dim=1) + mlp(torch.cat([u4, v4], dim=1)).squeeze(-1)
    yield _case(answer, f"u={u4.tolist()}, v={v4.tolist()}, zero biases and mean, the fixed mlp",
                u4, v4, b0, b0, 0.0, mlp, expected, _HINT_ORDER)

    yield _gradient_case(answer)


# --- the learner's ResidualCF classes (the machinery is lesson 05's, shared with NeuralCF) -----


def _reference_torch_residual_cf(n_users, n_items, n_factors, hidden=(64,), dropout=0.5, y_range=None):
    """ResidualCF as the package builds it (PyTorch), without the global-mean offset."""
    from cflearn.torch import ResidualCF

    return ResidualCF(n_users, n_items, n_factors, hidden=hidden, dropout=dropout, y_range=y_range)


def _reference_keras_residual_cf(n_users, n_items, n_factors, hidden=(64,), dropout=0.5, y_range=None):
    """ResidualCF as the package builds it (Keras), without the global-mean offset."""
    from cflearn.keras import ResidualCF

    return ResidualCF(n_users, n_items, n_factors, hidden=hidden, dropout=dropout, y_range=y_range)


@exercise("torch_residual_cf", lesson="06", reference=_reference_torch_residual_cf)
def check_torch_residual_cf(answer):
    yield from check_model_class(answer, "residual", "torch")


@exercise("keras_residual_cf", lesson="06", reference=_reference_keras_residual_cf)
def check_keras_residual_cf(answer):
    yield from check_model_class(answer, "residual", "keras")
