"""``fit`` and ``predict`` in both frameworks, one set of cases run for each: training that learns,
a history whose RMSE is the RMSE of the predictions, the shared learning-rate schedule, decoupled
weight decay against its closed form, seeding that repeats and leaves the global random state
alone, refusals of bad input and of the other framework's model, and the same step in both."""

import os
import random

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from cflearn import keras as cfk  # noqa: E402
from cflearn import optim  # noqa: E402
from cflearn import torch as cft  # noqa: E402

MODULES = {"torch": cft, "keras": cfk}
MODELS = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF"]


@pytest.fixture(params=list(MODULES))
def cf(request):
    return MODULES[request.param]


def frame(n=400, n_users=12, n_items=15, seed=0):
    """A tiny rating frame whose ratings follow a rank-1 pattern plus biases (learnable)."""
    rng = np.random.default_rng(seed)
    user, item = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    a, b = rng.normal(size=n_users), rng.normal(size=n_items)
    rating = np.clip(3.5 + a[user] * b[item] + 0.3 * a[user], 0.5, 5.0)
    return pd.DataFrame({"user": user, "item": item, "rating": rating.astype("float32")})


def framework(cf):
    return "torch" if cf is cft else "keras"


@pytest.mark.parametrize("name", MODELS)
def test_training_reduces_the_loss_and_fills_the_history(cf, name):
    train = frame()
    model = getattr(cf, name)(12, 15, n_factors=4, **({} if name == "DotProduct" else {"y_range": (0.0, 5.5)}))
    history = cf.fit(model, train, train, lr=0.1, n_epochs=8, batch_size=64, progress=False)
    losses = history.to_frame()["train_loss"]
    assert len(history) == 8 and history.framework == framework(cf) and history.model_name == name
    assert losses.iloc[-1] < 0.6 * losses.iloc[0]
    # the recorded validation RMSE is the RMSE of the predictions (no dropout when predicting)
    pred = cf.predict(model, train)
    assert pred.dtype == np.float32 and pred.shape == (len(train),)
    assert history.final_rmse == pytest.approx(float(np.sqrt(np.mean((pred - train.rating.to_numpy()) ** 2))), rel=1e-4)


def test_one_cycle_schedule_shape():
    rates = optim.lr_schedule(0.01, 100)
    assert rates.shape == (100,) and rates.dtype == np.float32
    assert rates[0] == pytest.approx(0.01 / 25) and rates.max() == pytest.approx(0.01)
    assert int(np.argmax(rates)) == 25  # the peak ends the warm-up quarter
    assert np.all(np.diff(rates[:25]) > 0) and np.all(np.diff(rates[25:]) < 0)
    assert rates[-1] < 0.01 / 1000  # anneals to almost nothing: the last epoch settles
    assert np.all(optim.lr_schedule(0.01, 7, "constant") == np.float32(0.01))
    with pytest.raises(ValueError, match="schedule must be one of"):
        optim.lr_schedule(0.01, 10, "cosine")


@pytest.mark.parametrize("schedule", optim.SCHEDULES)
def test_weight_decay_is_decoupled_closed_form(cf, schedule):
    # Item 15 never occurs in training, so its gradient is 0 and AdamW only decays it: after
    # the run it is exactly prod_k (1 - lr_k * weight_decay) times where it started, with
    # lr_k each step's rate from the shared schedule (4 steps per epoch here, 12 in all).
    train = frame(n=256)
    model = cf.DotProductBias(12, 16, n_factors=4)
    before = cf.get_weights(model)["item_factors"][15]
    cf.fit(model, train, lr=0.01, n_epochs=3, batch_size=64, weight_decay=0.5, schedule=schedule, progress=False)
    after = cf.get_weights(model)["item_factors"][15]
    rates = optim.lr_schedule(0.01, optim.n_steps(256, 64, 3), schedule).astype(np.float64)
    assert len(rates) == 12
    np.testing.assert_allclose(after, before * np.prod(1 - rates * 0.5), rtol=1e-5)


def test_same_seed_same_numbers_and_global_random_state_left_alone(cf):
    train = frame()

    def run(seed, model_seed=0):
        (torch.manual_seed if cf is cft else keras.utils.set_random_seed)(model_seed)
        model = cf.NeuralCF(12, 15, n_factors=4, dropout=0.3)
        return cf.fit(model, train, train, lr=0.02, n_epochs=3, batch_size=32, seed=seed, progress=False).to_frame()

    a, b, c = run(1), run(1), run(2)
    assert np.array_equal(a[["train_loss", "valid_rmse"]], b[["train_loss", "valid_rmse"]])
    assert not np.array_equal(a["train_loss"], c["train_loss"])

    # A learner's own random streams continue after fit as if it had not run.
    model = cf.NeuralCF(12, 15, n_factors=4, dropout=0.3)

    def draws():
        return random.random(), np.random.rand(), torch.rand(1).item()

    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    expected = draws()
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    cf.fit(model, train, lr=0.02, n_epochs=1, batch_size=32, seed=3, progress=False)
    assert draws() == expected


def test_bad_input_is_refused_with_a_clear_message(cf):
    model = cf.DotProduct(12, 15, n_factors=4)
    df = frame()
    nan = df.copy()
    nan.loc[3, "rating"] = np.nan
    settings = dict(lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="1 rating.* NaN"):
        cf.fit(model, nan, **settings)
    with pytest.raises(ValueError, match="equal length"):
        cf.fit(model, (np.arange(3), np.arange(4), np.ones(3)), **settings)
    with pytest.raises(ValueError, match="IdEncoder"):
        cf.predict(model, df.rename(columns={"user": "userId"}))
    with pytest.raises(ValueError, match="lr must be a positive"):
        cf.fit(model, df, **{**settings, "lr": 0})
    with pytest.raises(ValueError, match="schedule must be one of"):
        cf.fit(model, df, **settings, schedule="linear")
    unseen = df.copy()
    unseen.loc[0, "item"] = -1
    with pytest.raises(ValueError, match="unseen in training"):
        cf.predict(model, unseen)


def test_unseen_and_out_of_range_indices_are_refused_before_the_framework_sees_them(cf):
    model = cf.DotProductBias(12, 15, n_factors=4)
    df = frame()
    bad = df.copy()
    bad.loc[:2, "item"] = -1
    bad.loc[5, "item"] = 15
    with pytest.raises(ValueError, match=r"3 negative .* and 1 >= n_items=15 .*item.*IdEncoder"):
        cf.predict(model, bad)
    bad = df.copy()
    bad.loc[0, "user"] = 99
    with pytest.raises(ValueError, match="user"):
        cf.fit(model, bad, lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="1 >= n_items=15"):
        cf.fit(model, df, df.assign(item=np.where(df.index == 0, 15, df.item)), lr=0.01, n_epochs=1, batch_size=64,
               progress=False)


def test_weights_round_trip_and_predict_in_any_batch_size_on_a_device_string(cf):
    model = cf.ResidualCF(12, 15, n_factors=4, hidden=(6, 5))
    w = cf.get_weights(model)
    assert w["mlp.hidden.0.kernel"].shape == (8, 6) and w["mlp.head.kernel"].shape == (5, 1)
    other = cf.set_weights(cf.ResidualCF(12, 15, n_factors=4, hidden=(6, 5)), w)
    df = frame()
    assert np.allclose(cf.predict(model, df, device="cpu"), cf.predict(other, df, batch_size=7), atol=1e-6)
    with pytest.raises(ValueError, match="weight names differ"):
        cf.set_weights(cf.DotProduct(12, 15, n_factors=4), w)


def test_the_other_frameworks_model_is_refused_naming_the_right_fit(cf):
    other = cfk if cf is cft else cft
    model = other.DotProduct(12, 15, n_factors=4)
    right = f"cflearn.{framework(other)}.fit"
    with pytest.raises(TypeError, match=right.replace(".", r"\.")):
        cf.fit(model, frame(), lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(TypeError, match=right.replace(".", r"\.")):
        cf.predict(model, frame())
    with pytest.raises(TypeError, match="build one first"):
        cf.fit("DotProduct", frame(), lr=0.01, n_epochs=1, batch_size=64, progress=False)


def test_asking_for_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        cft.fit(cft.DotProduct(12, 15, n_factors=4), frame(), lr=0.01, n_epochs=1, batch_size=64, device="cuda",
                progress=False)


def _same_start(name, **kwargs):
    tm = getattr(cft, name)(20, 30, n_factors=6, y_range=(0.5, 5.5), **kwargs)
    km = getattr(cfk, name)(20, 30, n_factors=6, y_range=(0.5, 5.5), **kwargs)
    rng = np.random.default_rng(1)
    weights = {k: rng.normal(0, 0.5, v.shape).astype("float32") for k, v in cft.get_weights(tm).items()}
    cft.set_weights(tm, weights)
    cfk.set_weights(km, weights)
    return tm, km, weights


@pytest.mark.parametrize("name", ["DotProductBias", "ResidualCF"])
def test_one_adamw_step_matches(name, monkeypatch):
    # One full batch, no dropout: both frameworks take the same AdamW step (decay included).
    # Keras adds epsilon before Adam's bias correction and PyTorch after it, so in the first
    # steps the same epsilon weighs 1 / sqrt(1 - beta2 ** step) times more in Keras; with an
    # epsilon too small to matter the steps must agree to float precision.
    monkeypatch.setattr(optim, "EPS", 1e-10)
    tm, km, weights = _same_start(name, **({"dropout": 0.0} if name == "ResidualCF" else {}))
    df = frame(n=500, n_users=20, n_items=30, seed=3)
    settings = dict(lr=0.01, n_epochs=1, batch_size=len(df), weight_decay=0.1, schedule="constant", progress=False)
    ht, hk = cft.fit(tm, df, df, **settings), cfk.fit(km, df, df, **settings)
    assert ht.epochs[0]["train_loss"] == pytest.approx(hk.epochs[0]["train_loss"], rel=1e-5)
    assert ht.final_rmse == pytest.approx(hk.final_rmse, rel=1e-5)
    wt, wk = cft.get_weights(tm), cfk.get_weights(km)
    for key in wt:
        assert np.abs(wt[key] - weights[key]).max() > 0.005, key  # every weight moved by about lr
        np.testing.assert_allclose(wt[key], wk[key], atol=1e-5, err_msg=key)


def test_a_whole_one_cycle_run_matches_across_frameworks():
    # Many small batches, the recipe's optimiser and schedule: the two frameworks' validation
    # curves stay within a hair of each other (shuffling orders differ, so not to the last digit).
    df = frame(n=2000, n_users=20, n_items=30, seed=5)
    tm, km, _ = _same_start("DotProductBias")
    settings = dict(lr=0.01, n_epochs=4, batch_size=32, weight_decay=0.1, progress=False)
    ht, hk = cft.fit(tm, df, df, **settings), cfk.fit(km, df, df, **settings)
    np.testing.assert_allclose(ht.to_frame().valid_rmse, hk.to_frame().valid_rmse, atol=0.02)
    assert ht.final_rmse < ht.epochs[0]["valid_rmse"]


def test_keras_training_runs_under_the_torch_backend():
    import subprocess
    import sys
    import textwrap

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
            h = cfk.fit(model, df, df, lr=0.05, n_epochs=3, batch_size=64, progress=False)
            p = cfk.predict(model, df)
            assert p.shape == (300,) and np.isfinite(p).all() and len(h) == 3, name
            assert h.to_frame().train_loss.iloc[-1] < h.to_frame().train_loss.iloc[0], name
        print("ok")
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_both_frameworks_export_the_same_names():
    assert sorted(cft.__all__) == sorted(cfk.__all__)
    assert all(hasattr(cft, n) and hasattr(cfk, n) for n in cft.__all__)
    from cflearn.keras import train as ktrain
    from cflearn.torch import train as ttrain

    assert ktrain.__all__ == ttrain.__all__ == ["fit", "predict"]


def test_many_keras_models_in_one_process_do_not_warn_about_retracing():
    # Many models trained and predicted in one process used to make TensorFlow warn about retracing.
    import io
    import logging

    df = frame()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("tensorflow").addHandler(handler)
    try:
        for _ in range(7):
            model = cfk.DotProductBias(12, 15, n_factors=4)
            cfk.fit(model, df, df.head(50), lr=0.01, n_epochs=1, batch_size=64, progress=False)
            assert cfk.predict(model, df, batch_size=64).shape == (len(df),)  # 400 rows: a short last batch
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    assert "retracing" not in stream.getvalue()
