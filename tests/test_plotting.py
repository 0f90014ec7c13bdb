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
    # each label in its point's colour, so a label moved away from a crowd still says whose it is
    assert [tuple(c.get_facecolor()[0][:3]) for c in ax.collections] == [matplotlib.colors.to_rgb(t.get_color()) for t in ax.texts]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["BiasBaseline", "DotProductBias (torch)", "DotProductBias (keras)"]
    assert ax.get_xscale() == "log" and "RMSE" in ax.get_ylabel()
    with pytest.raises(ValueError, match="no column 'mae'"):
        plotting.compare(table, y="mae")
    plt.close("all")


def boxes(ax):
    """Each text's box in display pixels, after the figure has been drawn."""
    renderer = ax.figure.canvas.get_renderer()
    ax.figure.canvas.draw()
    return [matplotlib.text.Text.get_window_extent(t, renderer) for t in ax.texts]


def assert_readable(ax):
    """No two labels overlap, and every label lies inside the axes (so inside the figure)."""
    found = boxes(ax)
    frame = ax.get_window_extent(ax.figure.canvas.get_renderer())
    fig = ax.figure.bbox
    for k, a in enumerate(found):
        assert frame.x0 - 0.5 <= a.x0 and a.x1 <= frame.x1 + 0.5 and frame.y0 - 0.5 <= a.y0 and a.y1 <= frame.y1 + 0.5, ax.texts[k].get_text()
        assert fig.x0 <= a.x0 and a.x1 <= fig.x1
        for j, b in enumerate(found[:k]):
            assert not a.overlaps(b), (ax.texts[j].get_text(), ax.texts[k].get_text())


def test_epoch_ticks_are_whole_numbers():
    h = history("torch", "DotProductBias", [1.0, 0.9, 0.88], [1.5, 0.8, 0.6])
    for a in plotting.learning_curves(h):
        a.figure.canvas.draw()
        ticks = [t for t in a.get_xticks() if a.get_xlim()[0] <= t <= a.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close("all")


LESSON_06 = pd.DataFrame({
    "model": ["GlobalMean", "BiasBaseline", "ResidualCF", "ResidualCF", "DotProduct", "DotProductBias", "NeuralCF"],
    "framework": ["numpy", "numpy", "torch", "keras", "torch", "torch", "torch"],
    "rmse": [1.0423, 0.8717, 0.8601, 0.8622, 0.9512, 0.8598, 0.8705],
    "seconds": [0.002, 0.05, 21.0, 35.0, 12.0, 14.0, 19.0],
})


def test_compare_keeps_a_far_off_score_from_squeezing_the_rest():
    ax = plotting.compare(LESSON_06)
    low, high = ax.get_ylim()
    near = LESSON_06.rmse[LESSON_06.model != "GlobalMean"]
    assert low <= near.min() and near.max() <= high < 1.0423  # the axis spans the tuned models only
    far = ax.texts[0]
    assert far.get_text() == "GlobalMean (numpy): RMSE 1.042 (above the chart)"
    top = ax.collections[0].get_offsets()[0][1]
    assert near.max() < top < high and high - top < 0.1 * (high - low)  # drawn at the top, below the frame
    # the whole triangle lies inside the axes: its centre is more than the marker's half-height below the top
    ax.figure.canvas.draw()
    frame = ax.get_window_extent()
    centre_px = ax.transData.transform((ax.collections[0].get_offsets()[0][0], top))[1]
    half_px = np.sqrt(ax.collections[0].get_sizes()[0]) / 2 * ax.figure.dpi / 72
    assert centre_px + half_px <= frame.y1
    assert [t.get_text() for t in ax.texts[1:]] == ["BiasBaseline (numpy)", "ResidualCF (torch)", "ResidualCF (keras)",
                                                   "DotProduct (torch)", "DotProductBias (torch)", "NeuralCF (torch)"]
    assert_readable(ax)
    plt.close("all")


def test_compare_labels_of_crowded_points_do_not_overlap():
    table = pd.DataFrame({"label": [f"model number {k}" for k in range(8)], "rmse": 0.86 + 0.001 * np.arange(8),
                          "seconds": 10.0 + np.arange(8)})
    ax = plotting.compare(table)
    assert len(ax.texts) == 8 and ax.get_ylim()[0] < 0.86 and ax.get_ylim()[1] > 0.867  # nothing called far off
    assert_readable(ax)
    plt.close("all")


def test_sweep_ticks_at_the_values_tried_without_overlaps():
    table = pd.DataFrame({"width": [256, 16, 64, 20], "inner_rmse": [0.885, 0.89, 0.88, 0.891]})
    ax = plotting.sweep(table, "width", "inner_rmse", logx=True)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [16, 20, 64, 256]  # sorted by the setting
    assert list(ax.get_xticks()) == [16, 20, 64, 256] and len(ax.xaxis.get_minorticklocs()) == 0
    ax.figure.canvas.draw()
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert [t.get_text() for t in labels][0] == "16" and "256" in [t.get_text() for t in labels]
    renderer = ax.figure.canvas.get_renderer()
    shown = [t.get_window_extent(renderer) for t in labels]
    assert not any(a.overlaps(b) for k, a in enumerate(shown) for b in shown[:k])
    plt.close("all")


def test_pca_map_labels_most_rated_without_overlaps():
    from cflearn import interpret

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"title": [f"A rather long film title number {k} (19{k % 100:02d})" for k in range(n)],
                          "n_ratings": rng.permutation(n) + 1})
    coords, _, explained = interpret.pca(rng.normal(size=(n, 5)), 2)
    frame["pc1"], frame["pc2"] = coords[:, 0], coords[:, 1]
    frame.attrs["explained"] = list(explained)
    ax = plotting.pca_map(frame, n_labels=25)
    texts = [t.get_text() for t in ax.texts]
    assert 10 <= len(texts) <= 25
    assert all(len(t) <= 34 and t.endswith(")") for t in texts)  # shortened, year kept
    most = frame.nlargest(1, "n_ratings").title.iloc[0]
    assert texts[0] == plotting._short_title(most)  # the most-rated film is always labelled
    assert "% of variance" in ax.get_xlabel()
    assert_readable(ax)
    plt.close("all")


def test_norm_vs_popularity_draws_the_frame():
    frame = pd.DataFrame({"n_ratings": [1, 10, 100], "norm": [0.1, 0.5, 1.0]})
    ax = plotting.norm_vs_popularity(frame)
    assert np.allclose(ax.collections[0].get_offsets(), frame.to_numpy()) and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="interpret.item_norms"):
        plotting.norm_vs_popularity(frame.rename(columns={"norm": "length"}))
    plt.close("all")


def test_a_model_keeps_its_colour_across_charts():
    ax = plotting.compare(LESSON_06)
    by_label = {t.get_text().split(" (")[0]: t.get_color() for t in ax.texts}
    assert by_label["ResidualCF"] == plotting._MODEL_COLORS["ResidualCF"]
    assert by_label["GlobalMean"] == plotting._MODEL_COLORS["GlobalMean"]
    # the same two models in learning curves, in the other order, keep their colours
    rmse_ax, _ = plotting.learning_curves(history("torch", "NeuralCF", [1.0, 0.9], [1.0, 0.9]),
                                          history("torch", "ResidualCF", [1.0, 0.9], [1.0, 0.9]))
    lines = {l.get_label(): matplotlib.colors.to_hex(l.get_color()) for l in rmse_ax.get_lines()}
    assert lines["NeuralCF (torch)"] == matplotlib.colors.to_hex(by_label["NeuralCF"])
    assert lines["ResidualCF (torch)"] == matplotlib.colors.to_hex(by_label["ResidualCF"])
    # two runs of one model (torch and keras) are still told apart by colour
    rmse_ax, _ = plotting.learning_curves(history("torch", "NeuralCF", [1.0], [1.0]), history("keras", "NeuralCF", [1.0], [1.0]))
    first, second = rmse_ax.get_lines()[:2]
    assert matplotlib.colors.to_hex(first.get_color()) != matplotlib.colors.to_hex(second.get_color())
    plt.close("all")
