"""Checks for lesson 05 (neural): the learner builds the MLP head of NeuralCF.

``make_mlp(n_factors, hidden, dropout)`` must return a torch module that maps the
concatenated user and item vectors, shape (batch, 2 * n_factors), to one number per row,
shape (batch, 1): for each hidden size a Linear layer, a ReLU and a Dropout, then a final
Linear layer with one output and no activation. The checks give the learner's Linear layers
seeded random weights (every hidden unit alive for some rows, so the output depends on
every layer), compare eval mode with the same layers wired the reference way, and compare
training mode with the reference under the same random seed: with dropout in the same
places, both draw the same masks and agree exactly.
"""

from __future__ import annotations

from cflearn.check.core import Case, describe, diagnose, exercise

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


def _reference_make_mlp(n_factors, hidden, dropout):
    """Linear, ReLU, Dropout for each hidden size, then a Linear layer with one output."""
    import torch.nn as nn

    layers, width = [], 2 * n_factors
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _linears(model):
    import torch.nn as nn

    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _set_weights(layers):
    """Seeded random weights and biases: every layer matters, and outputs vary by row."""
    import torch

    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for layer in layers:
            n_out, n_in = layer.weight.shape
            layer.weight.copy_(torch.randn(n_out, n_in, generator=gen) / n_in**0.5 * 1.5)
            if layer.bias is not None:
                layer.bias.copy_(torch.randn(n_out, generator=gen) * 0.3)


def _inputs(batch, width):
    import torch

    return torch.randn(batch, width, generator=torch.Generator().manual_seed(11))


def _chain(x, layers, act_after):
    """``layers`` applied in turn; ``act_after(i)`` gives the activation after layer i (or None)."""
    for i, layer in enumerate(layers):
        x = layer(x)
        act = act_after(i)
        if act is not None:
            x = act(x)
    return x


def _mistakes(x, layers):
    import torch

    last = len(layers) - 1
    relu = torch.relu
    return [
        ("each hidden Linear layer is followed by a ReLU: without it the layers collapse into one linear map",
         lambda: _chain(x, layers, lambda i: None)),
        ("no activation after the last Linear layer: a ReLU there can only output numbers >= 0",
         lambda: _chain(x, layers, lambda i: relu)),
        ("a ReLU after each hidden Linear layer, not a single one at the end of the hidden stack",
         lambda: _chain(x, layers, lambda i: relu if i == last - 1 else None)),
        ("a ReLU after each hidden Linear layer, and none after the last Linear layer (not one ReLU after everything)",
         lambda: relu(_chain(x, layers, lambda i: None))),
        ("a ReLU after each hidden Linear layer, not only after the first",
         lambda: _chain(x, layers, lambda i: relu if i == 0 else None)),
        ("use ReLU as the activation (not sigmoid)", lambda: _chain(x, layers, lambda i: torch.sigmoid if i < last else None)),
        ("use ReLU as the activation (not tanh)", lambda: _chain(x, layers, lambda i: torch.tanh if i < last else None)),
    ]


def _forward(model, x):
    """Run the learner's module; return (output, error text)."""
    try:
        out = model(x)
    except Exception as exc:  # a wrongly wired module; report it as a failed case
        return None, f"calling the module raised {type(exc).__name__}: {exc}"
    if not hasattr(out, "detach"):
        return None, f"the module returned {describe(out)}, not a tensor"
    return out.detach(), ""


def _dropout_hint(model, hidden, dropout) -> str:
    """Where the learner's dropout sits, compared with one after each hidden activation."""
    import torch.nn as nn

    leaves = [m for m in model.modules() if not list(m.children())]
    drops = [m for m in leaves if isinstance(m, nn.Dropout) or "dropout" in type(m).__name__.lower()]
    if not drops:
        return _HINT_TRAIN
    rates = sorted({float(getattr(m, "p", dropout)) for m in drops})
    if any(abs(r - dropout) > 1e-12 for r in rates):
        return f"use the dropout argument as the rate, nn.Dropout(dropout); found rate(s) {rates} for dropout={dropout}"
    lin_pos = [i for i, m in enumerate(leaves) if isinstance(m, nn.Linear)]
    drop_pos = [i for i, m in enumerate(leaves) if m in drops]
    if any(p < lin_pos[0] for p in drop_pos):
        return "dropout goes after each hidden layer's activation, not on the inputs (the concatenated vectors)"
    if any(p > lin_pos[-1] for p in drop_pos):
        return "no dropout after the last Linear layer: the output is the prediction itself"
    between = [sum(a < p < b for p in drop_pos) for a, b in zip(lin_pos[:-1], lin_pos[1:])]
    if between != [1] * len(hidden):
        return (f"one nn.Dropout after each hidden layer's ReLU ({len(hidden)} hidden layer(s)); "
                f"found {sum(between)} between the Linear layers, placed {between}")
    return _HINT_TRAIN + " (and nowhere else), so that training mode matches it under the same seed"


@exercise("make_mlp", lesson="05", reference=_reference_make_mlp)
def check_make_mlp(answer):
    import torch
    import torch.nn as nn

    for n_factors, hidden, dropout in ((2, (3,), 0.5), (3, (6, 4), 0.25), (2, (5, 4, 3), 0.4)):
        call = f"make_mlp(n_factors={n_factors}, hidden={hidden}, dropout={dropout})"
        with torch.random.fork_rng():  # building layers draws random weights; keep the notebook's RNG as it was
            model = answer(n_factors, hidden, dropout)
        if not isinstance(model, nn.Module):
            yield Case(call, "a torch nn.Module (e.g. nn.Sequential)", describe(model), False,
                       f"returned {describe(model)}; return the module, for example nn.Sequential(...)")
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
        x = _inputs(32, 2 * n_factors)
        with torch.no_grad():
            expected = _chain(x, layers, lambda i: torch.relu if i < len(layers) - 1 else None)
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(0)
            model.eval()
            got, err = _forward(model, x)
            if err:
                yield Case(f"{call}, eval mode, x of shape {tuple(x.shape)}", expected.numpy(), err, False, _HINT_VALUES)
                continue
            ok, hint = diagnose(got, expected, _mistakes(x, layers), atol=1e-5,
                                shape_hint=lambda shape: f"the output has shape (batch, 1); got {shape}",
                                fallback=_HINT_VALUES)
            yield Case(f"{call}, eval mode, random weights, x of shape {tuple(x.shape)}", expected.numpy(), got, ok, hint)
            if not ok:
                continue
            again, _ = _forward(model, x)
            same = again is not None and again.shape == got.shape and bool((again == got).all())
            yield Case(f"{call}, eval mode: the same input twice", "the same output twice",
                       "the same output" if same else "different outputs", same, "" if same else _HINT_EVAL)
            if not same:
                continue
            # training mode: the reference, wired with the same Linear layers, under the same seed
            reference = _reference_make_mlp(n_factors, hidden, dropout)
            reference.load_state_dict({k: v for k, v in zip(reference.state_dict(), _state(layers))})
            model.train()
            reference.train()
            torch.manual_seed(1)
            trained, err = _forward(model, x)
            torch.manual_seed(1)
            want = reference(x)
            model.eval()
        if err or trained is None:
            yield Case(f"{call}, train mode", "an output", err or "no output", False, _HINT_TRAIN)
            continue
        ok = tuple(trained.shape) == tuple(want.shape) and bool(torch.allclose(trained, want, atol=1e-5))
        yield Case(f"{call}, train mode, the same random seed as the reference", want.numpy(), trained.numpy(), ok,
                   "" if ok else _dropout_hint(model, hidden, dropout))


def _state(layers):
    for layer in layers:
        yield layer.weight.detach().clone()
        yield layer.bias.detach().clone()
