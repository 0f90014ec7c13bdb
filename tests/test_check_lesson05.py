"""Lesson 05's exercise check (make_mlp): the reference passes, typical mistakes fail."""

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from cflearn import check  # noqa: E402


def reference(n_factors, hidden, dropout):
    layers, width = [], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


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
