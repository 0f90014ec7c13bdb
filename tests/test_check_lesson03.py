"""Lesson 03 checker (dot_forward): the reference passes, typical wrong answers fail."""

import pytest

from cflearn import check

torch = pytest.importorskip("torch")


def dot_forward(user_emb, item_emb, user, item):
    return (user_emb[user] * item_emb[item]).sum(dim=1)  # (batch,)


def stub(user_emb, item_emb, user, item):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def test_registered():
    assert check.names(lesson="03") == ["dot_forward", "keras_dot_product", "torch_dot_product", "train_epoch"]


def test_reference_passes():
    result = check.run("dot_forward", dot_forward)
    assert result.status == "passed", result
    assert len(result.cases) == 4


def test_other_correct_forms_pass():
    def with_einsum(user_emb, item_emb, user, item):
        return torch.einsum("bf,bf->b", user_emb[user], item_emb[item])

    def with_modules(user_emb, item_emb, user, item):
        users = torch.nn.Embedding.from_pretrained(user_emb, freeze=False)
        items = torch.nn.Embedding.from_pretrained(item_emb, freeze=False)
        return (users(user) * items(item)).sum(-1)

    assert check.run("dot_forward", with_einsum).passed
    assert check.run("dot_forward", with_modules).passed


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda u, i, user, item: u[user] @ i[item].T, "(batch, batch)"),
        (lambda u, i, user, item: (u[user] * i[item]).sum(0), "sum over the factors axis"),
        (lambda u, i, user, item: (u[item] * i[user]).sum(1), "user's row in the user table"),
        (lambda u, i, user, item: (u[user] * i[item]).sum(1, keepdim=True), "drop the last axis"),
        (lambda u, i, user, item: (u[user] * i[item]).mean(1), "sum over the factors"),
        (lambda u, i, user, item: (u[user] + i[item]).sum(1), "entry by entry"),
    ],
)
def test_wrong_answers_fail(wrong, fragment):
    result = check.run("dot_forward", wrong)
    assert result.status == "failed", result
    assert fragment in repr(result)


def test_detached_answer_fails_the_gradient_case():
    result = check.run("dot_forward", lambda *a: dot_forward(*a).detach().numpy())
    assert result.status == "failed"
    assert [c.passed for c in result.cases] == [True, True, True, False]
    assert "gradients" in repr(result)


def test_raising_answer_is_an_error():
    def buggy(user_emb, item_emb, user, item):
        return user_emb[user].dot(item_emb[item])  # dot needs 1-D tensors

    result = check.run("dot_forward", buggy)
    assert result.status == "error"
    assert "buggy" in result.message


def test_stub_is_not_attempted():
    assert check.run("dot_forward", stub).status == "not attempted"
    assert check.run("dot_forward", None).status == "not attempted"


def test_messages_never_show_the_checker_code():
    for answer in (dot_forward, lambda *a: 0, stub):
        text = repr(check.run("dot_forward", answer))
        assert "user_emb[user] * item_emb[item]" not in text


# ---------------------------------------------------------------- the DotProduct classes

from torch import nn  # noqa: E402


def first_hint(result) -> str:
    return [c.hint for c in result.cases if not c.passed][0]


def torch_class(forward, init=None):
    """A learner's PyTorch DotProduct: the usual __init__ (or ``init``), the given forward."""

    class DotProduct(nn.Module):
        def __init__(self, n_users, n_items, n_factors=50):
            super().__init__()
            if init is not None:
                init(self, n_users, n_items, n_factors)
            else:
                self.user_factors = nn.Embedding(n_users, n_factors)
                self.item_factors = nn.Embedding(n_items, n_factors)

        def forward(self, user, item):
            return forward(self, user, item)

    return DotProduct


def right_torch(self, user, item):
    return (self.user_factors(user) * self.item_factors(item)).sum(dim=1)


@pytest.mark.parametrize("forward", [
    right_torch,
    lambda self, u, i: torch.einsum("bf,bf->b", self.user_factors(u), self.item_factors(i)),
    lambda self, u, i: torch.bmm(self.user_factors(u).unsqueeze(1), self.item_factors(i).unsqueeze(2)).squeeze(-1).squeeze(-1),
])
def test_right_torch_classes_pass(forward):
    result = check.run("torch_dot_product", torch_class(forward))
    assert result.status == "passed", result


def test_a_module_list_passes():
    def init(self, n_users, n_items, n_factors):
        self.tables = nn.ModuleList([nn.Embedding(n_users, n_factors), nn.Embedding(n_items, n_factors)])
        self.user_factors, self.item_factors = self.tables

    assert check.run("torch_dot_product", torch_class(right_torch, init)).passed


def plain_list(self, n_users, n_items, n_factors):
    self.tables = [nn.Embedding(n_users, n_factors), nn.Embedding(n_items, n_factors)]


def with_parameters(self, n_users, n_items, n_factors):
    self.user_factors = nn.Parameter(torch.randn(n_users, n_factors))
    self.item_factors = nn.Parameter(torch.randn(n_items, n_factors))


def other_names(self, n_users, n_items, n_factors):
    self.users = nn.Embedding(n_users, n_factors)
    self.items = nn.Embedding(n_items, n_factors)


def swapped_sizes(self, n_users, n_items, n_factors):
    self.user_factors = nn.Embedding(n_factors, n_users)
    self.item_factors = nn.Embedding(n_items, n_factors)


TORCH_WRONG = [
    (torch_class(lambda s, u, i: s.user_factors(u) @ s.item_factors(i).T), "(batch, batch)"),
    (torch_class(lambda s, u, i: (s.user_factors(u) * s.item_factors(i)).sum(0)), "wrong axis"),
    (torch_class(lambda s, u, i: (s.user_factors(u) * s.item_factors(i)).sum()), "whole batch"),
    (torch_class(lambda s, u, i: (s.user_factors(u) * s.item_factors(i)).sum(-1, keepdim=True)), "drop the last axis"),
    (torch_class(lambda s, u, i: s.user_factors(u) * s.item_factors(i)), "sum over the factors"),
    (torch_class(lambda s, u, i: (s.user_factors(i) * s.item_factors(u)).sum(-1)), "user_factors for the users"),
    (torch_class(lambda s, u, i: (s.user_factors(u) * s.item_factors(i)).mean(-1)), "mean over the factors"),
    (torch_class(lambda s, u, i: right_torch(s, u, i).detach()), "gradients reach"),
    (torch_class(lambda s, u, i: torch.tensor(right_torch(s, u, i).tolist())), "gradients reach"),
    (torch_class(lambda s, u, i: (s.tables[0](u) * s.tables[1](i)).sum(-1), plain_list), "not registered"),
    (torch_class(lambda s, u, i: (s.user_factors[u] * s.item_factors[i]).sum(-1), with_parameters), "nn.Embedding"),
    (torch_class(lambda s, u, i: (s.users(u) * s.items(i)).sum(-1), other_names), "no attribute user_factors"),
    (torch_class(right_torch, swapped_sizes), "shape"),
]


@pytest.mark.parametrize("wrong, fragment", TORCH_WRONG)
def test_wrong_torch_classes_fail_naming_the_mistake(wrong, fragment):
    result = check.run("torch_dot_product", wrong)
    assert result.status == "failed", result
    assert fragment in first_hint(result), result


def test_unused_layer_gets_no_gradient():
    def init(self, n_users, n_items, n_factors):
        self.user_factors = nn.Embedding(n_users, n_factors)
        self.item_factors = nn.Embedding(n_items, n_factors)
        self.spare = nn.Linear(2, 2)

    result = check.run("torch_dot_product", torch_class(right_torch, init))
    assert result.status == "failed" and "spare" in first_hint(result)


def test_a_model_instead_of_its_class():
    from cflearn.torch import DotProduct

    result = check.run("torch_dot_product", DotProduct(3, 3, 2))
    assert result.status == "failed" and "pass the class itself" in first_hint(result)


def test_a_class_stub_is_not_attempted():
    class DotProduct(nn.Module):
        def __init__(self, n_users, n_items, n_factors=50):
            super().__init__()
            raise NotImplementedError("Exercise: write your answer here, then run the check below.")

    assert check.run("torch_dot_product", DotProduct).status == "not attempted"


def test_a_constructor_without_n_factors_fails_with_a_hint():
    class DotProduct(nn.Module):
        def __init__(self, n_users, n_items):
            super().__init__()

    result = check.run("torch_dot_product", DotProduct)
    assert result.status == "failed" and "n_users, n_items, n_factors" in first_hint(result)


keras = pytest.importorskip("keras")
ops = keras.ops


def keras_class(call, init=None):
    """A learner's Keras DotProduct: the usual __init__ (or ``init``), the given call."""

    class DotProduct(keras.Model):
        def __init__(self, n_users, n_items, n_factors=50):
            super().__init__()
            if init is not None:
                init(self, n_users, n_items, n_factors)
            else:
                self.user_factors = keras.layers.Embedding(n_users, n_factors)
                self.item_factors = keras.layers.Embedding(n_items, n_factors)

        def call(self, user, item):
            return call(self, user, item)

    return DotProduct


def right_keras(self, user, item):
    return ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)


@pytest.mark.parametrize("call", [
    right_keras,
    lambda self, u, i: ops.einsum("bf,bf->b", self.user_factors(u), self.item_factors(i)),
])
def test_right_keras_classes_pass(call):
    result = check.run("keras_dot_product", keras_class(call))
    assert result.status == "passed", result


def test_layers_in_a_list_are_tracked_by_keras():
    def init(self, n_users, n_items, n_factors):
        self.tables = [keras.layers.Embedding(n_users, n_factors), keras.layers.Embedding(n_items, n_factors)]
        self.user_factors, self.item_factors = self.tables

    assert check.run("keras_dot_product", keras_class(right_keras, init)).passed


def frozen(self, n_users, n_items, n_factors):
    self.user_factors = keras.layers.Embedding(n_users, n_factors, trainable=False)
    self.item_factors = keras.layers.Embedding(n_items, n_factors)


KERAS_WRONG = [
    (keras_class(lambda s, u, i: ops.matmul(s.user_factors(u), ops.transpose(s.item_factors(i)))), "(batch, batch)"),
    (keras_class(lambda s, u, i: ops.sum(s.user_factors(u) * s.item_factors(i), axis=0)), "wrong axis"),
    (keras_class(lambda s, u, i: ops.sum(s.user_factors(u) * s.item_factors(i))), "whole batch"),
    (keras_class(lambda s, u, i: ops.sum(s.user_factors(u) * s.item_factors(i), axis=-1, keepdims=True)),
     "drop the last axis"),
    (keras_class(lambda s, u, i: s.user_factors(u) * s.item_factors(i)), "sum over the factors"),
    (keras_class(lambda s, u, i: ops.sum(s.user_factors(i) * s.item_factors(u), axis=-1)), "user_factors for the users"),
    (keras_class(lambda s, u, i: ops.mean(s.user_factors(u) * s.item_factors(i), axis=-1)), "mean over the factors"),
    (keras_class(lambda s, u, i: ops.stop_gradient(right_keras(s, u, i))), "no gradient reaches"),
    (keras_class(right_keras, frozen), "trainable_weights"),
]


@pytest.mark.parametrize("wrong, fragment", KERAS_WRONG)
def test_wrong_keras_classes_fail_naming_the_mistake(wrong, fragment):
    result = check.run("keras_dot_product", wrong)
    assert result.status == "failed", result
    assert fragment in first_hint(result), result


def test_keras_wrong_names():
    def init(self, n_users, n_items, n_factors):
        self.users = keras.layers.Embedding(n_users, n_factors)
        self.items = keras.layers.Embedding(n_items, n_factors)

    result = check.run("keras_dot_product", keras_class(lambda s, u, i: ops.sum(s.users(u) * s.items(i), axis=-1), init))
    assert result.status == "failed" and "no attribute user_factors" in first_hint(result)


def test_a_torch_class_for_the_keras_exercise():
    result = check.run("keras_dot_product", torch_class(right_torch))
    assert result.status == "failed" and "keras.Model" in first_hint(result)


def test_a_keras_class_stub_is_not_attempted():
    class DotProduct(keras.Model):
        def __init__(self, n_users, n_items, n_factors=50):
            super().__init__()
            raise NotImplementedError("Exercise: write your answer here, then run the check below.")

    assert check.run("keras_dot_product", DotProduct).status == "not attempted"


# ---------------------------------------------------------------- one training epoch

import torch.nn.functional as F  # noqa: E402


def epoch(model, optimizer, user, item, rating, batch_size, seed, *, order=None, zero=True, drop_last=False,
          loss_fn=F.mse_loss, returned="mean"):
    n = len(rating)
    if order is None:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    losses = []
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        rows = order[start:start + batch_size]
        loss = loss_fn(model(user[rows], item[rows]), rating[rows])
        if zero:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"mean": sum(losses) / len(losses), "last": losses[-1], "sum": sum(losses)}[returned]


def test_a_right_epoch_passes():
    assert check.run("train_epoch", epoch).status == "passed"


def test_an_epoch_with_its_own_names_passes():
    def train_epoch(model, optimizer, user, item, rating, batch_size, seed):
        g = torch.Generator()
        g.manual_seed(seed)
        perm = torch.randperm(rating.shape[0], generator=g)
        total = 0.0
        batches = perm.split(batch_size)
        for rows in batches:
            optimizer.zero_grad()
            loss = ((model(user[rows], item[rows]) - rating[rows]) ** 2).mean()
            loss.backward()
            optimizer.step()
            total += float(loss)
        return total / len(batches)

    assert check.run("train_epoch", train_epoch).status == "passed"


def no_step(model, optimizer, user, item, rating, batch_size, seed):
    order = torch.randperm(len(rating), generator=torch.Generator().manual_seed(seed))
    losses = []
    for start in range(0, len(rating), batch_size):
        rows = order[start:start + batch_size]
        loss = F.mse_loss(model(user[rows], item[rows]), rating[rows])
        optimizer.zero_grad()
        loss.backward()
        losses.append(loss.item())
    return sum(losses) / len(losses)


@pytest.mark.parametrize("wrong, fragment", [
    (lambda *a: epoch(*a, zero=False), "zero_grad"),
    (lambda m, o, u, i, r, b, s: epoch(m, o, u, i, r, b, s, order=torch.arange(len(r))), "not shuffled"),
    (lambda *a: epoch(*a, drop_last=True), "last, smaller batch"),
    (lambda *a: epoch(*a, loss_fn=lambda p, t: ((p - t) ** 2).sum()), "sum of squared errors"),
    (lambda *a: epoch(*a, loss_fn=lambda p, t: F.mse_loss(p, t).sqrt()), "square root"),
    (lambda *a: epoch(*a, returned="last"), "last batch"),
    (lambda *a: epoch(*a, returned="sum"), "not their sum"),
    (no_step, "did not change"),
    (lambda m, o, u, i, r, b, s: epoch(m, o, u, i, r, b, s, order=torch.randperm(len(r))), "parameters after one epoch"),
    (lambda *a: None, "None"),
])
def test_wrong_epochs_fail_naming_the_mistake(wrong, fragment):
    result = check.run("train_epoch", wrong)
    assert result.status == "failed", result
    assert fragment in first_hint(result), result
