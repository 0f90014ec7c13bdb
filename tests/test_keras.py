"""cflearn.keras training: refusals of bad data, training that learns, seeding, the torch backend.
(Models: test_models.py.)"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from cflearn import keras as cfk  # noqa: E402

MODELS = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF"]


def frame(n=400, n_users=12, n_items=15, seed=0):
    """A tiny rating frame whose ratings follow a rank-1 pattern plus biases (learnable)."""
    rng = np.random.default_rng(seed)
    user, item = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    a, b = rng.normal(size=n_users), rng.normal(size=n_items)
    rating = np.clip(3.5 + a[user] * b[item] + 0.3 * a[user], 0.5, 5.0)
    return pd.DataFrame({"user": user, "item": item, "rating": rating.astype("float32")})


def test_bad_input_is_refused_before_keras_sees_it():
    model = cfk.DotProductBias(12, 15, n_factors=4)
    df = frame()
    bad = df.copy()
    bad.loc[:1, "user"] = -1
    with pytest.raises(ValueError, match=r"2 negative .*user.*IdEncoder"):
        cfk.predict(model, bad)
    bad = df.copy()
    bad.loc[0, "item"] = 15
    with pytest.raises(ValueError, match="1 >= n_items=15"):
        cfk.fit(model, df, bad, lr=0.01, n_epochs=1, batch_size=64, progress=False)
    nan = df.copy()
    nan.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cfk.fit(model, nan, lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="equal length"):
        cfk.fit(model, (np.arange(3), np.arange(3), np.ones(2)), lr=0.01, n_epochs=1, batch_size=64, progress=False)


@pytest.mark.parametrize("name", MODELS)
def test_training_reduces_the_loss_and_fills_the_history(name):
    train = frame()
    model = getattr(cfk, name)(12, 15, n_factors=4, **({} if name == "DotProduct" else {"y_range": (0.0, 5.5)}))
    history = cfk.fit(model, train, train, lr=0.05, n_epochs=8, batch_size=64, progress=False)
    losses = history.to_frame()["train_loss"]
    assert len(history) == 8 and history.framework == "keras" and history.model_name == name
    assert losses.iloc[-1] < 0.5 * losses.iloc[0]
    pred = cfk.predict(model, train)
    assert pred.dtype == np.float32 and pred.shape == (len(train),)
    # the recorded validation RMSE is the RMSE of the predictions (inference mode: no dropout)
    assert history.final_rmse == pytest.approx(float(np.sqrt(np.mean((pred - train.rating.to_numpy()) ** 2))), rel=1e-4)


def test_same_seed_same_numbers():
    train = frame()

    def run(seed):
        keras.utils.set_random_seed(0)
        model = cfk.NeuralCF(12, 15, n_factors=4, dropout=0.3)
        return cfk.fit(model, train, train, lr=0.02, n_epochs=3, batch_size=32, seed=seed, progress=False).to_frame()

    a, b, c = run(1), run(1), run(2)
    assert np.array_equal(a[["train_loss", "valid_rmse"]], b[["train_loss", "valid_rmse"]])
    assert not np.array_equal(a["train_loss"], c["train_loss"])


def test_weight_decay_is_decoupled_closed_form():
    # Item 15 never occurs in training: AdamW only decays it, by (1 - lr * weight_decay) per step.
    train = frame(n=256)
    model = cfk.DotProductBias(12, 16, n_factors=4)
    before = cfk.get_weights(model)["item_factors"][15]
    cfk.fit(model, train, lr=0.01, n_epochs=3, batch_size=64, weight_decay=0.5, progress=False)
    after = cfk.get_weights(model)["item_factors"][15]
    assert np.allclose(after, before * (1 - 0.01 * 0.5) ** 12, rtol=1e-5)


def test_models_run_under_the_torch_backend():
    pytest.importorskip("torch")
    code = textwrap.dedent(
        """
        import numpy as np, pandas as pd, keras
        assert keras.backend.backend() == "torch"
        from cflearn import keras as cfk
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"user": rng.integers(0, 12, 300), "item": rng.integers(0, 15, 300),
                           "rating": rng.uniform(1, 5, 300).astype("float32")})
        for name in ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF"]:
            model = getattr(cfk, name)(12, 15, n_factors=4)
            h = cfk.fit(model, df, df, lr=0.02, n_epochs=3, batch_size=64, progress=False)
            p = cfk.predict(model, df)
            assert p.shape == (300,) and np.isfinite(p).all() and len(h) == 3, name
            assert h.to_frame().train_loss.iloc[-1] < h.to_frame().train_loss.iloc[0], name
        print("ok")
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
