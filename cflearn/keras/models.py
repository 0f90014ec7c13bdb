"""The course's four collaborative-filtering models as Keras 3 models (``keras.ops`` only).

They run on any Keras backend (TensorFlow, the default here, or ``KERAS_BACKEND=torch``).
A model takes either two index arrays, ``model(user, item)``, or one ``(batch, 2)`` integer
array whose columns are user and item (what ``fit``/``predict`` pass), and returns ``(batch,)``.
Names, arguments, initialisation and weights match ``cflearn.torch.models``.
"""

from __future__ import annotations

import keras
from keras import ops

from cflearn import _inputs

__all__ = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF", "get_weights", "set_weights"]

_INIT_STD = 0.01  # small random embeddings: every dot product starts near 0


def _embedding(n: int, dim: int, name: str) -> keras.layers.Embedding:
    return keras.layers.Embedding(n, dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=_INIT_STD), name=name)


class _CFModel(keras.Model):
    """Shared plumbing: checked sizes, the two input forms, ``y_range`` squashing, config."""

    def __init__(self, n_users, n_items, n_factors, y_range=None, global_mean=None, **kwargs):
        super().__init__(**kwargs)
        self.n_users, self.n_items, self.n_factors = _inputs.model_args(n_users, n_items, n_factors)
        self.y_range = _inputs.y_range_arg(y_range)
        self.global_mean = _inputs.global_mean_arg(global_mean, self.y_range)
        self._offset = _inputs.offset_logit(self.global_mean, self.y_range)

    @staticmethod
    def _split(inputs, item):
        """``(user, item)`` from either two arrays or one ``(batch, 2)`` array."""
        if item is None:
            inputs = ops.convert_to_tensor(inputs)
            return inputs[:, 0], inputs[:, 1]
        return inputs, item

    def _finish(self, x):
        """Raw score (batch,) -> rating: add the offset, then squash into ``y_range`` if set."""
        if self._offset:
            x = x + self._offset
        if self.y_range is not None:
            low, high = self.y_range
            x = low + (high - low) * ops.sigmoid(x)
        return x

    def _build_embeddings(self, *names):
        for name in names:
            getattr(self, name).build((None,))

    def get_config(self):
        return {"n_users": self.n_users, "n_items": self.n_items, "n_factors": self.n_factors}


class DotProduct(_CFModel):
    """Rating = user vector . item vector.

    Introduced in lesson 03.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, **kwargs):
        super().__init__(n_users, n_items, n_factors, **kwargs)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self._build_embeddings("user_factors", "item_factors")

    def call(self, inputs, item=None):
        user, item = self._split(inputs, item)
        return ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)  # (batch,)


class DotProductBias(_CFModel):
    """Rating = user . item + user bias + item bias (+ global mean), optionally squashed into ``y_range``.

    With ``y_range=(low, high)`` the output is ``low + (high - low) * sigmoid(score)``; with
    ``global_mean`` too, the offset is added before the sigmoid so a zero score predicts the mean.

    Introduced in lesson 04.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, y_range=None, global_mean=None, **kwargs):
        super().__init__(n_users, n_items, n_factors, y_range, global_mean, **kwargs)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self.user_bias = _embedding(self.n_users, 1, "user_bias")
        self.item_bias = _embedding(self.n_items, 1, "item_bias")
        self._build_embeddings(*_inputs.EMBEDDINGS)

    def call(self, inputs, item=None):
        user, item = self._split(inputs, item)
        dot = ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)  # (batch,)
        score = dot + ops.squeeze(self.user_bias(user), -1) + ops.squeeze(self.item_bias(item), -1)
        return self._finish(score)

    def get_config(self):
        return {**super().get_config(), "y_range": self.y_range, "global_mean": self.global_mean}


class _MLP(keras.layers.Layer):
    """Hidden layers (dense, activation, dropout) then one dense output: (batch, n_in) -> (batch,)."""

    def __init__(self, n_in: int, hidden, dropout: float, activation: str, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [keras.layers.Dense(h, activation=activation, name=f"hidden_{k}") for k, h in enumerate(hidden)]
        self.head = keras.layers.Dense(1, name="head")
        self.dropout = keras.layers.Dropout(dropout)
        for layer, n in zip(self.hidden + [self.head], (n_in, *hidden)):
            layer.build((None, n))

    def call(self, x, training=None):
        for layer in self.hidden:
            x = self.dropout(layer(x), training=training)
        return ops.squeeze(self.head(x), -1)


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

    Introduced in lesson 05.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, hidden=(64,), dropout: float = 0.2,
                 activation: str = "relu", y_range=None, **kwargs):
        super().__init__(n_users, n_items, n_factors, y_range, **kwargs)
        self.hidden_sizes, self.dropout_rate, self.activation = _inputs.mlp_args(hidden, dropout, activation)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self._build_embeddings("user_factors", "item_factors")
        self.mlp = _MLP(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation, name="mlp")

    def call(self, inputs, item=None, training=None):
        user, item = self._split(inputs, item)
        x = ops.concatenate([self.user_factors(user), self.item_factors(item)], axis=-1)  # (batch, 2 * n_factors)
        return self._finish(self.mlp(x, training=training))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden_sizes, "dropout": self.dropout_rate,
                "activation": self.activation, "y_range": self.y_range}


class ResidualCF(_CFModel):
    """Dot product plus biases (main branch) plus an MLP over the concatenated embeddings (side branch).

    The side branch only has to learn what the dot product misses. Arguments as in
    ``DotProductBias`` and ``NeuralCF``.

    Introduced in lesson 06.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, hidden=(64,), dropout: float = 0.2,
                 activation: str = "relu", y_range=None, global_mean=None, **kwargs):
        super().__init__(n_users, n_items, n_factors, y_range, global_mean, **kwargs)
        self.hidden_sizes, self.dropout_rate, self.activation = _inputs.mlp_args(hidden, dropout, activation)
        self.user_factors = _embedding(self.n_users, self.n_factors, "user_factors")
        self.item_factors = _embedding(self.n_items, self.n_factors, "item_factors")
        self.user_bias = _embedding(self.n_users, 1, "user_bias")
        self.item_bias = _embedding(self.n_items, 1, "item_bias")
        self._build_embeddings(*_inputs.EMBEDDINGS)
        self.mlp = _MLP(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation, name="mlp")

    def call(self, inputs, item=None, training=None):
        user, item = self._split(inputs, item)
        u, i = self.user_factors(user), self.item_factors(item)  # (batch, n_factors) each
        main = ops.sum(u * i, axis=-1) + ops.squeeze(self.user_bias(user), -1) + ops.squeeze(self.item_bias(item), -1)
        side = self.mlp(ops.concatenate([u, i], axis=-1), training=training)
        return self._finish(main + side)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden_sizes, "dropout": self.dropout_rate,
                "activation": self.activation, "y_range": self.y_range, "global_mean": self.global_mean}


def _variables(model) -> dict:
    """Shared name -> Keras variable (see ``cflearn.torch.get_weights`` for the naming)."""
    out = {}
    for name in _inputs.EMBEDDINGS:
        if hasattr(model, name):
            out[name] = getattr(model, name).embeddings
    if hasattr(model, "mlp"):
        layers = [(f"mlp.hidden.{k}", layer) for k, layer in enumerate(model.mlp.hidden)] + [("mlp.head", model.mlp.head)]
        for name, layer in layers:
            out[f"{name}.kernel"] = layer.kernel
            out[f"{name}.bias"] = layer.bias
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
