"""How training cost grows with data size, on synthetic MovieLens-like data (``cflearn.synthetic``).

    python -m cflearn.bench --synthetic 1000000 --out DIR       # one size
    python -m cflearn.bench --scale 1e6,5e6,25e6 --out DIR      # a growth table; add --gpu for a GPU

Per size: ``DotProductBias`` with its recipe's model settings in PyTorch and Keras, trained at a
large batch (``BATCH_SIZE``) with a peak learning rate grown for it (``LR``: the recipe's 5e-3 was
tuned for batches of 64; 0.01, 0.03 and 0.1 were tried on 1M synthetic ratings and 0.1 learned
most in ``N_EPOCHS``; this is a cost benchmark, not a tuned result), reporting
ratings per second and seconds per epoch after the first (warm-up) epoch, the peak resident
memory of the process, and the RMSE on held-out ratings beside the planted model's own RMSE
(the noise floor). Beside them, in the same run: Surprise SVD's updates per second for one
epoch (its ``fit`` only, on at most ``SURPRISE_CAP`` ratings) and a memory-bandwidth ceiling
(a large NumPy copy, turned into ratings per second with ``bytes_per_rating``). Each size and
framework runs in a fresh Python process, so its peak memory is its own. Writes ``scale.csv``,
``scale.md`` and ``scale.png`` into ``--out``. An instructors' tool, kept in the package beside
``cflearn.bench`` so that it runs from a pip-installed cflearn too.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BATCH_SIZE = 65_536
LR = 0.1
N_EPOCHS = 4  # the first is warm-up; the others are timed
SURPRISE_CAP = 5_000_000
VALID_FRAC = 0.1


def bandwidth(n_bytes: int = 2**29, repeats: int = 3) -> float:
    """Memory bandwidth in bytes/s: the best of ``repeats`` copies of an ``n_bytes`` array (read + write)."""
    src = np.ones(n_bytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best


def bytes_per_rating(n_factors: int, batch_size: int, n_users: int, n_items: int) -> float:
    """A lower bound on the memory traffic of one rating in one ``DotProductBias`` training step.

    Per rating: its two indices and its rating (8 + 8 + 4 bytes), reading the user's and the
    film's factor row and bias in the forward pass and writing their gradients in the backward
    pass (4 * (n_factors + 1) float32 numbers each way, for each of the two). Per step, shared
    by the batch: AdamW reads weights, gradients and two moments and writes weights and
    moments for every row of both tables (7 passes over them).
    """
    row = 4 * (n_factors + 1)
    per_rating = 20 + 2 * 2 * row
    per_step = 7 * (n_users + n_items) * row
    return per_rating + per_step / batch_size


def _prepare(n_ratings: int, seed: int):
    from cflearn import data, synthetic

    made = synthetic.generate(n_ratings, seed=seed)
    train_raw, valid_raw = data.split_ratings(made.ratings, VALID_FRAC, seed=seed)
    train, valid, encoder = data.encode_split(train_raw, valid_raw, quiet=True)
    floor = float(np.sqrt(np.mean((valid.rating.to_numpy() - made.planted.predict(valid.userId, valid.movieId)) ** 2)))
    return made, train_raw, train, valid, encoder, floor


def measure_one(n_ratings: int, framework: str, *, use_gpu: bool = False, batch_size: int = BATCH_SIZE, lr: float = LR,
                n_epochs: int = N_EPOCHS, seed: int = 42, threads: int | None = None) -> dict:
    """Train and time one framework (``"torch"``, ``"keras"`` or ``"surprise"``) at one size; one row.

    ``threads`` sets the framework's CPU threads (TensorFlow's two pools alike) before it
    starts; None keeps what cflearn does by default.
    """
    from cflearn import bench, metrics, recipes

    if threads:
        _set_threads(framework, threads)

    with bench.PeakMemory() as mem:
        made, train_raw, train, valid, encoder, floor = _prepare(n_ratings, seed)
        row = {"n_ratings": n_ratings, "n_users": encoder.n_users, "n_items": encoder.n_items, "framework": framework,
               "n_train": len(train), "planted_rmse": floor}
        if framework == "surprise":
            row.update(_surprise(train_raw, seed))
        else:
            row.update(_ours(framework, train, valid, encoder, use_gpu, batch_size, lr, n_epochs, seed, metrics, recipes))
    row["threads"] = threads or "default"
    row["peak_rss_mb"] = mem.peak_mb
    row["data_mb"] = made.ratings.memory_usage(deep=True).sum() / 2**20
    return row


def _set_threads(framework: str, threads: int) -> None:
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
    elif framework == "keras":
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)


def _ours(framework, train, valid, encoder, use_gpu, batch_size, lr, n_epochs, seed, metrics, recipes):
    import importlib

    from cflearn import device as cfdevice

    dev = cfdevice.resolve(use_gpu, (framework,))
    model, history = recipes.train("DotProductBias", framework, train, None, encoder.n_users, encoder.n_items,
                                   seed=seed, device=dev.torch if framework == "torch" else dev.keras, progress=False,
                                   batch_size=batch_size, lr=lr, n_epochs=n_epochs)
    seconds = [e["seconds"] for e in history.epochs]
    timed = seconds[1:] or seconds  # the first epoch pays for warm-up (allocation, tracing, compiling)
    pred = importlib.import_module(f"cflearn.{framework}").predict(model, valid, batch_size=batch_size)
    return {"device": "gpu" if dev.is_gpu else "cpu", "batch_size": batch_size, "lr": lr, "n_epochs": n_epochs,
            "epoch_seconds": float(np.mean(timed)), "first_epoch_seconds": seconds[0],
            "ratings_per_s": len(train) / float(np.mean(timed)), "valid_rmse": metrics.rmse(valid.rating, pred)}


def _surprise(train_raw, seed):
    """Surprise SVD, one epoch, on at most ``SURPRISE_CAP`` training ratings: its ``fit`` timed alone."""
    import surprise

    rows = train_raw if len(train_raw) <= SURPRISE_CAP else train_raw.sample(SURPRISE_CAP, random_state=seed)
    trainset = surprise.Dataset.load_from_df(rows[["userId", "movieId", "rating"]],
                                             surprise.Reader(rating_scale=(0.5, 5.0))).build_full_trainset()
    algo = surprise.SVD(n_epochs=1, random_state=seed)
    start = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - start
    return {"device": "cpu", "n_epochs": 1, "epoch_seconds": seconds, "ratings_per_s": len(rows) / seconds,
            "surprise_rows": len(rows)}


def _run_isolated(n_ratings, framework, use_gpu, batch_size, lr, n_epochs, threads):
    """``measure_one`` in a fresh interpreter, so the peak memory is that run's alone."""
    code = ("import json, sys; from cflearn import scale; "
            f"print('@@' + json.dumps(scale.measure_one({n_ratings}, {framework!r}, use_gpu={use_gpu}, "
            f"batch_size={batch_size}, lr={lr}, n_epochs={n_epochs}, threads={threads})))")
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("@@")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"n_ratings": n_ratings, "framework": framework, "error": tail}
    return json.loads(lines[-1][2:])


def sweep(sizes, frameworks=("torch", "keras"), *, use_gpu=False, surprise=True, batch_size=BATCH_SIZE, lr=LR,
          n_epochs=N_EPOCHS, threads=None, isolate=True, progress=True) -> pd.DataFrame:
    """One row per size and framework (plus Surprise SVD where installed); see the module docstring."""
    from tqdm.auto import tqdm

    from cflearn import peers

    jobs = [(n, f) for n in sizes for f in (*frameworks, *(("surprise",) if surprise and peers.available() else ()))]
    rows = []
    for n, framework in tqdm(jobs, desc="scale", disable=not progress):
        if isolate:
            rows.append(_run_isolated(n, framework, use_gpu, batch_size, lr, n_epochs, threads))
        else:
            rows.append(measure_one(n, framework, use_gpu=use_gpu, batch_size=batch_size, lr=lr, n_epochs=n_epochs,
                                    threads=threads))
    table = pd.DataFrame(rows)
    bw = bandwidth()
    ok = table.n_users.notna() if "n_users" in table else pd.Series(False, index=table.index)
    table["bandwidth_bound_ratings_per_s"] = np.nan
    table.loc[ok, "bandwidth_bound_ratings_per_s"] = [
        bw / bytes_per_rating(50, batch_size, int(u), int(i)) for u, i in zip(table.n_users[ok], table.n_items[ok])]
    table.attrs["bandwidth_gb_s"] = bw / 1e9
    return table


def parse_sizes(text: str) -> list[int]:
    """``"1e6,5e6,25e6"`` -> ``[1000000, 5000000, 25000000]``; a clear ``SystemExit`` otherwise."""
    sizes = []
    for part in str(text).split(","):
        try:
            value = float(part.strip().replace("_", ""))
        except ValueError:
            raise SystemExit(f"--scale/--synthetic: {part.strip()!r} is not a number of ratings; write e.g. 1e6,5e6.")
        if not value.is_integer() or value < 100:
            raise SystemExit(f"--scale/--synthetic: sizes are whole numbers of ratings, at least 100; got {part.strip()!r}.")
        sizes.append(int(value))
    return sizes


def write_outputs(out: Path, table: pd.DataFrame, header: str) -> dict:
    """``scale.csv``, ``scale.md`` (the growth table) and ``scale.png`` (ratings/s and memory against N)."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from cflearn import bench

    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "scale.csv", index=False)
    cols = [c for c in ("n_ratings", "n_users", "n_items", "framework", "device", "threads", "batch_size", "epoch_seconds",
                        "ratings_per_s", "bandwidth_bound_ratings_per_s", "peak_rss_mb", "valid_rmse", "planted_rmse",
                        "error") if c in table]
    notes = [f"Memory bandwidth (NumPy copy of 512 MB): {table.attrs.get('bandwidth_gb_s', float('nan')):.1f} GB/s; "
             "the bound divides it by `cflearn.scale.bytes_per_rating`.",
             f"Surprise SVD: one epoch (`fit` only) on at most {SURPRISE_CAP:,} training ratings."]
    (out / "scale.md").write_text(f"# Training cost against data size (synthetic MovieLens-like data)\n\n{header}\n\n"
                                  + bench._markdown(table[cols]) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    fig = Figure(figsize=(10, 4))
    ax_speed, ax_mem = fig.subplots(1, 2)
    for framework, part in table.dropna(subset=["ratings_per_s"]).groupby("framework", sort=False):
        ax_speed.plot(part.n_ratings, part.ratings_per_s, "o-", label=framework)
        ax_mem.plot(part.n_ratings, part.peak_rss_mb, "o-", label=framework)
    bound = table.dropna(subset=["bandwidth_bound_ratings_per_s"]).drop_duplicates("n_ratings")
    ax_speed.plot(bound.n_ratings, bound.bandwidth_bound_ratings_per_s, "k--", label="bandwidth bound")
    ax_speed.set(xscale="log", yscale="log", xlabel="ratings (N)", ylabel="training ratings per second",
                 title="Throughput")
    ax_mem.set(xscale="log", xlabel="ratings (N)", ylabel="peak memory (MB, process RSS)", title="Peak memory")
    for ax in (ax_speed, ax_mem):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=120)
    plt.close("all")
    return {"csv": out / "scale.csv", "md": out / "scale.md", "png": out / "scale.png"}


def run(args, header: str) -> int:
    """What ``python -m cflearn.bench --synthetic N`` / ``--scale LIST`` does (arguments from bench's parser)."""
    sizes = parse_sizes(args.scale if args.scale else args.synthetic)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    table = sweep(sizes, frameworks, use_gpu=args.gpu, surprise=args.surprise != "none",
                  batch_size=args.scale_batch_size, lr=args.scale_lr, n_epochs=args.n_epochs or N_EPOCHS,
                  threads=args.scale_threads, progress=not args.no_progress)
    files = write_outputs(Path(args.out), table, header)
    print((Path(files["md"])).read_text())
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 0
