"""cflearn.peers: implicit's models score every item for every user on the course's encoded indices."""

import numpy as np
import pandas as pd
import pytest

from cflearn import peers, ranking


def two_blocks(n=40, seed=0):
    """The first half of the users use the first half of the items, the rest the rest: a ranking
    model must tell the blocks apart."""
    rng = np.random.default_rng(seed)
    rows = [(u, i) for u in range(n) for i in range(n) if (u < n // 2) == (i < n // 2) and rng.random() < 0.5]
    return pd.DataFrame(rows, columns=["user", "item"]).assign(rating=4.0)


@pytest.mark.parametrize("name", ["implicit ALS", "implicit BPR"])
def test_implicit_scores_rank_a_users_own_block_first(name):
    if not peers.implicit_available():
        pytest.skip("implicit is not installed (pip install -e '.[implicit]')")
    train = two_blocks()
    scores = peers.implicit_scores(name, train, 40, 40)
    assert scores.shape == (40, 40) and np.isfinite(scores).all()
    seen = ranking.interactions(train, 40, 40)
    top = ranking.top_n(scores, 1, exclude=seen)[:, 0]  # each user's first recommendation
    assert ((top < 20) == (np.arange(40) < 20)).mean() >= 0.9  # from the user's own block
    with pytest.raises(ValueError, match="unknown implicit model"):
        peers.implicit_scores("implicit LMF", train, 40, 40)
