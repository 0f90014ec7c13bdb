"""The benchmark: every model in both frameworks beside the baselines (and Surprise), in one run.

    python -m cflearn.bench --out bench-results            # full run: ml-latest-small + ml-100k u1-u5
    python -m cflearn.bench --quick --out bench-results    # ml-latest-small only
    python -m cflearn.bench --gpu-throughput --out DIR     # adds DotProductBias ratings/s on ml-25m (GPU)
    python -m cflearn.bench --scale 1e6,5e6,25e6 --out DIR # cost against data size, synthetic data (cflearn.scale)

Each row reports validation RMSE and MAE, training seconds, ratings per second, peak memory
(process RSS while training), epochs, device and library versions. Models use
``cflearn.recipes.RECIPES``, which were tuned on an inner split of training data only.
Writes ``results.csv`` (every run, every fold), ``results.md`` (tables) and
``rmse_vs_time.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from tqdm.auto import tqdm

from cflearn import baselines, data, metrics, peers, recipes

DATASET_NAMES = {"latest-small": "ml-latest-small", "ml-latest-small": "ml-latest-small", "ml-100k": "ml-100k"}
FRAMEWORKS = ("torch", "keras")


class PeakMemory:
    """Highest resident memory (MB) of this process while the ``with`` block runs (sampled)."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak_mb = 0.0

    def _sample(self):
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, proc.memory_info().rss / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, psutil.Process().memory_info().rss / 2**20)


def versions(frameworks) -> str:
    """``device.versions`` plus Surprise's version when it is installed."""
    from cflearn import device

    parts = [device.versions(frameworks)]
    with contextlib.suppress(ImportError):
        import surprise

        parts.append(f"surprise {surprise.__version__}")
    return ", ".join(parts)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, {psutil.virtual_memory().total / 2**30:.0f} GB RAM"


def _encode(train, test):
    """``data.encode_split`` quietly, plus how many test rows it dropped as unseen."""
    train_enc, test_enc, encoder = data.encode_split(train, test, names=("train", "test"), quiet=True)
    return train_enc, test_enc, encoder, len(test) - len(test_enc)


def splits(dataset: str):
    """``[(split_name, raw_train, raw_test)]``: the course split, or ml-100k's u1-u5."""
    if dataset == "ml-latest-small":
        ratings, _ = data.load_movielens("ml-latest-small", progress=False)
        train, valid = data.split_ratings(ratings, 0.2, seed=42)
        return [("course", train, valid)]
    if dataset == "ml-100k":
        return [(f"u{k}", tr, te) for k, (tr, te) in enumerate(data.load_ml100k_folds(), start=1)]
    raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(set(DATASET_NAMES))}.")


def _row(dataset, split, model, framework, y_true, y_pred, seconds, n_train, n_epochs, peak_mb, device, n_dropped,
         settings="", tuning_seconds=0.0):
    return {
        "dataset": dataset, "split": split, "model": model, "framework": framework,
        "rmse": metrics.rmse(y_true, y_pred), "mae": metrics.mae(y_true, y_pred), "train_seconds": seconds,
        "ratings_per_s": n_train * n_epochs / seconds if seconds > 0 else math.nan,
        "peak_rss_mb": peak_mb, "n_epochs": n_epochs, "n_train": n_train, "n_test": len(y_true),
        "test_dropped_unseen": n_dropped, "device": device, "settings": settings, "tuning_seconds": tuning_seconds,
    }


def run_baseline(name, train, test):
    model = baselines.GlobalMean() if name == "GlobalMean" else baselines.BiasBaseline()
    with PeakMemory() as mem:
        start = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - start
    return model.predict(test), seconds, 1, mem.peak_mb


def run_scratch(train, test):
    """Lesson 08's NumPy ``BiasedMF`` with its defaults."""
    from cflearn import scratch

    model = scratch.BiasedMF()
    with PeakMemory() as mem:
        start = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - start
    return model.predict(test).astype(np.float32), seconds, model.n_epochs, mem.peak_mb


def split_recipe(name, raw_train, tune=True):
    """``(recipe, settings, tuning seconds)`` for model ``name`` on one split.

    With ``tune``, ``recipes.tune`` searches ``recipes.TUNING_GRIDS[name]`` on an inner split of
    this split's own training part (never its test rows; on ml-100k each fold is tuned on its
    own ``uK.base``, since u1.base holds the test rows of u2-u5), with PyTorch; both frameworks
    then train with that recipe. Without ``tune``, ``recipes.RECIPES[name]`` as it stands.
    """
    recipe = dict(recipes.RECIPES[name])
    start = time.perf_counter()
    if tune:
        grid = recipes.TUNING_GRIDS[name]
        table = recipes.tune(name, grid, raw_train, progress=False)
        # column by column: a row of mixed settings would turn every integer into a float
        best = {k: table[k].iloc[0] for k in grid}
        recipe.update({k: v.item() if hasattr(v, "item") else v for k, v in best.items()})
        settings = " ".join(f"{k}={recipe[k]}" for k in grid)
    else:
        settings = "recipe"
    return recipe, settings, time.perf_counter() - start


def run_model(name, framework, train, test, encoder, recipe, seeds=(42,), device=None):
    """Train ``name`` once per seed; returns ``(predictions per seed, seconds, epochs, peak MB)``."""
    module = importlib.import_module(f"cflearn.{framework}")
    preds, seconds = [], []
    with PeakMemory() as mem:
        for seed in seeds:
            model, history = recipes.train(name, framework, train, None, encoder.n_users, encoder.n_items, recipe,
                                           seed=seed, device=device, progress=False)
            preds.append(module.predict(model, test))
            seconds.append(history.total_seconds)
    return preds, float(np.mean(seconds)), len(history), mem.peak_mb


def run_surprise(name, train, test):
    """Surprise model ``name``; returns predictions, fit seconds, epochs, peak MB, settings, tuning seconds."""
    rating_scale = (float(train.rating.min()), float(train.rating.max()))
    tuning, params = 0.0, None
    with PeakMemory() as mem:
        if name == "SVD (tuned)":  # timed apart, as our own models' tuning is
            start = time.perf_counter()
            params, _ = peers.tune_svd(train, rating_scale)
            tuning = time.perf_counter() - start
        start = time.perf_counter()
        pred, settings = peers.fit_predict(name, train, test, rating_scale, params=params)
        seconds = time.perf_counter() - start
    n_epochs = settings.get("n_epochs", 20 if name in ("SVD", "SVDpp") else 1)
    return pred, seconds, n_epochs, mem.peak_mb, " ".join(f"{k}={v}" for k, v in settings.items()), tuning


def surprise_available() -> bool:
    return peers.available()


def _device_names(frameworks, use_gpu):
    from cflearn import device as cfdevice

    dev = cfdevice.resolve(use_gpu, frameworks)
    return dev, ("gpu" if dev.is_gpu else "cpu")


def benchmark(datasets, models, frameworks, *, tune=True, ensemble=1, scratch=True, surprise=None, n_epochs=None,
              use_gpu=False, progress=True):
    """Run everything; returns ``(rows DataFrame, notes list)``.

    Every model is scored on the same test rows: those whose user and film occur in the split's
    training part (the others are counted in ``test_dropped_unseen``). ``ensemble`` > 1 adds, per
    model and framework, a row for the mean prediction of that many seeds (42, 43, ...).
    """
    notes = []
    dev, device_name = _device_names(frameworks, use_gpu)
    surprise_models = peers.SURPRISE_MODELS if surprise is None else tuple(surprise)
    if surprise_models and not peers.available():
        notes.append("Surprise: skipped (scikit-surprise is not installed; `pip install scikit-surprise` to compare).")
        surprise_models = ()
    jobs = [("GlobalMean", "numpy"), ("BiasBaseline", "numpy")] + ([("BiasedMF", "numpy")] if scratch else [])
    jobs += [(m, f) for m in models for f in frameworks]
    jobs += [(m, "surprise") for m in surprise_models]
    seeds = tuple(range(42, 42 + max(1, ensemble)))
    rows = []
    for dataset in datasets:
        folds = splits(dataset)
        bar = tqdm(total=len(folds) * len(jobs), desc=f"bench {dataset}", disable=not progress)
        for split, raw_train, raw_test in folds:
            train, test, encoder, dropped = _encode(raw_train, raw_test)
            y = test.rating.to_numpy()
            chosen = {}
            for model, framework in jobs:
                bar.set_postfix_str(f"{split} {model} ({framework})")
                settings, where, tuning = "", "cpu", 0.0
                if model in ("GlobalMean", "BiasBaseline"):
                    pred, sec, ep, mem = run_baseline(model, train, test)
                elif model == "BiasedMF":
                    pred, sec, ep, mem = run_scratch(train, test)
                    settings = "lesson 08 defaults"
                elif framework == "surprise":
                    pred, sec, ep, mem, settings, tuning = run_surprise(model, raw_train, test)
                else:
                    if model not in chosen:
                        chosen[model] = split_recipe(model, raw_train, tune)
                    recipe, settings, tuning = chosen[model]
                    tuning = tuning if framework == frameworks[0] else 0.0  # tuned once, with the first framework
                    recipe = {**recipe, "n_epochs": n_epochs or recipe["n_epochs"]}
                    device = dev.torch if framework == "torch" else dev.keras
                    preds, sec, ep, mem = run_model(model, framework, train, test, encoder, recipe, seeds, device)
                    pred, where = preds[0], device_name
                    if len(preds) > 1:
                        rows.append(_row(dataset, split, f"{model} x{len(preds)} seeds", framework, y,
                                         np.mean(preds, axis=0), sec * len(preds), len(train), ep * len(preds), mem,
                                         where, dropped, settings, tuning))
                rows.append(_row(dataset, split, model, framework, y, pred, sec, len(train), ep, mem, where, dropped,
                                 settings, tuning))
                bar.update(1)
        bar.close()
    return pd.DataFrame(rows), notes


def throughput(ratings, *, batch_sizes=(4096, 65536), n_epochs=2, device="cpu", progress=True):
    """PyTorch ``DotProductBias`` training ratings per second on encoded ``ratings``, per batch size."""
    encoder = data.IdEncoder()
    with contextlib.redirect_stdout(io.StringIO()):
        train = encoder.fit_transform(ratings)
    out = []
    for bs in batch_sizes:
        _, history = recipes.train("DotProductBias", "torch", train, None, encoder.n_users, encoder.n_items,
                                   device=device, progress=progress, n_epochs=n_epochs, batch_size=bs, lr=1e-2)
        # the first epoch includes warm-up (allocations, kernel choice): report the best epoch
        best = min(e["seconds"] for e in history.epochs)
        out.append({"batch_size": bs, "n_ratings": len(train), "ratings_per_s": len(train) / best,
                    "epoch_seconds": best, "device": str(device)})
    return pd.DataFrame(out)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per dataset x model x framework: mean (and std over folds) of each measure."""
    keys = ["dataset", "model", "framework"]
    rows = rows.assign(**{c: rows.get(c, default) for c, default in (("tuning_seconds", 0.0), ("settings", ""))})
    order = {k: i for i, k in enumerate(dict.fromkeys(zip(rows.dataset, rows.model, rows.framework)))}
    agg = rows.groupby(keys, sort=False).agg(
        rmse=("rmse", "mean"), rmse_std=("rmse", "std"), mae=("mae", "mean"), train_seconds=("train_seconds", "mean"),
        tuning_seconds=("tuning_seconds", "mean"), ratings_per_s=("ratings_per_s", "mean"),
        peak_rss_mb=("peak_rss_mb", "max"), n_epochs=("n_epochs", "first"),
        device=("device", "first"), folds=("split", "count"),
        settings=("settings", lambda v: v.iloc[0] if v.nunique() <= 1 else "chosen per fold (results.csv)"),
    ).reset_index()
    agg["_order"] = [order[tuple(r)] for r in agg[keys].itertuples(index=False)]
    return agg.sort_values("_order").drop(columns="_order").reset_index(drop=True)


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def write_outputs(out: Path, rows: pd.DataFrame, notes, header: str, throughput_table=None) -> dict:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cflearn import plotting

    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "results.csv", index=False)
    summary = summarise(rows)
    parts = [f"# cflearn benchmark\n\n{header}\n"]
    for dataset, table in summary.groupby("dataset", sort=False):
        folds = int(table.folds.max())
        what = "course split (80/20, seed 42)" if folds == 1 else f"official folds u1-u{folds}: mean, std over folds"
        shown = table.drop(columns=["dataset"] + ([] if folds > 1 else ["rmse_std", "folds"]))
        parts.append(f"## {dataset}: {what}\n\n{_markdown(shown)}\n")
    if throughput_table is not None and len(throughput_table):
        parts.append(f"## Training throughput: PyTorch DotProductBias\n\n{_markdown(throughput_table)}\n")
    parts += [f"- {n}" for n in notes]
    (out / "results.md").write_text("\n".join(parts) + "\n")
    first = summary[summary.dataset == summary.dataset.iloc[0]]
    first = first[~first.model.str.contains(" seeds")]  # single models only: the chart stays readable
    # A Figure of its own (no pyplot): the benchmark never changes the caller's matplotlib backend.
    figure = Figure(figsize=(9, 6))
    FigureCanvasAgg(figure)  # a canvas that can measure and save text, for this figure only
    ax = figure.add_subplot()
    plotting.compare(first.rename(columns={"train_seconds": "seconds"}), ax=ax,
                     title=f"{first.dataset.iloc[0]}: validation RMSE against training time")
    ax.figure.tight_layout()
    ax.figure.savefig(out / "rmse_vs_time.png", dpi=120)
    return {"csv": out / "results.csv", "md": out / "results.md", "png": out / "rmse_vs_time.png"}


def _csv_list(text, allowed, what):
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise SystemExit(f"unknown {what} {bad or text!r}; choose from {', '.join(allowed)}")
    return values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cflearn.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for results.md, results.csv, rmse_vs_time.png")
    parser.add_argument("--quick", action="store_true", help="ml-latest-small only (unless --datasets says otherwise)")
    parser.add_argument("--datasets", default=None, help="comma-separated: latest-small,ml-100k (default: both)")
    parser.add_argument("--models", default=",".join(recipes.MODEL_NAMES), help="comma-separated model names")
    parser.add_argument("--frameworks", default="torch,keras", help="comma-separated: torch,keras")
    parser.add_argument("--n-epochs", type=int, default=None, help="override every recipe's n_epochs (smoke tests)")
    parser.add_argument("--no-tune", action="store_true",
                        help="train RECIPES as they stand instead of tuning each split on its own training part")
    parser.add_argument("--ensemble", type=int, default=1, metavar="N",
                        help="also report the mean prediction of N seeds for each model (default 1: none)")
    parser.add_argument("--surprise", default=",".join(peers.SURPRISE_MODELS),
                        help="comma-separated Surprise models to run beside ours, or 'none'")
    parser.add_argument("--no-scratch", action="store_true", help="leave out lesson 08's NumPy BiasedMF")
    parser.add_argument("--gpu", action="store_true", help="train on a GPU if one exists (default: CPU)")
    parser.add_argument("--throughput", action="store_true", help="also measure CPU/GPU ratings/s on the first dataset")
    parser.add_argument("--gpu-throughput", action="store_true", help="DotProductBias ratings/s on ml-25m, large batches, GPU")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--synthetic", default=None, metavar="N",
                        help="instead: DotProductBias cost on N synthetic ratings (cflearn.scale; writes scale.md/csv/png)")
    parser.add_argument("--scale", default=None, metavar="SIZES",
                        help="instead: the same for each size in a comma-separated list, e.g. 1e6,5e6,25e6")
    parser.add_argument("--scale-batch-size", type=int, default=None, help="batch size for --synthetic/--scale")
    parser.add_argument("--scale-lr", type=float, default=None, help="peak learning rate for --synthetic/--scale")
    parser.add_argument("--scale-threads", type=int, default=None,
                        help="CPU threads for --synthetic/--scale (default: cflearn's choice)")
    args = parser.parse_args(argv)
    if args.synthetic or args.scale:
        return _scale(args)

    datasets = args.datasets or ("latest-small" if args.quick else "latest-small,ml-100k")
    datasets = [DATASET_NAMES[d] for d in _csv_list(datasets, list(DATASET_NAMES), "dataset")]
    models = _csv_list(args.models, list(recipes.MODEL_NAMES), "model")
    frameworks = _csv_list(args.frameworks, list(FRAMEWORKS), "framework")
    progress = not args.no_progress
    header = f"Measured on {machine()}; {versions(frameworks)}; started {time.strftime('%Y-%m-%d %H:%M %Z')}."
    print(header)
    surprise = [] if args.surprise == "none" else _csv_list(args.surprise, list(peers.SURPRISE_MODELS), "Surprise model")
    rows, notes = benchmark(datasets, models, frameworks, tune=not args.no_tune, ensemble=args.ensemble,
                            scratch=not args.no_scratch, surprise=surprise, n_epochs=args.n_epochs, use_gpu=args.gpu,
                            progress=progress)
    tables = []
    if args.throughput and "torch" in frameworks:
        ratings, _ = data.load_movielens(datasets[0], progress=False) if datasets[0] != "ml-100k" else (
            pd.concat(data.load_ml100k_folds()[0]), None)
        dev, _ = _device_names(("torch",), args.gpu)
        tables.append(throughput(ratings, device=dev.torch, progress=progress).assign(dataset=datasets[0]))
    if args.gpu_throughput:
        import torch

        if torch.cuda.is_available():
            ratings, _ = data.load_movielens("ml-25m", progress=progress)
            tables.append(throughput(ratings, batch_sizes=(65536, 262144, 1048576), device=torch.device("cuda"),
                                     progress=progress).assign(dataset="ml-25m"))
        else:
            notes.append("GPU throughput: skipped (no CUDA GPU on this machine).")
            print("GPU throughput: skipped (no CUDA GPU on this machine).")
    files = write_outputs(Path(args.out), rows, notes, header, pd.concat(tables) if tables else None)
    print(summarise(rows)[["dataset", "model", "framework", "rmse", "rmse_std", "mae", "train_seconds"]].to_string(index=False))
    for note in notes:
        print(note)
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 0


def _scale(args) -> int:
    """``--synthetic N`` / ``--scale SIZES``: the growth table of ``cflearn.scale``."""
    from cflearn import scale

    frameworks = _csv_list(args.frameworks, list(FRAMEWORKS), "framework")
    args.frameworks = ",".join(frameworks)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.surprise != "none":
        _csv_list(args.surprise, list(peers.SURPRISE_MODELS), "Surprise model")
    args.scale_batch_size = args.scale_batch_size or scale.BATCH_SIZE
    args.scale_lr = args.scale_lr or scale.LR
    header = f"Measured on {machine()}; {versions(frameworks)}; started {time.strftime('%Y-%m-%d %H:%M %Z')}."
    print(header)
    return scale.run(args, header)


if __name__ == "__main__":
    sys.exit(main())
