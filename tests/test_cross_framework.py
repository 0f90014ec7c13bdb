"""The same model trained in PyTorch and Keras: one training step from the same weights and batch
lands on the same weights. (Same weights -> same predictions is in test_models.py.)"""

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from cflearn import keras as cfk  # noqa: E402
from cflearn import torch as cft  # noqa: E402


def frame(n=500, n_users=20, n_items=30, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(0, n_users, n), "item": rng.integers(0, n_items, n),
                         "rating": rng.uniform(0.5, 5.0, n).astype("float32")})


def random_weights(model, seed=0):
    """Weights large enough that every branch of the model matters."""
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, 0.5, v.shape).astype("float32") for k, v in cft.get_weights(model).items()}


@pytest.mark.parametrize("name", ["DotProductBias", "ResidualCF"])
def test_one_adamw_step_matches(name):
    # One full batch, no dropout: both frameworks take the same AdamW step (decay included).
    kwargs = {"dropout": 0.0} if name == "ResidualCF" else {}
    tm = getattr(cft, name)(20, 30, n_factors=6, y_range=(0.5, 5.5), **kwargs)
    km = getattr(cfk, name)(20, 30, n_factors=6, y_range=(0.5, 5.5), **kwargs)
    weights = random_weights(tm, seed=1)
    cft.set_weights(tm, weights)
    cfk.set_weights(km, weights)
    df = frame()
    settings = dict(lr=0.01, n_epochs=1, batch_size=len(df), weight_decay=0.1, progress=False)
    ht, hk = cft.fit(tm, df, df, **settings), cfk.fit(km, df, df, **settings)
    assert ht.epochs[0]["train_loss"] == pytest.approx(hk.epochs[0]["train_loss"], rel=1e-5)
    assert ht.final_rmse == pytest.approx(hk.final_rmse, rel=1e-4)
    wt, wk = cft.get_weights(tm), cfk.get_weights(km)
    for key in wt:
        # Every weight moves by about lr = 0.01; Keras adds epsilon before the bias correction and
        # PyTorch after it, which changes the step of a weight whose gradient is nearly 0 (rare), hence the loose max
        # and the tight mean.
        moved = np.abs(wt[key] - weights[key]).max()
        assert moved > 0.005, key
        np.testing.assert_allclose(wt[key], wk[key], atol=2e-3, err_msg=key)
        assert np.mean(np.abs(wt[key] - wk[key])) < 1e-5, key
