"""The ranking benchmark: every model's full-ranking metrics at 10 on the course split, beside ``implicit``.

``python -m cflearn.bench_ranking --out DIR`` writes ``ranking.csv`` and ``ranking.md``: the most-popular
baseline, the four rating models (recipes, ranked by their scores), ``BPRMF`` in both frameworks
(``ranking.BPR_RECIPE``) and, when the ``implicit`` extra is installed, its BPR and ALS with their
defaults, all ranked by the same ``top_n`` with training items excluded and scored by the same
``metrics.ranking_metrics``. An instructors' tool, kept out of the lessons.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

import pandas as pd

from cflearn import data, metrics, peers, ranking, recipes

K = 10


def run(seed: int = 42, frameworks=("torch", "keras"), progress: bool = False) -> pd.DataFrame:
    course = data.course_data(seed=seed, progress=progress, quiet=True)
    train, valid = course.train, course.valid
    n_users, n_items = course.encoder.n_users, course.encoder.n_items
    relevant = ranking.relevance(valid, n_users, n_items)
    seen = ranking.interactions(train, n_users, n_items)
    counts = ranking.item_counts(train, n_items)
    rows = []

    def add(name, framework, scores, seconds):
        top = ranking.top_n(scores, K, exclude=seen)
        row = metrics.ranking_metrics(scores, relevant, K, exclude=seen)
        rows.append({"model": name, "framework": framework, **row, "coverage": metrics.coverage(top, n_items),
                     "popularity": metrics.mean_popularity(top, counts), "seconds": round(seconds, 1)})

    add("most popular", "", ranking.popularity_scores(train, n_users, n_items), 0.0)
    for framework in frameworks:
        module = importlib.import_module(f"cflearn.{framework}")
        for name in recipes.MODEL_NAMES:
            start = time.perf_counter()
            model, _ = recipes.train(name, framework, train, valid, n_users, n_items, seed=seed, progress=progress)
            add(name, framework, ranking.score_matrix(model), time.perf_counter() - start)
        settings = dict(ranking.BPR_RECIPE)
        n_factors = settings.pop("n_factors")
        from cflearn.device import seed_everything

        seed_everything(seed, frameworks=(framework,))
        start = time.perf_counter()
        model = module.BPRMF(n_users, n_items, n_factors)
        module.fit_bpr(model, train, seed=seed, progress=progress, **settings)
        add("BPRMF", framework, ranking.score_matrix(model), time.perf_counter() - start)
    if peers.implicit_available():
        for name in peers.IMPLICIT_MODELS:
            start = time.perf_counter()
            scores = peers.implicit_scores(name, train, n_users, n_items, seed=seed)
            add(name, "implicit", scores, time.perf_counter() - start)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for ranking.csv and ranking.md")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = run(seed=args.seed)
    table.to_csv(out / "ranking.csv", index=False)
    (out / "ranking.md").write_text(table.round(4).to_markdown(index=False) if _has_tabulate() else table.round(4).to_string())
    print(table.round(4).to_string(index=False))
    if not peers.implicit_available():
        print("implicit is not installed (pip install implicit): its rows are missing.")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
