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
        Claim(says="the tuned dot product with biases beats NeuralCF on the validation split",
              holds="rmse_nn_torch > rmse_dpb_torch"),
        Claim(says="the two frameworks give close numbers with the same recipe",
              holds="abs(rmse_nn_torch - rmse_nn_keras) < 0.01"),
        Claim(says="on the inner split every seed of DotProductBias beats every seed of NeuralCF",
              holds="inner_dpb_worst < inner_nn_best"),
        Claim(says="the mean gap is larger than either model's spread over seeds",
              holds="inner_gap_mean > max(inner_nn_worst - inner_nn_best, inner_dpb_worst - inner_dpb_best)"),
        Claim(says="no width or dropout in the sweep brings NeuralCF down to DotProductBias (best setting above its worst seed)",
              holds="ablation_best > inner_dpb_worst"),
        Claim(says="the swept settings move the RMSE by less than the gap between the two models",
              holds="ablation_spread < inner_gap_mean"),
    ],
    # ---- lesson 06 ----
    "06": [
        Claim(says="with the recipe the side branch varies more than the main branch (validation rows)",
              holds="side_std > main_std"),
        Claim(says="with weight decay the side branch varies more than the main branch (inner split)",
              holds="side_std_wd > main_std_wd"),
        Claim(says="without weight decay the roles swap: the main branch varies more, the MLP is a small correction",
              holds="main_std_no_wd > side_std_no_wd"),
        Claim(says="the inner-split RMSE is clearly worse without weight decay",
              holds="rmse_no_wd > rmse_wd + 0.01"),
        Claim(says="ResidualCF in the two frameworks gives close numbers with the same recipe",
              holds="abs(rmse_res_torch - rmse_res_keras) < 0.01"),
        Claim(says="the bias baseline is far ahead of the global mean",
              holds="rmse_GlobalMean - rmse_BiasBaseline > 0.1"),
        Claim(says="the plain dot product does not even reach the bias baseline",
              holds="rmse_DotProduct > rmse_BiasBaseline"),
        Claim(says="adding biases is the big step: DotProductBias gains more over DotProduct than any later model changes",
              holds="rmse_DotProduct - rmse_DotProductBias > max(abs(rmse_ResidualCF - rmse_DotProductBias), "
                    "abs(rmse_NeuralCF - rmse_DotProductBias))"),
        Claim(says="ResidualCF and DotProductBias end up within a few thousandths; ResidualCF does not clearly beat it",
              holds="abs(rmse_ResidualCF - rmse_DotProductBias) < 0.005"),
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
