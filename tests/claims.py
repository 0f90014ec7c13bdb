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
    ],
    # ---- lesson 10 ----
    "10": [
        Claim(says="some users have no relevant held-out film; they are counted and left out", holds="n_without_relevant > 0"),
        Claim(says="the most-popular list is a strong baseline: the rating model ranks worse than it",
              holds="pop_recall > dpb_recall and pop_ndcg > dpb_ndcg"),
        Claim(says="the rating model's lists reach further into the catalogue and recommend less popular films",
              holds="dpb_coverage > pop_coverage and dpb_popularity < pop_popularity"),
        Claim(says="BPR beats the most-popular list on recall@10 and NDCG@10 in both frameworks",
              holds="min(bpr_t_recall, bpr_k_recall) > pop_recall and min(bpr_t_ndcg, bpr_k_ndcg) > pop_ndcg"),
        Claim(says="the two frameworks' BPR agree within a few percent",
              holds="abs(bpr_t_recall - bpr_k_recall) / bpr_t_recall < 0.05 and abs(bpr_t_ndcg - bpr_k_ndcg) / bpr_t_ndcg < 0.05"),
        Claim(says="BPR's lists have higher coverage than the popularity list", holds="bpr_t_coverage > pop_coverage"),
        Claim(says="on this data sampled and full metrics order the four models the same way", holds="orders_agree == 1.0"),
        Claim(says="every sampled hit rate is several times the full recall@10",
              holds="min(sampled_pop / pop_recall, sampled_dpb / dpb_recall, sampled_bpr_t / bpr_t_recall) > 3"),
        Claim(says="the BPR-vs-popular gap looks smaller under sampling than under full ranking",
              holds="sampled_bpr_t / sampled_pop < bpr_t_ndcg / pop_ndcg"),
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
