"""Every sentence a lesson states about a result, as an assertion over numbers the lesson records.

How a new claim gets its assertion (for instructors):
1. In the solution notebook, the cell that prints the numbers behind the sentence also calls
   ``claims.record(name=value, ...)`` (``from cflearn import claims``; it prints nothing).
2. Add a ``Claim`` below under the lesson's number: ``says`` quotes the sentence's gist as the
   lesson states it, ``holds`` is a Python expression over the recorded names that is true
   exactly when the sentence is. Allow a tolerance where the sentence allows one.
3. ``make test`` executes the notebook and checks every claim of that lesson; a failure prints
   the sentence and the recorded values. A sentence with no claim here is a sentence to delete.
Lessons run in solutions/ and lessons/ alike (the checks run after each notebook's last cell).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    says: str  # the lesson's sentence (its gist), so a failure names what became false
    holds: str  # a Python expression over the recorded names


CLAIMS: dict[str, list[Claim]] = {
    # ---- lesson 00 ----
    "00": [
    ],
    # ---- lesson 01 ----
    "01": [
    ],
    # ---- lesson 02 ----
    "02": [
        Claim(says="only the rows a batch used get a gradient", holds="grad_rows_are_batch_rows"),
        Claim(says="with plain SGD only the rows the batch used move", holds="moved_sgd == n_batch_rows"),
        Claim(says="AdamW's weight decay moves every row of the table at every step", holds="moved_adamw == n_users"),
        Claim(says="AdamW's momentum keeps moving rows that earlier batches used",
              holds="moved_momentum == n_batch_rows + n_second_rows"),
    ],
    # ---- lesson 03 ----
    "03": [
        Claim(says="your classes and the package's give identical predictions from the same weights",
              holds="torch_gap < 1e-6 and keras_gap < 1e-6"),
        Claim(says="with the same weights PyTorch and Keras predict the same", holds="frameworks_gap < 1e-5"),
        Claim(says="Keras's val_rmse metric is the RMSE of the model's predictions",
              holds="abs(keras_metric - keras_rmse_one) < 1e-3"),
        Claim(says="the recipe's learning rate gives the lowest inner validation RMSE, so we keep it",
              holds="chosen_lr == recipe_lr and lr_mid < lr_low and lr_mid < lr_high"),
        Claim(says="the smallest learning rate is too slow: still far above after the same epochs",
              holds="lr_low - lr_mid > 0.1"),
        Claim(says="the largest learning rate ends with the lowest training loss but a worse validation RMSE",
              holds="train_high < train_mid and lr_high > lr_mid"),
        Claim(says="with the one-cycle schedule every validation curve is still falling at the last epoch",
              holds="best_epoch_low == best_epoch_mid == best_epoch_high == n_epochs"),
        Claim(says="the validation RMSE falls until the last epoch in both frameworks",
              holds="torch_best_epoch == keras_best_epoch == 5"),
        Claim(says="the two frameworks end within a few thousandths", holds="abs(torch_rmse - keras_rmse) < 0.005"),
        Claim(says="the plain dot product stays worse than the bias baseline",
              holds="torch_rmse > base_rmse and keras_rmse > base_rmse"),
    ],
    # ---- lesson 04 ----
    "04": [
        Claim(says="a fresh model without y_range predicts about 0", holds="fresh_raw < 0.1"),
        Claim(says="with y_range=(0.5, 5.5) a fresh model predicts the middle, 3.0", holds="fresh_middle < 0.1"),
        Claim(says="with a global-mean offset a fresh model predicts the training mean", holds="fresh_mean < 0.1"),
        Claim(says="your classes and the package's give identical predictions from the same weights",
              holds="torch_gap < 1e-5 and keras_gap < 1e-5"),
        Claim(says="with the same weights PyTorch and Keras predict the same", holds="frameworks_gap < 1e-5"),
        Claim(says="every change makes the model worse than the recipe on the inner split",
              holds="min(abl_frozen, abl_wd0, abl_no_y_range, abl_global_mean) > abl_recipe"),
        Claim(says="freezing the biases at 0 makes the inner RMSE clearly worse: the biases earn their place",
              holds="abl_frozen > abl_recipe + 0.005"),
        Claim(says="without weight decay the validation RMSE is best at an early epoch (the model overfits)",
              holds="epoch_wd0 < n_epochs and abl_wd0 > abl_recipe + 0.005"),
        Claim(says="without weight decay the training loss keeps falling while the validation RMSE rises",
              holds="wd0_loss_falls"),
        Claim(says="with the recipe's weight decay the inner curve is still falling at the last epoch",
              holds="epoch_recipe == n_epochs"),
        Claim(says="of the changes that keep the sigmoid, dropping weight decay costs the most",
              holds="abl_wd0 > max(abl_frozen, abl_global_mean)"),
        Claim(says="without y_range the model ends furthest behind the recipe",
              holds="abl_no_y_range == max(abl_frozen, abl_wd0, abl_no_y_range, abl_global_mean)"),
        Claim(says="the global-mean offset makes the model slightly worse, its best epoch before the last",
              holds="abl_global_mean > abl_recipe and epoch_global_mean < n_epochs"),
        Claim(says="so the recipe keeps y_range and leaves the global mean out",
              holds="recipe_without_global_mean and recipe_with_y_range"),
        Claim(says="with the recipe the validation RMSE flattens out by the last epoch",
              holds="torch_final_above_best < 0.002 and keras_final_above_best < 0.002"),
        Claim(says="DotProductBias beats the bias baseline in both PyTorch and Keras",
              holds="torch_rmse < base_rmse and keras_rmse < base_rmse"),
        Claim(says="the two frameworks agree within a few thousandths", holds="abs(torch_rmse - keras_rmse) < 0.005"),
    ],
    # ---- lesson 05 ----
    "05": [
    ],
    # ---- lesson 06 ----
    "06": [
    ],
    # ---- lesson 07 ----
    "07": [
    ],
    # ---- lesson 08 ----
    "08": [
    ],
    # ---- lesson 09 ----
    "09": [
    ],
    # ---- lesson 10 ----
    "10": [
    ],
}


def load(path) -> dict:
    """The values a notebook recorded (the last one wins for a name recorded twice)."""
    values = {}
    with open(path, encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            values[entry["name"]] = entry["value"]
    return values


def failures(lesson: str, values: dict) -> list[str]:
    """Messages for the claims of ``lesson`` that do not hold on ``values`` (empty: all hold)."""
    out = []
    for claim in CLAIMS.get(lesson, []):
        try:
            ok = bool(eval(claim.holds, {"abs": abs, "min": min, "max": max, "math": math}, dict(values)))  # noqa: S307
        except NameError as err:
            out.append(f"{claim.says!r}: the notebook recorded no {err.name!r} (recorded: {sorted(values)})")
            continue
        if not ok:
            used = {k: v for k, v in values.items() if k in claim.holds}
            out.append(f"{claim.says!r} no longer holds: {claim.holds} is false with {used}")
    return out
