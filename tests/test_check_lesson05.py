"""Lesson 05's exercise check (make_mlp): the reference passes, typical mistakes fail."""

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from cflearn import check  # noqa: E402


reference = check.core.reference("make_mlp")  # the right answer the checker registers


def dropout_on_input(n_factors, hidden, dropout):
    # dropout on the concatenated embeddings (as in some write-ups) is a legitimate variant
    layers, width = [nn.Dropout(dropout)], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def no_activation(n_factors, hidden, dropout):
    layers, width = [], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.Dropout(dropout)]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def output_activation(n_factors, hidden, dropout):
    return nn.Sequential(*reference(n_factors, hidden, dropout), nn.ReLU())


def half_width(n_factors, hidden, dropout):
    layers, width = [], n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def no_dropout(n_factors, hidden, dropout):
    return reference(n_factors, hidden, 0.0)


def fixed_dropout(n_factors, hidden, dropout):
    return reference(n_factors, hidden, 0.5)


class AlwaysDropout(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return nn.functional.dropout(x, self.p, training=True)


def dropout_in_eval(n_factors, hidden, dropout):
    layers, width = [], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), AlwaysDropout(dropout)]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def only_first_hidden(n_factors, hidden, dropout):
    return reference(n_factors, hidden[:1], dropout)


def returns_list(n_factors, hidden, dropout):
    return list(reference(n_factors, hidden, dropout))


def raises(n_factors, hidden, dropout):
    return nn.Linear(2 * n_factors, hidden)  # a tuple as out_features: TypeError in the learner's line


def stub(n_factors, hidden, dropout):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def test_reference_passes():
    result = check.run("make_mlp", reference)
    assert result.status == "passed", repr(result)


def first_hint(result):
    return [c.hint for c in result.cases if not c.passed][0]


def dropout_first_only(n_factors, hidden, dropout):
    layers, width = [], 2 * n_factors
    for k, size in enumerate(hidden):
        layers += [nn.Linear(width, size), nn.ReLU()] + ([nn.Dropout(dropout)] if k == 0 else [])
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def single_relu_after_stack(n_factors, hidden, dropout):
    layers, width = [], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.Dropout(dropout)]
        width = size
    return nn.Sequential(*layers, nn.ReLU(), nn.Linear(width, 1))


def dropout_before_relu(n_factors, hidden, dropout):  # equivalent: ReLU and dropout commute
    layers, width = [], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.Dropout(dropout), nn.ReLU()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def dropout_on_output(n_factors, hidden, dropout):
    return nn.Sequential(*reference(n_factors, hidden, dropout), nn.Dropout(dropout))


def tanh_activation(n_factors, hidden, dropout):
    return nn.Sequential(*[nn.Tanh() if isinstance(m, nn.ReLU) else m for m in reference(n_factors, hidden, dropout)])


def test_dropout_before_relu_also_passes():
    assert check.run("make_mlp", dropout_before_relu).status == "passed"


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (dropout_on_input, "not on the inputs"),
        (dropout_first_only, "one nn.Dropout after each hidden layer"),
        (single_relu_after_stack, "not a single one at the end"),
        (dropout_on_output, "no dropout after the last Linear"),
        (tanh_activation, "not tanh"),
        (fixed_dropout, "use the dropout argument as the rate"),
        (no_dropout, "as the rate"),
        (output_activation, "no activation after the last Linear layer"),
        (no_activation, "followed by a ReLU"),
    ],
)
def test_first_hint_names_the_mistake(wrong, fragment):
    result = check.run("make_mlp", wrong)
    assert result.status == "failed", repr(result)
    assert fragment in first_hint(result), first_hint(result)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (no_activation, "ReLU"),
        (output_activation, "no activation after the last"),
        (half_width, "2 * n_factors"),
        (no_dropout, "nn.Dropout(dropout)"),
        (fixed_dropout, "as the rate"),
        (dropout_in_eval, "eval mode"),
        (only_first_hidden, "each hidden size"),
        (returns_list, "nn.Sequential"),
    ],
)
def test_typical_mistakes_fail_with_a_hint(wrong, fragment):
    result = check.run("make_mlp", wrong)
    assert result.status == "failed", repr(result)
    assert fragment in repr(result)


def test_check_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.run("make_mlp", reference)
    assert torch.equal(torch.rand(3), expected)


def test_messages_do_not_show_reference_code():
    text = repr(check.run("make_mlp", no_activation))
    assert "_reference" not in text and "def " not in text


# ---- the learner's NeuralCF classes, PyTorch and Keras --------------------------------------


def torch_neural(mistake=None):
    """A learner's PyTorch NeuralCF, right or with one ``mistake``."""
    F = nn.functional

    class TorchNeuralCF(nn.Module):
        def __init__(self, n_users, n_items, n_factors, hidden=(64,), dropout=0.2, y_range=None):
            super().__init__()
            self.y_range = y_range
            names = ("users", "items") if mistake == "names" else ("user_factors", "item_factors")
            setattr(self, names[0], nn.Embedding(n_users, n_factors))
            setattr(self, names[1], nn.Embedding(n_items, n_factors))
            layers, width = [], 2 * n_factors
            for size in hidden:
                act = {"no_relu": [], "sigmoid_hidden": [nn.Sigmoid()]}.get(mistake, [nn.ReLU()])
                drop = [] if mistake == "no_dropout" else [nn.Dropout(0.1 if mistake == "fixed_rate" else dropout)]
                layers += [nn.Linear(width, size, bias=mistake != "no_bias"), *act, *drop]
                width = size
            layers.append(nn.Linear(width, 1))
            if mistake == "relu_last":
                layers.append(nn.ReLU())
            if mistake == "input_dropout":
                layers = [nn.Dropout(dropout)] + [m for m in layers if not isinstance(m, nn.Dropout)]
            self.mlp = layers if mistake == "plain_list" else nn.Sequential(*layers)

        def forward(self, user, item):
            u = (self.users if mistake == "names" else self.user_factors)(user)
            i = (self.items if mistake == "names" else self.item_factors)(item)
            parts = [i, u] if mistake == "swap" else [u, i]
            x = torch.cat(parts, dim=0 if mistake == "concat_axis" else -1)
            if mistake == "plain_list":
                for layer in self.mlp:
                    x = layer(x)
            else:
                x = self.mlp(x)
            if mistake == "always_dropout":
                x = F.dropout(x, 0.5, training=True)
            out = x if mistake == "no_squeeze" else x.squeeze(-1)
            if mistake == "detach":
                out = out.detach()
            if self.y_range is not None and mistake != "no_sigmoid":
                low, high = self.y_range
                out = (high - low) * torch.sigmoid(out) if mistake == "no_low" else low + (high - low) * torch.sigmoid(out)
            return out

    return TorchNeuralCF


def keras_neural(mistake=None):
    """A learner's Keras NeuralCF, right or with one ``mistake``."""
    keras = pytest.importorskip("keras")
    ops = keras.ops

    class KerasNeuralCF(keras.Model):
        def __init__(self, n_users, n_items, n_factors, hidden=(64,), dropout=0.2, y_range=None):
            super().__init__()
            self.y_range = y_range
            self.user_factors = keras.layers.Embedding(n_users, n_factors)
            self.item_factors = keras.layers.Embedding(n_items, n_factors)
            layers = []
            for size in hidden:
                act = [] if mistake == "no_relu" else [keras.layers.Activation("relu")]
                drop = [] if mistake == "no_dropout" else [keras.layers.Dropout(dropout)]
                layers += [keras.layers.Dense(size, use_bias=mistake != "no_bias"), *act, *drop]
            layers.append(keras.layers.Dense(1))
            self.mlp = layers if mistake == "plain_list" else keras.Sequential(layers)

        def call(self, user, item, training=None):
            u, i = self.user_factors(user), self.item_factors(item)
            x = ops.concatenate([i, u] if mistake == "swap" else [u, i], axis=0 if mistake == "concat_axis" else -1)
            flag = {"always_dropout": True, "never_dropout": False}.get(mistake, training)
            if mistake == "plain_list":
                for layer in self.mlp:
                    x = layer(x, training=flag) if isinstance(layer, keras.layers.Dropout) else layer(x)
            else:
                x = self.mlp(x, training=flag)
            out = x if mistake == "no_squeeze" else ops.squeeze(x, -1)
            if mistake == "stop_gradient":
                out = ops.stop_gradient(out)
            if self.y_range is not None and mistake != "no_sigmoid":
                low, high = self.y_range
                out = (high - low) * ops.sigmoid(out) if mistake == "no_low" else low + (high - low) * ops.sigmoid(out)
            return out

    return KerasNeuralCF


def test_right_classes_pass_in_both_frameworks():
    for name, cls in (("torch_neural_cf", torch_neural()), ("keras_neural_cf", keras_neural())):
        result = check.run(name, cls)
        assert result.status == "passed", repr(result)


def test_the_package_classes_pass():
    from cflearn import keras as ck
    from cflearn import torch as ct

    assert check.run("torch_neural_cf", ct.NeuralCF).status == "passed"
    assert check.run("keras_neural_cf", ck.NeuralCF).status == "passed"


NEURAL_MISTAKES = [
    ("no_sigmoid", "y_range"),
    ("no_low", "low end is missing"),
    ("swap", "user first"),
    ("no_relu", "followed by a ReLU"),
    ("no_squeeze", "(batch, 1)"),
    ("plain_list", "plain Python list"),
    ("no_bias", "forgotten bias"),
    ("always_dropout", "dropout left on"),
    ("no_dropout", "dropout is off in training"),
    ("concat_axis", "last axis"),
]


@pytest.mark.parametrize("mistake, fragment", NEURAL_MISTAKES + [
    ("names", "names the package uses"),
    ("relu_last", "no activation after the MLP's last layer"),
    ("sigmoid_hidden", "sigmoid comes once"),
    ("detach", ".detach()"),
    ("fixed_rate", "dropout argument as the rate"),
    ("input_dropout", "not on the inputs"),
])
def test_torch_class_mistakes_are_named(mistake, fragment):
    result = check.run("torch_neural_cf", torch_neural(mistake))
    assert result.status == "failed", (mistake, repr(result))
    assert fragment in first_hint(result), (mistake, first_hint(result))


@pytest.mark.parametrize("mistake, fragment", NEURAL_MISTAKES + [
    ("never_dropout", "dropout is off in training"),
    ("stop_gradient", "stop_gradient"),
])
def test_keras_class_mistakes_are_named(mistake, fragment):
    result = check.run("keras_neural_cf", keras_neural(mistake))
    assert result.status == "failed", (mistake, repr(result))
    assert fragment in first_hint(result), (mistake, first_hint(result))


def test_a_class_stub_is_not_attempted_and_an_instance_is_refused():
    class Stub(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            raise NotImplementedError("Exercise: write your answer here, then run the check below.")

    assert check.run("torch_neural_cf", Stub).status == "not attempted"
    result = check.run("torch_neural_cf", torch_neural()(3, 3, 2))
    assert result.status == "failed" and "the class itself" in result.cases[0].hint


def test_class_check_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.run("torch_neural_cf", torch_neural())
    assert torch.equal(torch.rand(3), expected)


def test_other_argument_names_fail_with_a_hint():
    class OtherNames(nn.Module):
        def __init__(self, num_users, num_items, n_factors, hidden=(64,), dropout=0.2, y_range=None):
            super().__init__()

    result = check.run("torch_neural_cf", OtherNames)
    assert result.status == "failed" and "without n_users, n_items" in first_hint(result)


def test_a_sigmoid_without_y_range_is_named():
    right = torch_neural()

    class AlwaysSquashed(right):
        def __init__(self, *args, y_range=None, **kwargs):
            super().__init__(*args, y_range=y_range or (0.0, 5.5), **kwargs)

    result = check.run("torch_neural_cf", AlwaysSquashed)
    assert result.status == "failed" and "y_range=None" in first_hint(result), repr(result)


def test_a_sigmoid_in_the_last_layer_is_named():
    keras = pytest.importorskip("keras")
    right = keras_neural()

    class SigmoidHead(right):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.mlp.layers[-1].activation = keras.activations.sigmoid

    result = check.run("keras_neural_cf", SigmoidHead)
    assert result.status == "failed" and "the sigmoid comes once" in first_hint(result), repr(result)
