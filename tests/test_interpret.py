"""Tests for cflearn.interpret on tiny hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from cflearn import interpret
from cflearn.interpret import NotFoundError


class Encoder:
    """The two attributes interpret reads from data.IdEncoder."""

    def __init__(self, user_ids, item_ids):
        self.user_ids_ = np.asarray(user_ids)
        self.item_ids_ = np.asarray(item_ids)


# item index -> movieId: 0 -> 30, 1 -> 10, 2 -> 20, 3 -> 40; movies deliberately in another order
ENC = Encoder(user_ids=[7, 5], item_ids=[30, 10, 20, 40])
MOVIES = pd.DataFrame(
    {"movieId": [10, 20, 30, 40, 50], "title": ["Ten (1990)", "Twenty (1991)", "Thirty (1992)", "Forty (1993)", "Fifty (1994)"],
     "genres": ["x"] * 5}
)
TRAIN = pd.DataFrame(
    {"user": [0, 0, 0, 1, 1, 1, 1], "item": [0, 1, 2, 0, 1, 2, 3], "rating": [5.0, 3.0, 4.0, 4.0, 2.0, 3.0, 1.0]}
)
WEIGHTS = {
    "user_factors": np.array([[1.0, 0.0], [0.0, 1.0]]),
    "item_factors": np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0], [-1.0, 0.1]]),
    "user_bias": np.array([0.5, -0.5]),
    "item_bias": np.array([0.3, -0.2, 0.1, 0.9]),
    "global_mean": 3.0,
}


def test_titles_follow_movie_ids_not_positions():
    table = interpret.item_table(ENC, MOVIES, TRAIN)
    assert list(table.title) == ["Thirty (1992)", "Ten (1990)", "Twenty (1991)", "Forty (1993)"]
    assert list(table.n_ratings) == [2, 2, 2, 1]
    assert table.mean_rating.tolist() == [4.5, 2.5, 3.5, 1.0]


def test_item_biases_ranked_with_filter():
    ranked = interpret.item_biases(WEIGHTS, ENC, MOVIES, TRAIN, min_ratings=2)
    assert list(ranked.title) == ["Thirty (1992)", "Twenty (1991)", "Ten (1990)"]  # Forty has 1 rating: filtered
    np.testing.assert_allclose(ranked.bias, [0.3, 0.1, -0.2])
    assert interpret.item_biases(WEIGHTS, ENC, MOVIES, TRAIN, min_ratings=0).title.iloc[0] == "Forty (1993)"


def test_user_biases():
    ranked = interpret.user_biases(WEIGHTS, ENC, TRAIN, min_ratings=1)
    assert list(ranked.userId) == [7, 5]
    assert list(ranked.n_ratings) == [3, 4]


def test_pca_recovers_a_rank_two_matrix():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(5, 2)))[0].T  # two orthonormal directions in 5-D
    coef = rng.normal(size=(40, 2)) * [3.0, 1.0]  # more spread along the first
    x = coef @ basis + 7.0  # an offset PCA must remove
    coords, comps, explained = interpret.pca(x, 2)
    assert coords.shape == (40, 2) and comps.shape == (2, 5)
    np.testing.assert_allclose(explained.sum(), 1.0)  # rank 2: two components explain everything
    assert explained[0] > explained[1]
    np.testing.assert_allclose(coords @ comps + x.mean(0), x, atol=1e-9)  # exact reconstruction
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-12)
    assert np.all(comps[np.arange(2), np.argmax(np.abs(comps), axis=1)] > 0)  # sign convention


def test_pca_of_points_on_a_line():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    coords, comps, explained = interpret.pca(x, 1)
    np.testing.assert_allclose(comps[0], [np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_allclose(coords[:, 0], (np.arange(4) - 1.5) * np.sqrt(2))
    np.testing.assert_allclose(explained, [1.0])


def test_embedding_pca_frame():
    frame = interpret.embedding_pca(WEIGHTS, ENC, MOVIES, TRAIN, min_ratings=1)
    assert {"movieId", "title", "n_ratings", "pc1", "pc2"} <= set(frame.columns)
    assert len(frame) == 4 and len(frame.attrs["explained"]) == 2
    with pytest.raises(ValueError, match="min_ratings"):
        interpret.embedding_pca(WEIGHTS, ENC, MOVIES, TRAIN, min_ratings=3)


def test_cosine_neighbours_by_hand():
    vectors = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 0.0]])
    idx, sims = interpret.cosine_neighbours(vectors, 0, n=3)
    assert list(idx) == [1, 3, 2]  # direction, not length: row 1 beats row 3 although both are long
    np.testing.assert_allclose(sims, [10 / np.sqrt(101), 1 / np.sqrt(2), 0.0])
    idx, _ = interpret.cosine_neighbours(vectors, 4, n=10)
    assert 4 not in idx and len(idx) == 4 and list(idx[-2:]) == [1, 0]  # most opposite last


def test_cosine_neighbours_ties_and_zero_rows():
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    idx, sims = interpret.cosine_neighbours(vectors, 0, n=3)
    assert list(idx) == [2, 3, 1]
    np.testing.assert_allclose(sims, [1.0, 1.0, 0.0])


def test_find_title():
    assert interpret.find_title(MOVIES, "Ten (1990)") == 10
    assert interpret.find_title(MOVIES, "twenty") == 20  # without the year, any case
    matrix = pd.DataFrame({"movieId": [2571], "title": ["Matrix, The (1999)"], "genres": ["x"]})
    assert interpret.find_title(matrix, "The Matrix") == 2571  # MovieLens puts the article last
    with pytest.raises(NotFoundError, match="did you mean: Forty"):
        interpret.find_title(MOVIES, "Fourty")
    with pytest.raises(NotFoundError, match="no ratings in the training split"):
        interpret.find_title(MOVIES, "Fifty", encoder=ENC)
    twins = pd.concat([MOVIES, pd.DataFrame({"movieId": [60], "title": ["Ten (2020)"], "genres": ["x"]})])
    with pytest.raises(NotFoundError, match="several titles"):
        interpret.find_title(twins, "Ten")


def test_similar_uses_titles_by_id():
    out = interpret.similar(WEIGHTS, ENC, MOVIES, "Thirty (1992)", n=2)
    # Thirty is item 0 = [2, 0]; item 1 = [1, 1] (cos 0.707), item 3 = [-1, .1], item 2 = [0, 3] (cos 0)
    assert list(out.title) == ["Ten (1990)", "Twenty (1991)"]
    out = interpret.similar(WEIGHTS, ENC, MOVIES, "Thirty", n=5, train=TRAIN, min_ratings=2)
    assert list(out.title) == ["Ten (1990)", "Twenty (1991)"]  # Forty (1 rating) is not a candidate


def test_recommend_excludes_rated_items():
    # user 7 (index 0) rated items 0, 1, 2: only item 3 (Forty) remains
    out = interpret.recommend(WEIGHTS, ENC, MOVIES, TRAIN, user_id=7, n=5)
    assert list(out.title) == ["Forty (1993)"]
    assert out.predicted.iloc[0] == pytest.approx(3.0 + 0.5 + 0.9 + (-1.0))
    train = TRAIN[TRAIN.user != 0].reset_index(drop=True)
    out = interpret.recommend(WEIGHTS, ENC, MOVIES, train, user_id=7, n=2)
    # scores for user 0 = [1, 0]: 3.5 + bias + first factor -> items 0: 5.8, 1: 4.3, 2: 3.6, 3: 3.4
    assert list(out.movieId) == [30, 10]
    with pytest.raises(NotFoundError, match="userId 99"):
        interpret.recommend(WEIGHTS, ENC, MOVIES, TRAIN, user_id=99)


def test_norm_vs_popularity():
    frame = interpret.norm_vs_popularity(WEIGHTS, ENC, MOVIES, TRAIN)
    np.testing.assert_allclose(frame.norm, [2.0, np.sqrt(2), 3.0, np.sqrt(1.01)])
    assert list(frame.n_ratings) == [2, 2, 2, 1]


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    frame = interpret.embedding_pca(WEIGHTS, ENC, MOVIES, TRAIN, min_ratings=1)
    assert interpret.plot_pca(frame, n_labels=2) is not None
    assert interpret.plot_norm_vs_popularity(interpret.norm_vs_popularity(WEIGHTS, ENC, MOVIES, TRAIN)) is not None


def test_weights_from_biased_mf():
    from cflearn.scratch import BiasedMF

    model = BiasedMF(n_factors=2, n_epochs=2).fit(TRAIN)
    w = interpret.weights(model)
    assert w["item_factors"].shape == (4, 2) and w["item_bias"].shape == (4,)
    out = interpret.recommend(model, ENC, MOVIES, TRAIN.iloc[3:], user_id=7, n=4)
    expected = model.predict(pd.DataFrame({"user": [0, 0, 0, 0], "item": [0, 1, 2, 3]}))
    np.testing.assert_allclose(out.predicted, np.sort(expected)[::-1])


def test_weights_and_recommend_from_torch_model():
    pytest.importorskip("torch")
    pytest.importorskip("cflearn.torch")
    from cflearn.torch import DotProductBias, predict, set_weights

    model = DotProductBias(2, 4, n_factors=2, y_range=(0.5, 5.5))
    set_weights(model, {k: (v.reshape(-1, 1) if k.endswith("bias") else v) for k, v in WEIGHTS.items() if k != "global_mean"})
    w = interpret.weights(model)
    np.testing.assert_allclose(w["item_bias"], WEIGHTS["item_bias"], atol=1e-6)
    np.testing.assert_allclose(w["item_factors"], WEIGHTS["item_factors"], atol=1e-6)
    train = TRAIN[TRAIN.user != 0].reset_index(drop=True)
    out = interpret.recommend(model, ENC, MOVIES, train, user_id=7, n=4)
    expected = predict(model, pd.DataFrame({"user": [0, 0, 0, 0], "item": [0, 1, 2, 3]}))
    assert list(out.movieId) == list(ENC.item_ids_[np.argsort(-expected, kind="stable")])
    np.testing.assert_allclose(out.predicted, np.sort(expected)[::-1], atol=1e-6)


def test_weights_and_recommend_from_keras_model():
    pytest.importorskip("keras")
    pytest.importorskip("cflearn.keras")
    from cflearn.keras import DotProductBias, predict, set_weights

    model = DotProductBias(2, 4, n_factors=2)
    set_weights(model, {k: (v.reshape(-1, 1) if k.endswith("bias") else v) for k, v in WEIGHTS.items() if k != "global_mean"})
    w = interpret.weights(model)
    np.testing.assert_allclose(w["user_bias"], WEIGHTS["user_bias"], atol=1e-6)
    np.testing.assert_allclose(w["item_factors"], WEIGHTS["item_factors"], atol=1e-6)
    train = TRAIN[TRAIN.user != 0].reset_index(drop=True)
    out = interpret.recommend(model, ENC, MOVIES, train, user_id=7, n=4)
    expected = predict(model, pd.DataFrame({"user": [0, 0, 0, 0], "item": [0, 1, 2, 3]}))
    # no y_range, no global mean: predictions are bias + bias + dot, as computed by hand
    np.testing.assert_allclose(expected, [0.5 + 0.3 + 2.0, 0.5 - 0.2 + 1.0, 0.5 + 0.1, 0.5 + 0.9 - 1.0], atol=1e-5)
    np.testing.assert_allclose(out.predicted, np.sort(expected)[::-1], atol=1e-6)
    near = interpret.similar(model, ENC, MOVIES, "Thirty", n=1)
    assert list(near.title) == ["Ten (1990)"]
