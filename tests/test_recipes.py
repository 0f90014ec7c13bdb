"""cflearn.recipes: every recipe builds its model in both frameworks; the tuner uses an inner split."""

import numpy as np
import pandas as pd
import pytest

from cflearn import recipes


def raw_frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"userId": rng.integers(100, 130, n), "movieId": rng.integers(1, 60, n),
                       "rating": rng.choice(np.arange(0.5, 5.5, 0.5), n).astype("float32"),
                       "timestamp": np.arange(n, dtype="int64")})
    return df.drop_duplicates(["userId", "movieId"]).reset_index(drop=True)  # one rating per pair, as MovieLens


def test_recipes_split_into_model_and_fit_settings():
    for name, recipe in recipes.RECIPES.items():
        fit = recipes.fit_kwargs(recipe)
        assert set(fit) == set(recipes.FIT_KEYS), name
        assert fit["lr"] > 0 and fit["n_epochs"] >= 1 and fit["batch_size"] >= 1 and fit["weight_decay"] >= 0
        assert not set(recipes.model_kwargs(recipe)) & set(recipes.FIT_KEYS)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_every_recipe_builds_and_fills_in_the_training_mean(framework):
    pytest.importorskip(framework)
    train = pd.DataFrame({"user": [0, 1], "item": [0, 1], "rating": [3.0, 4.0]})
    for name in recipes.RECIPES:
        model = recipes.make_model(name, framework, 5, 7, train=train)
        assert type(model).__name__ == name and model.n_users == 5 and model.n_items == 7
    with_mean = {**recipes.RECIPES["DotProductBias"], "global_mean": True}
    model = recipes.make_model("DotProductBias", framework, 5, 7, recipe=with_mean, train=train)
    assert model.global_mean == pytest.approx(3.5)  # "True" means the training split's mean rating
    with pytest.raises(ValueError, match="train="):
        recipes.make_model("DotProductBias", framework, 5, 7, recipe=with_mean)
    with pytest.raises(ValueError, match="unknown model"):
        recipes.make_model("Nope", framework, 5, 7)


def test_every_recipe_is_a_point_of_its_tuning_grid():
    # RECIPES are what tune() chose from TUNING_GRIDS: each tuned setting is one of the grid's values.
    assert set(recipes.TUNING_GRIDS) == set(recipes.RECIPES)
    for name, grid in recipes.TUNING_GRIDS.items():
        for key, values in grid.items():
            assert recipes.RECIPES[name][key] in values, (name, key)


def test_inner_split_is_carved_from_train_and_encoded_on_its_own_part():
    raw = raw_frame()
    inner_train, inner_valid, encoder = recipes.inner_split(raw)
    assert len(inner_train) + len(inner_valid) <= len(raw)
    assert set(inner_train.timestamp) | set(inner_valid.timestamp) <= set(raw.timestamp)
    assert not set(inner_train.timestamp) & set(inner_valid.timestamp)
    assert inner_train.user.max() < encoder.n_users and inner_valid.item.max() < encoder.n_items


def test_tune_returns_one_row_per_combination_sorted_by_rmse():
    pytest.importorskip("torch")
    table = recipes.tune("DotProductBias", {"lr": [1e-3, 1e-2], "n_epochs": [1]}, raw_frame(), progress=False)
    assert len(table) == 2 and set(table.lr) == {1e-3, 1e-2}
    assert table.final_rmse.is_monotonic_increasing and (table.best_rmse <= table.final_rmse).all()
