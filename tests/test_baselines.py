"""Baselines against closed forms and hand-computed tiny cases."""

import numpy as np
import pandas as pd
import pytest

from cflearn.baselines import BiasBaseline, GlobalMean

TRAIN = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 0, 2, 1], "rating": [5.0, 3.0, 4.0, 2.0, 1.0]})


def test_global_mean_predicts_the_training_mean():
    pred = GlobalMean().fit(TRAIN).predict(pd.DataFrame({"user": [5], "item": [7]}))
    assert pred.tolist() == [pytest.approx(3.0)]


def test_bias_baseline_without_shrinkage_solves_least_squares():
    """reg=0: the fitted biases minimise the squared error, like a least-squares solve."""
    model = BiasBaseline(reg=0.0, n_iter=500).fit(TRAIN)
    n_users, n_items = 3, 3
    X = np.zeros((len(TRAIN), n_users + n_items))
    X[np.arange(len(TRAIN)), TRAIN.user] = 1
    X[np.arange(len(TRAIN)), n_users + TRAIN.item] = 1
    y = TRAIN.rating.to_numpy() - TRAIN.rating.mean()
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    best = np.sum((X @ coef - y) ** 2)
    ours = np.sum((model.predict(TRAIN) - TRAIN.rating.to_numpy()) ** 2)
    assert ours == pytest.approx(best, abs=1e-4)


def test_one_sweep_matches_the_hand_computed_shrunk_item_bias():
    """First half-sweep by hand: b_i = sum(r - mean) / (reg + n_i) with user biases at 0."""
    model = BiasBaseline(reg=2.0, n_iter=1).fit(TRAIN)
    # item 2 has one rating, 2.0; the mean is 3.0 -> (2 - 3) / (2 + 1)
    assert model.item_bias_[2] == pytest.approx(-1 / 3)
    # user 2 has one rating of item 1; item 1's bias is ((3-3) + (1-3)) / (2 + 2) = -0.5
    assert model.user_bias_[2] == pytest.approx((1 - 3 - (-0.5)) / 3)


def test_shrinkage_pulls_biases_towards_zero():
    loose = BiasBaseline(reg=0.1).fit(TRAIN)
    tight = BiasBaseline(reg=100.0).fit(TRAIN)
    assert np.abs(tight.item_bias_).max() < np.abs(loose.item_bias_).max()
    assert np.abs(tight.item_bias_).max() < 0.05


def test_unseen_users_and_items_fall_back_to_the_known_parts():
    model = BiasBaseline(reg=1.0).fit(TRAIN)
    new = pd.DataFrame({"user": [-1, 0, 99, -1], "item": [0, -1, 1, 5]})
    pred = model.predict(new)
    assert pred[0] == pytest.approx(model.mean_ + model.item_bias_[0])
    assert pred[1] == pytest.approx(model.mean_ + model.user_bias_[0])
    assert pred[2] == pytest.approx(model.mean_ + model.item_bias_[1])
    assert pred[3] == pytest.approx(model.mean_)


def test_bad_input_gets_a_clear_message():
    with pytest.raises(ValueError, match="no column 'user'.*IdEncoder"):
        BiasBaseline().fit(TRAIN.drop(columns="user"))
    with pytest.raises(ValueError, match="NaN"):
        BiasBaseline().fit(TRAIN.assign(rating=[1.0, np.nan, 3.0, 4.0, 5.0]))
    with pytest.raises(RuntimeError, match="fit"):
        GlobalMean().predict(TRAIN)
    with pytest.raises(ValueError, match="reg must be >= 0"):
        BiasBaseline(reg=-1).fit(TRAIN)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_iter": -3}, "n_iter must be a positive integer"),
    ({"n_iter": 0}, "n_iter must be a positive integer"),
    ({"n_iter": 2.5}, "n_iter must be a positive integer"),
    ({"n_iter": True}, "n_iter must be a positive integer"),
    ({"n_iter": "10"}, "n_iter must be a positive integer"),
    ({"reg": float("nan")}, "reg must be >= 0"),
    ({"reg": float("inf")}, "reg must be >= 0"),
    ({"reg": "3"}, "reg must be >= 0"),
    ({"reg": None}, "reg must be >= 0"),
])
def test_bad_settings_are_refused_at_fit(kwargs, message):
    model = BiasBaseline(**kwargs)  # scikit-learn style: __init__ stores, fit checks
    with pytest.raises(ValueError, match=message):
        model.fit(TRAIN)


def test_global_mean_takes_no_settings():
    with pytest.raises(TypeError):
        GlobalMean(3.0)


@pytest.mark.parametrize("column", ["user", "item"])
def test_non_integer_indices_are_refused_not_truncated(column):
    model = BiasBaseline().fit(TRAIN)
    query = pd.DataFrame({"user": [1, 0], "item": [0, 2]}).astype(float)
    assert model.predict(query).tolist() == model.predict(query.astype(int)).tolist()  # whole floats are fine
    query.loc[0, column] = 1.7
    with pytest.raises(ValueError, match=f"column '{column}' must hold integer indices.*1.7"):
        model.predict(query)
    query.loc[0, column] = np.inf
    with pytest.raises(ValueError, match="integer indices"):
        model.predict(query)
    with pytest.raises(ValueError, match="integer indices"):
        model.fit(TRAIN.assign(**{column: TRAIN[column] + 0.5}))
    with pytest.raises(ValueError, match="integer indices"):
        model.predict(query.assign(**{column: ["a", "b"]}))


def test_non_numeric_ratings_and_non_frames_get_a_clear_message():
    with pytest.raises(ValueError, match="must hold numbers"):
        BiasBaseline().fit(TRAIN.assign(rating=["5", "3", "x", "2", "1"]))
    with pytest.raises(TypeError, match="DataFrame"):
        BiasBaseline().fit([[0, 0, 5.0]])


def test_the_models_index_check_refuses_fractions_and_infinities():
    from cflearn._inputs import encoded_arrays

    for bad in (1.7, np.inf, np.nan):
        with pytest.raises(ValueError, match="integer indices"):
            encoded_arrays((np.array([0.0, bad]), np.array([0, 1]), np.array([3.0, 4.0])), 3, 3)
    user, _, _ = encoded_arrays((np.array([0.0, 2.0]), np.array([0, 1]), np.array([3.0, 4.0])), 3, 3)
    assert user.tolist() == [0, 2]
