"""metrics.rmse and metrics.mae against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from cflearn import metrics


def test_rmse_and_mae_by_hand():
    y, p = [1.0, 2.0, 4.0], [2.0, 2.0, 1.0]  # errors -1, 0, 3
    assert metrics.rmse(y, p) == pytest.approx(math.sqrt((1 + 0 + 9) / 3))
    assert metrics.mae(y, p) == pytest.approx((1 + 0 + 3) / 3)


def test_accepts_series_and_float32_and_returns_python_float():
    y = pd.Series([3.0, 4.0], dtype="float32")
    got = metrics.rmse(y, np.array([3.5, 4.5], dtype=np.float32))
    assert isinstance(got, float) and got == pytest.approx(0.5)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    assert metrics.mae(torch.tensor([1.0, 2.0]), torch.tensor([[1.5], [2.5]])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "y, p, message",
    [([1.0, 2.0], [1.0], "has 2 values but y_pred has 1"), ([1.0, np.nan], [1.0, 2.0], "y_true has 1 NaN"), ([], [], "empty")],
)
def test_bad_input_is_refused_with_a_clear_message(y, p, message):
    with pytest.raises(ValueError, match=message):
        metrics.rmse(y, p)


# --- ranking metrics (lesson 10) --------------------------------------------------------------------


def test_ranking_metrics_by_hand():
    scores = np.array([[0.9, 0.8, 0.1, 0.7, 0.2], [0.5, 0.1, 0.5, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4, 0.5]])
    relevant = np.array([[0, 1, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    # user 0: top 3 = items 0, 1, 3 -> hits at ranks 2, 3; user 1: tie 0/2 -> item 2 at rank 2; user 2: none relevant
    d = 1 / np.log2(np.arange(2, 5))
    assert np.allclose(metrics.precision_at_k(scores, relevant, 3), [2 / 3, 1 / 3, np.nan], equal_nan=True)
    assert np.allclose(metrics.recall_at_k(scores, relevant, 3), [2 / 3, 1.0, np.nan], equal_nan=True)
    assert np.allclose(metrics.ndcg_at_k(scores, relevant, 3), [(d[1] + d[2]) / d.sum(), d[1], np.nan], equal_nan=True)
    assert np.allclose(metrics.hit_rate_at_k(scores, relevant, 1), [0.0, 0.0, np.nan], equal_nan=True)
    summary = metrics.ranking_metrics(scores, relevant, 3)
    assert summary["n_users"] == 2 and summary["n_without_relevant"] == 1
    assert summary["ndcg"] == pytest.approx(np.nanmean(metrics.ndcg_at_k(scores, relevant, 3)))


def test_training_items_are_always_excluded():
    from cflearn import ranking

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(20, 30))
    seen = rng.random((20, 30)) < 0.3
    scores[seen] += 100.0  # the training items score highest of all
    top = ranking.top_n(scores, 10, exclude=seen)
    assert not seen[np.arange(20)[:, None], top].any()
    relevant = seen.copy()  # relevant only where seen: excluded, so never a hit
    relevant[:, 0] = True
    assert np.nanmax(metrics.recall_at_k(scores, relevant & ~seen | seen, 10, exclude=seen)) <= 1.0
    only_seen = seen & ~relevant[:, :1].repeat(30, 1)
    assert np.all(np.nan_to_num(metrics.precision_at_k(scores, only_seen, 5, exclude=seen)) == 0)


@pytest.mark.parametrize("k, message", [(-1, "positive whole number"), (0, "positive whole number"), (2.5, "float"),
                                        (True, "bool"), ("10", "str")])
def test_bad_k_is_refused(k, message):
    with pytest.raises(ValueError, match=message):
        metrics.ndcg_at_k(np.zeros((1, 3)), np.ones((1, 3), bool), k)


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        metrics.ranking_metrics(np.array([[0.1, np.nan]]), np.array([[True, False]]), 1)


def test_against_trec_eval_on_random_cases():
    pytrec_eval = pytest.importorskip("pytrec_eval", reason="pytrec-eval-terrier (requirements-dev.txt) is not installed")
    rng = np.random.default_rng(7)
    for case in range(20):
        n_users, n_items, k = rng.integers(2, 12), rng.integers(5, 60), int(rng.integers(1, 12))
        scores = rng.normal(size=(n_users, n_items)).round(int(rng.integers(1, 4)))  # rounding makes ties
        relevant = rng.random((n_users, n_items)) < rng.uniform(0.05, 0.4)
        relevant[0] = False  # a user with no relevant item
        exclude = rng.random((n_users, n_items)) < 0.2
        from cflearn import ranking

        top = ranking.top_n(scores, k, exclude=exclude)
        # trec_eval sees our ranked list (scores by rank, so its own tie rule cannot differ)
        run = {f"u{u}": {f"i{i}": float(k - r) for r, i in enumerate(top[u]) if i >= 0} for u in range(n_users)}
        qrels = {f"u{u}": {f"i{i}": int(relevant[u, i] and not exclude[u, i]) for i in range(n_items)}
                 for u in range(n_users) if (relevant[u] & ~exclude[u]).any()}
        ev = pytrec_eval.RelevanceEvaluator(qrels, {f"P_{k}", f"recall_{k}", f"ndcg_cut_{k}"})
        res = ev.evaluate({q: d for q, d in run.items() if q in qrels})
        for name, ours, key in [("precision", metrics.precision_at_k, f"P_{k}"), ("recall", metrics.recall_at_k, f"recall_{k}"),
                                ("ndcg", metrics.ndcg_at_k, f"ndcg_cut_{k}")]:
            got = ours(scores, relevant, k, exclude=exclude)
            for u in range(n_users):
                if f"u{u}" in res:
                    assert got[u] == pytest.approx(res[f"u{u}"][key], abs=1e-9), (case, name, u)
                else:
                    assert np.isnan(got[u])
