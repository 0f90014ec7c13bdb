"""Lesson 04 checkers (sigmoid_range, bias_forward): references pass, typical wrong answers fail."""

import numpy as np
import pytest

from cflearn import check

torch = pytest.importorskip("torch")


def sigmoid_range(x, low, high):
    return low + (high - low) * torch.sigmoid(x)


def bias_forward(user_emb, item_emb, user_bias, item_bias, user, item, y_range=None):
    x = (user_emb[user] * item_emb[item]).sum(1) + user_bias[user] + item_bias[item]  # (batch,)
    if y_range is not None:
        x = sigmoid_range(x, *y_range)
    return x


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def test_registered():
    assert check.names(lesson="04") == ["bias_forward", "sigmoid_range"]


def test_references_pass():
    assert check.run("sigmoid_range", sigmoid_range).status == "passed"
    assert check.run("bias_forward", bias_forward).status == "passed"


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda x, low, high: torch.sigmoid(x), "stretch it to (low, high)"),
        (lambda x, low, high: low + high * torch.sigmoid(x), "high - low"),
        (lambda x, low, high: x.clamp(low, high), "clamping"),
        (lambda x, low, high: high * torch.sigmoid(x), "half way"),
        (lambda x, low, high: low + (high - low) * torch.sigmoid(-x), "sign is flipped"),
        (lambda x, low, high: low + (high - low) * (torch.tanh(x) + 1) / 2, "tanh"),
        (lambda x, low, high: (high - low) * torch.sigmoid(x) + 0 * low, "add low"),
        (lambda x, low, high: torch.tensor(low + (high - low) / (1 + np.exp(-x.detach().numpy()))), "gradient flows back"),
        (lambda x, low, high: (low + (high - low) * torch.sigmoid(x)).tolist(), "return a torch tensor"),
        (lambda x, low, high: None, "return statement"),
    ],
)
def test_sigmoid_range_wrong_answers_fail(wrong, fragment):
    result = check.run("sigmoid_range", wrong)
    assert result.status == "failed", result
    first = [c.hint for c in result.cases if not c.passed][0]
    assert fragment in first, first


def bias_matmul(u, i, ub, ib, user, item, y_range=None):
    x = u[user] @ i[item].T + ub[user] + ib[item]
    return x if y_range is None else y_range[0] + (y_range[1] - y_range[0]) * torch.sigmoid(x)


def test_bias_forward_matrix_product_is_named():
    result = check.run("bias_forward", bias_matmul)
    assert result.status == "failed"
    assert "matrix product" in [c.hint for c in result.cases if not c.passed][0]


def _dot(u, i, user, item):
    return (u[user] * i[item]).sum(1)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda u, i, ub, ib, user, item, y_range=None: _dot(u, i, user, item), "add user_bias[user] and item_bias[item]"),
        (lambda u, i, ub, ib, user, item, y_range=None: _dot(u, i, user, item) + ub[user], "add the item bias"),
        (lambda u, i, ub, ib, user, item, y_range=None: _dot(u, i, user, item) + ib[item], "add the user bias"),
        (
            lambda u, i, ub, ib, user, item, y_range=None: _dot(u, i, user, item) + ub[user] + ib[item],
            "squash it into y_range",
        ),
        (
            lambda u, i, ub, ib, user, item, y_range=None: _dot(u, i, user, item) + ub[user][:, None] + ib[item],
            "(batch, batch)",
        ),
        (
            lambda u, i, ub, ib, user, item, y_range=None: torch.sigmoid(_dot(u, i, user, item) + ub[user] + ib[item]),
            "no sigmoid",
        ),
    ],
)
def test_bias_forward_wrong_answers_fail(wrong, fragment):
    result = check.run("bias_forward", wrong)
    assert result.status == "failed", result
    assert fragment in repr(result)


def test_bias_forward_swapped_bias_lookups_fail():
    def swapped(u, i, ub, ib, user, item, y_range=None):
        x = _dot(u, i, user, item) + ub[item % len(ub)] + ib[user]
        return x if y_range is None else sigmoid_range(x, *y_range)

    assert check.run("bias_forward", swapped).status == "failed"


def test_bias_forward_without_y_range_argument_is_an_error():
    def no_y_range(u, i, ub, ib, user, item):
        return _dot(u, i, user, item) + ub[user] + ib[item]

    result = check.run("bias_forward", no_y_range)
    assert result.status == "error" and "y_range" in result.message


def test_detached_answer_fails_the_gradient_case():
    result = check.run("bias_forward", lambda *a, **k: bias_forward(*a, **k).detach())
    assert result.status == "failed"
    assert [c.passed for c in result.cases][-1] is False
    assert all(c.passed for c in result.cases[:-1])


def test_raising_answers_are_errors_and_stubs_not_attempted():
    def buggy(*args, **kwargs):
        return args[0] @ args[1]  # (3, 2) @ (4, 2): shapes do not match

    for name in ("sigmoid_range", "bias_forward"):
        result = check.run(name, buggy)
        assert result.status == "error" and "buggy" in result.message
        assert check.run(name, stub).status == "not attempted"
        assert check.run(name, None).status == "not attempted"
