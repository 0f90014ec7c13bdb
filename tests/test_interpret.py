"""Tests for cflearn.interpret on tiny hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from cflearn import data, interpret
from cflearn.interpret import NotFoundError


# item index -> movieId: 0 -> 10, 1 -> 20, 2 -> 30, 3 -> 40 (IdEncoder sorts the ids);
# user index -> userId: 0 -> 5, 1 -> 7. movies is deliberately in another order.
ENC = data.IdEncoder().fit(pd.DataFrame({"userId": [5, 7, 7, 5], "movieId": [10, 20, 30, 40]}))
MOVIES = pd.DataFrame(
    {"movieId": [30, 50, 10, 40, 20], "title": ["Thirty (1992)", "Fifty (1994)", "Ten (1990)", "Forty (1993)", "Twenty (1991)"],
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


ITEMS = interpret.item_table(ENC, MOVIES, TRAIN)


def test_titles_follow_movie_ids_not_positions():
    table = interpret.item_table(ENC, MOVIES, TRAIN)
    assert list(table.title) == ["Ten (1990)", "Twenty (1991)", "Thirty (1992)", "Forty (1993)"]
    assert list(table.index) == [0, 1, 2, 3] and table.index.name == "item"
    assert list(table.n_ratings) == [2, 2, 2, 1]
    assert table.mean_rating.tolist() == [4.5, 2.5, 3.5, 1.0]


def test_item_biases_ranked_with_filter():
    ranked = interpret.item_biases(WEIGHTS, ITEMS, min_ratings=2)
    assert list(ranked.title) == ["Ten (1990)", "Thirty (1992)", "Twenty (1991)"]  # Forty has 1 rating: filtered
    np.testing.assert_allclose(ranked.bias, [0.3, 0.1, -0.2])
    assert list(ranked.index) == [0, 2, 1]  # the item index travels with each row
    assert interpret.item_biases(WEIGHTS, ITEMS, min_ratings=0).title.iloc[0] == "Forty (1993)"


def test_user_biases():
    ranked = interpret.user_biases(WEIGHTS, ENC, TRAIN, min_ratings=1)
    assert list(ranked.userId) == [5, 7]
    assert list(ranked.n_ratings) == [3, 4]
    np.testing.assert_allclose(ranked.mean_rating, [4.0, 2.5])


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


def test_pca_matches_numpy_svd_and_covariance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 6)) @ rng.normal(size=(6, 6))
    coords, comps, explained = interpret.pca(x, 3)
    centred = x - x.mean(0)
    _, s, vt = np.linalg.svd(centred)
    for k in range(3):  # the same directions as NumPy's SVD, up to sign
        assert abs(comps[k] @ vt[k]) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(explained, s[:3] ** 2 / np.sum(s**2))
    # the variance along each component is the covariance matrix's eigenvalue
    eig = np.sort(np.linalg.eigvalsh(np.cov(centred.T)))[::-1][:3]
    np.testing.assert_allclose(coords.var(axis=0, ddof=1), eig, rtol=1e-10)


def test_pca_of_points_on_a_line():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    coords, comps, explained = interpret.pca(x, 1)
    np.testing.assert_allclose(comps[0], [np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_allclose(coords[:, 0], (np.arange(4) - 1.5) * np.sqrt(2))
    np.testing.assert_allclose(explained, [1.0])


def test_embedding_pca_frame():
    frame = interpret.embedding_pca(WEIGHTS, ITEMS, min_ratings=1)
    assert {"movieId", "title", "n_ratings", "pc1", "pc2"} <= set(frame.columns)
    assert len(frame) == 4 and len(frame.attrs["explained"]) == 2
    coords, _, _ = interpret.pca(WEIGHTS["item_factors"], 2)
    np.testing.assert_allclose(frame[["pc1", "pc2"]].to_numpy(), coords)
    with pytest.raises(ValueError, match="min_ratings"):
        interpret.embedding_pca(WEIGHTS, ITEMS, min_ratings=3)


def brute_force_cosine(vectors, index, n):
    """Cosine similarity row by row with plain Python loops: the reference."""
    sims = []
    for j, row in enumerate(vectors):
        if j != index:
            na, nb = np.sqrt(sum(v * v for v in vectors[index])), np.sqrt(sum(v * v for v in row))
            sims.append((-(sum(a * b for a, b in zip(vectors[index], row)) / (na * nb)), j))
    sims.sort()
    return [j for _, j in sims[:n]], [-s for s, _ in sims[:n]]


def test_cosine_neighbours_against_brute_force():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 5))
    for index in (0, 7, 29):
        idx, sims = interpret.cosine_neighbours(vectors, index, n=8)
        ref_idx, ref_sims = brute_force_cosine(vectors, index, 8)
        assert list(idx) == ref_idx
        np.testing.assert_allclose(sims, ref_sims)


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
    assert interpret.find_title(MOVIES, "Forty", encoder=ENC) == 40
    twins = pd.concat([MOVIES, pd.DataFrame({"movieId": [60], "title": ["Ten (2020)"], "genres": ["x"]})])
    with pytest.raises(NotFoundError, match="several titles"):
        interpret.find_title(twins, "Ten")


def test_similar_uses_titles_by_id():
    out = interpret.similar(WEIGHTS, ITEMS, "Ten (1990)", n=2)
    # Ten is item 0 = [2, 0]; item 1 = [1, 1] (cos 0.707), item 3 = [-1, .1] (cos -0.995), item 2 = [0, 3] (cos 0)
    assert list(out.title) == ["Twenty (1991)", "Thirty (1992)"]
    np.testing.assert_allclose(out.similarity, [np.sqrt(0.5), 0.0], atol=1e-12)
    out = interpret.similar(WEIGHTS, ITEMS, "Ten", n=5, min_ratings=2)
    assert list(out.title) == ["Twenty (1991)", "Thirty (1992)"]  # Forty (1 rating) is not a candidate
    with pytest.raises(NotFoundError, match="not a title of a film rated in train; did you mean: Forty"):
        interpret.similar(WEIGHTS, ITEMS, "Fourty")


def test_recommend_excludes_rated_items():
    # user 5 (index 0) rated items 0, 1, 2: only item 3 (Forty) remains
    out = interpret.recommend(WEIGHTS, ITEMS, ENC, TRAIN, user_id=5, n=5)
    assert list(out.title) == ["Forty (1993)"]
    assert out.predicted.iloc[0] == pytest.approx(3.0 + 0.5 + 0.9 + (-1.0))
    train = TRAIN[TRAIN.user != 0].reset_index(drop=True)
    out = interpret.recommend(WEIGHTS, ITEMS, ENC, train, user_id=5, n=2)
    # scores for user 0 = [1, 0]: 3.5 + bias + first factor -> items 0: 5.8, 1: 4.3, 2: 3.6, 3: 3.4
    assert list(out.movieId) == [10, 20]
    np.testing.assert_allclose(out.predicted, [5.8, 4.3])
    with pytest.raises(NotFoundError, match="userId 99"):
        interpret.recommend(WEIGHTS, ITEMS, ENC, TRAIN, user_id=99)


def test_item_norms():
    frame = interpret.item_norms(WEIGHTS, ITEMS)
    np.testing.assert_allclose(frame.norm, [2.0, np.sqrt(2), 3.0, np.sqrt(1.01)])
    assert list(frame.n_ratings) == [2, 2, 2, 1]


def test_functions_refuse_a_wrong_items_argument():
    with pytest.raises(TypeError, match=r"interpret.item_table\(encoder, movies, train\)"):
        interpret.item_biases(WEIGHTS, ENC)  # the encoder where the item table belongs
    with pytest.raises(ValueError, match="whole table"):
        interpret.similar(WEIGHTS, ITEMS[ITEMS.n_ratings >= 2], "Ten")
    bigger = {**WEIGHTS, "item_factors": np.zeros((5, 2)), "item_bias": np.zeros(5)}
    with pytest.raises(ValueError, match="5 item vectors but items has 4 rows"):
        interpret.item_norms(bigger, ITEMS)
    shuffled = ITEMS.sample(frac=1.0, random_state=0)  # any row order is fine: rows carry their item index
    np.testing.assert_allclose(interpret.item_norms(WEIGHTS, shuffled).norm, interpret.item_norms(WEIGHTS, ITEMS).norm)


def test_missing_tables_are_named():
    no_bias = {"user_factors": WEIGHTS["user_factors"], "item_factors": WEIGHTS["item_factors"]}
    with pytest.raises(ValueError, match="item_biases needs item_bias.*only user_factors, item_factors"):
        interpret.item_biases(no_bias, ITEMS)
    with pytest.raises(ValueError, match="user_biases needs user_bias"):
        interpret.user_biases(no_bias, ENC, TRAIN)
    with pytest.raises(ValueError, match="similar needs item_factors"):
        interpret.similar({"item_bias": WEIGHTS["item_bias"]}, ITEMS, "Ten")
    with pytest.raises(TypeError, match="cannot read embeddings from a str"):
        interpret.weights("model.pt")


def test_weights_from_biased_mf():
    from cflearn.scratch import BiasedMF

    model = BiasedMF(n_factors=2, n_epochs=2).fit(TRAIN)
    w = interpret.weights(model)
    assert w["item_factors"].shape == (4, 2) and w["item_bias"].shape == (4,)
    out = interpret.recommend(model, ITEMS, ENC, TRAIN.iloc[3:], user_id=5, n=4)
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
    out = interpret.recommend(model, ITEMS, ENC, train, user_id=5, n=4)
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
    out = interpret.recommend(model, ITEMS, ENC, train, user_id=5, n=4)
    expected = predict(model, pd.DataFrame({"user": [0, 0, 0, 0], "item": [0, 1, 2, 3]}))
    # no y_range, no global mean: predictions are bias + bias + dot, as computed by hand
    np.testing.assert_allclose(expected, [0.5 + 0.3 + 2.0, 0.5 - 0.2 + 1.0, 0.5 + 0.1, 0.5 + 0.9 - 1.0], atol=1e-5)
    np.testing.assert_allclose(out.predicted, np.sort(expected)[::-1], atol=1e-6)
    near = interpret.similar(model, ITEMS, "Ten", n=1)
    assert list(near.title) == ["Twenty (1991)"]


def test_a_learners_own_torch_module():
    torch = pytest.importorskip("torch")

    class MyDotProduct(torch.nn.Module):  # as a learner writes it: no n_users, no cflearn base class
        def __init__(self):
            super().__init__()
            self.user_factors = torch.nn.Embedding(2, 2)
            self.item_factors = torch.nn.Embedding(4, 2)
            with torch.no_grad():
                self.user_factors.weight.copy_(torch.tensor(WEIGHTS["user_factors"]))
                self.item_factors.weight.copy_(torch.tensor(WEIGHTS["item_factors"]))

        def forward(self, user, item):
            return (self.user_factors(user) * self.item_factors(item)).sum(-1)

    model = MyDotProduct()
    w = interpret.weights(model)
    assert set(w) == {"user_factors", "item_factors"}
    np.testing.assert_allclose(w["item_factors"], WEIGHTS["item_factors"], atol=1e-6)
    assert list(interpret.similar(model, ITEMS, "Ten", n=1).title) == ["Twenty (1991)"]
    out = interpret.recommend(model, ITEMS, ENC, TRAIN[TRAIN.user != 1], user_id=7, n=4)
    # user 7 is index 1 = [0, 1]: dot products with items are 0, 1, 3, 0.1
    assert list(out.movieId) == [30, 20, 40, 10]
    np.testing.assert_allclose(out.predicted, [3.0, 1.0, 0.1, 0.0], atol=1e-6)
    assert model.training  # recommend puts the model back in the mode it found
    with pytest.raises(ValueError, match="item_biases needs item_bias, and this MyDotProduct has only user_factors, item_factors"):
        interpret.item_biases(model, ITEMS)

    class NotEmbeddings(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.item_factors = torch.nn.ReLU()

    with pytest.raises(TypeError, match="NotEmbeddings.item_factors is a ReLU.*torch.nn.Embedding"):
        interpret.weights(NotEmbeddings())


def test_a_learners_own_keras_model():
    keras = pytest.importorskip("keras")

    class MyDotProduct(keras.Model):  # as a learner writes it: call on one (batch, 2) array
        def __init__(self):
            super().__init__()
            self.user_factors = keras.layers.Embedding(2, 2)
            self.item_factors = keras.layers.Embedding(4, 2)
            self.item_bias = keras.layers.Embedding(4, 1)
            for layer in (self.user_factors, self.item_factors, self.item_bias):
                layer.build((None,))

        def call(self, inputs):
            user, item = inputs[:, 0], inputs[:, 1]
            dot = keras.ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)
            return dot + keras.ops.squeeze(self.item_bias(item), -1)

    model = MyDotProduct()
    model.user_factors.embeddings.assign(WEIGHTS["user_factors"])
    model.item_factors.embeddings.assign(WEIGHTS["item_factors"])
    model.item_bias.embeddings.assign(WEIGHTS["item_bias"].reshape(-1, 1))
    w = interpret.weights(model)
    assert set(w) == {"user_factors", "item_factors", "item_bias"} and w["item_bias"].shape == (4,)
    ranked = interpret.item_biases(model, ITEMS, min_ratings=0)
    assert list(ranked.title) == ["Forty (1993)", "Ten (1990)", "Thirty (1992)", "Twenty (1991)"]
    out = interpret.recommend(model, ITEMS, ENC, TRAIN[TRAIN.user != 0], user_id=5, n=2)
    # user 5 = [1, 0]: first factor + item bias -> 2.3, 0.8, 0.1, -0.1
    np.testing.assert_allclose(out.predicted, [2.3, 0.8], atol=1e-5)
    with pytest.raises(ValueError, match="user_biases needs user_bias"):
        interpret.user_biases(model, ENC, TRAIN)


def test_interpret_imports_no_framework():
    import subprocess
    import sys

    code = ("import sys; from cflearn import interpret; import numpy as np; "
            "interpret.weights({'item_factors': np.ones((2, 2))}); "
            "print(sorted(m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
