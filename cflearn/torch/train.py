"""Training and prediction for the PyTorch models: ``fit`` and ``predict``.

The whole frame becomes three tensors once; each epoch shuffles an index tensor and slices
mini-batches from it, so there is no per-row Python and no ``Dataset``/``DataLoader``.
Introduced in lesson 03.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from cflearn import _inputs, optim
from cflearn.history import History

__all__ = ["fit", "predict"]


def _device(device, model) -> torch.device:
    """A ``torch.device`` from None (where the model is), a string, or a ``cflearn.device.Device``."""
    if device is None:
        param = next(model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")
    device = torch.device(getattr(device, "torch", device))  # accept dev = cflearn.device.setup(...)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(device)!r} was asked for but no CUDA GPU is available; pass the device from "
            "cflearn.device.setup(USE_GPU), which falls back to the CPU, or device='cpu'."
        )
    return device


def _tensors(data, model, device, *, need_rating=True, name="train"):
    user, item, rating = _inputs.encoded_arrays(data, model.n_users, model.n_items, need_rating=need_rating, name=name)
    out = [torch.tensor(user, device=device), torch.tensor(item, device=device)]
    if need_rating:
        out.append(torch.tensor(rating, device=device))
    return out


# Below this many rows per batch, CPU threads spend longer waiting for each other than working
# (and on a busy machine a waiting thread can stall every step), so training runs on one thread.
# On a machine with two cores or fewer one thread is used whatever the batch: measured on a shared
# 2-core machine under load, two threads ran batch 65,536 1.3-2x slower than one.
_ONE_THREAD_BELOW = 16384
_FEW_CORES = 2


def _one_thread(device: torch.device, batch_size: int) -> bool:
    return device.type == "cpu" and ((os.cpu_count() or 1) <= _FEW_CORES or batch_size < _ONE_THREAD_BELOW)


@contextlib.contextmanager
def _cpu_threads(device: torch.device, batch_size: int):
    """Run the block on one CPU thread where more would wait on each other; restore the setting after."""
    if not _one_thread(device, batch_size):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def _predict_tensors(model, user, item, batch_size):
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(user[s : s + batch_size], item[s : s + batch_size]) for s in range(0, len(user), batch_size)])
    finally:
        model.train(was_training)


def fit(model, train, valid=None, *, lr: float, n_epochs: int, batch_size: int, weight_decay: float = 0.0,
        schedule: str = "one_cycle", device=None, seed: int = 42, progress: bool = True) -> History:
    """Train ``model`` with AdamW on mean squared error; returns a ``History``.

    Parameters
    ----------
    model : torch.nn.Module
        One of the ``cflearn.torch`` models (anything with ``n_users``, ``n_items`` and
        ``forward(user, item) -> (batch,)`` works).
    train, valid : DataFrame
        Encoded frames with columns ``user``, ``item``, ``rating``; ``valid`` is optional.
    lr, n_epochs, batch_size : float, int, int
        Peak learning rate, passes over ``train``, rows per step.
    weight_decay : float
        Decoupled weight decay (AdamW): each step shrinks every weight by ``lr * weight_decay``,
        where ``lr`` is that step's rate.
    schedule : {"one_cycle", "constant"}
        How the rate changes from step to step (``cflearn.optim.lr_schedule``).
    device : torch.device, str or cflearn.device.Device, optional
        Where to train; default: where the model already is.
    seed : int
        Seeds the shuffling and dropout, so a rerun on the CPU gives the same numbers. PyTorch's
        global random state is restored afterwards, so code after ``fit`` draws what it would have.
    progress : bool
        Show a progress bar (one step per epoch) with the latest loss and validation RMSE.

    Returns
    -------
    History
        Per epoch: the mean training MSE over the epoch's batches (no regulariser), the validation
        RMSE from predictions on the rating scale (NaN without ``valid``) and the training seconds
        (validation not included).

    Introduced in lesson 03.
    """
    _inputs.train_args(lr, n_epochs, batch_size, weight_decay)
    _inputs.framework_of(model, "torch")
    device = _device(device, model)
    user, item, rating = _tensors(train, model, device)  # checked before the model moves
    valid_tensors = _tensors(valid, model, device, name="valid") if valid is not None else None
    rates = optim.lr_schedule(lr, optim.n_steps(len(rating), batch_size, n_epochs), schedule).tolist()
    model.to(device)
    generator = torch.Generator().manual_seed(seed)  # shuffling, on the CPU so it is the same everywhere
    # The fused kernel updates all weights in one pass: several times faster for large embedding tables.
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=rates[0], betas=optim.BETAS, eps=optim.EPS,
                                  weight_decay=weight_decay, **fused)
    history = History("torch", type(model).__name__, n_ratings=len(rating))
    bar = tqdm(range(1, n_epochs + 1), desc=f"{type(model).__name__} (torch)", unit="epoch", disable=not progress, leave=True)
    cuda = [device] if device.type == "cuda" else []
    with _cpu_threads(device, batch_size), torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)  # dropout masks; fork_rng puts the global state back afterwards
        for epoch in bar:
            _epoch(model, optimizer, rates, user, item, rating, generator, batch_size, device, valid_tensors, history,
                   bar, epoch)
    bar.close()
    return history


def _epoch(model, optimizer, rates, user, item, rating, generator, batch_size, device, valid_tensors, history, bar, epoch):
    """One pass over the shuffled training rows, then validation; appends to ``history``."""
    n = len(rating)
    step = (epoch - 1) * ((n + batch_size - 1) // batch_size)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(n, generator=generator).to(device)
    total = torch.zeros((), device=device)
    for s in range(0, n, batch_size):
        batch = order[s : s + batch_size]
        optimizer.param_groups[0]["lr"] = rates[step]
        step += 1
        loss = torch.nn.functional.mse_loss(model(user[batch], item[batch]), rating[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(batch)
    train_loss = total.item() / n
    seconds = time.perf_counter() - start
    valid_rmse = None
    if valid_tensors is not None:
        pred = _predict_tensors(model, valid_tensors[0], valid_tensors[1], max(batch_size, 8192))
        valid_rmse = torch.sqrt(torch.mean((pred - valid_tensors[2]) ** 2)).item()
    history.add(epoch=epoch, train_loss=train_loss, valid_rmse=valid_rmse, seconds=seconds)
    bar.set_postfix(loss=f"{train_loss:.4f}", **({"valid_rmse": f"{valid_rmse:.4f}"} if valid_rmse is not None else {}))


def predict(model, df, batch_size: int = 8192, device=None) -> np.ndarray:
    """Predicted ratings for the rows of ``df`` (columns ``user``, ``item``), as float32 NumPy.

    Runs in eval mode (no dropout) and in batches. Rows with an index the model never saw are
    refused with a ``ValueError``; drop them with ``IdEncoder.transform(df, unseen="drop")``.

    Introduced in lesson 03.
    """
    _inputs.positive_int(batch_size, "batch_size")
    _inputs.framework_of(model, "torch")
    device = _device(device, model)
    user, item = _tensors(df, model, device, need_rating=False, name="df")
    model.to(device)
    return _predict_tensors(model, user, item, batch_size).float().cpu().numpy()
