"""From ratings to top-N lists: relevance, exclusion, ranking, negative sampling (NumPy only).

What a ranking evaluation needs besides the metrics themselves (those are in
:mod:`cflearn.metrics`): which held-out items count as relevant, which items a user already has
(never recommended again), every item's score for a block of users, the top-``n`` ranking rule
(ties go to the lower item index), uniformly sampled negatives for BPR, and the *sampled*
protocol (each relevant item ranked among 100 random items) that lesson 10 compares with full
ranking. Introduced in lesson 10; ``top_n`` also orders lesson 07's recommendations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cflearn import _inputs
from cflearn.metrics import check_k, check_scores

__all__ = ["BPR_RECIPE", "RELEVANT_FROM", "relevance", "interactions", "item_counts", "popularity_scores", "top_n",
           "score_matrix", "sample_negatives", "bpr_triples", "sampled_metrics"]

# BPRMF's settings, the best inner-split NDCG@10 of n_factors {64, 128} x lr {0.01, 0.02, 0.03, 0.05} x
# n_epochs {20, 40, 60, 80} x reg {0.001, 0.01, 0.03} (a partial grid) on recipes.inner_split, batch 4096.
BPR_RECIPE = {"n_factors": 64, "lr": 0.03, "n_epochs": 60, "batch_size": 4096, "reg": 0.01}

RELEVANT_FROM = 4.0  # a held-out rating of 4 or more says "a good recommendation"; 3 is lukewarm


def _encoded(df, name: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame) or not {"user", "item"} <= set(df.columns):
        raise ValueError(f"{name} needs the encoded columns 'user' and 'item' (the frames of data.course_data).")
    return df


def _matrix(df, n_users: int, n_items: int) -> np.ndarray:
    out = np.zeros((check_k(n_users, "n_users"), check_k(n_items, "n_items")), dtype=bool)
    user, item = df["user"].to_numpy(np.int64), df["item"].to_numpy(np.int64)
    if user.size and (user.min() < 0 or user.max() >= n_users or item.min() < 0 or item.max() >= n_items):
        raise ValueError(f"indices out of range for {n_users} users and {n_items} items; encode with the training encoder.")
    out[user, item] = True
    return out


def relevance(valid, n_users: int, n_items: int, threshold: float = RELEVANT_FROM) -> np.ndarray:
    """``(n_users, n_items)`` booleans: True where ``valid`` holds a rating of ``threshold`` or more.

    Introduced in lesson 10.
    """
    valid = _encoded(valid, "valid")
    if "rating" not in valid.columns:
        raise ValueError("valid needs a 'rating' column to decide which held-out items are relevant.")
    return _matrix(valid[valid["rating"] >= threshold], n_users, n_items)


def interactions(train, n_users: int, n_items: int) -> np.ndarray:
    """``(n_users, n_items)`` booleans: True where the user rated the item in ``train`` (any rating).

    These are the items excluded from the user's list, and BPR's positives. Introduced in lesson 10.
    """
    return _matrix(_encoded(train, "train"), n_users, n_items)


def item_counts(train, n_items: int) -> np.ndarray:
    """Number of training ratings of each item, ``(n_items,)``. Introduced in lesson 10."""
    return np.bincount(_encoded(train, "train")["item"].to_numpy(np.int64), minlength=check_k(n_items, "n_items"))


def popularity_scores(train, n_users: int, n_items: int) -> np.ndarray:
    """The most-popular baseline: every user scores an item by its number of training ratings.

    A read-only ``(n_users, n_items)`` view (no copy). Introduced in lesson 10.
    """
    return np.broadcast_to(item_counts(train, n_items).astype(np.float64), (check_k(n_users, "n_users"), n_items))


def top_n(scores, n: int, exclude=None) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first, never an excluded item.

    Parameters
    ----------
    scores : array (n_items,) or (n_users, n_items)
        One user's scores, or one row per user. NaN or infinite scores are refused.
    n : int
        List length.
    exclude : boolean array like ``scores``, optional
        Items never to return (a user's training items).

    Returns
    -------
    int64 array (n,) or (n_users, n)
        Ties go to the lower item index (as a stable sort would). Where fewer than ``n``
        items are left to recommend, the list ends with -1.

    Introduced in lesson 10 (lesson 07's ``interpret.recommend`` uses it too).
    """
    n = check_k(n, "n")
    s = check_scores(scores)
    one = s.ndim == 1
    if one:
        s = s[None, :]
    if s.ndim != 2:
        raise ValueError(f"scores must be one row (n_items,) or a matrix (n_users, n_items); got shape {s.shape}.")
    n_rows, n_items = s.shape
    s = s.copy()
    if exclude is not None:
        ex = np.asarray(exclude, dtype=bool).reshape(s.shape) if np.size(exclude) == s.size else None
        if ex is None:
            raise ValueError(f"exclude has shape {np.shape(exclude)} but scores have shape {np.shape(scores)}.")
        s[ex] = -np.inf
    m = min(n, n_items)
    # The m-th highest score of each row, then every higher score plus the lowest-index ties: O(n_items) per row.
    kth = -np.partition(-s, m - 1, axis=1)[:, m - 1 : m]  # (n_rows, 1)
    above = s > kth
    tied = s == kth
    room = m - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))  # exactly m per row
    idx = np.nonzero(chosen)[1].reshape(n_rows, m)  # in item order within each row
    order = np.argsort(-np.take_along_axis(s, idx, axis=1), axis=1, kind="stable")  # stable: ties keep item order
    top = np.take_along_axis(idx, order, axis=1)
    top[np.take_along_axis(s, top, axis=1) == -np.inf] = -1  # excluded items only filled the list
    if m < n:
        top = np.concatenate([top, np.full((n_rows, n - m), -1)], axis=1)
    return top[0] if one else top


def score_matrix(model, users=None, n_items: int | None = None, batch_size: int = 65536) -> np.ndarray:
    """Every item's score for ``users`` (default: all), ``(len(users), n_items)`` float64.

    A factor model (its only tables ``user_factors``, ``item_factors`` and biases: DotProduct,
    DotProductBias, BPRMF) is scored with one matrix product of its raw score, which ranks items
    exactly as its output does (the offset and the sigmoid keep the order). Any other PyTorch or
    Keras model is called on every (user, item) pair. Introduced in lesson 10.
    """
    from cflearn import interpret

    w = interpret.weights(model)
    n_items = len(w["item_factors"]) if n_items is None else n_items
    n_users = len(w["user_factors"]) if "user_factors" in w else None
    users = np.arange(n_users) if users is None else np.asarray(users, dtype=np.int64)
    own = set(model) if isinstance(model, dict) else set(_weight_names(model))
    if own and own <= set(interpret.TABLES):
        out = w["user_factors"][users] @ w["item_factors"].T  # (n_users, n_items)
        if "item_bias" in w:
            out += w["item_bias"][None, :]
        if "user_bias" in w:
            out += w["user_bias"][users, None]
        return out
    user = np.repeat(users, n_items)
    item = np.tile(np.arange(n_items, dtype=np.int64), len(users))
    return interpret._predict(model, user, item, batch_size).reshape(len(users), n_items)


def _weight_names(model) -> list:
    """Names of the model's weights in the shared naming (via its framework's ``get_weights``)."""
    framework = _inputs.model_framework(model)
    if framework == "torch":
        return [name.split(".")[0] for name, _ in model.named_parameters()]
    if framework == "keras":
        return [v.path.split("/")[-2] if "/" in v.path else v.path for v in model.weights]
    return []


def sample_negatives(user, positives, rng, max_rounds: int = 50) -> np.ndarray:
    """One item per entry of ``user`` drawn uniformly among the items that user has no interaction with.

    ``positives`` is the ``(n_users, n_items)`` boolean interaction matrix. Vectorised: every draw at
    once, then only the draws that hit a positive are redrawn. Introduced in lesson 10.
    """
    user = np.asarray(user, dtype=np.int64)
    n_items = positives.shape[1]
    if (positives[np.unique(user)].sum(axis=1) >= n_items).any():
        raise ValueError("a user has interacted with every item: there is no negative to sample for them.")
    item = rng.integers(0, n_items, size=user.size)
    for _ in range(max_rounds):
        clash = np.flatnonzero(positives[user, item])
        if clash.size == 0:
            return item
        item[clash] = rng.integers(0, n_items, size=clash.size)
    for i in np.flatnonzero(positives[user, item]):  # a very busy user: draw from their negatives directly
        item[i] = rng.choice(np.flatnonzero(~positives[user[i]]))
    return item


def bpr_triples(train, positives, n_epochs: int, seed: int = 42) -> np.ndarray:
    """``(n_epochs, n_rows, 3)`` int64 (user, positive item, negative item): each epoch shuffled, fresh negatives.

    Both frameworks' ``fit_bpr`` train on the same triples for the same seed. Introduced in lesson 10.
    """
    train = _encoded(train, "train")
    rng = np.random.default_rng(seed)
    user, item = train["user"].to_numpy(np.int64), train["item"].to_numpy(np.int64)
    out = np.empty((check_k(n_epochs, "n_epochs"), len(user), 3), dtype=np.int64)
    for e in range(n_epochs):
        order = rng.permutation(len(user))
        out[e, :, 0], out[e, :, 1] = user[order], item[order]
        out[e, :, 2] = sample_negatives(user[order], positives, rng)
    return out


def sampled_metrics(scores, relevant, exclude, k: int = 10, n_negatives: int = 100, seed: int = 42) -> dict:
    """The sampled protocol: each relevant held-out item ranked among ``n_negatives`` random items.

    The negatives of a user are drawn from the items they have neither in training (``exclude``) nor
    among their relevant held-out items. A relevant item is a hit when fewer than ``k`` of its
    negatives score higher (ties count against it). Returns mean ``hit_rate`` and ``ndcg`` over the
    relevant (user, item) pairs, and ``n_pairs``. Introduced in lesson 10.
    """
    k, n_negatives = check_k(k), check_k(n_negatives, "n_negatives")
    s = check_scores(scores)
    rel = np.asarray(relevant, dtype=bool) & ~np.asarray(exclude, dtype=bool)
    user, item = np.nonzero(rel)
    if user.size == 0:
        raise ValueError("no relevant held-out item to rank.")
    rng = np.random.default_rng(seed)
    taken = np.asarray(exclude, dtype=bool) | rel
    neg = sample_negatives(np.repeat(user, n_negatives), taken, rng).reshape(user.size, n_negatives)
    higher = (s[user[:, None], neg] >= s[user, item][:, None]).sum(axis=1)  # rank - 1 of the relevant item
    hit = higher < k
    return {"hit_rate": float(hit.mean()), "ndcg": float(np.mean(np.where(hit, 1.0 / np.log2(higher + 2), 0.0))),
            "n_pairs": int(user.size)}
