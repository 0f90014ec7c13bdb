"""cflearn.bench: a quick run writes consistent outputs (no timing asserted)."""

import os

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from cflearn import bench, data  # noqa: E402


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    try:
        data.load_movielens("ml-latest-small", progress=False)
    except Exception as err:  # noqa: BLE001 - offline machine without the mirror
        pytest.skip(f"ml-latest-small is not available here: {err}")
    out = tmp_path_factory.mktemp("bench")
    rc = bench.main(["--quick", "--models", "DotProduct,DotProductBias", "--frameworks", "torch", "--no-tune",
                     "--ensemble", "2", "--surprise", "BaselineOnly,SVD", "--n-epochs", "1", "--no-progress",
                     "--out", str(out)])
    assert rc == 0
    return out


def test_quick_run_writes_the_three_outputs(quick_run):
    for name in ("results.csv", "results.md", "rmse_vs_time.png"):
        assert (quick_run / name).stat().st_size > 0, name
    assert (quick_run / "rmse_vs_time.png").read_bytes()[:4] == b"\x89PNG"


def test_rows_are_consistent_with_the_run(quick_run):
    rows = pd.read_csv(quick_run / "results.csv")
    surprise = [("BaselineOnly", "surprise"), ("SVD", "surprise")] if bench.surprise_available() else []
    assert list(zip(rows.model, rows.framework)) == [
        ("GlobalMean", "numpy"), ("BiasBaseline", "numpy"), ("BiasedMF", "numpy"),
        ("DotProduct x2 seeds", "torch"), ("DotProduct", "torch"),
        ("DotProductBias x2 seeds", "torch"), ("DotProductBias", "torch"), *surprise]
    assert (rows.dataset == "ml-latest-small").all() and (rows.split == "course").all()
    assert rows.n_test.nunique() == 1 and rows.n_train.nunique() == 1  # everyone on the same split
    assert (rows.mae <= rows.rmse + 1e-12).all() and (rows.rmse > 0).all()
    assert rows.set_index("model").loc[["DotProduct", "DotProductBias"], "n_epochs"].eq(1).all()
    assert rows.set_index("model").loc[["DotProduct x2 seeds", "DotProductBias x2 seeds"], "n_epochs"].eq(2).all()
    assert np.allclose(rows.ratings_per_s, rows.n_train * rows.n_epochs / rows.train_seconds)
    assert (rows.peak_rss_mb > 10).all()
    gm, bias = rows.set_index("model").loc[["GlobalMean", "BiasBaseline"], "rmse"]
    assert bias < gm  # biases beat the global mean


def test_markdown_names_every_row_and_the_skips(quick_run):
    md = (quick_run / "results.md").read_text()
    assert "ml-latest-small" in md and "Measured on" in md
    for model in ("GlobalMean", "BiasBaseline", "DotProduct", "DotProductBias"):
        assert f"| {model} |" in md
    if not bench.surprise_available():
        assert "Surprise: skipped" in md


def test_surprise_runs_beside_ours_on_the_same_rows(quick_run):
    if not bench.surprise_available():
        pytest.skip("scikit-surprise is not installed (pip install -e '.[bench]')")
    rows = pd.read_csv(quick_run / "results.csv").set_index(["model", "framework"])
    # Surprise's BaselineOnly fits the same model as our BiasBaseline (mean + regularised user and
    # item biases, by alternating least squares) with its own shrinkage: close, not identical.
    ours, theirs = rows.loc[("BiasBaseline", "numpy")], rows.loc[("BaselineOnly", "surprise")]
    assert theirs.n_test == ours.n_test and theirs.n_train == ours.n_train
    assert abs(theirs.rmse - ours.rmse) < 0.02, (theirs.rmse, ours.rmse)
    assert rows.loc[("SVD", "surprise"), "rmse"] < rows.loc[("GlobalMean", "numpy"), "rmse"]
    assert rows.loc[("SVD", "surprise"), "n_epochs"] == 20  # Surprise's default


def test_summary_gives_mean_and_spread_over_folds():
    rows = pd.DataFrame({
        "dataset": ["ml-100k"] * 4, "split": ["u1", "u2", "u1", "u2"], "model": ["A", "A", "B", "B"],
        "framework": ["torch"] * 4, "rmse": [0.9, 1.0, 0.8, 0.8], "mae": [0.7] * 4, "train_seconds": [1.0] * 4,
        "ratings_per_s": [10.0] * 4, "peak_rss_mb": [100, 120, 90, 95], "n_epochs": [3] * 4, "device": ["cpu"] * 4,
    })
    summary = bench.summarise(rows)
    assert list(summary.model) == ["A", "B"] and list(summary.folds) == [2, 2]
    assert summary.rmse.tolist() == pytest.approx([0.95, 0.8])
    assert summary.rmse_std.tolist() == pytest.approx([np.std([0.9, 1.0], ddof=1), 0.0])
    assert summary.peak_rss_mb.tolist() == [120, 95]


def test_unknown_names_are_refused():
    with pytest.raises(SystemExit, match="unknown model"):
        bench.main(["--models", "Nope", "--out", os.devnull])


def test_tuned_svd_is_chosen_on_an_inner_split_of_train_only():
    if not bench.surprise_available():
        pytest.skip("scikit-surprise is not installed (pip install -e '.[bench]')")
    from cflearn import peers

    ratings, _ = data.load_movielens("ml-latest-small", progress=False)
    train, test = data.split_ratings(ratings.sample(20000, random_state=0), 0.2, seed=42)
    grid = {"n_factors": [10], "n_epochs": [2, 10], "lr_all": [0.005], "reg_all": [0.02, 0.5]}
    best, table = peers.tune_svd(train, grid=grid)
    assert len(table) == 4 and table.inner_rmse.is_monotonic_increasing
    assert best == {k: table.loc[0, k] for k in grid}
    # The test rows play no part: tuning on train alone gives the same choice whatever test holds.
    again, _ = peers.tune_svd(train.copy(), grid=grid)
    assert again == best
    pred, settings = peers.fit_predict("SVD (tuned)", train, test.head(50), grid=grid)
    assert pred.shape == (50,) and settings == best


# ---- --synthetic / --scale (cflearn.scale) ----

@pytest.fixture(scope="module")
def scale_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scale")
    rc = bench.main(["--scale", "3000,6e3", "--frameworks", "torch", "--surprise", "SVD", "--n-epochs", "2",
                     "--scale-batch-size", "512", "--no-progress", "--out", str(out)])
    assert rc == 0
    return out


def test_scale_writes_a_growth_table_and_a_plot(scale_run):
    table = pd.read_csv(scale_run / "scale.csv")
    assert "error" not in table or table.error.isna().all(), table.get("error")
    ours = table[table.framework == "torch"]
    assert ours.n_ratings.tolist() == [3000, 6000]
    assert (ours.n_train == (ours.n_ratings * 0.9).round()).all()  # a 90/10 split of the synthetic ratings
    assert np.allclose(ours.ratings_per_s, ours.n_train / ours.epoch_seconds)
    assert (ours.batch_size == 512).all() and (ours.n_epochs == 2).all() and (ours.device == "cpu").all()
    assert (ours.peak_rss_mb > ours.data_mb).all() and (ours.peak_rss_mb > 50).all()
    assert (ours.planted_rmse > 0.5).all() and (ours.valid_rmse > 0).all()
    assert (table.bandwidth_bound_ratings_per_s > 0).all()
    if bench.surprise_available():
        svd = table[table.framework == "surprise"]
        assert svd.n_ratings.tolist() == [3000, 6000] and (svd.ratings_per_s > 0).all()
    md = (scale_run / "scale.md").read_text()
    assert "Measured on" in md and "| torch |" in md and "GB/s" in md
    assert (scale_run / "scale.png").read_bytes()[:4] == b"\x89PNG"


def test_bytes_per_rating_by_hand():
    from cflearn import scale

    # 1 factor: rows of 8 bytes; per rating 20 + 2*2*8 = 52; per step 7*(3+5)*8 = 448 over a batch of 64
    assert scale.bytes_per_rating(1, 64, 3, 5) == pytest.approx(52 + 448 / 64)


def test_scale_sizes_are_parsed_or_refused():
    from cflearn import scale

    assert scale.parse_sizes("1e6, 5_000_000,25e6") == [1_000_000, 5_000_000, 25_000_000]
    with pytest.raises(SystemExit, match="not a number"):
        scale.parse_sizes("1e6,lots")
    with pytest.raises(SystemExit, match="whole numbers"):
        scale.parse_sizes("1.5")
    with pytest.raises(SystemExit, match="unknown framework"):
        bench.main(["--synthetic", "1000", "--frameworks", "jax", "--out", os.devnull])


def test_bandwidth_is_a_plausible_rate():
    from cflearn import scale

    assert 1e8 < scale.bandwidth(2**22, repeats=2) < 1e13  # 100 MB/s .. 10 TB/s
