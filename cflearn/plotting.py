"""Charts: learning curves, a comparison of models, a one-setting sweep, and maps of item vectors.

Every function draws on a Matplotlib axes (a new figure unless ``ax`` is given) and returns it,
so a notebook can add to the chart. Text labels are placed where they overlap neither each other
nor the edge of the axes. Introduced in lesson 03 (curves), 05 (sweep), 06 (comparison) and
07 (maps of the results of ``cflearn.interpret``).
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["learning_curves", "compare", "sweep", "pca_map", "norm_vs_popularity"]


def _axes(ax, ncols=1, figsize=(6, 4)):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(1, ncols, figsize=figsize, squeeze=ncols == 1)
    return ax if ncols == 1 else list(ax[0])


# One colour per model of the course, so that a model keeps its colour from chart to chart.
_MODEL_COLORS = {"GlobalMean": "C7", "BiasBaseline": "C4", "DotProduct": "C5", "DotProductBias": "C0",
                 "NeuralCF": "C3", "ResidualCF": "C1", "BiasedMF": "C2"}


def _colors(names) -> list[str]:
    """A colour per name: the model's own when every name is a known model, otherwise the cycle."""
    names = [str(n) for n in names]
    if names and all(n in _MODEL_COLORS for n in names):
        return [_MODEL_COLORS[n] for n in names]
    return [f"C{k % 10}" for k in range(len(names))]


def _freeze(ax, *, layout: bool):
    """Fix the layout (when we made the figure) and the limits, so label positions stay valid."""
    if layout:
        ax.figure.tight_layout()
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())


# Where a label may sit relative to its point: (dx, dy) in points, alignment. Nearest first.
_SPOTS = [(5, 3, "left", "bottom"), (-5, 3, "right", "bottom"), (5, -3, "left", "top"), (-5, -3, "right", "top"),
          (0, 6, "center", "bottom"), (0, -6, "center", "top")]


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _inside(box, frame) -> bool:
    return box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1


def _place_labels(ax, xs, ys, labels, *, every: bool, limit=None, colors=None, fontsize=8, pad=1.5):
    """Write ``labels`` beside their points without overlaps, inside the axes.

    Candidates are tried in order; a label that fits nowhere near its point is skipped, or when
    ``every`` is set moved further out with a thin leader line (or, failing that, put where it
    overlaps least). Returns the list of ``(index, Text)`` placed.
    """
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    to_px = ax.transData
    taken = [Bbox.from_bounds(px - 3, py - 3, 6, 6) for px, py in to_px.transform(np.c_[xs, ys])]  # the points
    placed = []
    for k, (x, y, text) in enumerate(zip(xs, ys, labels)):
        if limit is not None and len(placed) >= limit:
            break
        color = None if colors is None else colors[k]
        best = None  # (overlap, text, scale)
        for scale in (1, 3, 5) if every else (1,):
            for dx, dy, ha, va in _SPOTS:
                t = ax.annotate(text, (x, y), xytext=(dx * scale, dy * scale), textcoords="offset points",
                                ha=ha, va=va, fontsize=fontsize, color=color)
                box = t.get_window_extent(renderer).padded(pad)
                own = [b for j, b in enumerate(taken) if j != k]  # its own point does not count
                cost = sum(_overlap(box, b) for b in own) if _inside(box, frame) else math.inf
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, t, scale, box)
                else:
                    t.remove()
                if cost == 0:
                    break
            if best[0] == 0:
                break
        cost, t, scale, box = best
        if cost > 0 and not every:
            t.remove()
            continue
        if scale > 1:  # a leader line from the point to the label's nearest corner
            lx = min(max(to_px.transform((x, y))[0], box.x0), box.x1)
            ly = min(max(to_px.transform((x, y))[1], box.y0), box.y1)
            end = to_px.inverted().transform((lx, ly))
            ax.plot([x, end[0]], [y, end[1]], color=color or "grey", lw=0.6, alpha=0.7)
        taken.append(box)
        placed.append((k, t))
    return placed


# --- lesson 03: learning curves ---------------------------------------------------------------


def learning_curves(*histories, ax=None, baseline: float | None = None, title: str | None = None):
    """Validation RMSE and training loss per epoch for one or more runs.

    Parameters
    ----------
    *histories : History
        Runs to draw, each labelled "model (framework)" (its ``label``).
    ax : pair of Matplotlib axes, optional
        Where to draw ``(valid RMSE axes, train loss axes)``; two new side-by-side axes by default.
    baseline : float, optional
        A horizontal reference line on the RMSE panel, for example the bias baseline's RMSE.
    title : str, optional
        A title above the figure.

    Returns
    -------
    list of two axes
        ``[rmse_ax, loss_ax]``: one line per history in each (plus the baseline line); epoch
        ticks are whole numbers.

    Introduced in lesson 03.
    """
    from matplotlib.ticker import MaxNLocator

    if not histories:
        raise ValueError("pass at least one History, e.g. learning_curves(history).")
    axes = _axes(ax, ncols=2, figsize=(11, 4)) if ax is None else list(ax)
    if len(axes) != 2:
        raise ValueError("ax must be a pair of axes: (valid RMSE, train loss).")
    rmse_ax, loss_ax = axes
    models = [h.model_name for h in histories]
    # a model's own colour when each run is a different model; two runs of one model need two colours
    colors = _colors(models) if len(set(models)) == len(models) else _colors([None] * len(models))
    for history, color in zip(histories, colors):
        frame = history.to_frame()
        label = history.label
        rmse_ax.plot(frame["epoch"], frame["valid_rmse"], marker="o", color=color, label=label)
        loss_ax.plot(frame["epoch"], frame["train_loss"], marker="o", color=color, label=label)
    if baseline is not None:
        rmse_ax.axhline(baseline, color="grey", linestyle="--", label=f"baseline {baseline:.4f}")
    rmse_ax.set(xlabel="epoch", ylabel="validation RMSE", title="validation RMSE (rating scale)")
    loss_ax.set(xlabel="epoch", ylabel="training MSE", title="training loss (MSE, no regulariser)")
    for a in (rmse_ax, loss_ax):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        a.legend(fontsize="small")
        a.grid(alpha=0.3)
    if title:
        rmse_ax.figure.suptitle(title)
    if ax is None:
        rmse_ax.figure.tight_layout()
    return [rmse_ax, loss_ax]


# --- lesson 05: one setting varied ------------------------------------------------------------


def sweep(table, x: str, y: str, *, ax=None, logx: bool = False, title: str | None = None, ylabel: str | None = None):
    """A line of ``y`` against one setting ``x`` (for example the hidden width), ticks at the values tried.

    Parameters
    ----------
    table : DataFrame
        One row per run; rows are drawn in order of ``x``.
    x, y : str
        Column names: the setting and the score (for example "width" and "inner_rmse").
    logx : bool
        Log scale for settings that double (16, 32, 64, ...); tick labels stay plain numbers.
    ax : Matplotlib axes, optional
    title, ylabel : str, optional
        ``ylabel`` defaults to ``y``; pass "" for none (for example on the right of a shared axis).

    Returns
    -------
    Matplotlib axes; tick labels that would overlap are left blank.

    Introduced in lesson 05.
    """
    import pandas as pd
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    table = pd.DataFrame(table)
    for col in (x, y):
        if col not in table.columns:
            raise ValueError(f"the table has no column {col!r}; it has {list(table.columns)}.")
    table = table.sort_values(x)
    made = ax is None
    ax = _axes(ax, figsize=(5, 3.2))
    ax.plot(table[x], table[y], "o-")
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=x.replace("_", " "), ylabel=y.replace("_", " ") if ylabel is None else ylabel, title=title)
    ax.grid(alpha=0.3)
    values = np.unique(table[x].to_numpy(np.float64))
    if len(values) <= 12:  # a tick at each value tried, labelled as written (not 2x10^1)
        ax.xaxis.set_major_locator(FixedLocator(values))
        ax.xaxis.set_minor_locator(NullLocator())
        labels = [f"{v:g}" for v in values]
        ax.xaxis.set_major_formatter(FixedFormatter(labels))
        if made:
            ax.figure.tight_layout()
        renderer = ax.figure.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer).padded(2) for t in ax.get_xticklabels()]
        last = None
        for k, box in enumerate(boxes):  # left to right: blank a label that would touch the last one kept
            if last is not None and _overlap(box, last) > 0:
                labels[k] = ""
            else:
                last = box
        ax.xaxis.set_major_formatter(FixedFormatter(labels))
    return ax


# --- lesson 06: models compared -----------------------------------------------------------------


def _far_off(values: np.ndarray) -> np.ndarray:
    """Points so far from the rest that drawing them would squeeze everyone else into a line.

    Far off: more than 10 median absolute deviations from the median (a deviation of at least
    0.5% of the median, so close scores are never far off). Needs 4 points or more, and at most
    a third of them may be far off; otherwise the scores are simply spread and all are drawn.
    """
    far = np.zeros(len(values), dtype=bool)
    if len(values) < 4:
        return far
    med = np.median(values)
    deviation = np.abs(values - med)
    far = deviation > 10 * max(np.median(deviation), 0.005 * abs(med))
    return far if far.sum() <= len(values) // 3 else np.zeros(len(values), dtype=bool)


def compare(table, *, x: str = "seconds", y: str = "rmse", label: str = "label", ax=None, logx: bool = True,
            title: str | None = None):
    """Scatter of each model's RMSE against its training time, one labelled point per row.

    A score far from all the others (for example ``GlobalMean`` beside tuned models) would squash
    the rest into a line: it is drawn as a triangle on the edge of the chart, pointing the way it
    lies, and its label gives its value. A model of the course has the same colour in every chart.

    Parameters
    ----------
    table : DataFrame or list of dicts
        One row per model run, with columns ``x`` (default "seconds"), ``y`` (default "rmse") and
        ``label`` (for example "DotProductBias (torch)"). If there is no ``label`` column but
        ``model`` (and ``framework``) columns exist, the label is built from them.
    ax : Matplotlib axes, optional
    logx : bool
        Log scale for time (baselines take milliseconds, neural models seconds).
    title : str, optional

    Returns
    -------
    Matplotlib axes, with one point (a ``PathCollection``) per row with a score, and one text
    label per such row, in the table's order, in the point's colour.

    Introduced in lesson 06.
    """
    import pandas as pd

    table = pd.DataFrame(table)
    if label not in table.columns:
        if "model" not in table.columns:
            raise ValueError(f"the table needs a {label!r} or 'model' column; it has {list(table.columns)}.")
        fw = table["framework"].fillna("").astype(str).replace("-", "") if "framework" in table.columns else None
        names = table["model"].astype(str)
        table = table.assign(**{label: names if fw is None else names + (" (" + fw + ")").where(fw != "", "")})
    for col in (x, y):
        if col not in table.columns:
            raise ValueError(f"the table has no column {col!r}; it has {list(table.columns)}.")
    table = table[table[y].notna()].reset_index(drop=True)
    made = ax is None
    ax = _axes(ax, figsize=(8, 5))
    floor = 1e-3  # so that instantaneous baselines still appear on a log axis
    xs = table[x].astype(float).fillna(floor).to_numpy()
    xs = np.maximum(xs, floor) if logx else xs
    ys = table[y].astype(float).to_numpy()
    far = _far_off(ys)
    if logx:
        ax.set_xscale("log")
    if far.any():  # limits from the other points, with room; the far ones sit on the edge
        near = ys[~far]
        room = max(0.15 * (near.max() - near.min()), 0.002 * abs(near.mean()), 1e-9)
        low, high = near.min() - room, near.max() + room
    else:
        low = high = None
    # the same model keeps its colour in every chart (its frameworks told apart by their labels)
    colors = _colors(table["model"] if "model" in table.columns else table[label])
    texts, drawn_y = [], ys.copy()
    for k, row in table.iterrows():
        if far[k]:
            above = ys[k] > high
            drawn_y[k] = high if above else low
            ax.scatter([xs[k]], [drawn_y[k]], s=70, marker="^" if above else "v", color=colors[k], clip_on=False, zorder=3)
            texts.append(f"{row[label]}: {y.upper()} {ys[k]:.3f} ({'above' if above else 'below'} the chart)")
        else:
            ax.scatter([xs[k]], [ys[k]], s=40, color=colors[k], zorder=3)
            texts.append(str(row[label]))
    if logx:
        ax.set_xscale("log")
        ax.set_xlim(xs.min() / 3, xs.max() * 3)
    else:
        ax.margins(x=0.15)
    if far.any():  # headroom, so that a triangle on the edge is drawn whole inside the axes
        pad = 0.06 * (high - low)
        ax.set_ylim(low - pad, high + pad)
    else:
        ax.margins(y=0.15)
    ax.set(xlabel=f"training {x}" + (" (log scale)" if logx else ""), ylabel=f"validation {y.upper()}",
           title=title or f"{y.upper()} against training time (lower left is better)")
    ax.grid(alpha=0.3)
    _freeze(ax, layout=made)
    _place_labels(ax, xs, drawn_y, texts, every=True, colors=colors, fontsize="small")
    return ax


# --- lesson 07: maps of item vectors ------------------------------------------------------------


def _short_title(title: str, limit: int = 34) -> str:
    """A long film title cut short, its year kept: "Lord of the Rings: The Fell… (2001)"."""
    title = str(title)
    if len(title) <= limit:
        return title
    year = re.search(r"\s*\(\d{4}\)\s*$", title)
    body, tail = (title[: year.start()], year.group().strip()) if year else (title, "")
    keep = max(limit - len(tail) - 2, 8)
    return f"{body[:keep].rstrip()}…" + (f" {tail}" if tail else "")


def pca_map(frame, n_labels: int = 25, ax=None, x: str = "pc1", y: str = "pc2", title: str | None = None):
    """Scatter of two principal components, the most-rated films labelled with their titles.

    Parameters
    ----------
    frame : DataFrame
        From ``interpret.embedding_pca``: columns ``title``, ``n_ratings``, ``pc1``, ``pc2``, ...
    n_labels : int
        How many titles to write, most-rated first; a title that would overlap another or the
        edge is skipped for the next one, so every label is readable. Labelled films are blue.
    x, y : str
        The two components to draw.

    Returns
    -------
    Matplotlib axes.

    Introduced in lesson 07.
    """
    for col in (x, y, "title", "n_ratings"):
        if col not in frame.columns:
            raise ValueError(f"frame has no column {col!r}; pass the frame from interpret.embedding_pca.")
    made = ax is None
    ax = _axes(ax, figsize=(10, 7))
    ax.scatter(frame[x], frame[y], s=6, alpha=0.25, color="grey")
    explained = frame.attrs.get("explained")
    for col, setter in ((x, ax.set_xlabel), (y, ax.set_ylabel)):
        k = int(col[2:]) - 1 if re.fullmatch(r"pc\d+", col) else None
        extra = f" ({explained[k]:.0%} of variance)" if explained and k is not None and k < len(explained) else ""
        setter(col + extra)
    ax.set_title(title or "item vectors on two principal components")
    ax.margins(0.04)
    _freeze(ax, layout=made)
    # candidates: the most-rated films, a few times more than will fit; their dots are kept clear
    top = frame.sort_values("n_ratings", ascending=False, kind="stable").head(4 * n_labels)
    placed = _place_labels(ax, top[x].to_numpy(), top[y].to_numpy(), [_short_title(t) for t in top["title"]],
                           every=False, limit=n_labels)
    chosen = top.iloc[[k for k, _ in placed]]
    ax.scatter(chosen[x], chosen[y], s=14, color="tab:blue")
    return ax


def norm_vs_popularity(frame, ax=None, title: str | None = None):
    """Log-scaled scatter of each film's vector length against its number of training ratings.

    ``frame`` comes from ``interpret.item_norms`` (columns ``n_ratings``, ``norm``).
    Introduced in lesson 07.
    """
    for col in ("n_ratings", "norm"):
        if col not in frame.columns:
            raise ValueError(f"frame has no column {col!r}; pass the frame from interpret.item_norms.")
    ax = _axes(ax, figsize=(7, 4.5))
    ax.scatter(frame["n_ratings"], frame["norm"], s=5, alpha=0.3)
    ax.set_xscale("log")
    ax.set(xlabel="ratings in train (log scale)", ylabel="length of item vector", title=title)
    return ax
