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
    ],
    # ---- lesson 03 ----
    "03": [
    ],
    # ---- lesson 04 ----
    "04": [
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
        # course split
        Claim("the bias baseline is far better than the global mean", "course_bias < course_gm - 0.1"),
        Claim("every model with biases beats the bias baseline",
              "max(course_biasedmf, course_DotProductBias, course_NeuralCF, course_ResidualCF) < course_bias"),
        Claim("DotProduct, with no biases, does worse than the bias baseline", "course_DotProduct > course_bias"),
        Claim("BiasedMF beats the bias baseline but not DotProductBias",
              "course_DotProductBias < course_biasedmf < course_bias"),
        Claim("PyTorch and Keras agree to within 0.005 RMSE", "course_max_framework_gap <= 0.005"),
        # ml-100k folds, paired
        Claim("biases are the big, reliable step: far better than the global mean on every fold",
              "folds_gm_wins == 5 and folds_gm_diff_mean - folds_bias_diff_mean > 0.1"),
        Claim("the best model beats the bias baseline on every fold", "folds_bias_wins == 5"),
        Claim("...by a mean paired difference several times its spread",
              "folds_bias_diff_mean > 3 * folds_bias_diff_std"),
        Claim("both contenders beat the bias baseline on every fold", "folds_contenders_beat_bias_every_fold == 1"),
        Claim("the two strongest: mean paired difference smaller than its spread",
              "abs(folds_runner_up_diff_mean) < folds_runner_up_diff_std"),
        Claim("...and neither wins every fold", "1 <= folds_runner_up_wins <= 4"),
        Claim("a model's own RMSE moves more over folds than the paired differences",
              "folds_best_own_std > max(folds_bias_diff_std, folds_runner_up_diff_std)"),
        # scale
        Claim("seconds per epoch grow with the ratings, roughly in proportion",
              "0.3 * scale_size_ratio < scale_time_ratio < 2 * scale_size_ratio"),
        Claim("the ratings frame grows in proportion to the ratings", "abs(scale_data_ratio / scale_size_ratio - 1) < 0.05"),
        Claim("this process's peak memory barely moves", "scale_peak_ratio < 1.5"),
        Claim("more ratings bring the held-out RMSE closer to the planted model's, staying above it",
              "scale_floor_large < scale_rmse_large < scale_rmse_small"),
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
