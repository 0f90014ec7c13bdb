"""Lesson 06's exercise check (combine_branches): the reference passes, typical mistakes fail."""

import pytest

torch = pytest.importorskip("torch")

from cflearn import check  # noqa: E402


def reference(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)
    return main + side


def main_only(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)


def no_biases(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)
    return global_mean + (user_vecs * item_vecs).sum(dim=1) + side


def no_mean(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return reference(user_vecs, item_vecs, user_bias, item_bias, 0.0, mlp)


def swapped_concat(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    return main + mlp(torch.cat([item_vecs, user_vecs], dim=1)).squeeze(-1)


def unsqueezed_side(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    return main + mlp(torch.cat([user_vecs, item_vecs], dim=1))  # (batch,) + (batch, 1)


def matrix_product(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)
    return global_mean + user_bias + item_bias + user_vecs @ item_vecs.T + side


def returns_numpy(*args):
    return reference(*args).numpy().tolist()


def raises(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return mlp(user_vecs)  # wrong width: the Linear layer refuses it


def stub(*args):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def test_reference_passes():
    result = check.run("combine_branches", reference)
    assert result.status == "passed", repr(result)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (main_only, "add the side branch"),
        (no_biases, "biases too"),
        (no_mean, "global mean"),
        (swapped_concat, "the user's first"),
        (unsqueezed_side, "drop its last dimension"),
        (matrix_product, "matrix product pairs every user"),
        (returns_numpy, "return a torch tensor"),
    ],
)
def test_typical_mistakes_fail_with_a_hint(wrong, fragment):
    result = check.run("combine_branches", wrong)
    assert result.status == "failed", repr(result)
    assert fragment in first_hint(result), first_hint(result)


def first_hint(result):
    return [c.hint for c in result.cases if not c.passed][0]


def detached(*args):
    return reference(*args).detach()


def no_item_bias(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return reference(user_vecs, item_vecs, user_bias, torch.zeros_like(item_bias), global_mean, mlp)


def multiplied(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    return main * mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)


@pytest.mark.parametrize(
    "wrong, fragment",
    [(detached, "gradients reach"), (no_item_bias, "item's bias too"), (multiplied, "not multiplied")],
)
def test_more_mistakes_first_hint_names_them(wrong, fragment):
    result = check.run("combine_branches", wrong)
    assert result.status == "failed", repr(result)
    assert fragment in first_hint(result), first_hint(result)


def test_raising_answer_is_an_error():
    result = check.run("combine_branches", raises)
    assert result.status == "error"
    assert "RuntimeError" in result.message and "in raises" in result.message


def test_check_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.run("combine_branches", reference)
    assert torch.equal(torch.rand(3), expected)


# ---- the learner's ResidualCF classes, PyTorch and Keras ------------------------------------


def first_hint_of(result):
    return [c.hint for c in result.cases if not c.passed][0]


def torch_residual(mistake=None):
    """A learner's PyTorch ResidualCF, right or with one ``mistake``."""
    nn = torch.nn

    class TorchResidualCF(nn.Module):
        def __init__(self, n_users, n_items, n_factors, hidden=(64,), dropout=0.5, y_range=None):
            super().__init__()
            self.y_range = y_range
            self.user_factors = nn.Embedding(n_users, n_factors)
            self.item_factors = nn.Embedding(n_items, n_factors)
            self.user_bias = nn.Embedding(n_users, 1)
            self.item_bias = nn.Embedding(n_items, 1)
            layers, width = [], 2 * n_factors
            for size in hidden:
                layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
                width = size
            layers.append(nn.Linear(width, 1))
            self.mlp = layers if mistake == "plain_list" else nn.Sequential(*layers)

        def squash(self, x):
            if self.y_range is None:
                return x
            low, high = self.y_range
            return low + (high - low) * torch.sigmoid(x)

        def forward(self, user, item):
            u, i = self.user_factors(user), self.item_factors(item)
            bu, bi = self.user_bias(user), self.item_bias(item)
            if mistake != "bias_unsqueezed":
                bu, bi = bu.squeeze(-1), bi.squeeze(-1)
            dot = (u * i).sum(dim={"sum_axis0": 0}.get(mistake, -1)) if mistake != "sum_all" else (u * i).sum()
            x = torch.cat([u, i], dim=-1)
            if mistake == "plain_list":
                for layer in self.mlp:
                    x = layer(x)
                side = x
            else:
                side = self.mlp(x)
            if mistake == "always_dropout":
                side = nn.functional.dropout(side, 0.5, training=True)
            if mistake != "no_squeeze":
                side = side.squeeze(-1)
            if mistake == "no_user_bias":
                bu = 0
            if mistake == "no_item_bias":
                bi = 0
            if mistake == "sigmoid_before_side":
                return self.squash(dot + bu + bi) + side
            if mistake == "sigmoid_before_biases":
                return self.squash(dot + side) + bu + bi
            if mistake == "no_side":
                side = 0
            return self.squash(dot + bu + bi + side)

    return TorchResidualCF


def keras_residual(mistake=None):
    """A learner's Keras ResidualCF, right or with one ``mistake``."""
    keras = pytest.importorskip("keras")
    ops = keras.ops

    class KerasResidualCF(keras.Model):
        def __init__(self, n_users, n_items, n_factors, hidden=(64,), dropout=0.5, y_range=None):
            super().__init__()
            self.y_range = y_range
            self.user_factors = keras.layers.Embedding(n_users, n_factors)
            self.item_factors = keras.layers.Embedding(n_items, n_factors)
            self.user_bias = keras.layers.Embedding(n_users, 1)
            self.item_bias = keras.layers.Embedding(n_items, 1)
            layers = []
            for size in hidden:
                layers += [keras.layers.Dense(size), keras.layers.Activation("relu"), keras.layers.Dropout(dropout)]
            layers.append(keras.layers.Dense(1, use_bias=mistake != "no_head_bias"))
            self.mlp = keras.Sequential(layers)

        def squash(self, x):
            if self.y_range is None:
                return x
            low, high = self.y_range
            return low + (high - low) * ops.sigmoid(x)

        def call(self, user, item, training=None):
            u, i = self.user_factors(user), self.item_factors(item)
            bu, bi = ops.squeeze(self.user_bias(user), -1), ops.squeeze(self.item_bias(item), -1)
            dot = ops.sum(u * i, axis={"sum_axis0": 0}.get(mistake, -1))
            side = self.mlp(ops.concatenate([u, i], axis=-1), training=True if mistake == "always_dropout" else training)
            if mistake != "no_squeeze":
                side = ops.squeeze(side, -1)
            if mistake == "no_item_bias":
                bi = 0
            if mistake == "sigmoid_before_side":
                return self.squash(dot + bu + bi) + side
            if mistake == "no_sigmoid":
                return dot + bu + bi + side
            return self.squash(dot + bu + bi + side)

    return KerasResidualCF


def test_right_residual_classes_pass_in_both_frameworks():
    from cflearn import keras as ck
    from cflearn import torch as ct

    for name, cls in (("torch_residual_cf", torch_residual()), ("keras_residual_cf", keras_residual()),
                      ("torch_residual_cf", ct.ResidualCF), ("keras_residual_cf", ck.ResidualCF)):
        result = check.run(name, cls)
        assert result.status == "passed", repr(result)


@pytest.mark.parametrize("mistake, fragment", [
    ("plain_list", "plain Python list"),
    ("no_user_bias", "forgotten bias"),
    ("no_item_bias", "forgotten bias"),
    ("no_squeeze", "(batch, batch)"),
    ("bias_unsqueezed", "(batch, batch)"),
    ("sum_axis0", "last axis"),
    ("sum_all", "wrong axis in the sum"),
    ("sigmoid_before_side", "before the side branch"),
    ("sigmoid_before_biases", "before the biases"),
    ("no_side", "add the side branch"),
    ("always_dropout", "dropout left on"),
])
def test_torch_residual_mistakes_are_named(mistake, fragment):
    result = check.run("torch_residual_cf", torch_residual(mistake))
    assert result.status == "failed", (mistake, repr(result))
    assert fragment in first_hint_of(result), (mistake, first_hint_of(result))


@pytest.mark.parametrize("mistake, fragment", [
    ("no_head_bias", "forgotten bias"),
    ("no_item_bias", "forgotten bias"),
    ("no_squeeze", "(batch, batch)"),
    ("sum_axis0", "last axis"),
    ("sigmoid_before_side", "before the side branch"),
    ("no_sigmoid", "y_range"),
    ("always_dropout", "dropout left on"),
])
def test_keras_residual_mistakes_are_named(mistake, fragment):
    result = check.run("keras_residual_cf", keras_residual(mistake))
    assert result.status == "failed", (mistake, repr(result))
    assert fragment in first_hint_of(result), (mistake, first_hint_of(result))


def test_a_matrix_product_and_a_keepdim_sum_are_named():
    right = torch_residual()

    class MatMul(right):
        def forward(self, user, item):
            u, i = self.user_factors(user), self.item_factors(item)
            side = self.mlp(torch.cat([u, i], dim=-1)).squeeze(-1)
            x = u @ i.T + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1) + side
            return self.squash(x)

    class KeepDim(right):
        def forward(self, user, item):
            u, i = self.user_factors(user), self.item_factors(item)
            side = self.mlp(torch.cat([u, i], dim=-1)).squeeze(-1)
            x = (u * i).sum(-1, keepdim=True) + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1) + side
            return self.squash(x)

    result = check.run("torch_residual_cf", MatMul)
    assert result.status == "failed" and "matrix product" in first_hint_of(result), repr(result)
    result = check.run("torch_residual_cf", KeepDim)
    assert result.status == "failed" and "keepdim=True" in first_hint_of(result), repr(result)
