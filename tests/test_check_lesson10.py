"""Lesson 10 checkers (ndcg_at_k, bpr_loss_torch, bpr_loss_keras): references pass, typical wrong answers fail
with a first hint that names the mistake."""

import math

import numpy as np
import pytest

from cflearn import check


def _ndcg(scores, relevant, k, exclude, *, exclude_on=True, empty=np.nan, ideal="min", disc=lambda r: 1 / np.log2(r + 1),
          order=lambda row: np.argsort(-row, kind="stable")):
    out = []
    for row, rel, ex in zip(np.asarray(scores, float), relevant, exclude):
        row = np.where(ex, -np.inf, row) if exclude_on else row
        top = order(row)[:k]
        dcg = sum(disc(r) for r, i in enumerate(top, 1) if rel[i])
        n_rel = int(rel.sum())
        if n_rel == 0:
            out.append(empty)
            continue
        n_ideal = {"min": min(k, n_rel), "all": n_rel, "k": k, "list": int(rel[top].sum())}[ideal]
        out.append(dcg / sum(disc(r) for r in range(1, n_ideal + 1)) if n_ideal else 0.0)
    return np.array(out)


def ndcg_at_k(scores, relevant, k, exclude):
    return _ndcg(scores, relevant, k, exclude)


def test_registered():
    assert check.names(lesson="10") == ["bpr_loss_keras", "bpr_loss_torch", "ndcg_at_k"]


def test_reference_passes_and_package_agrees():
    from cflearn import metrics

    assert check.run("ndcg_at_k", ndcg_at_k).status == "passed"
    # the package's vectorised metric passes the same checker
    assert check.run("ndcg_at_k", lambda s, r, k, e: metrics.ndcg_at_k(s, r, k, exclude=e)).status == "passed"


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda s, r, k, e: _ndcg(s, r, k, e, exclude_on=False), "training items"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, empty=0.0), "no relevant item"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, ideal="list"), "wrong list"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, ideal="all"), "not all relevant"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, ideal="k"), "fewer than k"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, disc=lambda x: 1 / np.log2(x + 2)), "log2(r + 1)"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, disc=lambda x: 1 / x), "not 1 / r"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, order=lambda row: np.argsort(row, kind="stable")[::-1]), "ties"),
        (lambda s, r, k, e: _ndcg(s, r, k, e, order=lambda row: np.argsort(row, kind="stable")), "highest score"),
        (lambda s, r, k, e: _ndcg(s, r, k, e).tolist(), "numpy array"),
        (lambda s, r, k, e: float(np.nanmean(_ndcg(s, r, k, e))), "numpy array"),
        (lambda s, r, k, e: None, "return statement"),
    ],
)
def test_ndcg_wrong_answers_fail(wrong, fragment):
    result = check.run("ndcg_at_k", wrong)
    assert result.status == "failed", result
    first = [c.hint for c in result.cases if not c.passed][0]
    assert fragment in first, first


def test_ndcg_mixed_log_bases_are_named():
    def mixed(s, r, k, e):
        out = []
        for row, rel, ex in zip(np.where(e, -np.inf, s), r, e):
            top = np.argsort(-row, kind="stable")[:k]
            dcg = sum(1 / np.log2(i + 2) for i, j in enumerate(top) if rel[j])
            n = min(k, int(rel.sum()))
            out.append(dcg / sum(1 / np.log(i + 2) for i in range(n)) if rel.sum() else np.nan)
        return np.array(out)

    result = check.run("ndcg_at_k", mixed)
    assert result.status == "failed"
    assert "log base" in [c.hint for c in result.cases if not c.passed][0]


# --- BPR loss ---------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def bpr_torch(pos, neg):
    return -torch.nn.functional.logsigmoid(pos - neg).mean()


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda p, n: -torch.nn.functional.logsigmoid(n - p).mean(), "sign of the difference"),
        (lambda p, n: torch.nn.functional.logsigmoid(p - n).mean(), "MINUS"),
        (lambda p, n: -torch.nn.functional.logsigmoid(p - n).sum(), "mean over the batch"),
        (lambda p, n: (1 - torch.sigmoid(p - n)).mean(), "log of the sigmoid"),
        (lambda p, n: -torch.log(torch.sigmoid(p - n)).mean(), "overflows"),
        (lambda p, n: torch.tensor(float(-torch.nn.functional.logsigmoid(p - n).mean())), "gradient"),
        (lambda p, n: -torch.nn.functional.logsigmoid(p - n), "one number"),
        (lambda p, n: float(-torch.nn.functional.logsigmoid(p - n).mean()), "tensor"),
    ],
)
def test_bpr_torch_wrong_answers_fail(wrong, fragment):
    result = check.run("bpr_loss_torch", wrong)
    assert result.status == "failed", result
    first = [c.hint for c in result.cases if not c.passed][0]
    assert fragment in first, first


def test_bpr_torch_reference_and_package_pass():
    from cflearn.torch import bpr_loss

    assert check.run("bpr_loss_torch", bpr_torch).status == "passed"
    assert check.run("bpr_loss_torch", bpr_loss).status == "passed"


def test_bpr_keras():
    keras = pytest.importorskip("keras")
    from keras import ops

    from cflearn.keras import bpr_loss

    assert check.run("bpr_loss_keras", bpr_loss).status == "passed"
    assert check.run("bpr_loss_keras", lambda p, n: -ops.mean(ops.log_sigmoid(p - n))).status == "passed"
    for wrong, fragment in [
        (lambda p, n: ops.mean(ops.softplus(p - n)), "sign of the difference"),
        (lambda p, n: ops.sum(ops.softplus(n - p)), "mean over the batch"),
        (lambda p, n: -ops.mean(ops.log(ops.sigmoid(p - n))), "overflows"),
        (lambda p, n: np.mean(np.logaddexp(0, -(np.asarray(p) - np.asarray(n)))), "tensor"),
        (lambda p, n: ops.convert_to_tensor(float(ops.convert_to_numpy(ops.mean(ops.softplus(n - p))))), "gradient"),
    ]:
        result = check.run("bpr_loss_keras", wrong)
        assert result.status == "failed", result
        first = [c.hint for c in result.cases if not c.passed][0]
        assert fragment in first, (fragment, first)
    assert keras is not None
