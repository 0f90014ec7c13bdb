"""The course's four collaborative-filtering models as PyTorch modules.

Every model maps a batch of ``user`` and ``item`` indices to one predicted rating each:
``model(user, item) -> (batch,)``. The Keras twins in ``cflearn.keras.models`` have the same
names, arguments, initialisation and weights (see ``get_weights``), so a model moves between
frameworks by changing one import.
"""

from __future__ import annotations

import torch
from torch import nn

from cflearn import _inputs

__all__ = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF", "get_weights", "set_weights"]

_INIT_STD = 0.01  # small random embeddings: every dot product starts near 0

_ACTIVATIONS = {"relu": nn.functional.relu, "elu": nn.functional.elu, "gelu": nn.functional.gelu,
                "tanh": torch.tanh, "silu": nn.functional.silu}


def _embedding(n: int, dim: int) -> nn.Embedding:
    layer = nn.Embedding(n, dim)
    nn.init.normal_(layer.weight, std=_INIT_STD)
    return layer


def _linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)  # Keras's default ("glorot_uniform"), so both start alike
    nn.init.zeros_(layer.bias)
    return layer


class _CFModel(nn.Module):
    """Shared plumbing: checked sizes, index checks, ``y_range`` squashing."""

    def __init__(self, n_users, n_items, n_factors, y_range=None, global_mean=None):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = _inputs.model_args(n_users, n_items, n_factors)
        self.y_range = _inputs.y_range_arg(y_range)
        self.global_mean = _inputs.global_mean_arg(global_mean, self.y_range)
        self._offset = _inputs.offset_logit(self.global_mean, self.y_range)

    def _check(self, user: torch.Tensor, item: torch.Tensor) -> None:
        # A clear message instead of a bare IndexError (or silent garbage on a GPU).
        if user.shape != item.shape:
            raise ValueError(f"user and item must have the same shape, got {tuple(user.shape)} and {tuple(item.shape)}.")
        for values, n, what in ((user, self.n_users, "user"), (item, self.n_items, "item")):
            if values.numel() and (int(values.min()) < 0 or int(values.max()) >= n):
                bad = int(((values < 0) | (values >= n)).sum())
                raise ValueError(
                    f"{bad} {what} index value(s) are outside 0..{n - 1} (negative means unseen in training); "
                    "encode with the IdEncoder fitted on the training split and drop unseen rows."
                )

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        """Raw score (batch,) -> rating: add the offset, then squash into ``y_range`` if set."""
        if self._offset:
            x = x + self._offset
        if self.y_range is not None:
            low, high = self.y_range
            x = low + (high - low) * torch.sigmoid(x)
        return x

    def extra_repr(self) -> str:
        return f"y_range={self.y_range}, global_mean={self.global_mean}"


class DotProduct(_CFModel):
    """Rating = user vector . item vector.

    Introduced in lesson 03.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50):
        super().__init__(n_users, n_items, n_factors)
        self.user_factors = _embedding(self.n_users, self.n_factors)
        self.item_factors = _embedding(self.n_items, self.n_factors)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        self._check(user, item)
        return (self.user_factors(user) * self.item_factors(item)).sum(dim=-1)  # (batch,)

    def extra_repr(self) -> str:
        return ""


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
        dot = (self.user_factors(user) * self.item_factors(item)).sum(dim=-1)  # (batch,)
        return dot + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        self._check(user, item)
        return self._finish(self.score(user, item))


class _MLP(nn.Module):
    """Hidden layers (linear, activation, dropout) then one linear output: (batch, n_in) -> (batch,)."""

    def __init__(self, n_in: int, hidden, dropout: float, activation: str):
        super().__init__()
        sizes = (n_in, *hidden)
        self.hidden = nn.ModuleList(_linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = _linear(sizes[-1], 1)
        self.dropout = nn.Dropout(dropout)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = _ACTIVATIONS[self.activation]
        for layer in self.hidden:
            x = self.dropout(act(layer(x)))
        return self.head(x).squeeze(-1)


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
                 activation: str = "relu", y_range=None):
        super().__init__(n_users, n_items, n_factors, y_range)
        self.hidden_sizes, self.dropout_rate, self.activation = _inputs.mlp_args(hidden, dropout, activation)
        self.user_factors = _embedding(self.n_users, self.n_factors)
        self.item_factors = _embedding(self.n_items, self.n_factors)
        self.mlp = _MLP(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        self._check(user, item)
        x = torch.cat([self.user_factors(user), self.item_factors(item)], dim=-1)  # (batch, 2 * n_factors)
        return self._finish(self.mlp(x))


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
        self.mlp = _MLP(2 * self.n_factors, self.hidden_sizes, self.dropout_rate, self.activation)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        self._check(user, item)
        u, i = self.user_factors(user), self.item_factors(item)  # (batch, n_factors) each
        main = (u * i).sum(dim=-1) + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1)
        side = self.mlp(torch.cat([u, i], dim=-1))
        return self._finish(main + side)


def get_weights(model: nn.Module) -> dict:
    """The model's weights as ``{name: numpy array}`` in the naming both frameworks share.

    Names: ``user_factors``, ``item_factors``, ``user_bias``, ``item_bias`` (``(n, dim)`` tables),
    ``mlp.hidden.K.kernel`` / ``.bias`` and ``mlp.head.kernel`` / ``.bias`` (kernels ``(n_in, n_out)``,
    as Keras stores them; PyTorch's ``Linear.weight`` is the transpose).
    """
    weights = {}
    for name in _inputs.EMBEDDINGS:
        if hasattr(model, name):
            weights[name] = getattr(model, name).weight.detach().cpu().numpy().copy()
    if hasattr(model, "mlp"):
        layers = [(f"mlp.hidden.{k}", layer) for k, layer in enumerate(model.mlp.hidden)] + [("mlp.head", model.mlp.head)]
        for name, layer in layers:
            weights[f"{name}.kernel"] = layer.weight.detach().cpu().numpy().T.copy()
            weights[f"{name}.bias"] = layer.bias.detach().cpu().numpy().copy()
    return weights


def set_weights(model: nn.Module, weights: dict) -> nn.Module:
    """Load a ``get_weights`` dictionary (from either framework) into ``model``; returns the model."""
    own = get_weights(model)
    if set(own) != set(weights):
        raise ValueError(f"weight names differ: model has {sorted(own)}, got {sorted(weights)}.")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            value = torch.as_tensor(value)
            if value.shape != own[name].shape:
                raise ValueError(f"{name}: expected shape {own[name].shape}, got {tuple(value.shape)}.")
            if name.endswith(".kernel"):
                params[name[: -len(".kernel")] + ".weight"].copy_(value.T)
            elif name.endswith(".bias") and name.startswith("mlp."):
                params[name].copy_(value)
            else:
                params[name + ".weight"].copy_(value)
    return model
