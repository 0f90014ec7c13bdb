"""Checks for lesson 06 (residual): the learner adds the MLP side branch to the main branch.

``combine_branches(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp)`` gets a
batch of looked-up user and item vectors (batch, n_factors), their biases (batch,), the
global mean (a float) and the side branch ``mlp`` (a module mapping (batch, 2 * n_factors)
to (batch, 1)); it returns one prediction per row, shape (batch,):
main branch (global mean + biases + row-wise dot product) plus side branch
(``mlp`` of the user and item vectors side by side, user first).
"""

from __future__ import annotations

from cflearn.check.core import Case, close, describe, exercise

_HINT_MAIN = (
    "the main branch is global_mean + user_bias + item_bias + the dot product of each user's vector "
    "with its item's vector (multiply element-wise, then sum over the factors)"
)
_HINT_SIDE = "add the side branch: mlp applied to the user and item vectors concatenated along the last dimension"
_HINT_ORDER = "concatenate the user vectors first, then the item vectors (torch.cat([user_vecs, item_vecs], dim=1))"
_HINT_SHAPE = (
    "return shape (batch,): mlp gives (batch, 1), so squeeze its last dimension before adding "
    "(adding (batch,) and (batch, 1) broadcasts to (batch, batch)); the dot product is row by row, "
    "(user_vecs * item_vecs).sum(dim=1), not a matrix product"
)


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
    return mlp


def _case(answer, label, u, v, bu, bi, mean, mlp, expected, hint):
    import torch

    expected = expected.detach().numpy()

    with torch.no_grad():
        got = answer(u.clone(), v.clone(), bu.clone(), bi.clone(), mean, mlp)
    if not isinstance(got, torch.Tensor):
        return Case(label, expected, got, False, f"return a tensor, not {describe(got)}")
    got = got.detach().cpu().numpy()
    if tuple(got.shape) != tuple(expected.shape):
        return Case(label, expected, got, False, f"got shape {tuple(got.shape)}, expected {tuple(expected.shape)}; " + _HINT_SHAPE)
    ok, why = close(got, expected, atol=1e-5)
    return Case(label, expected, got, ok, "" if ok else f"{why}; {hint}")


@exercise("combine_branches", lesson="06")
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
