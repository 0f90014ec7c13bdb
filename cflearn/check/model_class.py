"""Checking a model class the learner wrote, in PyTorch or in Keras, against the package's class.

A model exercise passes the learner's class itself (``check.run("torch_dot_product", DotProduct)``).
For each setting the checker builds the learner's model and the reference model, loads the same
known weights into both (by the shared names ``user_factors``, ``item_factors``, ``user_bias``,
``item_bias``: each an embedding layer, biases with one column), and compares predictions, then
checks that gradients reach every weight. Mistakes are recognised from their outputs (NumPy
re-computations of typical wrong forward passes), never by reading the learner's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from cflearn.check.compare import describe, diagnose, short
from cflearn.check.core import Case, _where
from cflearn.check.guard import Answer, LearnerError

__all__ = ["Setting", "torch_cases", "keras_cases", "dot_mistakes", "bias_mistakes"]

ATOL = 1e-5


@dataclass
class Setting:
    """One way to build the model, the batches to predict, and how large the weights are."""

    n_users: int
    n_items: int
    n_factors: int
    kwargs: dict = field(default_factory=dict)  # y_range, global_mean
    batches: list = field(default_factory=list)  # [(user list, item list), ...]
    scale: float = 0.7  # standard deviation of the known weights
    seed: int = 0

    def call_text(self, cls_name: str) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"{cls_name}({self.n_users}, {self.n_items}, {self.n_factors}{extra})"


def known_weights(setting: Setting, names) -> dict:
    """Reproducible weights in the shared naming: factor tables (n, n_factors), bias tables (n, 1)."""
    rng = np.random.default_rng(setting.seed)
    rows = {"user": setting.n_users, "item": setting.n_items}
    out = {}
    for name in names:
        n = rows[name.split("_")[0]]
        dim = 1 if name.endswith("_bias") else setting.n_factors
        out[name] = (rng.normal(size=(n, dim)) * setting.scale).astype(np.float32)
    return out


def _offset(global_mean, y_range) -> float:
    """The raw-score offset that makes a zero score predict ``global_mean`` (as in the prompt)."""
    if global_mean is None:
        return 0.0
    if y_range is None:
        return global_mean
    low, high = y_range
    p = (global_mean - low) / (high - low)
    return math.log(p / (1.0 - p))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def dot_mistakes(w: dict, user, item, kwargs) -> list:
    """Typical wrong DotProduct forward passes, as ``(hint, make)`` pairs over NumPy arrays."""
    u, v = w["user_factors"][user], w["item_factors"][item]  # (batch, n_factors)
    return [
        ("a (batch, batch) result: that is every user against every item (a matrix product); "
         "take the dot product row by row", lambda: u @ v.T),
        ("wrong axis in the sum: sum over the factors (the last axis, -1), not over the batch (axis 0)",
         lambda: (u * v).sum(0)),
        ("that is one number for the whole batch; sum over the factors axis only (the last one)",
         lambda: (u * v).sum()),
        ("multiply the user vector and the item vector entry by entry, then sum over the factors (the last axis)",
         lambda: u * v),
        ("use user_factors for the users and item_factors for the items",
         lambda: (w["user_factors"][item] * w["item_factors"][user]).sum(-1)),
        ("a mean over the factors is not the dot product: sum them", lambda: (u * v).mean(-1)),
    ]


def bias_mistakes(w: dict, user, item, kwargs) -> list:
    """Typical wrong DotProductBias forward passes, as ``(hint, make)`` pairs over NumPy arrays."""
    y_range, gm = kwargs.get("y_range"), kwargs.get("global_mean")
    u, v = w["user_factors"][user], w["item_factors"][item]
    dot = (u * v).sum(-1)  # (batch,)
    bu, bi = w["user_bias"][user, 0], w["item_bias"][item, 0]  # (batch,)
    off = _offset(gm, y_range)
    if y_range is None:
        squash = lambda x: x  # noqa: E731
    else:
        low, high = y_range
        squash = lambda x: low + (high - low) * _sigmoid(x)  # noqa: E731
    raw = dot + bu + bi
    out = [
        ("a (batch, batch) result: a (batch, 1) tensor plus a (batch,) tensor broadcasts into a matrix; "
         "drop the bias's last axis (squeeze(-1)) so every term is (batch,)",
         lambda: squash(dot[None, :] + bu[:, None] + bi[:, None] + off)),
        ("a (batch, batch) result: a (batch, 1) tensor plus a (batch,) tensor broadcasts into a matrix; "
         "keep every term (batch,)", lambda: squash(dot[:, None] + bu[None, :] + bi[None, :] + off)),
        ("a (batch, batch) result: that is every user against every item (a matrix product); "
         "take the dot product row by row", lambda: squash(u @ v.T + bu + bi + off)),
        ("wrong axis in the sum: sum over the factors (the last axis, -1), not over the batch (axis 0)",
         lambda: squash((u * v).sum(0) + bu + bi + off)),
        ("a bias is missing: add the item bias too", lambda: squash(dot + bu + off)),
        ("a bias is missing: add the user bias too", lambda: squash(dot + bi + off)),
        ("the biases are missing: add user_bias(user) and item_bias(item) to the dot product",
         lambda: squash(dot + off)),
        ("look up user biases with user indices and item biases with item indices",
         lambda: squash(dot + w["user_bias"][item, 0] + w["item_bias"][user, 0] + off)),
    ]
    if y_range is not None:
        low, high = y_range
        out += [
            ("the sigmoid is applied before the biases are added: add every term first, squash last",
             lambda: squash(dot + off) + bu + bi),
            ("the sigmoid is applied before the biases are added: add every term first, squash last",
             lambda: squash(dot) + bu + bi + off),
            ("y_range is ignored: squash the sum into (low, high) with low + (high - low) * sigmoid(x)",
             lambda: raw + off),
            ("a plain sigmoid lies in (0, 1); stretch it to (low, high)", lambda: _sigmoid(raw + off)),
            ("the width of the range is high - low, not high", lambda: low + high * _sigmoid(raw + off)),
            ("add low: the squashed value must start at low, not at 0", lambda: (high - low) * _sigmoid(raw + off)),
            ("stretch the sigmoid to (low, high) with low + (high - low) * sigmoid(x)",
             lambda: high * _sigmoid(raw + off)),
        ]
    if gm is not None:
        out += [
            ("the global mean is added after the sigmoid: the offset goes into the raw score, before squashing",
             lambda: squash(raw) + gm),
            ("the global mean is added after the sigmoid: the offset goes into the raw score, before squashing",
             lambda: squash(raw) + off),
            ("the global mean is missing: add the offset to the raw score", lambda: squash(raw)),
        ]
        if y_range is not None:
            out.append(("inside the sigmoid the offset is log(p / (1 - p)) with p = (global_mean - low) / "
                        "(high - low), not the mean itself", lambda: squash(raw + gm)))
    return out


def _shape_hint(batch: int):
    def hint(shape: tuple) -> str:
        if shape == (batch, 1):
            return f"shape ({batch}, 1): drop the last axis (squeeze(-1)) so the output is ({batch},)"
        if len(shape) == 0 and batch == 1:
            return ("a batch of one gave a 0-d result: squeeze only the last axis (squeeze(-1)), "
                    "not every axis of size 1, so the output keeps its (batch,) shape")
        if len(shape) == 0:
            return f"one number for the whole batch: return one prediction per (user, item) pair, shape ({batch},)"
        return f"return one prediction per (user, item) pair: shape ({batch},), got {shape}"

    return hint


def _learner_fails(err: LearnerError, doing: str) -> str:
    exc = err.original
    text = f"{doing} raised {type(exc).__name__}: {short(str(exc), 160)} ({err.where})"
    low = str(exc).lower()
    if "size of tensor" in low or "incompatible shapes" in low or "broadcast" in low or "shape" in low:
        text += "; check the shapes: sum over the factors (the last axis) and drop the biases' last axis"
    return text


def _build(answer: Callable, setting: Setting, cls_name: str):
    """The learner's model for ``setting`` (or a Case saying why there is none)."""
    text = setting.call_text(cls_name)
    try:
        return answer(setting.n_users, setting.n_items, setting.n_factors, **setting.kwargs), None
    except LearnerError as err:
        if not isinstance(err.original, TypeError):
            raise  # the learner's own exception, reported as theirs by check.run
        args = "n_users, n_items, n_factors" + "".join(f", {k}=None" for k in setting.kwargs)
        hint = f"{_learner_fails(err, text)}; the class takes ({args})"
        return None, Case(input=text, expected="a model", got=f"{type(err.original).__name__}", hint=hint)


def _not_a_model(model, kind: str) -> str:
    if model is None:
        return "calling your class returned None; pass the class itself (not a function that forgets to return)"
    return f"building it gave {describe(model)}; it should give {kind}"


def _cases_for_values(call: Callable, to_numpy: Callable, expect: Callable, mistakes: Callable, weights: dict,
                      setting: Setting, text: str) -> Iterator[Case]:
    for user, item in setting.batches:
        expected = expect(user, item)  # numpy (batch,)
        what = f"{text} with known weights, user={list(user)}, item={list(item)}"
        try:
            got = to_numpy(call(user, item))
        except LearnerError as err:
            if not isinstance(err.original, Exception):
                raise
            yield Case(input=what, expected=expected, got=type(err.original).__name__, hint=_learner_fails(err, "your model"))
            return
        ok, hint = diagnose(got, expected, mistakes(weights, np.asarray(user), np.asarray(item), setting.kwargs),
                            atol=ATOL, shape_hint=_shape_hint(len(user)),
                            fallback="the predictions differ from the expected ones for the same weights: "
                            "dot product + biases + offset, squashed into y_range last")
        yield Case(input=what, expected=expected, got=got, passed=ok, hint=hint)
        if not ok:
            return
        y_range = setting.kwargs.get("y_range")
        if y_range is not None:
            low, high = y_range
            inside = bool(np.all((got >= low - ATOL) & (got <= high + ATOL)))
            yield Case(input=f"{what}: every prediction inside y_range", expected=f"values in [{low}, {high}]",
                       got=f"from {float(np.min(got)):.4g} to {float(np.max(got)):.4g}", passed=inside,
                       hint="" if inside else "predictions leave y_range: the scaled sigmoid must be the last step")


# --------------------------------------------------------------------------- PyTorch


def _plain_containers(model) -> str:
    """The name of an attribute holding layers in a plain list/tuple/dict that are not registered."""
    import torch

    registered = {id(m) for m in model.modules()}
    for key, value in vars(model).items():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        if any(isinstance(x, torch.nn.Module) and id(x) not in registered for x in items):
            return key
    return ""


def _torch_layout(model, weights: dict) -> str:
    import torch

    if not isinstance(model, torch.nn.Module):
        return _not_a_model(model, "a torch nn.Module (class YourModel(nn.Module))")
    hidden = _plain_containers(model)
    if hidden:
        return (f"the layers in self.{hidden} sit in a plain Python list or dict, so they are not registered: "
                "model.parameters() does not see them and the optimiser would never train them; assign each "
                "layer to its own attribute (self.user_factors = nn.Embedding(...)) or use nn.ModuleList")
    params = {id(p) for p in model.parameters()}
    for name, value in weights.items():
        layer = getattr(model, name, None)
        if layer is None:
            return f"your model has no attribute {name}: name the embedding layers {', '.join(weights)}"
        table = getattr(layer, "weight", None)
        if not isinstance(table, torch.Tensor):
            return f"self.{name} should be an nn.Embedding (it is {describe(layer)})"
        if tuple(table.shape) != value.shape:
            return (f"self.{name} holds a table of shape {tuple(table.shape)}; expected {value.shape} "
                    f"(one row per {name.split('_')[0]}, {value.shape[1]} column{'s' if value.shape[1] > 1 else ''})")
        if id(table) not in params:
            return f"self.{name} is not registered: model.parameters() does not list it"
    return ""


def torch_cases(answer: Callable, reference_cls, settings: list, mistakes: Callable, cls_name: str) -> Iterator[Case]:
    """Cases for a learner's PyTorch model class (see the module docstring)."""
    import torch

    from cflearn.torch import get_weights, set_weights

    for setting in settings:
        text = setting.call_text(cls_name)
        model, failed = _build(answer, setting, cls_name)
        if failed is not None:
            yield failed
            return
        reference = reference_cls(setting.n_users, setting.n_items, setting.n_factors, **setting.kwargs)
        weights = known_weights(setting, get_weights(reference))
        problem = _torch_layout(model, weights)
        if problem:
            yield Case(input=text, expected="an nn.Module with embeddings " + ", ".join(weights), got=describe(model),
                       hint=problem)
            return
        set_weights(reference, weights)
        with torch.no_grad():
            for name, value in weights.items():
                getattr(model, name).weight.copy_(torch.as_tensor(value))
        model.eval()
        forward = Answer(model, _where)

        def call(user, item):
            with torch.no_grad():
                return forward(torch.tensor(user), torch.tensor(item))

        def expect(user, item):
            with torch.no_grad():
                return reference(torch.tensor(user), torch.tensor(item)).numpy()

        def to_numpy(out):
            return out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out

        bad = False
        for case in _cases_for_values(call, to_numpy, expect, mistakes, weights, setting, text):
            bad = bad or not case.passed
            yield case
        if bad:
            return
        last = model
    yield from _torch_gradients(last, settings[-1], cls_name)


def _torch_gradients(model, setting: Setting, cls_name: str) -> Iterator[Case]:
    """Gradients from the model with known weights (non-zero, so every used row gets a gradient)."""
    import torch

    model.train()
    user, item = setting.batches[0]
    what = f"{setting.call_text(cls_name)}: the gradient of the sum of the predictions"
    try:
        out = Answer(model, _where)(torch.tensor(user), torch.tensor(item))
        if not (isinstance(out, torch.Tensor) and out.requires_grad):
            raise _NoGrad()
        out.sum().backward()
    except _NoGrad:
        yield Case(input=what, expected="gradients for every parameter", got="an output that does not require grad",
                   hint="use torch operations only in forward (no .numpy(), .item(), .detach() or torch.no_grad()) "
                   "so that gradients reach the embeddings")
        return
    missing = [name for name, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    yield Case(input=what, expected="a gradient for every parameter", got=f"no gradient for {missing}" if missing else "all",
               passed=not missing,
               hint=f"no gradient reaches {', '.join(missing)}: use every layer in forward, with torch operations"
               if missing else "")


class _NoGrad(Exception):
    pass


# --------------------------------------------------------------------------- Keras


def _keras_layout(model, weights: dict) -> str:
    import keras

    for name, value in weights.items():
        layer = getattr(model, name, None)
        if layer is None:
            return f"your model has no attribute {name}: name the embedding layers {', '.join(weights)}"
        if not isinstance(layer, keras.layers.Layer) or not hasattr(layer, "embeddings"):
            return f"self.{name} should be a keras.layers.Embedding (it is {describe(layer)})"
        table = layer.embeddings
        if tuple(table.shape) != value.shape:
            return (f"self.{name} holds a table of shape {tuple(table.shape)}; expected {value.shape} "
                    f"(one row per {name.split('_')[0]}, {value.shape[1]} column{'s' if value.shape[1] > 1 else ''})")
        if not any(w is table for w in model.trainable_weights):
            return f"self.{name} is not among model.trainable_weights: keep it trainable and assign it in __init__"
    return ""


def _keras_numpy(out):
    from keras import ops

    try:
        return ops.convert_to_numpy(out)
    except Exception:
        return out


def keras_cases(answer: Callable, reference_cls, settings: list, mistakes: Callable, cls_name: str) -> Iterator[Case]:
    """Cases for a learner's Keras model class (see the module docstring)."""
    import keras

    from cflearn.keras import get_weights, set_weights

    for setting in settings:
        text = setting.call_text(cls_name)
        model, failed = _build(answer, setting, cls_name)
        if failed is not None:
            yield failed
            return
        if not isinstance(model, keras.Model):
            yield Case(input=text, expected="a keras.Model", got=describe(model),
                       hint=_not_a_model(model, "a keras.Model (class YourModel(keras.Model))"))
            return
        forward = Answer(model, _where)
        user0, item0 = setting.batches[0]
        try:  # Keras creates a layer's weights on its first call
            forward(np.asarray(user0, dtype="int32"), np.asarray(item0, dtype="int32"))
        except LearnerError as err:
            if not isinstance(err.original, Exception):
                raise
            yield Case(input=f"{text}(user={list(user0)}, item={list(item0)})", expected="predictions",
                       got=type(err.original).__name__, hint=_learner_fails(err, "your model"))
            return
        reference = reference_cls(setting.n_users, setting.n_items, setting.n_factors, **setting.kwargs)
        weights = known_weights(setting, get_weights(reference))
        problem = _keras_layout(model, weights)
        if problem:
            yield Case(input=text, expected="a keras.Model with embeddings " + ", ".join(weights), got=describe(model),
                       hint=problem)
            return
        set_weights(reference, weights)
        for name, value in weights.items():
            getattr(model, name).embeddings.assign(value)

        def call(user, item):
            return forward(np.asarray(user, dtype="int32"), np.asarray(item, dtype="int32"))

        def expect(user, item):
            return _keras_numpy(reference(np.asarray(user, dtype="int32"), np.asarray(item, dtype="int32")))

        bad = False
        for case in _cases_for_values(call, _keras_numpy, expect, mistakes, weights, setting, text):
            bad = bad or not case.passed
            yield case
        if bad:
            return
        last = model
    yield from _keras_gradients(last, settings[-1], cls_name)


def _keras_gradients(model, setting: Setting, cls_name: str) -> Iterator[Case]:
    import keras

    backend = keras.backend.backend()
    user, item = (np.asarray(x, dtype="int32") for x in setting.batches[0])
    weights = list(model.trainable_weights)
    what = f"{setting.call_text(cls_name)}: the gradient of the sum of the predictions"
    forward = Answer(model, _where)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.sum(forward(user, item))
        grads = tape.gradient(loss, weights)
    elif backend == "torch":
        loss = keras.ops.sum(forward(user, item))
        if not getattr(loss, "requires_grad", False):
            grads = [None] * len(weights)
        else:
            loss.backward()
            grads = [w.value.grad for w in weights]
    else:  # JAX needs a functional rewrite of the model; the values above already hold
        return
    missing = [w.path for w, g in zip(weights, grads) if not _nonzero(g)]
    yield Case(input=what, expected="a gradient for every trainable weight",
               got=f"no gradient for {missing}" if missing else "all", passed=not missing,
               hint=f"no gradient reaches {', '.join(missing)}: use every layer in call, with keras.ops only "
               "(no NumPy, no .numpy())" if missing else "")


def _nonzero(grad) -> bool:
    """Whether a gradient (a tensor, or TensorFlow's IndexedSlices for an embedding) is there and not all 0."""
    import keras

    if grad is None:
        return False
    if type(grad).__name__ == "IndexedSlices":  # TensorFlow's gradient of a lookup: the rows that were used
        grad = grad.values
    try:
        return float(np.abs(keras.ops.convert_to_numpy(grad)).sum()) > 0
    except Exception:
        return False
