"""cflearn.plotting: the lines, labels and points drawn match the data given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cflearn import plotting  # noqa: E402
from cflearn.history import History  # noqa: E402


def history(framework, model, rmses, losses):
    h = History(framework, model, n_ratings=100)
    for r, l in zip(rmses, losses):
        h.add(train_loss=l, valid_rmse=r, seconds=0.1)
    return h


def test_learning_curves_draw_one_line_per_history_in_each_panel():
    a = history("torch", "DotProductBias", [1.0, 0.9, 0.88], [1.5, 0.8, 0.6])
    b = history("keras", "DotProductBias", [1.01, 0.91], [1.4, 0.7])
    rmse_ax, loss_ax = plotting.learning_curves(a, b, baseline=0.87)
    lines = [l for l in rmse_ax.get_lines() if l.get_label().endswith(")")]
    assert [l.get_label() for l in lines] == ["DotProductBias (torch)", "DotProductBias (keras)"]
    assert np.allclose(lines[0].get_ydata(), [1.0, 0.9, 0.88]) and np.allclose(lines[1].get_xdata(), [1, 2])
    assert [l.get_label() for l in loss_ax.get_lines()] == ["DotProductBias (torch)", "DotProductBias (keras)"]
    assert np.allclose(loss_ax.get_lines()[0].get_ydata(), [1.5, 0.8, 0.6])
    assert any(l.get_linestyle() == "--" and np.allclose(l.get_ydata(), 0.87) for l in rmse_ax.get_lines())
    legend = [t.get_text() for t in rmse_ax.get_legend().get_texts()]
    assert "DotProductBias (keras)" in legend and "baseline 0.8700" in legend
    plt.close("all")


def test_learning_curves_on_given_axes_and_refuses_nothing_to_draw():
    fig, axes = plt.subplots(1, 2)
    out = plotting.learning_curves(history("torch", "NeuralCF", [1.0], [2.0]), ax=axes)
    assert out[0] is axes[0] and out[1] is axes[1]
    with pytest.raises(ValueError, match="at least one History"):
        plotting.learning_curves()
    plt.close("all")


def test_compare_puts_one_labelled_point_per_row():
    table = pd.DataFrame({
        "model": ["BiasBaseline", "DotProductBias", "DotProductBias"],
        "framework": [None, "torch", "keras"],
        "rmse": [0.875, 0.86, 0.862],
        "seconds": [0.0, 2.0, 5.0],
    })
    ax = plotting.compare(table)
    points = [c.get_offsets()[0] for c in ax.collections]
    assert len(points) == 3
    assert np.allclose(points[1], [2.0, 0.86]) and points[0][0] > 0  # zero seconds drawn at a floor on the log axis
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["BiasBaseline", "DotProductBias (torch)", "DotProductBias (keras)"]
    assert ax.get_xscale() == "log" and "RMSE" in ax.get_ylabel()
    with pytest.raises(ValueError, match="no column 'mae'"):
        plotting.compare(table, y="mae")
    plt.close("all")
