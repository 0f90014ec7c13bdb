"""Accuracy metrics on the rating scale and ranking metrics on top-N lists (NumPy only).

``rmse`` and ``mae`` (lesson 01) compare predicted ratings with true ratings and nothing else
(never a regulariser). The ranking metrics (lesson 10) judge each user's top-``k`` list among
*every* candidate item: ``scores`` is ``(n_users, n_items)``, ``relevant`` a boolean matrix of
the same shape (the held-out items that count), ``exclude`` one of the items never to
recommend (those the user rated in training). Ties in a score are broken by the lower item
index. A user with no relevant item has no defined recall or NDCG: the per-user functions give
NaN for them, and :func:`ranking_metrics` leaves them out of the averages and reports how many.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae", "precision_at_k", "recall_at_k", "ndcg_at_k", "hit_rate_at_k", "ranking_metrics",
           "coverage", "mean_popularity"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as 1-D float64 arrays of equal length, or a clear ValueError."""
    t = np.asarray(_numpy(y_true), dtype=np.float64).reshape(-1)
    p = np.asarray(_numpy(y_pred), dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}; predict one rating per row.")
    if t.size == 0:
        raise ValueError("no ratings to score: y_true and y_pred are empty.")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"{name} has {bad} NaN or infinite value(s); check the model's inputs and outputs.")
    return t, p


def _numpy(x):
    """Accept tensors too (torch, TF), without importing either framework."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return x


def rmse(y_true, y_pred) -> float:
    """Root mean squared error between true and predicted ratings.

    Introduced in lesson 01.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error between true and predicted ratings.

    Introduced in lesson 01.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


# --- ranking metrics (lesson 10) -------------------------------------------------------------------


def check_k(k, name: str = "k") -> int:
    """``k`` as a positive Python int, or a ValueError saying what was wrong."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be a positive whole number such as 10; got {k!r} ({type(k).__name__}).")
    if k < 1:
        raise ValueError(f"{name} must be a positive whole number such as 10; got {k}.")
    return int(k)


def check_scores(scores) -> np.ndarray:
    """Scores as a float64 array, refused when they hold NaN or infinite values."""
    s = np.asarray(_numpy(scores), dtype=np.float64)
    bad = int(np.count_nonzero(np.isnan(s)))
    if bad:
        raise ValueError(f"scores hold {bad} NaN value(s); a model that outputs NaN has diverged: "
                         "lower the learning rate or check its inputs.")
    bad = int(np.count_nonzero(np.isinf(s)))
    if bad:
        raise ValueError(f"scores hold {bad} infinite value(s); leave items out with exclude=..., not with -inf.")
    return s


def _mask(value, shape, name: str) -> np.ndarray:
    m = np.asarray(_numpy(value))
    if m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape} but scores have shape {shape}; give one row per user, "
                         "one column per item.")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"{name} must be a boolean matrix (True where the item counts).")
        m = m.astype(bool)
    return m


def _hits(scores, relevant, k, exclude):
    """``(hits, n_relevant)``: (n_users, k) booleans along each top-k list, relevant items per user."""
    from cflearn.ranking import top_n  # the one ranking rule (ties, exclusion) shared with lesson 07

    k = check_k(k)
    s = check_scores(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be a (n_users, n_items) matrix; got shape {s.shape}.")
    rel = _mask(relevant, s.shape, "relevant")
    ex = None if exclude is None else _mask(exclude, s.shape, "exclude")
    if ex is not None:
        rel = rel & ~ex  # an item the user already has is never a hit
    top = top_n(s, k, exclude=ex)  # (n_users, k), -1 where fewer than k candidates are left
    rows = np.arange(len(s))[:, None]
    hits = (top >= 0) & rel[rows, np.maximum(top, 0)]
    return hits, rel.sum(axis=1)


def _per_user(values, n_relevant):
    out = np.full(len(n_relevant), np.nan)
    some = n_relevant > 0
    out[some] = values[some]
    return out


def precision_at_k(scores, relevant, k, exclude=None) -> np.ndarray:
    """Per user, the share of the top-``k`` list that is relevant; NaN for a user with no relevant item.

    Introduced in lesson 10.
    """
    hits, n_rel = _hits(scores, relevant, k, exclude)
    return _per_user(hits.sum(axis=1) / hits.shape[1], n_rel)


def recall_at_k(scores, relevant, k, exclude=None) -> np.ndarray:
    """Per user, the share of their relevant items found in the top ``k``; NaN with none relevant.

    Introduced in lesson 10.
    """
    hits, n_rel = _hits(scores, relevant, k, exclude)
    return _per_user(hits.sum(axis=1) / np.maximum(n_rel, 1), n_rel)


def hit_rate_at_k(scores, relevant, k, exclude=None) -> np.ndarray:
    """Per user, 1.0 when at least one relevant item is in the top ``k``, else 0.0 (NaN with none relevant).

    Introduced in lesson 10.
    """
    hits, n_rel = _hits(scores, relevant, k, exclude)
    return _per_user(hits.any(axis=1).astype(np.float64), n_rel)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))  # rank 1 -> 1/log2(2) = 1


def _ndcg(hits, n_rel):
    disc = _discounts(hits.shape[1])
    dcg = hits @ disc
    ideal = np.cumsum(disc)[np.clip(n_rel, 1, hits.shape[1]) - 1]  # min(k, n_relevant) ones at the top
    return _per_user(dcg / ideal, n_rel)


def ndcg_at_k(scores, relevant, k, exclude=None) -> np.ndarray:
    """Per user, binary-relevance NDCG@k: DCG of the list / DCG of the ideal list; NaN with none relevant.

    DCG sums ``1 / log2(rank + 1)`` over the relevant items at ranks 1..k; the ideal list puts
    ``min(k, n_relevant)`` relevant items first. Introduced in lesson 10.
    """
    hits, n_rel = _hits(scores, relevant, k, exclude)
    return _ndcg(hits, n_rel)


def ranking_metrics(scores, relevant, k=10, exclude=None, *, batch_size: int = 2048) -> dict:
    """Mean precision, recall, NDCG and hit rate at ``k`` over the users with a relevant item.

    Parameters
    ----------
    scores : array (n_users, n_items) or callable
        Every item's score for every user, or ``scores(users) -> (len(users), n_items)`` so that a
        large catalogue is scored a block of users at a time.
    relevant, exclude : boolean arrays (n_users, n_items)
        The held-out items that count, and the items never to recommend (training items).
    k : int
        Length of each list.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``ndcg``, ``hit_rate`` (means), ``n_users`` (users scored) and
        ``n_without_relevant`` (users left out because they have no relevant item).

    Introduced in lesson 10.
    """
    k = check_k(k)
    batch_size = check_k(batch_size, "batch_size")
    rel_all = np.asarray(_numpy(relevant))
    n_users = len(rel_all)
    sums = dict.fromkeys(("precision", "recall", "ndcg", "hit_rate"), 0.0)
    scored = 0
    for start in range(0, n_users, batch_size):
        users = np.arange(start, min(start + batch_size, n_users))
        block = scores(users) if callable(scores) else np.asarray(_numpy(scores))[users]
        hits, n_rel = _hits(block, rel_all[users], k, None if exclude is None else np.asarray(_numpy(exclude))[users])
        some = n_rel > 0
        found = hits.sum(axis=1)
        sums["precision"] += float(np.sum(found[some] / k))
        sums["recall"] += float(np.sum(found[some] / n_rel[some]))
        sums["ndcg"] += float(np.nansum(_ndcg(hits, n_rel)))
        sums["hit_rate"] += float(np.sum(hits.any(axis=1)[some]))
        scored += int(some.sum())
    if scored == 0:
        raise ValueError("no user has a relevant item to find: check the relevance threshold and the held-out rows.")
    out = {name: total / scored for name, total in sums.items()}
    out.update(n_users=scored, n_without_relevant=n_users - scored)
    return out


def coverage(top, n_items: int) -> float:
    """Share of the catalogue's ``n_items`` that appear in at least one list of ``top`` (-1 slots ignored).

    Introduced in lesson 10.
    """
    items = np.asarray(top).reshape(-1)
    items = items[items >= 0]
    return float(np.unique(items).size / check_k(n_items, "n_items"))


def mean_popularity(top, item_counts) -> float:
    """Mean number of training interactions of the recommended items (-1 slots ignored).

    Introduced in lesson 10.
    """
    items = np.asarray(top).reshape(-1)
    return float(np.mean(np.asarray(item_counts, dtype=np.float64)[items[items >= 0]]))
