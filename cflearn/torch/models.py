"""The course's four collaborative-filtering models as PyTorch modules.

Every model maps a batch of ``user`` and ``item`` indices to one predicted rating each:
``model(user, item) -> (batch,)``. The Keras twins in ``cflearn.keras.models`` have the same
names, arguments, checks, initialisation and weights (see ``get_weights``), so a model moves
between frameworks by changing one import.
"""

from __future__ import annotations

import torch
from torch import nn

from cflearn import _inputs

__all__ = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF", "get_weights", "set_weights"]

_INIT_STD = 0.01  # small random embeddings: every dot product starts near 0

# Activation name -> module class; the same names as Keras's, and the same functions (GELU exact).
_ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


def _embedding(n: int, dim: int) -> nn.Embedding:
    layer = nn.Embedding(n, dim)
    nn.init.normal_(layer.weight, std=_INIT_STD)
    return layer


def _linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)  # Keras's default ("glorot_uniform"), so both start alike
    nn.init.zeros_(layer.bias)
    return layer


def _mlp(n_in: int, hidden, dropout: float, activation: str) -> nn.Sequential:
    """``Linear, activation, Dropout`` per hidden size, then ``Linear(.., 1)``: (batch, n_in) -> (batch, 1)."""
    layers, width = [], n_in
    for size in hidden:
        layers += [_linear(width, size), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
        width = size
    layers.append(_linear(width, 1))
    return nn.Sequential(*layers)


class _CFModel(nn.Module):
    """Shared plumbing: checked sizes, index checks, ``y_range`` squashing."""

    def __init__(self, n_users, n_items, n_factors, y_range=None, global_mean=None):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = _inputs.model_args(n_users, n_items, n_factors)
        self.y_range = _inputs.y_range_arg(y_range)
        self.global_mean = _inputs.global_mean_arg(global_mean, self.y_range)
        self._offset = _inputs.offset_logit(self.global_mean, self.y_range)

    def _indices(self, user, item) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked index tensors on the model's device: a clear message instead of a bare IndexError
        (or silent garbage on a GPU). Messages come from ``_inputs``, shared with Keras."""
        device = self.user_factors.weight.device
        user, item = torch.as_tensor(user, device=device), torch.as_tensor(item, device=device)
        if user.shape != item.shape:
            raise ValueError(_inputs.index_shape_message(user.shape, item.shape))
        for values, n, what in ((user, self.n_users, "user"), (item, self.n_items, "item")):
            if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
                raise ValueError(_inputs.index_dtype_message(what))
            bad = (values < 0) | (values >= n)
            if bool(bad.any()):  # one device sync; counts only when something is wrong
                negative = int((values < 0).sum())
                raise ValueError(_inputs.index_range_message(what, n, negative, int(bad.sum()) - negative))
        return user, item

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        """Raw score (batch,) -> rating: add the offset, then squash into ``y_range`` if set."""
        if self._offset:
            x = x + self._offset
        if self.y_range is not None:
            low, high = self.y_range
            x = low + (high - low) * torch.sigmoid(x)
        return x

    def _settings(self) -> dict:
        return {}

    def extra_repr(self) -> str:
        # only this class's own settings; sizes, dropout and activation show in the layers below
        return ", ".join(f"{k}={v}" for k, v in self._settings().items())


class DotProduct(_CFModel):
    """Rating = user vector . item vector.

    Introduced in lesson 03.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50):
        super().__init__(n_users, n_items, n_factors)
        self.user_factors = _embedding(self.n_users, self.n_factors)
        self.item_factors = _embedding(self.n_items, self.n_factors)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        user, item = self._indices(user, item)
        return (self.user_factors(user) * self.item_factors(item)).sum(dim=-1)  # (batch,)


class DotProductBias(_CFModel):
    """Rating = user . item + user bias + item bias (+ global mean), optionally squashed into ``y_range``.

    With ``y_range=(low, high)`` the output is ``low + (high - low) * sigmoid(score)``; with
    ``global_mean`` too, the offset is added before the sigmoid so a zero score predicts the mean.

    Introduced in lesson 04.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, y_range=None, global_mean=None):
        super().__init__(n_users, n_items, n_factors, y_range, global_mean)
        self.user_factors = _embedding(self.n_users, self.n_factors)
        self.item_factors = _embedding(self.n_items, self.n_factors)
        self.user_bias = _embedding(self.n_users, 1)
        self.item_bias = _embedding(self.n_items, 1)

    def score(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        """Raw score ``user . item + user bias + item bias``, (batch,), before the offset and ``y_range``."""
        user, item = self._indices(user, item)
        dot = (self.user_factors(user) * self.item_factors(item)).sum(dim=-1)  # (batch,)
        return dot + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        return self._finish(self.score(user, item))

    def _settings(self) -> dict:
        return {"y_range": self.y_range, "global_mean": self.global_mean}


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

    The MLP is ``self.mlp = nn.Sequential(Linear, ReLU, Dropout, ..., Linear)``, mapping
    ``(batch, 2 * n_factors)`` to ``(batch, 1)``. Introduced in lesson 05.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50, hidden=(64,), dropout: float = 0.2,
                 activation: str = "relu", y_range=None):
        super().__init__(n_users, n_items, n_factors, y_range)
        self.hidden_sizes, self.dropout_rate, self.activation = _inputs.mlp_args(hidden, dropout, activation)
        self.user_factors = _embedding(self.n_users, self.n_factors)
        self.item_factors = _embedding(self.n_items, self.n_factors)
        self.mlp = _mlp(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        user, item = self._indices(user, item)
        x = torch.cat([self.user_factors(user), self.item_factors(item)], dim=-1)  # (batch, 2 * n_factors)
        return self._finish(self.mlp(x).squeeze(-1))

    def _settings(self) -> dict:
        return {"y_range": self.y_range}


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
        self.user_factors = _embedding(self.n_users, self.n_factors)
        self.item_factors = _embedding(self.n_items, self.n_factors)
        self.user_bias = _embedding(self.n_users, 1)
        self.item_bias = _embedding(self.n_items, 1)
        self.mlp = _mlp(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation)

    def branches(self, user: torch.Tensor, item: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(main, side)``, each (batch,), before the offset and ``y_range``: main is the dot product
        plus biases, side the MLP's output. The prediction is the squashed ``main + side``."""
        user, item = self._indices(user, item)
        u, i = self.user_factors(user), self.item_factors(item)  # (batch, n_factors) each
        main = (u * i).sum(dim=-1) + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1)
        side = self.mlp(torch.cat([u, i], dim=-1)).squeeze(-1)  # (batch, 1) -> (batch,)
        return main, side

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        main, side = self.branches(user, item)
        return self._finish(main + side)

    def _settings(self) -> dict:
        return {"y_range": self.y_range, "global_mean": self.global_mean}


def _tensors(model: nn.Module) -> dict:
    """Shared name -> PyTorch parameter. The MLP's Linear layers in order are ``mlp.hidden.0``, ...,
    and the last one ``mlp.head``; a Linear's weight is stored as the kernel's transpose."""
    out = {name: getattr(model, name).weight for name in _inputs.EMBEDDINGS if hasattr(model, name)}
    if hasattr(model, "mlp"):
        linears = [layer for layer in model.mlp if isinstance(layer, nn.Linear)]
        names = [f"mlp.hidden.{k}" for k in range(len(linears) - 1)] + ["mlp.head"]
        for name, layer in zip(names, linears):
            out[f"{name}.kernel"], out[f"{name}.bias"] = layer.weight, layer.bias
    return out


def _numpy(name: str, tensor: torch.Tensor):
    value = tensor.detach().cpu().numpy()
    return (value.T if name.endswith(".kernel") else value).copy()


def get_weights(model: nn.Module) -> dict:
    """The model's weights as ``{name: numpy array}`` in the naming both frameworks share.

    Names: ``user_factors``, ``item_factors``, ``user_bias``, ``item_bias`` (``(n, dim)`` tables),
    ``mlp.hidden.K.kernel`` / ``.bias`` and ``mlp.head.kernel`` / ``.bias`` (kernels ``(n_in, n_out)``,
    as Keras stores them; PyTorch's ``Linear.weight`` is the transpose).
    """
    return {name: _numpy(name, tensor) for name, tensor in _tensors(model).items()}


def set_weights(model: nn.Module, weights: dict) -> nn.Module:
    """Load a ``get_weights`` dictionary (from either framework) into ``model``; returns the model."""
    own = _tensors(model)
    if set(own) != set(weights):
        raise ValueError(f"weight names differ: model has {sorted(own)}, got {sorted(weights)}.")
    with torch.no_grad():
        for name, value in weights.items():
            value = torch.as_tensor(value)
            expected = _numpy(name, own[name]).shape
            if tuple(value.shape) != expected:
                raise ValueError(f"{name}: expected shape {expected}, got {tuple(value.shape)}.")
            own[name].copy_(value.T if name.endswith(".kernel") else value)
    return model
