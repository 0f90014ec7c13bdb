"""Established libraries' models, run on exactly the rows the course's models see (for the benchmark).

Surprise (``pip install scikit-surprise``, the "bench" extra) supplies the classic rating predictors:
``BaselineOnly``, ``SVD``, ``SVDpp`` and ``KNNBaseline``. Each is run with its defaults and, for
``SVD``, also tuned the way the course tunes its own recipes: every combination of
``SVD_GRID`` is fitted on an inner split carved from the training part only, and the one with
the lowest inner RMSE is refitted on the whole training part. The rows being scored are never
looked at while choosing.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["IMPLICIT_MODELS", "SURPRISE_MODELS", "SVD_GRID", "available", "fit_predict", "implicit_available",
           "implicit_scores", "tune_svd"]

# The grid searched for "SVD (tuned)": n_factors, n_epochs, lr_all, reg_all.
SVD_GRID = {"n_factors": [100, 200], "n_epochs": [50, 100], "lr_all": [0.005, 0.01], "reg_all": [0.05, 0.1, 0.15]}

SURPRISE_MODELS = ("BaselineOnly", "SVD", "SVD (tuned)", "SVDpp", "KNNBaseline")


def available() -> bool:
    """Whether scikit-surprise can be imported."""
    try:
        import surprise  # noqa: F401
    except ImportError:
        return False
    return True


def _trainset(train, rating_scale):
    import surprise

    reader = surprise.Reader(rating_scale=rating_scale)
    return surprise.Dataset.load_from_df(train[["userId", "movieId", "rating"]], reader).build_full_trainset()


def _algo(name: str, **params):
    import surprise

    if name == "BaselineOnly":
        return surprise.BaselineOnly(verbose=False)
    if name in ("SVD", "SVD (tuned)"):
        return surprise.SVD(random_state=42, **params)
    if name == "SVDpp":
        return surprise.SVDpp(random_state=42, cache_ratings=True)
    if name == "KNNBaseline":  # item-based, Pearson correlation of baseline residuals, as Surprise's docs advise
        return surprise.KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False)
    raise ValueError(f"unknown Surprise model {name!r}; choose from {SURPRISE_MODELS}.")


def _fit_predict(algo, train, test, rating_scale):
    algo.fit(_trainset(train, rating_scale))
    return np.array([algo.predict(u, i).est for u, i in zip(test.userId, test.movieId)], dtype=np.float32)


def tune_svd(train, rating_scale=(0.5, 5.0), grid=None, seed: int = 1):
    """The ``SVD`` settings from ``grid`` with the lowest RMSE on an inner split of ``train``.

    ``train`` has the raw columns (userId, movieId, rating). Returns ``(best_params, table)``
    where ``table`` lists every combination with its inner RMSE.
    """
    import pandas as pd

    from cflearn import data, metrics

    grid = SVD_GRID if grid is None else grid
    inner_train, inner_valid = data.split_ratings(train, 0.2, seed=seed)
    # Score only inner rows whose user and film the inner training part has, as the course does.
    seen = inner_valid.userId.isin(inner_train.userId) & inner_valid.movieId.isin(inner_train.movieId)
    inner_valid = inner_valid[seen]
    rows = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        pred = _fit_predict(_algo("SVD", **params), inner_train, inner_valid, rating_scale)
        rows.append({**params, "inner_rmse": metrics.rmse(inner_valid.rating.to_numpy(), pred)})
    table = pd.DataFrame(rows).sort_values("inner_rmse").reset_index(drop=True)
    best = {k: table.loc[0, k].item() for k in grid}
    return best, table


def fit_predict(name: str, train, test, rating_scale=(0.5, 5.0), grid=None, params=None):
    """Fit Surprise model ``name`` on ``train`` (raw columns) and predict ``test``'s rows.

    Returns ``(predictions, settings)``: float32 predictions, and the settings used. For
    ``"SVD (tuned)"`` they are ``params`` if given, else the best of ``grid`` (default
    ``SVD_GRID``) on an inner split of ``train`` (``tune_svd``).
    """
    params = dict(params or {})
    if name == "SVD (tuned)" and not params:
        params, _ = tune_svd(train, rating_scale, grid)
    algo = _algo(name, **params)
    return _fit_predict(algo, train, test, rating_scale), params


# --- implicit (the "implicit" extra): implicit-feedback ranking models, for the ranking benchmark ---

IMPLICIT_MODELS = ("implicit BPR", "implicit ALS")


def implicit_available() -> bool:
    """Whether the ``implicit`` library can be imported."""
    try:
        import implicit  # noqa: F401
    except ImportError:
        return False
    return True


def implicit_scores(name: str, train, n_users: int, n_items: int, seed: int = 42) -> np.ndarray:
    """Fit ``implicit``'s BPR or ALS (defaults) on ``train``'s encoded (user, item) pairs; every item's score
    for every user, ``(n_users, n_items)``, to rank exactly as the course's models are ranked."""
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    user_items = sp.csr_matrix((np.ones(len(train), np.float32), (train["user"].to_numpy(), train["item"].to_numpy())),
                               shape=(n_users, n_items))
    if name == "implicit BPR":
        from implicit.cpu.bpr import BayesianPersonalizedRanking as Model
    elif name == "implicit ALS":
        from implicit.cpu.als import AlternatingLeastSquares as Model
    else:
        raise ValueError(f"unknown implicit model {name!r}; choose from {IMPLICIT_MODELS}.")
    with threadpool_limits(1, "blas"):  # implicit's own advice: its threads, not BLAS's (it checks when built)
        model = Model(random_state=seed)
        model.fit(user_items, show_progress=False)
    return np.asarray(model.user_factors @ model.item_factors.T, dtype=np.float64)
