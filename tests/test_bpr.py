"""BPRMF, bpr_loss and fit_bpr: one module over both frameworks (loss against a closed form, the same scores
from the same weights, training beats most-popular on a tiny planted case)."""

import numpy as np
import pandas as pd
import pytest

from cflearn import metrics, ranking


def _module(framework):
    pytest.importorskip(framework)
    if framework == "torch":
        from cflearn import torch as module
    else:
        from cflearn import keras as module
    return module


def _np(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(__import__("keras").ops.convert_to_numpy(x))


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_loss_closed_form(framework):
    m = _module(framework)
    pos, neg = np.array([2.0, -1.0, 50.0], np.float32), np.array([1.0, 1.0, -50.0], np.float32)
    conv = (lambda a: __import__("torch").tensor(a)) if framework == "torch" else (lambda a: a)
    want = np.mean(np.log1p(np.exp(-(pos - neg).astype(np.float64))))
    assert float(_np(m.bpr_loss(conv(pos), conv(neg)))) == pytest.approx(want, rel=1e-5)


def test_same_weights_same_scores():
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras")
    from cflearn import keras as ck
    from cflearn import torch as ct

    t, k = ct.BPRMF(7, 9, 4), ck.BPRMF(7, 9, 4)
    for name in ("user_factors", "item_factors", "item_bias"):
        getattr(k, name).embeddings.assign(getattr(t, name).weight.detach().numpy() + 0.1)
        getattr(t, name).weight.data += 0.1
    u, i = np.array([0, 3, 6]), np.array([8, 1, 0])
    assert np.allclose(t(torch.tensor(u), torch.tensor(i)).detach().numpy(), _np(k(u, i)), atol=1e-6)
    assert np.allclose(ranking.score_matrix(t), ranking.score_matrix(k), atol=1e-6)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_training_learns_planted_tastes(framework):
    m = _module(framework)
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    group = np.arange(n_users) % 2  # even users like items 0..19, odd users 20..39
    rows = [(u, int(rng.integers(0, 20)) + 20 * group[u]) for u in range(n_users) for _ in range(8)]
    df = pd.DataFrame(rows, columns=["user", "item"]).drop_duplicates()
    held = df.groupby("user").head(1)
    train = df.drop(held.index)
    model = m.BPRMF(n_users, n_items, 8)
    history = m.fit_bpr(model, train, lr=0.05, n_epochs=30, batch_size=64, reg=1e-4, progress=False)
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    seen = ranking.interactions(train, n_users, n_items)
    rel = ranking.interactions(held, n_users, n_items)
    ours = metrics.ranking_metrics(ranking.score_matrix(model), rel, 5, exclude=seen)
    pop = metrics.ranking_metrics(ranking.popularity_scores(train, n_users, n_items), rel, 5, exclude=seen)
    assert ours["recall"] > pop["recall"]
