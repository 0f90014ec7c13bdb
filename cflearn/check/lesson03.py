"""Checks for lesson 03 (dot-product matrix factorisation): forward pass, model classes, one epoch.

- ``dot_forward(user_emb, item_emb, user, item)`` takes two embedding tables (torch tensors of
  shape (n_users, n_factors) and (n_items, n_factors)) and a batch of index pairs, and returns
  one prediction per pair, shape (batch,). The inputs are tiny and hand-checkable.
- ``torch_dot_product`` / ``keras_dot_product``: the learner's ``DotProduct`` class in each
  framework, compared with the package's on the same weights (see ``model_class``).
- ``train_epoch(model, optimizer, user, item, rating, batch_size, seed)``: one epoch of shuffled
  mini-batches, compared parameter by parameter with the same loop written out here.
"""

from __future__ import annotations

import numpy as np

from cflearn.check.compare import type_problem
from cflearn.check.core import Case, describe, diagnose, exercise
from cflearn.check.guard import LearnerError
from cflearn.check.model_class import Setting, dot_mistakes, keras_cases, torch_cases


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


# --------------------------------------------------------------------------- the model classes

DOT_SETTINGS = [
    # batch of 3 = n_factors, so a sum over the wrong axis gives numbers (and a hint), not an error
    Setting(5, 6, 3, batches=[([0, 4, 2], [4, 1, 3]), ([1], [0])], seed=1),
    # item indices below n_users and user indices below n_items: swapped tables give numbers, not an IndexError
    Setting(4, 7, 2, batches=[([3, 0, 0, 2, 1], [2, 1, 0, 3, 3])], seed=2),
]


def _torch_reference():
    from cflearn.torch import DotProduct

    return DotProduct


def _keras_reference():
    from cflearn.keras import DotProduct

    return DotProduct


def _build_torch(*args, **kwargs):
    """The package's PyTorch model, imported when first built (importing a framework is slow)."""
    return _torch_reference()(*args, **kwargs)


def _build_keras(*args, **kwargs):
    """The package's Keras model, imported when first built."""
    return _keras_reference()(*args, **kwargs)


@exercise("torch_dot_product", lesson="03", reference=_build_torch, takes_class=True)
def _torch_dot_product(answer):
    yield from torch_cases(answer, _torch_reference(), DOT_SETTINGS, dot_mistakes, "DotProduct")


@exercise("keras_dot_product", lesson="03", reference=_build_keras, takes_class=True)
def _keras_dot_product(answer):
    yield from keras_cases(answer, _keras_reference(), DOT_SETTINGS, dot_mistakes, "DotProduct")


# --------------------------------------------------------------------------- one training epoch


def _epoch(model, optimizer, user, item, rating, batch_size, seed, *, shuffle="seeded", zero_grad="before",
           step=True, drop_last=False, loss_kind="mse", one_batch=False, returned="mean"):
    """One epoch of mini-batch training; the keyword arguments switch on one known mistake each."""
    import torch
    import torch.nn.functional as F

    n = len(rating)
    if shuffle == "seeded":
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    losses, sizes = [], []
    for start in range(0, stop, batch_size):
        rows = order[start : start + batch_size]  # (batch,) row numbers
        pred = model(user[rows], item[rows])
        if loss_kind == "mse":
            loss = F.mse_loss(pred, rating[rows])
        elif loss_kind == "sum":
            loss = ((pred - rating[rows]) ** 2).sum()
        else:  # "rmse"
            loss = F.mse_loss(pred, rating[rows]).sqrt()
        if zero_grad == "before":
            optimizer.zero_grad()
        loss.backward()
        if zero_grad == "after":
            optimizer.zero_grad()
        if step:
            optimizer.step()
        losses.append(loss.item())
        sizes.append(len(rows))
        if one_batch:
            break
    if returned == "last":
        return losses[-1]
    if returned == "sum":
        return sum(losses)
    if returned == "weighted":
        return sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)
    return sum(losses) / len(losses)


def _reference_train_epoch(model, optimizer, user, item, rating, batch_size, seed):
    """One epoch: rows shuffled with a generator seeded by ``seed``, mean batch MSE returned."""
    return _epoch(model, optimizer, user, item, rating, batch_size, seed)


PARAM_MISTAKES = [
    ("the gradients add up from batch to batch: call optimizer.zero_grad() before each loss.backward()",
     {"zero_grad": "never"}),
    ("the parameters did not change: call optimizer.zero_grad() before loss.backward(), then optimizer.step() after it",
     {"zero_grad": "after"}),
    ("the rows were not shuffled: visit them in the order "
     "torch.randperm(n, generator=torch.Generator().manual_seed(seed))", {"shuffle": "none"}),
    ("the last, smaller batch was skipped: range(0, n, batch_size) visits every row", {"drop_last": True}),
    ("only one batch was used: loop over all the batches of the epoch", {"one_batch": True}),
    ("the loss is the sum of squared errors; use their mean (F.mse_loss)", {"loss_kind": "sum"}),
    ("train on the mean squared error (F.mse_loss): the square root belongs to the reported RMSE", {"loss_kind": "rmse"}),
]
LOSS_MISTAKES = [
    ("return the mean of the batch losses, not the last batch's loss", {"returned": "last"}),
    ("return the mean of the batch losses, not their sum", {"returned": "sum"}),
    ("return the plain mean of the batch losses (sum of loss.item() over batches / number of batches)",
     {"returned": "weighted"}),
]


def _epoch_setup(n_rows, batch_size, seed, opt):
    """A small DotProduct with known weights, ratings, and a fresh optimiser, rebuilt identically each call."""
    import torch

    from cflearn.torch import DotProduct, set_weights

    rng = np.random.default_rng(seed)
    model = DotProduct(6, 5, n_factors=3)
    set_weights(model, {"user_factors": rng.normal(size=(6, 3)).astype("float32") * 0.8,
                        "item_factors": rng.normal(size=(5, 3)).astype("float32") * 0.8})
    user = torch.tensor(rng.integers(0, 6, n_rows))
    item = torch.tensor(rng.integers(0, 5, n_rows))
    rating = torch.tensor(rng.integers(1, 11, n_rows) / 2, dtype=torch.float32)
    if opt == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)
    return model, optimizer, user, item, rating


def _params(model):
    return np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])


@exercise("train_epoch", lesson="03", reference=_reference_train_epoch)
def _train_epoch(answer):
    for n_rows, batch_size, seed, opt in [(23, 5, 7, "sgd"), (30, 8, 11, "adamw")]:
        what = (f"train_epoch on a DotProduct(6, 5, 3) with {n_rows} ratings, batch_size={batch_size}, seed={seed}, "
                f"{'SGD' if opt == 'sgd' else 'AdamW'}")
        model, optimizer, user, item, rating = _epoch_setup(n_rows, batch_size, seed, opt)
        got_loss = answer(model, optimizer, user.clone(), item.clone(), rating.clone(), batch_size, seed)
        got = _params(model)

        def outcome(**mistake):
            m, o, u, i, r = _epoch_setup(n_rows, batch_size, seed, opt)
            loss = _epoch(m, o, u, i, r, batch_size, seed, **mistake)
            return _params(m), loss

        expected, expected_loss = outcome()
        problem = type_problem(got_loss, expected_loss)
        if problem:
            yield Case(input=f"{what}: the value returned", expected="one number (the mean batch loss)",
                       got=describe(got_loss), hint=problem + " (the mean of the batch losses)")
            return
        mistakes = [(hint, lambda m=m: outcome(**m)[0]) for hint, m in PARAM_MISTAKES]
        ok, hint = diagnose(got, expected, mistakes, atol=1e-5,
                            fallback="the parameters after one epoch differ from the expected ones: same shuffled "
                            "order, F.mse_loss per batch, zero_grad / backward / step for every batch")
        yield Case(input=f"{what}: every parameter after the epoch", expected=expected, got=got, passed=ok, hint=hint)
        if not ok:
            return
        mistakes = [(hint, lambda m=m: outcome(**m)[1]) for hint, m in LOSS_MISTAKES]
        ok, hint = diagnose(got_loss, expected_loss, mistakes, atol=1e-5,
                            fallback="return the mean of the batch losses (loss.item() of each batch)")
        yield Case(input=f"{what}: the value returned", expected=expected_loss, got=got_loss, passed=ok, hint=hint)
