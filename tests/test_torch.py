"""cflearn.torch training: refusals of bad data, training that learns, seeding. (Models: test_models.py.)"""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from cflearn import torch as cft  # noqa: E402

MODELS = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF"]


def frame(n=400, n_users=12, n_items=15, seed=0):
    """A tiny rating frame whose ratings follow a rank-1 pattern plus biases (learnable)."""
    rng = np.random.default_rng(seed)
    user, item = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    a, b = rng.normal(size=n_users), rng.normal(size=n_items)
    rating = np.clip(3.5 + a[user] * b[item] + 0.3 * a[user], 0.5, 5.0)
    return pd.DataFrame({"user": user, "item": item, "rating": rating.astype("float32")})


def test_unseen_and_out_of_range_indices_get_a_clear_error():
    model = cft.DotProductBias(12, 15, n_factors=4)
    df = frame()
    bad = df.copy()
    bad.loc[:2, "item"] = -1
    bad.loc[5, "item"] = 15
    with pytest.raises(ValueError, match=r"3 negative .* and 1 >= n_items=15 .*item.*IdEncoder"):
        cft.predict(model, bad)
    bad = df.copy()
    bad.loc[0, "user"] = 99
    with pytest.raises(ValueError, match="user"):
        cft.fit(model, bad, lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="outside 0..11"):
        model(torch.tensor([12]), torch.tensor([0]))


def test_nan_ratings_mismatched_lengths_and_missing_columns_are_refused():
    model = cft.DotProduct(12, 15, n_factors=4)
    df = frame()
    nan = df.copy()
    nan.loc[3, "rating"] = np.nan
    with pytest.raises(ValueError, match="1 rating.* NaN"):
        cft.fit(model, nan, lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="equal length"):
        cft.fit(model, (np.arange(3), np.arange(4), np.ones(3)), lr=0.01, n_epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="IdEncoder"):
        cft.predict(model, df.rename(columns={"user": "userId"}))
    with pytest.raises(ValueError, match="lr must be a positive"):
        cft.fit(model, df, lr=0, n_epochs=1, batch_size=64, progress=False)


@pytest.mark.parametrize("name", MODELS)
def test_training_reduces_the_loss_and_fills_the_history(name):
    train = frame()
    model = getattr(cft, name)(12, 15, n_factors=4, **({} if name == "DotProduct" else {"y_range": (0.0, 5.5)}))
    history = cft.fit(model, train, train, lr=0.05, n_epochs=8, batch_size=64, progress=False)
    losses = history.to_frame()["train_loss"]
    assert len(history) == 8 and history.framework == "torch" and history.model_name == name
    assert losses.iloc[-1] < 0.5 * losses.iloc[0]
    # the recorded validation RMSE is the RMSE of the predictions (eval mode: no dropout)
    pred = cft.predict(model, train)
    assert pred.dtype == np.float32 and pred.shape == (len(train),)
    assert history.final_rmse == pytest.approx(float(np.sqrt(np.mean((pred - train.rating.to_numpy()) ** 2))), rel=1e-4)


def test_same_seed_same_numbers():
    train = frame()

    def run(seed):
        torch.manual_seed(0)
        model = cft.NeuralCF(12, 15, n_factors=4, dropout=0.3)
        return cft.fit(model, train, train, lr=0.02, n_epochs=3, batch_size=32, seed=seed, progress=False).to_frame()

    a, b, c = run(1), run(1), run(2)
    assert np.array_equal(a[["train_loss", "valid_rmse"]], b[["train_loss", "valid_rmse"]])
    assert not np.array_equal(a["train_loss"], c["train_loss"])


def test_weight_decay_is_decoupled_closed_form():
    # Item 15 never occurs in training, so its gradient is 0 and AdamW only decays it:
    # after k steps it is exactly (1 - lr * weight_decay) ** k times where it started.
    train = frame(n=256)  # items 0..14, 4 steps per epoch at batch_size 64
    model = cft.DotProductBias(12, 16, n_factors=4)
    before = cft.get_weights(model)["item_factors"][15]
    cft.fit(model, train, lr=0.01, n_epochs=3, batch_size=64, weight_decay=0.5, progress=False)
    after = cft.get_weights(model)["item_factors"][15]
    assert np.allclose(after, before * (1 - 0.01 * 0.5) ** 12, rtol=1e-5)


def test_weights_round_trip_and_device_string():
    model = cft.ResidualCF(12, 15, n_factors=4, hidden=(6, 5))
    w = cft.get_weights(model)
    assert w["mlp.hidden.0.kernel"].shape == (8, 6) and w["mlp.head.kernel"].shape == (5, 1)
    other = cft.set_weights(cft.ResidualCF(12, 15, n_factors=4, hidden=(6, 5)), w)
    df = frame()
    assert np.allclose(cft.predict(model, df, device="cpu"), cft.predict(other, df, batch_size=7), atol=1e-6)
    with pytest.raises(ValueError, match="weight names differ"):
        cft.set_weights(cft.DotProduct(12, 15, n_factors=4), w)


def test_asking_for_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        cft.fit(cft.DotProduct(12, 15, n_factors=4), frame(), lr=0.01, n_epochs=1, batch_size=64, device="cuda",
                progress=False)
