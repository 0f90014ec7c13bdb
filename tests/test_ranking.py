"""cflearn.ranking: top_n's ties and exclusion, relevance, negatives, the sampled protocol, against hand cases."""

import numpy as np
import pandas as pd
import pytest

from cflearn import ranking


def test_top_n_matches_a_stable_sort_and_excludes():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, size=(30, 40)).astype(float)  # many ties
    ex = rng.random((30, 40)) < 0.3
    want = np.argsort(-np.where(ex, -np.inf, s), axis=1, kind="stable")[:, :7]
    assert np.array_equal(ranking.top_n(s, 7, exclude=ex), want)
    assert ranking.top_n(np.array([1.0, 3.0, 2.0]), 5, exclude=np.array([False, True, False])).tolist() == [2, 0, -1, -1, -1]


def test_relevance_and_interactions():
    df = pd.DataFrame({"user": [0, 0, 1], "item": [1, 2, 0], "rating": [4.0, 3.5, 5.0]})
    assert ranking.relevance(df, 2, 3).astype(int).tolist() == [[0, 1, 0], [1, 0, 0]]
    assert ranking.interactions(df, 2, 3).sum() == 3


def test_negatives_never_hit_a_positive():
    pos = np.random.default_rng(0).random((5, 20)) < 0.8
    pos[:, 0] = False
    user = np.repeat(np.arange(5), 200)
    neg = ranking.sample_negatives(user, pos, np.random.default_rng(2))
    assert not pos[user, neg].any()


def test_sampled_metrics_by_hand():
    scores = np.array([[5.0, 1.0, 2.0, 3.0]])
    relevant = np.array([[True, False, False, False]])
    out = ranking.sampled_metrics(scores, relevant, np.zeros_like(relevant), k=1, n_negatives=3)
    assert out == {"hit_rate": 1.0, "ndcg": 1.0, "n_pairs": 1}


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        ranking.top_n(np.array([np.nan, 1.0]), 1)
    with pytest.raises(ValueError, match="positive whole number"):
        ranking.top_n(np.array([0.0, 1.0]), -2)
