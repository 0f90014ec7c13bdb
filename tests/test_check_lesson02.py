"""Lesson 02 checkers: the reference answers pass, typical wrong answers fail."""

import numpy as np
import pytest

from cflearn import check


def one_hot(idx, n):
    out = np.zeros((len(idx), n), dtype=np.float32)
    out[np.arange(len(idx)), idx] = 1.0
    return out


def one_hot_lookup(weight, idx):
    return one_hot(idx, weight.shape[0]) @ weight


def stub(*args):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def raises(*args):
    return {}["oops"]


def test_registered():
    assert check.names(lesson="02") == ["one_hot", "one_hot_lookup"]


def test_references_pass():
    assert check.run("one_hot", one_hot).status == "passed"
    assert check.run("one_hot", lambda idx, n: np.eye(n)[idx]).status == "passed"
    assert check.run("one_hot_lookup", one_hot_lookup).status == "passed"


def test_torch_answers_are_accepted():
    torch = pytest.importorskip("torch")

    def lookup(weight, idx):
        onehot = torch.nn.functional.one_hot(torch.as_tensor(idx), weight.shape[0]).float()
        return onehot @ torch.as_tensor(weight)

    assert check.run("one_hot_lookup", lookup).status == "passed"


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda idx, n: one_hot(idx, n).T, "transposed"),
        (lambda idx, n: np.eye(n)[idx - 1], "single 1, in column idx[k]"),
        (lambda idx, n: np.eye(n + 1)[idx], "shape"),
        (lambda idx, n: np.ones((len(idx), n)), "single 1"),
    ],
)
def test_one_hot_wrong_answers_fail(wrong, fragment):
    result = check.run("one_hot", wrong)
    assert result.status == "failed"
    assert fragment in repr(result)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda w, idx: one_hot(idx, w.shape[0]),  # forgot to multiply by the weight
        lambda w, idx: w[:, : len(idx)],  # columns instead of rows
        lambda w, idx: w[idx].T,  # transposed
        lambda w, idx: one_hot(idx, w.shape[0]) @ w + 1.0,
        lambda w, idx: w[idx].sum(0),  # summed over the batch
    ],
)
def test_one_hot_lookup_wrong_answers_fail(wrong):
    result = check.run("one_hot_lookup", wrong)
    assert result.status == "failed", result
    assert "expected" in repr(result)


def test_raising_answer_is_an_error_and_stub_not_attempted():
    for name in ("one_hot", "one_hot_lookup"):
        result = check.run(name, raises)
        assert result.status == "error" and "KeyError" in result.message
        assert check.run(name, stub).status == "not attempted"
        assert check.run(name, None).status == "not attempted"


def test_shape_mismatch_in_matmul_is_an_error_pointing_at_the_answer():
    def wrong_order(weight, idx):
        return weight @ one_hot(idx, weight.shape[0])  # (n_rows, n_factors) @ (batch, n_rows)

    result = check.run("one_hot_lookup", wrong_order)
    assert result.status == "error"
    assert "wrong_order" in result.message
