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
