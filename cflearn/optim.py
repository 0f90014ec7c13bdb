"""The optimiser settings both training helpers share: AdamW's constants and the learning-rate schedule.

``cflearn.torch.fit`` and ``cflearn.keras.fit`` read everything here, so the two frameworks take
the same steps. The schedule is a plain NumPy table with one learning rate per optimiser step,
built once before training: PyTorch sets each step's rate from it and Keras looks it up inside
its compiled training loop. NumPy only. Introduced in lesson 03.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BETAS", "EPS", "SCHEDULES", "lr_schedule", "n_steps"]

# Adam's moment decay rates and its denominator guard. beta2 = 0.99 (not 0.999) lets the
# per-weight step size follow the gradient's scale within about a hundred steps, which matters
# when a one-cycle schedule changes the rate every step; eps = 1e-5 keeps rarely seen embedding
# rows, whose squared-gradient average is tiny, from taking huge steps.
BETAS = (0.9, 0.99)
EPS = 1e-5

SCHEDULES = ("one_cycle", "constant")


def n_steps(n_rows: int, batch_size: int, n_epochs: int) -> int:
    """Optimiser steps in a run: ``ceil(n_rows / batch_size)`` per epoch (the last batch may be short)."""
    return math.ceil(n_rows / batch_size) * n_epochs


def lr_schedule(lr: float, total_steps: int, schedule: str = "one_cycle", *, warmup: float = 0.25,
                div: float = 25.0, final_div: float = 1e5) -> np.ndarray:
    """The learning rate for each optimiser step, as a float32 array of length ``total_steps``.

    Parameters
    ----------
    lr : float
        The peak (``"one_cycle"``) or the only (``"constant"``) learning rate.
    total_steps : int
        Number of optimiser steps in the whole run (see ``n_steps``).
    schedule : {"one_cycle", "constant"}
        ``"one_cycle"`` warms up from ``lr / div`` to ``lr`` over the first ``warmup`` fraction of
        the steps along half a cosine, then anneals to ``lr / final_div`` along another half cosine.
        A large rate early moves the embeddings far from their small random start; a tiny rate at
        the end lets the weights settle, so the last epoch is also the best one and no early
        stopping on validation data is needed.

    Introduced in lesson 03.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}.")
    steps = np.arange(total_steps, dtype=np.float64)
    if schedule == "constant":
        return np.full(total_steps, lr, dtype=np.float32)
    up = max(1, int(total_steps * warmup))
    low, end = lr / div, lr / final_div
    rising = low + (lr - low) * (1 - np.cos(np.pi * steps / up)) / 2
    frac = (steps - up) / max(1, total_steps - up)
    falling = end + (lr - end) * (1 + np.cos(np.pi * np.clip(frac, 0.0, 1.0))) / 2
    return np.where(steps < up, rising, falling).astype(np.float32)
