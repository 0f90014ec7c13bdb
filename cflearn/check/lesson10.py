"""Checks for lesson 10 (rankings): NDCG@k over full ranking, and the BPR loss in PyTorch and in Keras.

``ndcg_at_k(scores, relevant, k, exclude)`` takes ``(n_users, n_items)`` scores and boolean
``relevant`` / ``exclude`` matrices and returns one NDCG@k per user, ``(n_users,)``: binary
relevance, discount ``1 / log2(rank + 1)`` with ranks from 1, ideal DCG from
``min(k, n_relevant)`` relevant items at the top, ties broken by the lower item index, excluded
(training) items never ranked, NaN for a user with no relevant item. Each case is a few users
and items, computed by hand. ``bpr_loss(pos_scores, neg_scores)`` returns the mean of
``-log sigmoid(pos - neg)`` as a scalar tensor whose gradient reaches both inputs.
"""

from __future__ import annotations

import math

import numpy as np

from cflearn.check.compare import allclose, as_numpy, type_problem
from cflearn.check.core import Case, describe, diagnose, exercise
from cflearn.check.guard import LearnerError



def _ndcg_variant(scores, relevant, k, exclude, *, base=2.0, offset=1, ideal="min", empty="nan", excluded=True,
                  ties="low", ideal_base=None):
    """NDCG@k per user, with one rule optionally wrong (each keyword names a usual mistake)."""
    s = np.array(scores, dtype=np.float64)
    out = []
    for row, rel, ex in zip(s, np.asarray(relevant, bool), np.asarray(exclude, bool)):
        if excluded:
            row = np.where(ex, -np.inf, row)
        if ties == "low":
            order = np.argsort(-row, kind="stable")
        elif ties == "high":
            order = np.argsort(row, kind="stable")[::-1]
        else:  # "ascending": the lowest scores first
            order = np.argsort(np.where(np.isinf(row), np.inf, row), kind="stable")
        order = [i for i in order if not (excluded and ex[i])][:k]
        disc = lambda r, b: 1.0 / (math.log(r + offset, b) if b else r)  # noqa: E731
        dcg = sum(disc(r, base) for r, i in enumerate(order, start=1) if rel[i])
        n_rel = int(rel.sum())
        if n_rel == 0:
            out.append(np.nan if empty == "nan" else 0.0)
            continue
        if ideal == "min":
            n_ideal = min(k, n_rel)
        elif ideal == "all":
            n_ideal = n_rel
        elif ideal == "k":
            n_ideal = k
        else:  # "list": the hits of the list itself, sorted
            n_ideal = sum(bool(rel[i]) for i in order)
        ib = base if ideal_base is None else ideal_base
        idcg = sum(disc(r, ib) for r in range(1, n_ideal + 1))
        out.append(dcg / idcg if idcg else 0.0)
    return np.array(out)


def _reference_ndcg(scores, relevant, k, exclude):
    """NDCG@k per user (NaN with no relevant item), training items excluded, ties to the lower index."""
    return _ndcg_variant(scores, relevant, k, exclude)


def _ndcg_cases():
    b = lambda *rows: np.array(rows, dtype=bool)  # noqa: E731
    none = lambda shape: np.zeros(shape, dtype=bool)  # noqa: E731
    return [
        # one user, k = 3: relevant items 1 and 3 land at ranks 2 and 4 -> only rank 2 counts
        ("one user, two relevant, one in the top 3",
         np.array([[0.9, 0.8, 0.1, 0.7, 0.2]]), b([0, 1, 0, 1, 0]), 3, none((1, 5))),
        # fewer than k relevant: one relevant item at rank 1 is a perfect list for k = 4
        ("fewer relevant items than k", np.array([[0.3, 0.9, 0.5, 0.1, 0.2]]), b([0, 1, 0, 0, 0]), 4, none((1, 5))),
        # ties: items 0 and 2 both score 0.5; the lower index (0) ranks first
        ("tied scores", np.array([[0.5, 0.1, 0.5, 0.2]]), b([0, 0, 1, 0]), 1 + 1, none((1, 4))),
        # user 1 has no relevant item: NaN, and user 0 is unaffected
        ("a user with no relevant item", np.array([[0.2, 0.6, 0.4], [0.9, 0.3, 0.1]]), b([1, 0, 1], [0, 0, 0]), 2,
         none((2, 3))),
        # training items (excluded) score highest but must not take a place in the list
        ("training items excluded", np.array([[0.9, 0.8, 0.3, 0.6, 0.1], [0.1, 0.95, 0.9, 0.2, 0.3]]),
         b([0, 0, 1, 1, 0], [0, 0, 0, 1, 1]), 2, b([1, 1, 0, 0, 0], [0, 1, 1, 0, 0])),
        # more relevant items than k: the ideal list holds k relevant items, not all of them
        ("more relevant items than k", np.array([[0.1, 0.9, 0.8, 0.3, 0.7, 0.2]]), b([1, 1, 0, 1, 1, 1]), 3,
         none((1, 6))),
    ]


def _ndcg_mistakes(args):
    f = lambda **kw: (lambda: _ndcg_variant(*args, **kw))  # noqa: E731
    return [
        ("the training items are still in the list: give them -inf (or drop them) before ranking, "
         "so a user is never recommended what they already rated", f(excluded=False)),
        ("a user with no relevant item has no ideal DCG: return np.nan for them (they are counted and left "
         "out of the average), not 0", f(empty="zero")),
        ("the ideal DCG comes from the wrong list: it is the best possible list, min(k, number of relevant "
         "items) hits at the top, not the hits your list happened to find", f(ideal="list")),
        ("the ideal DCG puts min(k, n_relevant) relevant items at the top: not all relevant items "
         "(the list has only k places)", f(ideal="all")),
        ("the ideal DCG puts min(k, n_relevant) relevant items at the top: with fewer than k relevant "
         "items, a perfect list cannot fill all k places", f(ideal="k")),
        ("the discount: rank r (counting from 1) is worth 1 / log2(r + 1), so rank 1 gets full credit; "
         "check the +1 and the base of the log in both DCG and ideal DCG", f(offset=2)),
        ("the discount: rank r (counting from 1) is worth 1 / log2(r + 1), with the same log base in the "
         "DCG and in the ideal DCG", f(ideal_base=math.e)),
        ("the discount is a log: rank r is worth 1 / log2(r + 1), not 1 / r", f(base=None, offset=0)),
        ("ties: the lower item index ranks first; sort -scores with kind=\"stable\" (reversing "
         "np.argsort(scores) puts the higher index first)", f(ties="high")),
        ("the list starts from the lowest score: rank by -scores so the highest score comes first",
         f(ties="ascending")),
    ]


def _diagnose_with_nan(got, expected, mistakes, **kwargs):
    """``diagnose``, where a known mistake also matches on the NaN of a user with no relevant item."""
    ok, hint = diagnose(got, expected, (), **kwargs)
    if ok or type_problem(got, expected):
        return ok, hint
    g = as_numpy(got)
    if g is not None and g.shape == expected.shape and g.dtype.kind in "fiub":
        for text, make in mistakes:
            try:
                value = np.asarray(make(), dtype=np.float64)
            except Exception:
                continue
            same = lambda a: allclose(a.astype(np.float64), value, atol=1e-6, equal_nan=True)  # noqa: E731
            if same(g) and not same(expected):
                return False, text
    return diagnose(got, expected, (), **kwargs)


@exercise("ndcg_at_k", lesson="10", reference=_reference_ndcg)
def _ndcg_at_k(answer):
    for what, scores, relevant, k, exclude in _ndcg_cases():
        args = (scores, relevant, k, exclude)
        expected = _reference_ndcg(*args)
        got = answer(scores.copy(), relevant.copy(), k, exclude.copy())
        ok, hint = _diagnose_with_nan(got, expected, _ndcg_mistakes(args), atol=1e-6,
                            shape_hint=lambda shape: f"return one NDCG per user: shape ({len(scores)},)",
                            fallback="NDCG@k = DCG of your top-k list / DCG of the ideal list, with 1 / log2(rank + 1) "
                            "for each relevant item at rank 1..k")
        yield Case(input=f"{what}: scores={scores.tolist()}, relevant={relevant.astype(int).tolist()}, k={k}, "
                   f"exclude={exclude.astype(int).tolist()}", expected=expected, got=got, passed=ok, hint=hint)


# --- the BPR loss ---------------------------------------------------------------------------------

_BPR_CASES = [
    ([2.0, 0.5, -1.0], [1.0, 0.5, 1.0]),
    ([0.0], [0.0]),
    ([3.0, -2.0, 0.25, 1.5], [-1.0, 2.0, 0.75, 1.5]),
    ([60.0, -60.0], [-60.0, 60.0]),  # large differences: a naive log(sigmoid(.)) gives inf
]


def _bpr_value(pos, neg, *, sign=1.0, reduce="mean", form="log"):
    d = sign * (np.asarray(pos, np.float64) - np.asarray(neg, np.float64))
    per = {"log": np.logaddexp(0.0, -d), "nolog": 1.0 - 1.0 / (1.0 + np.exp(-d)), "neglog": -np.logaddexp(0.0, -d)}[form]
    return float(per.mean() if reduce == "mean" else per.sum())


def _bpr_mistakes(pos, neg):
    return [
        ("the sign of the difference: the loss must be small when the positive outscores the negative, "
         "-log sigmoid(pos - neg), not of (neg - pos)", lambda: _bpr_value(pos, neg, sign=-1.0)),
        ("the loss is MINUS the mean log sigmoid(pos - neg): log sigmoid is negative, and the loss to "
         "minimise is positive", lambda: _bpr_value(pos, neg, form="neglog")),
        ("take the mean over the batch, not the sum", lambda: _bpr_value(pos, neg, reduce="sum")),
        ("take the log of the sigmoid: -log sigmoid(pos - neg), not 1 - sigmoid(pos - neg)",
         lambda: _bpr_value(pos, neg, form="nolog")),
    ]


def _bpr_case(answer, pos, neg, make, to_numpy):
    expected = _bpr_value(pos, neg)
    got = answer(make(pos), make(neg))
    value = None if got is None else to_numpy(got)
    if got is None:
        return Case(input=f"pos_scores={pos}, neg_scores={neg}", expected=round(expected, 6), got=None, passed=False,
                    hint=type_problem(None, expected))
    if value is None:
        return Case(input=f"pos_scores={pos}, neg_scores={neg}", expected=round(expected, 6), got=describe(got),
                    passed=False, hint=f"returned {describe(got)}; return one number as a tensor (a mean over the batch)")
    big = max(abs(p - n) for p, n in zip(pos, neg)) > 30
    if big and not np.isfinite(value):
        return Case(input=f"pos_scores={pos}, neg_scores={neg}", expected=round(expected, 6), got=float(value),
                    passed=False, hint="log(sigmoid(x)) overflows for large differences: use softplus(neg - pos) "
                    "(or log_sigmoid), which computes the same value stably")
    ok, hint = diagnose(float(value), expected, _bpr_mistakes(pos, neg), atol=1e-5,
                        fallback="mean over the batch of -log sigmoid(pos_scores - neg_scores)")
    return Case(input=f"pos_scores={pos}, neg_scores={neg}", expected=round(expected, 6), got=float(value), passed=ok,
                hint=hint)


def _scalar(value, to_np):
    try:
        arr = np.asarray(to_np(value), dtype=np.float64)
    except Exception:
        return None
    return arr.reshape(()) if arr.size == 1 and arr.ndim <= 1 else None


def _grad_case(grads, pos, neg, framework):
    d = np.asarray(pos) - np.asarray(neg)
    want = -1.0 / (1.0 + np.exp(d)) / len(d)  # d loss / d pos; d loss / d neg is its negative
    ok = grads is not None and all(g is not None for g in grads) and \
        allclose(grads[0], want, atol=1e-5) and allclose(grads[1], -want, atol=1e-5)
    hint = "" if ok else (f"use {framework} operations only (no NumPy, math, float() or .item()) so the gradient "
                          "reaches pos_scores and neg_scores")
    got = "no gradient" if grads is None or any(g is None for g in grads) else [np.round(g, 5).tolist() for g in grads]
    return Case(input=f"pos_scores={pos}, neg_scores={neg} that require gradients: d loss / d pos, d loss / d neg",
                expected=[np.round(want, 5).tolist(), np.round(-want, 5).tolist()], got=got, passed=ok, hint=hint)


def _reference_bpr_torch(pos_scores, neg_scores):
    """Mean of -log sigmoid(pos - neg), as a scalar torch tensor."""
    import torch

    return torch.nn.functional.softplus(neg_scores - pos_scores).mean()


@exercise("bpr_loss_torch", lesson="10", reference=_reference_bpr_torch)
def _bpr_loss_torch(answer):
    import torch

    def to_np(t):
        if not isinstance(t, torch.Tensor):
            return None
        return _scalar(t, lambda x: x.detach().cpu().numpy())

    for pos, neg in _BPR_CASES:
        yield _bpr_case(answer, pos, neg, lambda v: torch.tensor(v, dtype=torch.float32), to_np)
    pos, neg = [1.0, -0.5, 2.0], [0.0, 0.5, 2.5]
    p = torch.tensor(pos, requires_grad=True)
    n = torch.tensor(neg, requires_grad=True)
    grads = None
    try:
        loss = answer(p, n)
        if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1:
            gp, gn = torch.autograd.grad(loss.reshape(()), (p, n), allow_unused=True)
            grads = [None if g is None else g.numpy() for g in (gp, gn)]
    except (LearnerError, RuntimeError):
        grads = None
    yield _grad_case(grads, pos, neg, "torch")


def _reference_bpr_keras(pos_scores, neg_scores):
    """Mean of -log sigmoid(pos - neg) with keras.ops, as a scalar tensor."""
    from keras import ops

    return ops.mean(ops.softplus(neg_scores - pos_scores))


def _keras_grads(answer, pos, neg):
    """Gradients of the answer's loss with the backend's own autodiff (None where it has none)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        p, n = tf.Variable(pos, dtype=tf.float32), tf.Variable(neg, dtype=tf.float32)
        with tf.GradientTape() as tape:
            loss = answer(p, n)
        if not tf.is_tensor(loss):
            return None
        grads = tape.gradient(loss, [p, n])
        return [None if g is None else g.numpy() for g in grads]
    if backend == "torch":
        import torch

        p, n = torch.tensor(pos, requires_grad=True), torch.tensor(neg, requires_grad=True)
        loss = answer(p, n)
        if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
            return None
        return [None if g is None else g.numpy() for g in torch.autograd.grad(loss.reshape(()), (p, n), allow_unused=True)]
    if backend == "jax":
        import jax

        try:
            gp, gn = jax.grad(lambda a, b: answer(a, b).reshape(()), argnums=(0, 1))(np.float32(pos), np.float32(neg))
        except Exception:
            return None
        return [np.asarray(gp), np.asarray(gn)]
    return None


@exercise("bpr_loss_keras", lesson="10", reference=_reference_bpr_keras)
def _bpr_loss_keras(answer):
    from keras import ops

    def to_np(t):
        if isinstance(t, (np.ndarray, np.generic, float, int)):
            return None  # NumPy would cut the gradient: a tensor is expected
        try:
            return _scalar(t, ops.convert_to_numpy)
        except Exception:
            return None

    for pos, neg in _BPR_CASES:
        yield _bpr_case(answer, pos, neg, lambda v: ops.convert_to_tensor(np.asarray(v, np.float32)), to_np)
    pos, neg = [1.0, -0.5, 2.0], [0.0, 0.5, 2.5]
    try:
        grads = _keras_grads(answer, pos, neg)
    except LearnerError:
        grads = None
    yield _grad_case(grads, pos, neg, "keras.ops")
