"""Charts: learning curves from ``History`` objects and a comparison of models (RMSE vs time).

Both functions draw on a Matplotlib axes (a new figure unless ``ax`` is given) and return it,
so a notebook can add to the chart. Introduced in lesson 03 (curves) and 06 (comparison).
"""

from __future__ import annotations

import math

__all__ = ["learning_curves", "compare"]


def _axes(ax, ncols=1, figsize=(6, 4)):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(1, ncols, figsize=figsize, squeeze=ncols == 1)
    return ax if ncols == 1 else list(ax[0])


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
        ``[rmse_ax, loss_ax]``: one line per history in each (plus the baseline line).

    Introduced in lesson 03.
    """
    if not histories:
        raise ValueError("pass at least one History, e.g. learning_curves(history).")
    axes = _axes(ax, ncols=2, figsize=(11, 4)) if ax is None else list(ax)
    if len(axes) != 2:
        raise ValueError("ax must be a pair of axes: (valid RMSE, train loss).")
    rmse_ax, loss_ax = axes
    for history in histories:
        frame = history.to_frame()
        label = history.label
        line, = rmse_ax.plot(frame["epoch"], frame["valid_rmse"], marker="o", label=label)
        loss_ax.plot(frame["epoch"], frame["train_loss"], marker="o", color=line.get_color(), label=label)
    if baseline is not None:
        rmse_ax.axhline(baseline, color="grey", linestyle="--", label=f"baseline {baseline:.4f}")
    rmse_ax.set(xlabel="epoch", ylabel="validation RMSE", title="validation RMSE (rating scale)")
    loss_ax.set(xlabel="epoch", ylabel="training MSE", title="training loss (MSE, no regulariser)")
    for a in (rmse_ax, loss_ax):
        a.legend(fontsize="small")
        a.grid(alpha=0.3)
    if title:
        rmse_ax.figure.suptitle(title)
    return [rmse_ax, loss_ax]


def compare(table, *, x: str = "seconds", y: str = "rmse", label: str = "label", ax=None, logx: bool = True,
            title: str | None = None):
    """Scatter of each model's RMSE against its training time, one labelled point per row.

    Parameters
    ----------
    table : DataFrame or list of dicts
        One row per model run, with columns ``x`` (default "seconds"), ``y`` (default "rmse") and
        ``label`` (for example "DotProductBias (torch)"). If there is no ``label`` column but
        ``model`` (and ``framework``) columns exist, the label is built from them.
    ax : Matplotlib axes, optional
    logx : bool
        Log scale for time (baselines take milliseconds, neural models seconds).

    Returns
    -------
    Matplotlib axes, with one point (a ``PathCollection``) per row and one text label per row.

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
    ax = _axes(ax, figsize=(7, 4.5))
    # a floor so that instantaneous baselines still appear on a log axis
    floor = 1e-3
    for _, row in table.iterrows():
        xv = max(float(row[x]), floor) if logx else float(row[x])
        yv = float(row[y])
        if math.isnan(yv):
            continue
        ax.scatter([xv], [yv], s=40)
        ax.annotate(str(row[label]), (xv, yv), textcoords="offset points", xytext=(5, 3), fontsize="small")
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=f"training {x}" + (" (log scale)" if logx else ""), ylabel=f"validation {y.upper()}",
           title=title or f"{y.upper()} against training time (lower left is better)")
    ax.grid(alpha=0.3)
    return ax
