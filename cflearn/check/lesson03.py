"""Checks for lesson 03 (dot-product matrix factorisation): the model's forward pass.

``dot_forward(user_emb, item_emb, user, item)`` takes two embedding tables (torch tensors of
shape (n_users, n_factors) and (n_items, n_factors)) and a batch of index pairs, and returns
one prediction per pair, shape (batch,). The inputs are tiny and hand-checkable.
"""

from __future__ import annotations

from cflearn.check.guard import LearnerError
from cflearn.check.core import Case, describe, diagnose, exercise


def _dot_cases():
    """(user_emb, item_emb, user, item, label) for each case; tables as float32 tensors."""
    import torch

    t = torch.tensor
    cases = [
        (
            t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),  # 3 users, 2 factors
            t([[2.0, 3.0], [4.0, 5.0], [-1.0, 1.0]]),  # 3 items
            t([0, 1, 2]),
            t([1, 1, 0]),
            "3 users, 3 items, 2 factors, batch of 3",
        ),
        (
            t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
            t([[2.0, 3.0], [4.0, 5.0], [-1.0, 1.0]]),
            t([1]),
            t([0]),
            "the same tables, batch of 1",
        ),
    ]
    gen = torch.Generator().manual_seed(3)
    # halves only, so every product and sum is exact in float32 and prints cleanly
    user_emb = torch.randint(-4, 5, (4, 3), generator=gen).float() / 2  # 4 users, 3 factors
    item_emb = torch.randint(-4, 5, (5, 3), generator=gen).float() / 2  # 5 items
    # indices below 4 everywhere, so swapping the two tables gives wrong numbers, not an IndexError
    cases.append((user_emb, item_emb, t([3, 0, 0, 2, 1, 3]), t([0, 2, 1, 3, 3, 1]), "4 users, 5 items, 3 factors, batch of 6"))
    return cases


def _reference(user_emb, item_emb, user, item):
    """Row-wise dot product of the looked-up user and item vectors, shape (batch,)."""
    return (user_emb[user] * item_emb[item]).sum(-1)


def _mistakes(user_emb, item_emb, user, item):
    u, v = user_emb[user], item_emb[item]  # (batch, n_factors)
    return [
        ("a (batch, batch) result: that is every user against every item (a matrix product); "
         "take the dot product row by row", lambda: u @ v.T),
        ("one number per factor: sum over the factors axis (the last one), not over the batch", lambda: (u * v).sum(0)),
        ("shape (batch, 1): drop the last axis so the result is (batch,)", lambda: (u * v).sum(-1, keepdim=True)),
        ("multiply the user vector and the item vector entry by entry, then sum over the factors (the last axis)",
         lambda: u * v),
        ("look up the user's row in the user table and the item's row in the item table",
         lambda: (user_emb[item] * item_emb[user]).sum(-1)),
        ("multiply the two vectors entry by entry (do not add them), then sum", lambda: (u + v).sum(-1)),
        ("that is one number for the whole batch; return one prediction per (user, item) pair", lambda: (u * v).sum()),
    ]


@exercise("dot_forward", lesson="03", reference=_reference)
def _dot_forward(answer):
    import torch

    for user_emb, item_emb, user, item, label in _dot_cases():
        expected = _reference(user_emb, item_emb, user, item)  # (batch,)
        got = answer(user_emb.clone(), item_emb.clone(), user.clone(), item.clone())
        ok, hint = diagnose(got, expected, _mistakes(user_emb, item_emb, user, item), atol=1e-5,
                            shape_hint=lambda shape: f"return one prediction per (user, item) pair: shape ({len(user)},)",
                            fallback="multiply the user vector and the item vector entry by entry, then sum over the factors")
        yield Case(
            input=f"{label}: user={user.tolist()}, item={item.tolist()}",
            expected=expected.numpy(),
            got=got,
            passed=ok,
            hint=hint,
        )

    # the forward pass must stay differentiable, or training cannot update the embeddings
    user_emb = torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    item_emb = torch.tensor([[3.0, 1.0], [1.0, 1.0]], requires_grad=True)
    try:
        got = answer(user_emb, item_emb, torch.tensor([0, 1]), torch.tensor([1, 0]))
    except LearnerError as err:  # e.g. .numpy() on a tensor that requires grad
        got = f"an error: {err}"
    ok = isinstance(got, torch.Tensor) and got.requires_grad
    yield Case(
        input="tables with requires_grad=True",
        expected="a torch tensor that requires grad",
        got=describe(got) + (" that requires grad" if ok else ""),
        passed=ok,
        hint="" if ok else "use torch operations only (no .numpy(), .item(), .tolist() or .detach()) so gradients reach the tables",
    )
