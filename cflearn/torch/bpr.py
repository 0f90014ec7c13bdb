"""Matrix factorisation trained for ranking with the BPR loss (PyTorch): ``BPRMF``, ``bpr_loss``, ``fit_bpr``.

BPR (Rendle et al., 2009) learns from implicit feedback, which items a user interacted with,
not how they rated them: for a user, an item they have should score higher than an item they
do not. Each training row is a triple (user, positive item, sampled negative item) from
``cflearn.ranking.bpr_triples``, the same triples as the Keras version for the same seed.
Introduced in lesson 10.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cflearn import _inputs, optim, ranking
from cflearn.history import History
from cflearn.torch.train import _cpu_threads

__all__ = ["BPRMF", "bpr_loss", "fit_bpr"]

_INIT_STD = 0.01  # as the rating models: every score starts near 0


class BPRMF(nn.Module):
    """Score = user vector . item vector + item bias (a user bias would cancel in every comparison).

    Introduced in lesson 10.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 64):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = _inputs.model_args(n_users, n_items, n_factors)
        self.user_factors = nn.Embedding(self.n_users, self.n_factors)
        self.item_factors = nn.Embedding(self.n_items, self.n_factors)
        self.item_bias = nn.Embedding(self.n_items, 1)
        for table in (self.user_factors, self.item_factors):
            nn.init.normal_(table.weight, std=_INIT_STD)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        dot = (self.user_factors(user) * self.item_factors(item)).sum(dim=-1)  # (batch,)
        return dot + self.item_bias(item).squeeze(-1)


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Mean of ``-log sigmoid(pos - neg)``: small when each positive outscores its negative.

    Written as ``softplus(neg - pos)``, the same value without overflow for large differences.
    Introduced in lesson 10.
    """
    return nn.functional.softplus(neg_scores - pos_scores).mean()


def _penalty(model, user, pos, neg) -> torch.Tensor:
    """Per-row squared length of the three vectors and two biases a triple touches, (batch,)."""
    rows = [model.user_factors(user), model.item_factors(pos), model.item_factors(neg)]
    if hasattr(model, "item_bias"):
        rows += [model.item_bias(pos), model.item_bias(neg)]
    return sum((r * r).sum(dim=-1) for r in rows)


def fit_bpr(model, train, *, lr: float = 0.03, n_epochs: int = 60, batch_size: int = 4096, reg: float = 0.01,
            schedule: str = "one_cycle", seed: int = 42, progress: bool = True) -> History:
    """Train ``model`` on ``train``'s (user, item) pairs as implicit positives with the BPR loss.

    Parameters
    ----------
    model : torch.nn.Module
        Anything with ``forward(user, item) -> (batch,)`` and embedding layers ``user_factors``,
        ``item_factors`` (and optionally ``item_bias``), such as ``BPRMF``.
    train : DataFrame
        Encoded frame with columns ``user`` and ``item`` (the rating is not used).
    lr, n_epochs, batch_size : float, int, int
        Peak learning rate of Adam, passes over ``train``, triples per step.
    reg : float
        L2 penalty on the rows each triple touches, added to the loss.
    schedule : {"one_cycle", "constant"}
        The learning-rate schedule (``cflearn.optim.lr_schedule``), as ``fit``.
    seed : int
        Seeds the triples (shuffling and negatives).
    progress : bool
        Show a progress bar, one step per epoch.

    Returns
    -------
    History
        Per epoch, the BPR loss on that epoch's triples after it (penalty not included) in ``train_loss``.

    Introduced in lesson 10.
    """
    _inputs.train_args(lr, n_epochs, batch_size, reg)
    _inputs.framework_of(model, "torch")
    positives = ranking.interactions(train, model.n_users, model.n_items)
    triples = ranking.bpr_triples(train, positives, n_epochs, seed)  # (n_epochs, n_rows, 3)
    n = triples.shape[1]
    rates = optim.lr_schedule(lr, optim.n_steps(n, batch_size, n_epochs), schedule).tolist()
    optimizer = torch.optim.AdamW(model.parameters(), lr=rates[0], betas=optim.BETAS, eps=optim.EPS, weight_decay=0.0)
    device = next(model.parameters()).device
    history = History("torch", type(model).__name__, n_ratings=n)
    bar = tqdm(range(n_epochs), desc=f"{type(model).__name__} (torch)", unit="epoch", disable=not progress)
    model.train()
    with _cpu_threads(device, batch_size):  # the thread rule fit uses: one thread for small batches
        _epochs(model, optimizer, rates, triples, batch_size, reg, device, history, bar)
    bar.close()
    return history


def _epochs(model, optimizer, rates, triples, batch_size, reg, device, history, bar):
    n, step = triples.shape[1], 0
    for epoch in bar:
        start = time.perf_counter()
        epoch_rows = torch.as_tensor(triples[epoch], device=device)
        for s in range(0, n, batch_size):
            user, pos, neg = epoch_rows[s : s + batch_size].unbind(dim=1)
            optimizer.param_groups[0]["lr"] = rates[step]
            step += 1
            loss = bpr_loss(model(user, pos), model(user, neg))
            penalty = reg * _penalty(model, user, pos, neg).mean()
            optimizer.zero_grad(set_to_none=True)
            (loss + penalty).backward()
            optimizer.step()
        with torch.no_grad():  # the BPR loss on this epoch's triples after it, as the Keras helper reports
            user, pos, neg = epoch_rows.unbind(dim=1)
            loss = float(bpr_loss(model(user, pos), model(user, neg)))
        history.add(train_loss=loss, seconds=time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss:.4f}")
