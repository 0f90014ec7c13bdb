"""The course's four collaborative-filtering models as Keras 3 models (``keras.ops`` only).

They run on any Keras backend (TensorFlow, the default here, or ``KERAS_BACKEND=torch``).
A model takes either two index arrays, ``model(user, item)``, or one ``(batch, 2)`` integer
array whose columns are user and item (what ``fit``/``predict`` pass), and returns ``(batch,)``.
Names, arguments, checks, initialisation and weights match ``cflearn.torch.models``; a model
saved with ``model.save("name.keras")`` comes back with ``keras.models.load_model``.
"""

from __future__ import annotations

import keras
from keras import ops

from cflearn import _inputs

__all__ = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF", "get_weights", "set_weights"]

_INIT_STD = 0.01  # small random embeddings: every dot product starts near 0
_serializable = keras.saving.register_keras_serializable(package="cflearn")  # so load_model finds the classes


def _embedding(n: int, dim: int, name: str) -> keras.layers.Embedding:
    layer = keras.layers.Embedding(n, dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=_INIT_STD),
                                   name=name)
    layer.build((None,))
    return layer


def _mlp(n_in: int, hidden, dropout: float, activation: str) -> keras.Sequential:
    """``Dense, Activation, Dropout`` per hidden size, then ``Dense(1)``: (batch, n_in) -> (batch, 1)."""
    layers = []
    for k, size in enumerate(hidden):
        layers += [keras.layers.Dense(size, name=f"dense_{k}"), keras.layers.Activation(activation, name=f"{activation}_{k}"),
                   keras.layers.Dropout(dropout, name=f"dropout_{k}")]
    layers.append(keras.layers.Dense(1, name="head"))
    mlp = keras.Sequential(layers, name="mlp")
    mlp.build((None, n_in))
    return mlp


def _symbolic(x) -> bool:
    """Whether ``x`` is a tensor without values, which cannot be checked.

    Keras builds a model with its own symbolic tensors, and ``fit``/``predict`` trace ``call``
    into a graph (TensorFlow ``tf.function``, JAX ``jit``, ``torch.compile``; torch's shape
    inference uses "meta" tensors). There the arrays were already checked by
    ``_inputs.encoded_arrays`` before training, so only calls with real values are checked.
    """
    if keras.backend.is_keras_tensor(x):
        return True
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly() or not hasattr(x, "numpy")
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling() or (isinstance(x, torch.Tensor) and x.device.type == "meta")
    return False


class _CFModel(keras.Model):
    """Shared plumbing: checked sizes, the two input forms, index checks, ``y_range`` squashing, config."""

    def __init__(self, n_users, n_items, n_factors, y_range=None, global_mean=None):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = _inputs.model_args(n_users, n_items, n_factors)
        self.y_range = _inputs.y_range_arg(y_range)
        self.global_mean = _inputs.global_mean_arg(global_mean, self.y_range)
        self._offset = _inputs.offset_logit(self.global_mean, self.y_range)

    def _indices(self, user, item):
        """``(user, item)`` from two arrays or one ``(batch, 2)`` array, checked when they hold values
        (the same messages as ``cflearn.torch``)."""
        user = ops.convert_to_tensor(user)
        if item is None:
            if len(user.shape) != 2 or user.shape[-1] not in (2, None):
                raise ValueError(
                    f"give model(user, item) with two index arrays, or one (batch, 2) array of user and item "
                    f"columns; got one array of shape {tuple(user.shape)}."
                )
            user, item = user[:, 0], user[:, 1]
        item = ops.convert_to_tensor(item)
        if not (_symbolic(user) or _symbolic(item)):
            _inputs.check_index_arrays(ops.convert_to_numpy(user), ops.convert_to_numpy(item), self.n_users, self.n_items)
        return user, item

    def _finish(self, x):
        """Raw score (batch,) -> rating: add the offset, then squash into ``y_range`` if set."""
        if self._offset:
            x = x + self._offset
        if self.y_range is not None:
            low, high = self.y_range
            x = low + (high - low) * ops.sigmoid(x)
        return x

    def build_from_config(self, config):
        # Every variable is created in __init__, so a loaded model is already built.
        self.built = True

    def get_config(self):
        """The constructor's arguments, for ``save``/``load_model`` (``from_config`` is ``cls(**config)``)."""
        return {"n_users": self.n_users, "n_items": self.n_items, "n_factors": self.n_factors}


@_serializable
class DotProduct(_CFModel):
    """Rating = user vector . item vector.

    Introduced in lesson 03.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50):
        super().__init__(n_users, n_items, n_factors)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")

    def call(self, user, item=None):
        user, item = self._indices(user, item)
        return ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)  # (batch,)


@_serializable
class DotProductBias(_CFModel):
    """Rating = user . item + user bias + item bias (+ global mean), optionally squashed into ``y_range``.

    With ``y_range=(low, high)`` the output is ``low + (high - low) * sigmoid(score)``; with
    ``global_mean`` too, the offset is added before the sigmoid so a zero score predicts the mean.

    Introduced in lesson 04.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, y_range=None, global_mean=None):
        super().__init__(n_users, n_items, n_factors, y_range, global_mean)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self.user_bias = _embedding(self.n_users, 1, "user_bias")
        self.item_bias = _embedding(self.n_items, 1, "item_bias")

    def score(self, user, item=None):
        """Raw score ``user . item + user bias + item bias``, (batch,), before the offset and ``y_range``."""
        user, item = self._indices(user, item)
        dot = ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)  # (batch,)
        return dot + ops.squeeze(self.user_bias(user), -1) + ops.squeeze(self.item_bias(item), -1)

    def call(self, user, item=None):
        return self._finish(self.score(user, item))

    def get_config(self):
        return {**super().get_config(), "y_range": self.y_range, "global_mean": self.global_mean}


@_serializable
class NeuralCF(_CFModel):
    """Concatenated user and item embeddings fed through an MLP to one rating.

    Parameters
    ----------
    hidden : tuple of int
        Sizes of the hidden layers, for example ``(64,)`` or ``(128, 64)``.
    dropout : float
        Dropout after each hidden layer, in [0, 1).
    activation : str
        One of "relu", "elu", "gelu", "tanh", "silu".

    The MLP is ``self.mlp = keras.Sequential([Dense, Activation, Dropout, ..., Dense])``, mapping
    ``(batch, 2 * n_factors)`` to ``(batch, 1)``. Introduced in lesson 05.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, hidden=(64,), dropout: float = 0.2,
                 activation: str = "relu", y_range=None):
        super().__init__(n_users, n_items, n_factors, y_range)
        self.hidden_sizes, self.dropout_rate, self.activation = _inputs.mlp_args(hidden, dropout, activation)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self.mlp = _mlp(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation)

    def call(self, user, item=None, training=None):
        user, item = self._indices(user, item)
        x = ops.concatenate([self.user_factors(user), self.item_factors(item)], axis=-1)  # (batch, 2 * n_factors)
        return self._finish(ops.squeeze(self.mlp(x, training=training), -1))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden_sizes, "dropout": self.dropout_rate,
                "activation": self.activation, "y_range": self.y_range}


@_serializable
class ResidualCF(_CFModel):
    """Dot product plus biases (main branch) plus an MLP over the concatenated embeddings (side branch).

    The side branch only has to learn what the dot product misses. Arguments as in
    ``DotProductBias`` and ``NeuralCF``.

    Introduced in lesson 06.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, hidden=(64,), dropout: float = 0.2,
                 activation: str = "relu", y_range=None, global_mean=None):
        super().__init__(n_users, n_items, n_factors, y_range, global_mean)
        self.hidden_sizes, self.dropout_rate, self.activation = _inputs.mlp_args(hidden, dropout, activation)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self.user_bias = _embedding(self.n_users, 1, "user_bias")
        self.item_bias = _embedding(self.n_items, 1, "item_bias")
        self.mlp = _mlp(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation)

    def branches(self, user, item=None, training=None):
        """``(main, side)``, each (batch,), before the offset and ``y_range``: main is the dot product
        plus biases, side the MLP's output. The prediction is the squashed ``main + side``."""
        user, item = self._indices(user, item)
        u, i = self.user_factors(user), self.item_factors(item)  # (batch, n_factors) each
        main = ops.sum(u * i, axis=-1) + ops.squeeze(self.user_bias(user), -1) + ops.squeeze(self.item_bias(item), -1)
        side = ops.squeeze(self.mlp(ops.concatenate([u, i], axis=-1), training=training), -1)  # (batch, 1) -> (batch,)
        return main, side

    def call(self, user, item=None, training=None):
        main, side = self.branches(user, item, training=training)
        return self._finish(main + side)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden_sizes, "dropout": self.dropout_rate,
                "activation": self.activation, "y_range": self.y_range, "global_mean": self.global_mean}


def _variables(model) -> dict:
    """Shared name -> Keras variable (see ``cflearn.torch.get_weights`` for the naming): the MLP's
    Dense layers in order are ``mlp.hidden.0``, ..., and the last one ``mlp.head``."""
    out = {name: getattr(model, name).embeddings for name in _inputs.EMBEDDINGS if hasattr(model, name)}
    if hasattr(model, "mlp"):
        dense = [layer for layer in model.mlp.layers if isinstance(layer, keras.layers.Dense)]
        names = [f"mlp.hidden.{k}" for k in range(len(dense) - 1)] + ["mlp.head"]
        for name, layer in zip(names, dense):
            out[f"{name}.kernel"], out[f"{name}.bias"] = layer.kernel, layer.bias
    return out


def get_weights(model) -> dict:
    """The model's weights as ``{name: numpy array}`` in the naming both frameworks share.

    (Keras's own ``model.get_weights()`` returns an unnamed list; this returns named arrays that
    ``cflearn.torch.set_weights`` understands, and the other way round.)
    """
    return {name: ops.convert_to_numpy(var).copy() for name, var in _variables(model).items()}


def set_weights(model, weights: dict):
    """Load a ``get_weights`` dictionary (from either framework) into ``model``; returns the model."""
    own = _variables(model)
    if set(own) != set(weights):
        raise ValueError(f"weight names differ: model has {sorted(own)}, got {sorted(weights)}.")
    for name, value in weights.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise ValueError(f"{name}: expected shape {tuple(own[name].shape)}, got {tuple(value.shape)}.")
        own[name].assign(value)
    return model
