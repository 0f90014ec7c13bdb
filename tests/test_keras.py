"""cflearn.keras: shapes, y_range bounds, refusals, training that learns, seeding, the torch backend."""

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


@pytest.mark.parametrize("name", MODELS)
def test_both_input_forms_give_one_rating_per_row(name):
    model = getattr(cfk, name)(12, 15, n_factors=4)
    user, item = np.array([0, 3, 11]), np.array([1, 14, 2])
    a = keras.ops.convert_to_numpy(model(user, item))
    b = keras.ops.convert_to_numpy(model(np.stack([user, item], axis=1)))
    assert a.shape == (3,) and np.allclose(a, b)


def test_dot_product_and_biases_by_hand():
    model = cfk.DotProductBias(3, 4, n_factors=2, global_mean=3.0)
    w = cfk.get_weights(model)
    w["user_factors"][:] = [[1, 2], [0, 1], [3, -1]]
    w["item_factors"][:] = [[1, 1], [2, 0], [0, 5], [-1, 1]]
    w["user_bias"][:] = [[0.5], [0.0], [-1.0]]
    w["item_bias"][:] = 0.0
    cfk.set_weights(model, w)
    got = cfk.predict(model, pd.DataFrame({"user": [0, 2, 1], "item": [0, 1, 2]}))
    assert np.allclose(got, [3 + 3 + 0.5, 3 + 6 - 1.0, 3 + 5])


@pytest.mark.parametrize("name", ["DotProductBias", "NeuralCF", "ResidualCF"])
def test_y_range_bounds_every_prediction(name):
    model = getattr(cfk, name)(12, 15, n_factors=4, y_range=(1.0, 2.0))
    rng = np.random.default_rng(0)
    cfk.set_weights(model, {k: rng.normal(0, 5, v.shape).astype("float32") for k, v in cfk.get_weights(model).items()})
    out = cfk.predict(model, pd.DataFrame({"user": np.arange(12), "item": np.arange(12)}))
    assert (out >= 1.0).all() and (out <= 2.0).all() and (out.min() < 1.1 or out.max() > 1.9)  # saturated, yet inside


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_users": 0}, "n_users must be a positive integer"),
        ({"hidden": ()}, "at least one layer"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ({"y_range": (5, 1)}, "low < high"),
        ({"activation": "nope"}, "activation must be one of"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cfk.NeuralCF(**{"n_users": 5, "n_items": 5, "n_factors": 3, **kwargs})


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
