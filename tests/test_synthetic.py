"""cflearn.synthetic: MovieLens-shaped frames, seeded, heavy-tailed, and learnable."""

import numpy as np
import pandas as pd
import pytest

from cflearn import baselines, data, metrics, synthetic


@pytest.fixture(scope="module")
def made():
    return synthetic.generate(200_000, seed=3)


def test_frames_have_load_movielens_columns_and_dtypes(made):
    ratings, movies = made.ratings, made.movies
    assert list(ratings.columns) == data.RATING_COLUMNS
    assert ratings.dtypes.astype(str).to_dict() == data.RATING_DTYPES
    assert list(movies.columns) == ["movieId", "title", "genres"] and movies.movieId.dtype == np.int64
    assert len(ratings) == 200_000
    assert set(ratings.movieId) <= set(movies.movieId)
    halves = ratings.rating.to_numpy() * 2
    assert np.array_equal(halves, np.round(halves)) and ratings.rating.between(0.5, 5.0).all()
    assert ratings.timestamp.between(*synthetic.TIME_RANGE).all()
    assert not ratings.duplicated(["userId", "movieId"]).any()  # one rating per (user, film) pair
    # sorted by user then film, like ml-25m's ratings.csv
    assert ratings.sort_values(["userId", "movieId"]).index.equals(ratings.index)


def test_default_sizes_are_ml25m_at_full_size_and_shrink_sublinearly():
    assert synthetic.sizes(25_000_095) == (162_541, 59_047)
    n_users, n_items = synthetic.sizes(250_001)  # a hundredth of the ratings
    assert 162_541 / 100 < n_users < 162_541 / 10 and 59_047 / 100 < n_items < 59_047 / 10
    assert synthetic.sizes(1e6) == synthetic.sizes(1_000_000)


def test_same_seed_same_frames_other_seed_other_frames():
    a, ma = synthetic.ratings(20_000, seed=7)
    b, mb = synthetic.ratings(20_000, seed=7)
    c, _ = synthetic.ratings(20_000, seed=8)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ma, mb)
    assert not a.rating.equals(c.rating)
    assert a.attrs["planted_rmse"] == b.attrs["planted_rmse"]


def test_mean_and_spread_are_movielens_like(made):
    assert 3.4 < made.ratings.rating.mean() < 3.65
    assert 0.95 < made.ratings.rating.std() < 1.15


def test_popularity_and_activity_are_heavy_tailed(made):
    counts = np.sort(made.ratings.movieId.value_counts().to_numpy())[::-1]
    top = counts[: len(counts) // 100].sum() / counts.sum()
    assert top > 0.2  # the top 1% of films hold over a fifth of the ratings (uniform: 1%)
    assert np.median(counts) < 0.5 * counts.mean()  # most films are rated rarely
    users = made.ratings.userId.value_counts().to_numpy()
    assert users.max() > 10 * np.median(users)


def test_planted_rmse_is_the_error_of_the_planted_model(made):
    r = made.ratings
    truth = made.planted.predict(r.userId, r.movieId)
    assert metrics.rmse(r.rating, truth) == pytest.approx(made.planted_rmse, rel=1e-6)
    # noise is there, but the planted model explains much of the variance
    assert 0.5 < made.planted_rmse < 0.9 * r.rating.std()


def test_a_model_trained_on_it_beats_the_global_mean_through_the_usual_pipeline(made):
    train_raw, valid_raw = data.split_ratings(made.ratings, 0.2, seed=42)
    train, valid, encoder = data.encode_split(train_raw, valid_raw, quiet=True)
    assert encoder.n_users > 100 and len(valid) > 0.95 * len(valid_raw)
    gm = metrics.rmse(valid.rating, baselines.GlobalMean().fit(train).predict(valid))
    bias = metrics.rmse(valid.rating, baselines.BiasBaseline().fit(train).predict(valid))
    floor = metrics.rmse(valid.rating, made.planted.predict(valid.userId, valid.movieId))
    assert floor < bias < gm - 0.1


def test_bad_arguments_are_refused_with_a_reason():
    with pytest.raises(TypeError, match="n_ratings must be a positive whole number"):
        synthetic.ratings("many")
    with pytest.raises(ValueError, match="at least 1"):
        synthetic.ratings(0)
    with pytest.raises(ValueError, match="twice as large"):
        synthetic.ratings(1000, n_users=10, n_items=10)
    with pytest.raises(ValueError, match="out of range"):
        synthetic.generate(1000).planted.predict([0], [1])


def test_tiny_sizes_still_work():
    ratings, movies = synthetic.ratings(50, seed=0)
    assert len(ratings) == 50 and not ratings.duplicated(["userId", "movieId"]).any()
    assert ratings.movieId.max() <= len(movies)
