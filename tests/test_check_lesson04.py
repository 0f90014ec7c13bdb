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
    assert check.names(lesson="04") == ["bias_forward", "keras_dot_product_bias", "sigmoid_range", "torch_dot_product_bias"]


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


# ---------------------------------------------------------------- the DotProductBias classes

import math  # noqa: E402

from torch import nn  # noqa: E402


def first_hint(result) -> str:
    return [c.hint for c in result.cases if not c.passed][0]


def offset(global_mean, y_range):
    if global_mean is None:
        return 0.0
    if y_range is None:
        return global_mean
    p = (global_mean - y_range[0]) / (y_range[1] - y_range[0])
    return math.log(p / (1 - p))


def standard_torch_init(self, n_users, n_items, n_factors):
    self.user_factors = nn.Embedding(n_users, n_factors)
    self.item_factors = nn.Embedding(n_items, n_factors)
    self.user_bias = nn.Embedding(n_users, 1)
    self.item_bias = nn.Embedding(n_items, 1)


def torch_class(forward, init=standard_torch_init):
    """A learner's PyTorch DotProductBias with the given forward(self, parts) over named parts."""

    class DotProductBias(nn.Module):
        def __init__(self, n_users, n_items, n_factors=50, y_range=None, global_mean=None):
            super().__init__()
            self.y_range, self.global_mean = y_range, global_mean
            self.offset = offset(global_mean, y_range)
            init(self, n_users, n_items, n_factors)

        def forward(self, user, item):
            return forward(self, user, item)

    return DotProductBias


def tsquash(self, x):
    if self.y_range is None:
        return x
    low, high = self.y_range
    return low + (high - low) * torch.sigmoid(x)


def tparts(self, user, item):
    dot = (self.user_factors(user) * self.item_factors(item)).sum(-1)
    return dot, self.user_bias(user).squeeze(-1), self.item_bias(item).squeeze(-1)


def right_torch(self, user, item):
    dot, bu, bi = tparts(self, user, item)
    return tsquash(self, dot + bu + bi + self.offset)


def test_right_torch_class_passes():
    assert check.run("torch_dot_product_bias", torch_class(right_torch)).status == "passed"


def test_right_torch_class_with_a_flat_bias_view_passes():
    def forward(self, user, item):
        dot = torch.einsum("bf,bf->b", self.user_factors(user), self.item_factors(item))
        x = dot + self.user_bias(user).view(-1) + self.item_bias(item)[:, 0] + self.offset
        return x if self.y_range is None else torch.sigmoid(x) * (self.y_range[1] - self.y_range[0]) + self.y_range[0]

    assert check.run("torch_dot_product_bias", torch_class(forward)).status == "passed"


def plain_list(self, n_users, n_items, n_factors):
    self.tables = [nn.Embedding(n_users, n_factors), nn.Embedding(n_items, n_factors)]
    self.user_bias = nn.Embedding(n_users, 1)
    self.item_bias = nn.Embedding(n_items, 1)


def flat_bias(self, n_users, n_items, n_factors):
    standard_torch_init(self, n_users, n_items, n_factors)
    self.user_bias = nn.Parameter(torch.zeros(n_users))


def no_item_bias(self, n_users, n_items, n_factors):
    self.user_factors = nn.Embedding(n_users, n_factors)
    self.item_factors = nn.Embedding(n_items, n_factors)
    self.user_bias = nn.Embedding(n_users, 1)


def t(forward, init=standard_torch_init):
    return torch_class(forward, init)


TORCH_WRONG = [
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + tparts(s, u, i)[1] + s.offset)), "item bias"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + tparts(s, u, i)[2] + s.offset)), "user bias"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + s.offset)), "biases are missing"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + s.user_bias(u) + s.item_bias(i) + s.offset)), "(batch, 1)"),
    (t(lambda s, u, i: tsquash(s, (s.user_factors(u) * s.item_factors(i)).sum(-1, keepdim=True)
                               + tparts(s, u, i)[1] + tparts(s, u, i)[2] + s.offset)), "(batch, 1)"),
    (t(lambda s, u, i: tsquash(s, (s.user_factors(u) * s.item_factors(i)).sum(0) + tparts(s, u, i)[1]
                               + tparts(s, u, i)[2] + s.offset)), "wrong axis"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + s.offset) + tparts(s, u, i)[1] + tparts(s, u, i)[2]),
     "sigmoid is applied before the biases"),
    (t(lambda s, u, i: tsquash(s, sum(tparts(s, u, i))) + (s.global_mean or 0.0)), "global mean is added after"),
    (t(lambda s, u, i: tsquash(s, sum(tparts(s, u, i)) + (s.global_mean or 0.0))), "log(p / (1 - p))"),
    (t(lambda s, u, i: tsquash(s, sum(tparts(s, u, i)))), "global mean is missing"),
    (t(lambda s, u, i: sum(tparts(s, u, i)) + s.offset), "y_range is ignored"),
    (t(lambda s, u, i: torch.sigmoid(sum(tparts(s, u, i)) + s.offset) if s.y_range else sum(tparts(s, u, i)) + s.offset),
     "plain sigmoid"),
    (t(lambda s, u, i: s.y_range[0] + s.y_range[1] * torch.sigmoid(sum(tparts(s, u, i)) + s.offset)
       if s.y_range else sum(tparts(s, u, i)) + s.offset), "high - low"),
    (t(lambda s, u, i: (s.y_range[1] - s.y_range[0]) * torch.sigmoid(sum(tparts(s, u, i)) + s.offset)
       if s.y_range else sum(tparts(s, u, i)) + s.offset), "add low"),
    (t(lambda s, u, i: tsquash(s, (s.user_factors(u) * s.item_factors(i)).sum(-1, keepdim=True) + s.user_bias(u)
                               + s.item_bias(i) + s.offset).squeeze()), "squeeze only the last axis"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + s.user_bias(i).squeeze(-1) + s.item_bias(u).squeeze(-1)
                               + s.offset)), "user biases with user indices"),
    (t(lambda s, u, i: right_torch(s, u, i).detach()), "gradients reach"),
    (t(lambda s, u, i: tsquash(s, (s.tables[0](u) * s.tables[1](i)).sum(-1) + s.user_bias(u).squeeze(-1)
                               + s.item_bias(i).squeeze(-1) + s.offset), plain_list), "not registered"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + s.user_bias[u] + s.item_bias(i).squeeze(-1) + s.offset),
       flat_bias), "nn.Embedding"),
    (t(lambda s, u, i: tsquash(s, tparts(s, u, i)[0] + s.offset), no_item_bias), "no attribute item_bias"),
]


@pytest.mark.parametrize("wrong, fragment", TORCH_WRONG)
def test_wrong_torch_classes_fail_naming_the_mistake(wrong, fragment):
    result = check.run("torch_dot_product_bias", wrong)
    assert result.status == "failed", result
    assert fragment in first_hint(result), result


def test_a_constructor_without_global_mean_fails_with_a_hint():
    class DotProductBias(nn.Module):
        def __init__(self, n_users, n_items, n_factors=50, y_range=None):
            super().__init__()
            standard_torch_init(self, n_users, n_items, n_factors)
            self.y_range, self.offset = y_range, 0.0

        def forward(self, user, item):
            return right_torch(self, user, item)

    result = check.run("torch_dot_product_bias", DotProductBias)
    assert result.status == "failed" and "global_mean" in first_hint(result)


keras = pytest.importorskip("keras")
ops = keras.ops


def standard_keras_init(self, n_users, n_items, n_factors):
    self.user_factors = keras.layers.Embedding(n_users, n_factors)
    self.item_factors = keras.layers.Embedding(n_items, n_factors)
    self.user_bias = keras.layers.Embedding(n_users, 1)
    self.item_bias = keras.layers.Embedding(n_items, 1)


def keras_class(call, init=standard_keras_init):
    class DotProductBias(keras.Model):
        def __init__(self, n_users, n_items, n_factors=50, y_range=None, global_mean=None):
            super().__init__()
            self.y_range, self.global_mean = y_range, global_mean
            self.offset = offset(global_mean, y_range)
            init(self, n_users, n_items, n_factors)

        def call(self, user, item):
            return call(self, user, item)

    return DotProductBias


def ksquash(self, x):
    if self.y_range is None:
        return x
    low, high = self.y_range
    return low + (high - low) * ops.sigmoid(x)


def kparts(self, user, item):
    dot = ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)
    return dot, ops.squeeze(self.user_bias(user), -1), ops.squeeze(self.item_bias(item), -1)


def right_keras(self, user, item):
    dot, bu, bi = kparts(self, user, item)
    return ksquash(self, dot + bu + bi + self.offset)


def test_right_keras_class_passes():
    assert check.run("keras_dot_product_bias", keras_class(right_keras)).status == "passed"


def k(call, init=standard_keras_init):
    return keras_class(call, init)


KERAS_WRONG = [
    (k(lambda s, u, i: ksquash(s, kparts(s, u, i)[0] + kparts(s, u, i)[1] + s.offset)), "item bias"),
    (k(lambda s, u, i: ksquash(s, kparts(s, u, i)[0] + s.offset)), "biases are missing"),
    (k(lambda s, u, i: ksquash(s, kparts(s, u, i)[0] + s.user_bias(u) + s.item_bias(i) + s.offset)), "(batch, 1)"),
    (k(lambda s, u, i: ksquash(s, ops.sum(s.user_factors(u) * s.item_factors(i), axis=0) + kparts(s, u, i)[1]
                               + kparts(s, u, i)[2] + s.offset)), "wrong axis"),
    (k(lambda s, u, i: ksquash(s, kparts(s, u, i)[0] + s.offset) + kparts(s, u, i)[1] + kparts(s, u, i)[2]),
     "sigmoid is applied before the biases"),
    (k(lambda s, u, i: ksquash(s, sum(kparts(s, u, i))) + (s.global_mean or 0.0)), "global mean is added after"),
    (k(lambda s, u, i: ksquash(s, sum(kparts(s, u, i)))), "global mean is missing"),
    (k(lambda s, u, i: sum(kparts(s, u, i)) + s.offset), "y_range is ignored"),
    (k(lambda s, u, i: ops.stop_gradient(right_keras(s, u, i))), "no gradient reaches"),
]


@pytest.mark.parametrize("wrong, fragment", KERAS_WRONG)
def test_wrong_keras_classes_fail_naming_the_mistake(wrong, fragment):
    result = check.run("keras_dot_product_bias", wrong)
    assert result.status == "failed", result
    assert fragment in first_hint(result), result
