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

from cflearn.check.compare import short
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


# ---------------------------------------------------------------------------------------------
# The learner's model classes: NeuralCF here, ResidualCF in lesson 06 (same machinery).
#
# The class is built as ``cls(n_users=..., n_items=..., n_factors=..., hidden=..., dropout=...,
# y_range=...)``; it must keep its layers under the package's names (``user_factors``,
# ``item_factors``, ``user_bias``, ``item_bias`` embeddings, ``mlp`` a Sequential), so that the
# package's ``set_weights`` loads known weights into it. Its predictions are then compared with the
# package's class holding the same weights, in eval / inference mode; the expected values and the
# known mistakes are computed in NumPy from those weights, so both frameworks share them.
# ---------------------------------------------------------------------------------------------

import numpy as _np  # noqa: E402

_N_USERS, _N_ITEMS, _N_FACTORS = 7, 5, 3
_USERS = _np.array([0, 1, 2, 3, 4, 5, 6, 0, 3, 6, 2, 5])  # 12 rows: batch != n_factors, every index used
_ITEMS = _np.array([0, 1, 2, 3, 4, 0, 1, 4, 2, 3, 1, 0])
_Y_RANGE = (0.5, 5.5)  # low != 0, so that forgetting "low +" shows

_HINT_NAMES = ("keep the layers under the names the package uses, so that its set_weights can load them: "
               "{names}")
_HINT_LIST_TORCH = ("the MLP's layers sit in a plain Python list, which PyTorch does not register: model.parameters() "
                    "misses them, so the optimiser would never train them; put them in nn.Sequential(...) as self.mlp")
_HINT_LIST_KERAS = ("the MLP's layers sit in a plain Python list: keep them in keras.Sequential([...]) as self.mlp, "
                    "so that Keras (and cflearn's get_weights / set_weights) see one MLP with its Dense layers in order")
_HINT_BIAS_LINEAR = "a forgotten bias: keep the MLP's {layer} layers with their bias (the default; no bias=False / use_bias=False)"
_HINT_DROPOUT_EVAL = ("dropout left on at inference: the same input gave different outputs in {mode}; use the dropout "
                      "layer and let {switch} switch it off (no always-on dropout)")
_HINT_SQUEEZE = ("shape {shape}, expected (batch,): squeeze the last axis of every (batch, 1) tensor (the MLP's output, "
                 "the bias lookups, a sum with keepdim=True) before adding or squashing; a (batch,) plus a (batch, 1) broadcasts to (batch, batch)")
_HINT_CRASH = ("calling your model raised {error}. If it is a shape error: join the user and item vectors along the last "
               "axis (axis -1), giving (batch, 2 * n_factors), and sum the dot product over the last axis (the factors), "
               "so that each row stays one (user, item) pair")


def _sigmoid(x):
    return 1.0 / (1.0 + _np.exp(-x))


def _squash(x, y_range):
    if y_range is None:  # no y_range: the raw output is the prediction
        return x
    low, high = y_range
    return low + (high - low) * _sigmoid(x)


def _mlp_np(weights, x, act=lambda h: _np.maximum(h, 0.0), last=None):
    """The MLP in NumPy: Dense(+act) per hidden layer, then the head (+``last``); (batch, 1)."""
    k = 0
    while f"mlp.hidden.{k}.kernel" in weights:
        x = act(x @ weights[f"mlp.hidden.{k}.kernel"] + weights[f"mlp.hidden.{k}.bias"])
        k += 1
    x = x @ weights["mlp.head.kernel"] + weights["mlp.head.bias"]
    return last(x) if last is not None else x


def _pieces(weights, user, item):
    p, q = weights["user_factors"][user], weights["item_factors"][item]  # (batch, n_factors)
    bu = weights["user_bias"][user][:, 0] if "user_bias" in weights else None
    bi = weights["item_bias"][item][:, 0] if "item_bias" in weights else None
    return p, q, bu, bi


def _neural_expected(weights, user, item, y_range):
    p, q, _, _ = _pieces(weights, user, item)
    return _squash(_mlp_np(weights, _np.concatenate([p, q], axis=-1))[:, 0], y_range)


def _neural_mistakes(weights, user, item, y_range):
    p, q, _, _ = _pieces(weights, user, item)
    low, high = y_range or (None, None)  # without y_range the mistakes that need it cannot happen (skipped)
    pq = _np.concatenate([p, q], axis=-1)
    raw = _mlp_np(weights, pq)[:, 0]
    relu = lambda h: _np.maximum(h, 0.0)  # noqa: E731
    return [
        ("squash the MLP's output into y_range: low + (high - low) * sigmoid(x), as in lesson 04", lambda: raw),
        ("y_range = (low, high) gives low + (high - low) * sigmoid(x); the low end is missing",
         lambda: (high - low) * _sigmoid(raw)),
        ("y_range = (low, high) gives low + (high - low) * sigmoid(x), not high * sigmoid(x)", lambda: high * _sigmoid(raw)),
        ("join the vectors user first, item second (the order the MLP's first layer reads them)",
         lambda: _squash(_mlp_np(weights, _np.concatenate([q, p], axis=-1))[:, 0], y_range)),
        ("each hidden Dense/Linear layer is followed by a ReLU: without it the MLP is one linear map",
         lambda: _squash(_mlp_np(weights, pq, act=lambda h: h)[:, 0], y_range)),
        ("no activation after the MLP's last layer: the sigmoid of y_range comes straight after it",
         lambda: _squash(_mlp_np(weights, pq, last=relu)[:, 0], y_range)),
        ("the sigmoid comes once: y_range's low + (high - low) * sigmoid(x) reads the last layer's raw output "
         "(no sigmoid activation in the MLP's last layer)", lambda: _squash(_sigmoid(raw), y_range)),
        ("the sigmoid comes once, at the end: y_range squashes the MLP's output, not its hidden layer",
         lambda: _squash(_mlp_np(weights, pq, act=_sigmoid)[:, 0], y_range)),
    ]


def _residual_expected(weights, user, item, y_range):
    p, q, bu, bi = _pieces(weights, user, item)
    side = _mlp_np(weights, _np.concatenate([p, q], axis=-1))[:, 0]
    return _squash((p * q).sum(axis=-1) + bu + bi + side, y_range)


def _residual_mistakes(weights, user, item, y_range):
    p, q, bu, bi = _pieces(weights, user, item)
    low, high = y_range or (None, None)  # without y_range the mistakes that need it cannot happen (skipped)
    dot = (p * q).sum(axis=-1)
    side = _mlp_np(weights, _np.concatenate([p, q], axis=-1))[:, 0]
    main = dot + bu + bi
    sq = lambda x: _squash(x, y_range)  # noqa: E731
    return [
        ("squash the sum into y_range: low + (high - low) * sigmoid(main + side), as in lesson 04", lambda: main + side),
        ("the sigmoid is applied before the side branch is added: add main and side first, then squash the sum",
         lambda: sq(main) + side),
        ("the sigmoid is applied before the biases are added: add the dot product, both biases and the side branch "
         "first, then squash the sum", lambda: sq(dot + side) + bu + bi),
        ("the sigmoid is applied before the biases are added: squash the whole sum, biases included",
         lambda: sq(dot) + bu + bi + side),
        ("a (batch, batch) result: a matrix product pairs every user with every item; the dot product is row by row "
         "(multiply entry by entry, then sum over the last axis)", lambda: sq((p @ q.T) + bu + bi + side)),
        ("a forgotten bias: add the user's bias and the item's bias", lambda: sq(dot + side)),
        ("a forgotten bias: add the item's bias too", lambda: sq(dot + bu + side)),
        ("a forgotten bias: add the user's bias too", lambda: sq(dot + bi + side)),
        ("add the side branch: the MLP of the user and item vectors joined side by side", lambda: sq(main)),
        ("add the main branch's dot product too (the sum of user vector * item vector over the factors)",
         lambda: sq(bu + bi + side)),
        ("the side branch is added to the main branch, not multiplied", lambda: sq(main * side)),
        ("join the vectors user first, item second (the order the MLP's first layer reads them)",
         lambda: sq(main + _mlp_np(weights, _np.concatenate([q, p], axis=-1))[:, 0])),
        ("the wrong axis in the sum: the dot product sums over the factors of each row (the last axis), "
         "not over the whole batch", lambda: sq(dot.sum() + bu + bi + side)),
        ("y_range = (low, high) gives low + (high - low) * sigmoid(x); the low end is missing",
         lambda: (high - low) * _sigmoid(main + side)),
        ("each hidden Dense/Linear layer of the side branch is followed by a ReLU",
         lambda: sq(main + _mlp_np(weights, _np.concatenate([p, q], axis=-1), act=lambda h: h)[:, 0])),
    ]


_KINDS = {
    "neural": {"title": "NeuralCF", "embeddings": ("user_factors", "item_factors"),
               "expected": _neural_expected, "mistakes": _neural_mistakes},
    "residual": {"title": "ResidualCF", "embeddings": ("user_factors", "item_factors", "user_bias", "item_bias"),
                 "expected": _residual_expected, "mistakes": _residual_mistakes},
}


def _known_weights(names_shapes: dict, scale: float = 1.0) -> dict:
    """Seeded weights, large enough that every part of the model moves the prediction."""
    rng = _np.random.default_rng(7)
    out = {}
    for name, shape in names_shapes.items():
        if name.endswith(".kernel"):
            value = rng.normal(0.0, 1.5 / _np.sqrt(shape[0]), shape)
        elif name.endswith(".bias"):
            value = rng.normal(0.0, 0.3, shape)
        elif "bias" in name:
            value = rng.normal(0.0, 0.5, shape)
        else:
            value = rng.normal(0.0, 0.7, shape)
        out[name] = (value * scale).astype(_np.float32)
    return out


def _ok(label, expected, got="as expected"):
    return Case(label, expected, got, True, "")


class _Torch:
    name = "torch"
    train_switch = "model.eval()"
    eval_mode = "eval mode"

    def __init__(self):
        import torch
        from torch import nn

        import cflearn.torch as package

        self.torch, self.nn, self.package = torch, nn, package

    def build(self, answer, kwargs):
        with self.torch.random.fork_rng():  # building layers draws random weights; keep the notebook's RNG
            return answer(**kwargs)

    def is_model(self, model):
        return isinstance(model, self.nn.Module)

    def reference(self, title, kwargs):
        with self.torch.random.fork_rng():
            return getattr(self.package, title)(**kwargs)

    def embedding_problem(self, model, name, shape):
        layer = getattr(model, name, None)
        if not isinstance(layer, self.nn.Embedding):
            return f"self.{name} is {describe(layer)}; make it an nn.Embedding"
        if tuple(layer.weight.shape) != shape:
            return f"self.{name} has shape {tuple(layer.weight.shape)}; expected {shape} (rows, vector size)"
        return ""

    def dense_layers(self, mlp):
        return [m for m in mlp if isinstance(m, self.nn.Linear)]

    def mlp_problem(self, model, hidden, n_in):
        mlp = getattr(model, "mlp", None)
        if isinstance(mlp, (list, tuple)):
            return _HINT_LIST_TORCH
        if not isinstance(mlp, self.nn.Sequential):
            return f"self.mlp is {describe(mlp)}; make it nn.Sequential(Linear, ReLU, Dropout, ..., Linear)"
        linears = self.dense_layers(mlp)
        sizes = [(m.in_features, m.out_features) for m in linears]
        widths = [n_in, *hidden, 1]
        want = list(zip(widths[:-1], widths[1:]))
        if sizes != want:
            return (f"the MLP's Linear layers have (in_features, out_features) {sizes}; expected {want}: the first reads "
                    "the user and item vectors side by side (2 * n_factors), each hidden size is one layer, the last has one output")
        if any(m.bias is None for m in linears):
            return _HINT_BIAS_LINEAR.format(layer="Linear")
        return ""

    def registered_problem(self, model, reference):
        own = {id(p) for p in model.parameters()}
        for name, tensor in self.package.models._tensors(model).items():
            if id(tensor) not in own:
                if name.startswith("mlp"):
                    return _HINT_LIST_TORCH
                return f"{name} is not a registered parameter: assign the nn.Embedding to self.{name} in __init__"
        want = sorted(tuple(p.shape) for p in reference.parameters())
        got = sorted(tuple(p.shape) for p in model.parameters())
        if got != want:
            extra = [s for s in got if s not in want] or got
            return (f"model.parameters() holds parameters of shapes {got}; expected {want}: leave out parameters the model "
                    f"does not need (for example {extra[0]})")
        return ""

    def set_weights(self, model, weights):
        self.package.set_weights(model, weights)

    def predict(self, model, user, item, training):
        torch = self.torch
        model.train(training)
        try:
            with torch.no_grad():
                out = model(torch.as_tensor(user), torch.as_tensor(item))
        finally:
            model.eval()
        return out

    def to_numpy(self, out):
        return out.detach().cpu().numpy() if hasattr(out, "detach") else None

    def same_seed_training(self, model, reference, user, item):
        """Training-mode outputs of the model and the reference under one seed (equal when dropout sits alike)."""
        torch = self.torch
        with torch.random.fork_rng():
            torch.manual_seed(3)
            got = self.predict(model, user, item, True)
            torch.manual_seed(3)
            want = self.predict(reference, user, item, True)
        return got, want

    def gradients(self, model, user, item):
        """[(name, reached)] for every parameter: does a gradient reach it from the summed output?"""
        torch = self.torch
        model.eval()
        for p in model.parameters():
            p.grad = None
        out = model(torch.as_tensor(user), torch.as_tensor(item))
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return None
        out.sum().backward()
        result = [(n, p.grad is not None and bool((p.grad != 0).any())) for n, p in model.named_parameters()]
        for p in model.parameters():
            p.grad = None
        return result


class _Keras:
    name = "keras"
    train_switch = "training=False (what predict and a plain call use)"
    eval_mode = "inference (training=False)"

    def __init__(self):
        import keras

        import cflearn.keras as package

        self.keras, self.package = keras, package

    def build(self, answer, kwargs):
        return answer(**kwargs)

    def is_model(self, model):
        return isinstance(model, self.keras.Model)

    def reference(self, title, kwargs):
        return getattr(self.package, title)(**kwargs)

    def warm_up(self, model, user, item):
        model(user, item, training=False)  # builds layers that were not built in __init__

    def embedding_problem(self, model, name, shape):
        layer = getattr(model, name, None)
        if not isinstance(layer, self.keras.layers.Embedding):
            return f"self.{name} is {describe(layer)}; make it a keras.layers.Embedding"
        got = tuple(layer.embeddings.shape) if getattr(layer, "built", False) else (layer.input_dim, layer.output_dim)
        if got != shape:
            return f"self.{name} has shape {got}; expected {shape} (rows, vector size)"
        return ""

    def dense_layers(self, mlp):
        return [m for m in mlp.layers if isinstance(m, self.keras.layers.Dense)]

    def mlp_problem(self, model, hidden, n_in):
        keras = self.keras
        mlp = getattr(model, "mlp", None)
        if isinstance(mlp, (list, tuple)):
            return _HINT_LIST_KERAS
        if not isinstance(mlp, keras.Sequential):
            return f"self.mlp is {describe(mlp)}; make it keras.Sequential([Dense, Activation, Dropout, ..., Dense])"
        dense = self.dense_layers(mlp)
        units = [m.units for m in dense]
        if units != [*hidden, 1]:
            return (f"the MLP's Dense layers have units {units}; expected {[*hidden, 1]}: one Dense layer per hidden "
                    "size, then a Dense(1) output")
        if any(not m.use_bias for m in dense):
            return _HINT_BIAS_LINEAR.format(layer="Dense")
        if dense and dense[0].built and tuple(dense[0].kernel.shape)[0] != n_in:
            return (f"the MLP's first Dense layer reads {tuple(dense[0].kernel.shape)[0]} numbers per row; expected "
                    f"{n_in} (the user and item vectors side by side, joined along the last axis)")
        return ""

    def registered_problem(self, model, reference):
        want = sorted(tuple(w.shape) for w in reference.trainable_weights)
        got = sorted(tuple(w.shape) for w in model.trainable_weights)
        if got != want:
            return (f"model.trainable_weights holds weights of shapes {got}; expected {want}: every layer must be "
                    "created once in __init__ and assigned to self (not created inside call)")
        return ""

    def set_weights(self, model, weights):
        self.package.set_weights(model, weights)

    def predict(self, model, user, item, training):
        return model(user, item, training=training)

    def to_numpy(self, out):
        try:
            return _np.asarray(self.keras.ops.convert_to_numpy(out))
        except Exception:
            return None

    def gradients(self, model, user, item):
        keras = self.keras
        backend = keras.backend.backend()
        weights = model.trainable_weights
        if backend == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = keras.ops.sum(model(user, item, training=False))
            grads = tape.gradient(loss, weights)
            grads = [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]
        elif backend == "torch":
            for w in weights:
                w.value.grad = None
            out = model(user, item, training=False)
            if not getattr(out, "requires_grad", False):
                return None
            out.sum().backward()
            grads = [None if w.value.grad is None else w.value.grad.detach().cpu().numpy() for w in weights]
        else:  # the JAX backend needs a stateless call; the value cases already cover the model there
            return []
        return [(w.path, g is not None and bool((g != 0).any())) for w, g in zip(weights, grads)]


def _framework(name):
    return _Torch() if name == "torch" else _Keras()


_ARGS = ("n_users", "n_items", "n_factors", "hidden", "dropout", "y_range")


def _signature_problem(func) -> str:
    """Why the class cannot be built as ``cls(n_users=..., ..., y_range=...)`` ("" when it can)."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # a callable without a signature: let the call tell
        return ""
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return ""
    missing = [name for name in _ARGS if name not in params]
    if not missing:
        return ""
    return (f"the model takes the arguments ({', '.join(_ARGS)}), by these names; yours takes "
            f"({', '.join(params)}), without {', '.join(missing)}")


def _crash(err: str) -> str:
    return _HINT_CRASH.format(error=err)


def _call(fw, model, user, item, training):
    """``(numpy output, error text)`` of one call of the learner's model (their exception is a failed case)."""
    try:
        out = fw.predict(model, user, item, training)
    except NotImplementedError:
        raise
    except Exception as exc:  # the learner's forward / call failed
        return None, f"{type(exc).__name__}: {short(str(exc), 160)}"
    got = fw.to_numpy(out)
    if got is None:
        return None, f"it returned {describe(out)}, not a tensor"
    return got.astype(_np.float64), ""


def check_model_class(answer, kind: str, framework: str):
    """The cases for a learner's model class (``kind`` "neural" or "residual", ``framework`` "torch"/"keras")."""
    fw = _framework(framework)
    state = fw.torch.get_rng_state() if framework == "torch" else None
    try:  # dropout draws random masks: leave the notebook's random state as it was
        yield from _model_cases(answer, _KINDS[kind], fw, framework)
    finally:
        if state is not None:
            fw.torch.set_rng_state(state)


def _model_cases(answer, spec, fw, framework):
    cls_word = "class" if isinstance(answer.func, type) else "function"
    problem = _signature_problem(answer.func)
    if problem:
        yield Case(f"{answer.__name__}(...)", f"arguments {', '.join(_ARGS)}", "other arguments", False, problem)
        return
    for hidden, dropout, y_range in (((4,), 0.5, _Y_RANGE), ((5, 3), 0.4, None)):
        kwargs = dict(n_users=_N_USERS, n_items=_N_ITEMS, n_factors=_N_FACTORS, hidden=hidden, dropout=dropout,
                      y_range=y_range)
        call = f"{answer.__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
        model = fw.build(answer, kwargs)
        if not fw.is_model(model):
            want = "a torch nn.Module" if framework == "torch" else "a keras.Model"
            hint = (f"building the model gave {describe(model)}; pass your model class itself (a subclass of "
                    f"{'nn.Module' if framework == 'torch' else 'keras.Model'})")
            if model is None and cls_word == "function":
                hint = "your function returned None: did you forget the return statement?"
            yield Case(call, want, describe(model), False, hint)
            return
        reference = fw.reference(spec["title"], kwargs)
        user, item = _USERS.copy(), _ITEMS.copy()
        if framework == "keras":
            try:
                fw.warm_up(model, user, item)
            except NotImplementedError:
                raise
            except Exception as exc:
                err = f"{type(exc).__name__}: {short(str(exc), 160)}"
                yield Case(f"{call}, then model(user, item) on {len(user)} rows", "a prediction per row", err, False,
                           _crash(err))
                return
        # 1. structure: the names the package's weights use, the MLP's layers, registration
        names = ", ".join(f"self.{n}" for n in (*spec["embeddings"], "mlp"))
        problem = ""
        for name in spec["embeddings"]:
            if not hasattr(model, name):
                problem = _HINT_NAMES.format(names=names) + f" (self.{name} is missing)"
                break
            n = _N_USERS if name.startswith("user") else _N_ITEMS
            problem = fw.embedding_problem(model, name, (n, 1 if name.endswith("bias") else _N_FACTORS))
            if problem:
                break
        if not problem:
            problem = (_HINT_NAMES.format(names=names) + " (self.mlp is missing)") if not hasattr(model, "mlp") \
                else fw.mlp_problem(model, hidden, 2 * _N_FACTORS)
        if not problem:
            problem = fw.registered_problem(model, reference)
        label = f"{call}: layers and {'parameters' if framework == 'torch' else 'trainable weights'}"
        if problem:
            yield Case(label, f"the layers of {spec['title']} under the package's names", "see the hint", False, problem)
            return
        yield _ok(label, f"the layers of {spec['title']} under the package's names")
        # 2. known weights, the same in the learner's model and the reference
        weights = _known_weights({k: v.shape for k, v in fw.package.get_weights(reference).items()})
        try:
            fw.set_weights(model, weights)
        except Exception as exc:  # names or shapes the package cannot load
            yield Case(f"{call}: set_weights(model, known weights)", "the weights loaded", f"{type(exc).__name__}: {exc}",
                       False, _HINT_NAMES.format(names=names))
            return
        fw.set_weights(reference, weights)
        rows = f"{len(user)} (user, item) rows, known weights"
        # 3. inference: twice the same, then the reference's values
        first, err = _call(fw, model, user, item, False)
        if err:
            yield Case(f"{call}, {fw.eval_mode}, {rows}", "a prediction per row", err, False, _crash(err))
            return
        second, err = _call(fw, model, user, item, False)
        same = not err and second.shape == first.shape and bool(_np.array_equal(first, second))
        if not same:
            yield Case(f"{call}, {fw.eval_mode}, the same rows twice", "the same predictions twice", "different predictions",
                       False, _HINT_DROPOUT_EVAL.format(mode=fw.eval_mode, switch=fw.train_switch))
            return
        expected = spec["expected"](weights, user, item, y_range)
        fallback = (f"the predictions differ from {spec['title']}'s with the same weights" if y_range is not None else
                    "with y_range=None there is no sigmoid: return the sum as it is, and squash only when y_range is given")
        ok, hint = diagnose(first, expected, spec["mistakes"](weights, user, item, y_range), atol=1e-5,
                            shape_hint=lambda shape: _HINT_SQUEEZE.format(shape=shape), fallback=fallback)
        yield Case(f"{call}, {fw.eval_mode}, {rows}", expected, first, ok, hint)
        if not ok:
            return
        # 4. y_range: large weights push the sigmoid to its ends, never past them
        if y_range is None:
            yield from _training_cases(fw, model, reference, user, item, first, call, dropout)
            yield _gradient_case(fw, model, user, item, call)
            continue
        big = {k: v * 8 for k, v in weights.items()}
        fw.set_weights(model, big)
        fw.set_weights(reference, big)
        got, err = _call(fw, model, user, item, False)
        want = spec["expected"](big, user, item, _Y_RANGE)
        inside = not err and bool(((got >= _Y_RANGE[0] - 1e-6) & (got <= _Y_RANGE[1] + 1e-6)).all())
        ok = inside and bool(_np.allclose(got, want, atol=1e-5, rtol=1e-5))
        yield Case(f"{call}, weights x8: every prediction inside y_range={_Y_RANGE}", "values inside y_range",
                   "as expected" if ok else (err or f"{got.round(3).tolist()[:6]}..."), ok,
                   "" if ok else "squash the final sum with low + (high - low) * sigmoid(x), so every prediction stays "
                   "inside y_range")
        fw.set_weights(model, weights)
        fw.set_weights(reference, weights)
        if not ok:
            return
        # 5. training mode: dropout on
        yield from _training_cases(fw, model, reference, user, item, first, call, dropout)
        # 6. gradients reach every parameter / trainable weight
        yield _gradient_case(fw, model, user, item, call)


def _training_cases(fw, model, reference, user, item, inference, call, dropout):
    label = f"{call}, training mode, the same rows twice"
    a, err = _call(fw, model, user, item, True)
    b, err2 = _call(fw, model, user, item, True)
    if err or err2:
        yield Case(label, "predictions", err or err2, False, _crash(err or err2))
        return
    varies = not (_np.allclose(a, inference) and _np.allclose(b, inference))
    if not varies:
        switch = "model.train()" if fw.name == "torch" else "training=True (what fit uses)"
        hint = (f"dropout is off in training: with {switch} the MLP's Dropout({dropout}) layers should zero some hidden "
                "units, so predictions change from call to call; use the dropout argument as the rate, and do not hard-code "
                "training=False")
        yield Case(label, "predictions that change with dropout", "the inference predictions every time", False, hint)
        return
    if fw.name == "torch":  # with dropout where the reference has it, one seed draws the same masks
        got, want = fw.same_seed_training(model, reference, user, item)
        got, want = fw.to_numpy(got), fw.to_numpy(want)
        ok = got is not None and got.shape == want.shape and bool(_np.allclose(got, want, atol=1e-5))
        yield Case(f"{call}, training mode, the same seed as {type(reference).__name__}", want, got, ok,
                   "" if ok else _dropout_hint(model.mlp, tuple(m.out_features for m in fw.dense_layers(model.mlp))[:-1],
                                               dropout))
        return
    keras = fw.keras
    drops = [m for m in model.mlp.layers if isinstance(m, keras.layers.Dropout)]
    n_hidden = len(fw.dense_layers(model.mlp)) - 1
    rates = sorted({float(m.rate) for m in drops})
    ok = len(drops) == n_hidden and rates == [float(dropout)]
    hint = "" if ok else (f"one Dropout(dropout) after each hidden layer's activation ({n_hidden} hidden layer(s)); "
                          f"found {len(drops)} Dropout layer(s) with rate(s) {rates}")
    yield Case(f"{call}, training mode: the MLP's Dropout layers", f"{n_hidden} x Dropout({dropout})",
               f"{len(drops)} x Dropout{tuple(rates)}", ok, hint)


def _gradient_case(fw, model, user, item, call):
    what = "parameter" if fw.name == "torch" else "trainable weight"
    label = f"{call}: gradients of the summed predictions"
    try:
        reached = fw.gradients(model, user, item)
    except NotImplementedError:
        raise
    except Exception as exc:
        return Case(label, f"a gradient for every {what}", f"{type(exc).__name__}: {exc}", False,
                    "keep the computation in the framework's own operations (torch / keras.ops), so gradients flow")
    if reached is None:
        return Case(label, f"a gradient for every {what}", "an output that is not connected to the weights", False,
                    "keep the prediction connected to the weights: no .detach(), .numpy(), .item() or torch.no_grad() "
                    "in forward; use torch / keras.ops operations throughout")
    missing = [name for name, ok in reached if not ok]
    if missing and len(missing) == len(reached):
        return Case(label, f"a gradient for every {what}", "no gradient reaches any of them", False,
                    "keep the prediction connected to the weights: no .detach(), .numpy(), stop_gradient or torch.no_grad() "
                    "in forward / call; use torch / keras.ops operations throughout")
    if missing:
        return Case(label, f"a gradient for every {what}", f"no gradient reaches {missing[:3]}", False,
                    f"no gradient reaches {missing[0]}: every {what} must take part in the prediction (or be left out)")
    return _ok(label, f"a gradient for every {what}")


def _reference_torch_neural_cf(n_users, n_items, n_factors, hidden=(64,), dropout=0.2, y_range=None):
    """NeuralCF as the package builds it (PyTorch)."""
    from cflearn.torch import NeuralCF

    return NeuralCF(n_users, n_items, n_factors, hidden=hidden, dropout=dropout, y_range=y_range)


def _reference_keras_neural_cf(n_users, n_items, n_factors, hidden=(64,), dropout=0.2, y_range=None):
    """NeuralCF as the package builds it (Keras)."""
    from cflearn.keras import NeuralCF

    return NeuralCF(n_users, n_items, n_factors, hidden=hidden, dropout=dropout, y_range=y_range)


@exercise("torch_neural_cf", lesson="05", reference=_reference_torch_neural_cf)
def check_torch_neural_cf(answer):
    yield from check_model_class(answer, "neural", "torch")


@exercise("keras_neural_cf", lesson="05", reference=_reference_keras_neural_cf)
def check_keras_neural_cf(answer):
    yield from check_model_class(answer, "neural", "keras")
