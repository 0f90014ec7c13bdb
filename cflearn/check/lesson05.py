"""Checks for lesson 05 (neural): the learner builds the MLP head of NeuralCF.

``make_mlp(n_factors, hidden, dropout)`` must return a torch module that maps the
concatenated user and item vectors, shape (batch, 2 * n_factors), to one number per row,
shape (batch, 1): for each hidden size a Linear layer, a ReLU and a Dropout, then a final
Linear layer with one output and no activation. The checks give the learner's layers
fixed weights, so the expected outputs can be worked out by hand.
"""

from __future__ import annotations

from cflearn.check.core import Case, close, describe, exercise

_HINT_SIZES = (
    "the first Linear layer reads the user and item vectors side by side, so it takes 2 * n_factors inputs; "
    "each hidden size is the output of one Linear layer and the input of the next; the last Linear layer has one output"
)
_HINT_VALUES = (
    "each hidden Linear layer is followed by a ReLU; the last Linear layer is left as it is "
    "(no activation after it, so the head can output any number)"
)
_HINT_EVAL = "dropout must switch off in eval mode: use nn.Dropout (model.eval() turns it off), not an always-on dropout"
_HINT_TRAIN = "add nn.Dropout(dropout) after the activation of each hidden layer"


def _fixed(shape, offset):
    """Small deterministic numbers (multiples of 0.25 in [-0.5, 0.5]) with mixed signs."""
    import torch

    n = 1
    for s in shape:
        n *= s
    values = ((torch.arange(n, dtype=torch.float32) * 3 + offset) % 5 - 2) * 0.25
    return values.reshape(shape)


def _inputs(batch, width):
    import torch

    return ((torch.arange(batch * width, dtype=torch.float32) * 7 % 9) - 4).reshape(batch, width) * 0.5


def _linears(model):
    import torch.nn as nn

    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _reference(x, sizes):
    """The expected output for the fixed weights: Linear, ReLU, ..., Linear (no dropout)."""
    import torch

    for i, (n_in, n_out) in enumerate(sizes):
        x = x @ _fixed((n_out, n_in), i).T + _fixed((n_out,), i + 1)
        if i < len(sizes) - 1:
            x = torch.relu(x)
    return x


def _set_weights(layers):
    import torch

    with torch.no_grad():
        for i, layer in enumerate(layers):
            layer.weight.copy_(_fixed(tuple(layer.weight.shape), i))
            if layer.bias is not None:
                layer.bias.copy_(_fixed(tuple(layer.bias.shape), i + 1))


def _forward(model, x):
    """Run the learner's module; return (output as numpy, error text)."""
    try:
        out = model(x)
    except Exception as exc:  # a wrongly wired module; report it as a failed case
        return None, f"calling the module raised {type(exc).__name__}: {exc}"
    if not hasattr(out, "detach"):
        return None, f"the module returned {describe(out)}, not a tensor"
    return out.detach().cpu().numpy(), ""


@exercise("make_mlp", lesson="05")
def check_make_mlp(answer):
    import torch
    import torch.nn as nn

    for n_factors, hidden, dropout in ((2, (3,), 0.5), (3, (4, 2), 0.25)):
        call = f"make_mlp(n_factors={n_factors}, hidden={hidden}, dropout={dropout})"
        with torch.random.fork_rng():  # building layers draws random weights; keep the notebook's RNG as it was
            model = answer(n_factors, hidden, dropout)
        if not isinstance(model, nn.Module):
            yield Case(call, "a torch nn.Module (e.g. nn.Sequential)", describe(model), False,
                       "return the module, for example nn.Sequential(...)")
            return
        layers = _linears(model)
        sizes = [(layer.in_features, layer.out_features) for layer in layers]
        widths = [2 * n_factors, *hidden, 1]
        expected_sizes = list(zip(widths[:-1], widths[1:]))
        ok = sizes == expected_sizes
        yield Case(f"{call}: Linear layers as (in_features, out_features)", expected_sizes, sizes, ok,
                   "" if ok else _HINT_SIZES)
        if not ok:
            continue
        if any(layer.bias is None for layer in layers):
            yield Case(f"{call}: Linear layers", "each with a bias", "a layer with bias=False", False,
                       "keep the default bias=True")
            continue
        _set_weights(layers)
        x = _inputs(4, 2 * n_factors)
        expected = _reference(x, expected_sizes).numpy()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model.eval()
            got, err = _forward(model, x)
            if err:
                yield Case(f"{call}, eval mode, fixed weights, x of shape {tuple(x.shape)}", expected, err, False, _HINT_VALUES)
                continue
            ok, why = close(got, expected, atol=1e-5)
            hint = "" if ok else (why + "; " + _HINT_VALUES if got.shape == expected.shape else why + "; the output is (batch, 1)")
            yield Case(f"{call}, eval mode, fixed weights, x={x.tolist()}", expected, got, ok, hint)
            again, _ = _forward(model, x)
            same = again is not None and again.shape == got.shape and bool((again == got).all())
            yield Case(f"{call}, eval mode: the same input twice", "the same output twice", "the same output" if same else "different outputs",
                       same, "" if same else _HINT_EVAL)
            model.train()
            torch.manual_seed(0)
            x_big = _inputs(64, 2 * n_factors)
            trained, err = _forward(model, x_big)
            model.eval()
            evaluated, _ = _forward(model, x_big)
        if err or evaluated is None:
            yield Case(f"{call}, train mode", "an output", err or "no output", False, _HINT_TRAIN)
            continue
        differs = trained.shape == evaluated.shape and not bool((abs(trained - evaluated) < 1e-7).all())
        yield Case(f"{call}, train mode vs eval mode on 64 rows", "outputs differ (dropout is active while training)",
                   "outputs differ" if differs else "identical outputs", differs, "" if differs else _HINT_TRAIN)

    # dropout=0 must leave training outputs untouched
    with torch.random.fork_rng():
        model = answer(2, (3,), 0.0)
    if isinstance(model, nn.Module) and [(m.in_features, m.out_features) for m in _linears(model)] == [(4, 3), (3, 1)]:
        x = _inputs(8, 4)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model.train()
            trained, err = _forward(model, x)
            model.eval()
            evaluated, _ = _forward(model, x)
        same = not err and evaluated is not None and trained.shape == evaluated.shape and bool((abs(trained - evaluated) < 1e-6).all())
        yield Case("make_mlp(n_factors=2, hidden=(3,), dropout=0.0), train vs eval mode", "identical outputs",
                   err or ("identical outputs" if same else "different outputs"), same,
                   "" if same else "use the dropout argument as the rate: dropout=0.0 drops nothing")
