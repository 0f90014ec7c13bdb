"""Looking inside a trained model: biases with titles, PCA of item vectors, neighbours, recommendations.

Works with a model from ``cflearn.torch``, ``cflearn.keras`` or ``cflearn.scratch`` (or a plain
dict of arrays named ``user_factors``, ``item_factors``, ``user_bias``, ``item_bias``). Titles are
always found through the encoder: item index ``i`` is movieId ``encoder.item_ids_[i]``, looked up
in ``movies`` by that id, never by row position. Introduced in lesson 07.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd

__all__ = [
    "NotFoundError", "weights", "item_table", "item_biases", "user_biases", "pca", "embedding_pca",
    "plot_pca", "cosine_neighbours", "find_title", "similar", "recommend", "norm_vs_popularity",
    "plot_norm_vs_popularity",
]


class NotFoundError(LookupError):
    """A title or user the model does not know, with suggestions where there are any."""


def weights(model) -> dict:
    """The model's embedding tables as NumPy arrays: biases flattened to shape (n,).

    Introduced in lesson 07.
    """
    if isinstance(model, dict):
        raw = model
    elif hasattr(model, "params_"):  # cflearn.scratch.BiasedMF
        raw = model.params_
    elif type(model).__module__.startswith("cflearn.torch") or _is_instance(model, "torch.nn", "Module"):
        from cflearn.torch import get_weights

        raw = get_weights(model)
    elif _is_instance(model, "keras", "Model") or type(model).__module__.startswith("cflearn.keras"):
        from cflearn.keras import get_weights

        raw = get_weights(model)
    else:
        raise TypeError(f"cannot read embeddings from {type(model).__name__}; pass a cflearn model or a dict of arrays.")
    out = {}
    for name in ("user_factors", "item_factors", "user_bias", "item_bias"):
        if name in raw:
            value = np.asarray(raw[name], dtype=np.float64)
            out[name] = value.reshape(-1) if name.endswith("bias") else value
    if "item_factors" not in out:
        raise ValueError("this model has no item_factors table to interpret.")
    return out


def _is_instance(obj, module: str, cls: str) -> bool:
    import sys

    mod = sys.modules.get(module)
    return mod is not None and isinstance(obj, getattr(mod, cls, ()))


def _predict(model, df) -> np.ndarray:
    if isinstance(model, dict):  # plain arrays: global_mean + biases + dot product, no y_range
        w, u, i = weights(model), df["user"].to_numpy(), df["item"].to_numpy()
        score = np.sum(w["user_factors"][u] * w["item_factors"][i], axis=1) + float(model.get("global_mean", 0.0))
        return score + (w["user_bias"][u] if "user_bias" in w else 0) + (w["item_bias"][i] if "item_bias" in w else 0)
    if hasattr(model, "params_"):
        return model.predict(df)
    if type(model).__module__.startswith("cflearn.torch"):
        from cflearn.torch import predict
    else:
        from cflearn.keras import predict
    return np.asarray(predict(model, df)).reshape(-1)


def _counts(train, column: str, n: int) -> np.ndarray:
    if column not in train.columns:
        raise ValueError(f"train needs the encoded column {column!r}; pass the frame returned by IdEncoder.transform.")
    return np.bincount(train[column].to_numpy(np.int64), minlength=n)[:n]


def item_table(encoder, movies, train) -> pd.DataFrame:
    """One row per item index: ``movieId``, ``title``, ``n_ratings`` (in train), ``mean_rating``.

    Introduced in lesson 07.
    """
    ids = np.asarray(encoder.item_ids_)
    titles = movies.drop_duplicates("movieId").set_index("movieId")["title"]
    n = len(ids)
    counts = _counts(train, "item", n)
    sums = np.bincount(train["item"].to_numpy(np.int64), train["rating"].to_numpy(np.float64), minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return pd.DataFrame(
        {"movieId": ids, "title": titles.reindex(ids).fillna("(unknown title)").to_numpy(), "n_ratings": counts, "mean_rating": mean}
    )


def item_biases(model, encoder, movies, train, min_ratings: int = 20) -> pd.DataFrame:
    """Items with at least ``min_ratings`` training ratings, sorted by learned bias, highest first.

    Introduced in lesson 07.
    """
    w = weights(model)
    if "item_bias" not in w:
        raise ValueError("this model has no item_bias; train a DotProductBias (or another model with biases).")
    table = item_table(encoder, movies, train)
    table["bias"] = w["item_bias"]
    table = table[table.n_ratings >= min_ratings]
    return table.sort_values("bias", ascending=False, kind="stable")


def user_biases(model, encoder, train, min_ratings: int = 20) -> pd.DataFrame:
    """Users with at least ``min_ratings`` training ratings, sorted by learned bias, highest first.

    Introduced in lesson 07.
    """
    w = weights(model)
    if "user_bias" not in w:
        raise ValueError("this model has no user_bias; train a DotProductBias (or another model with biases).")
    n = len(encoder.user_ids_)
    counts = _counts(train, "user", n)
    sums = np.bincount(train["user"].to_numpy(np.int64), train["rating"].to_numpy(np.float64), minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    table = pd.DataFrame({"userId": np.asarray(encoder.user_ids_), "n_ratings": counts, "mean_rating": mean, "bias": w["user_bias"]})
    return table[table.n_ratings >= min_ratings].sort_values("bias", ascending=False, kind="stable")


def pca(x, n_components: int = 2):
    """Principal components of the rows of ``x`` by SVD of the centred matrix (NumPy only).

    Returns ``(coords, components, explained)``: coords ``(n_rows, n_components)``, components
    ``(n_components, n_cols)`` (unit vectors), explained variance ratio ``(n_components,)``.
    Each component's sign is fixed so that its largest loading is positive.
    Introduced in lesson 07.
    """
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[:n_components]
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.sum(s**2))
    explained = s[:n_components] ** 2 / total if total > 0 else np.zeros(len(vt))
    return centred @ vt.T, vt, explained


def embedding_pca(model, encoder, movies, train, n_components: int = 2, min_ratings: int = 20) -> pd.DataFrame:
    """Item vectors of items with at least ``min_ratings`` ratings, projected on their top components.

    Columns ``movieId``, ``title``, ``n_ratings``, ``mean_rating``, ``pc1``, ``pc2``, ...;
    ``frame.attrs["explained"]`` holds the explained variance ratios. Introduced in lesson 07.
    """
    table = item_table(encoder, movies, train)
    keep = table.n_ratings.to_numpy() >= min_ratings
    if keep.sum() <= n_components:
        raise ValueError(f"only {int(keep.sum())} items have {min_ratings}+ ratings; lower min_ratings.")
    coords, _, explained = pca(weights(model)["item_factors"][keep], n_components)
    frame = table[keep].copy()
    for k in range(n_components):
        frame[f"pc{k + 1}"] = coords[:, k]
    frame.attrs["explained"] = [float(e) for e in explained]
    return frame


def plot_pca(frame: pd.DataFrame, n_labels: int = 30, ax=None, x: str = "pc1", y: str = "pc2"):
    """Scatter of two components, the ``n_labels`` most-rated titles written beside their points.

    Introduced in lesson 07.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 8))
    ax.scatter(frame[x], frame[y], s=6, alpha=0.25, color="grey")
    top = frame.nlargest(n_labels, "n_ratings")
    ax.scatter(top[x], top[y], s=14, color="tab:blue")
    for _, row in top.iterrows():
        ax.annotate(_short_title(row["title"]), (row[x], row[y]), fontsize=8, xytext=(3, 2), textcoords="offset points")
    explained = frame.attrs.get("explained")
    for label, col, setter in ((x, x, ax.set_xlabel), (y, y, ax.set_ylabel)):
        k = int(col[2:]) - 1 if col.startswith("pc") else None
        extra = f" ({explained[k]:.0%} of variance)" if explained and k is not None and k < len(explained) else ""
        setter(label + extra)
    return ax


def _short_title(title: str, limit: int = 28) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def cosine_neighbours(vectors, index: int, n: int = 10):
    """The ``n`` rows most similar to row ``index`` by cosine similarity, itself excluded.

    Returns ``(indices, similarities)``, most similar first; ties keep the lower index first.
    Rows of all zeros have similarity 0 to everything. Introduced in lesson 07.
    """
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1)
    unit = v / np.where(norms > 0, norms, 1.0)[:, None]  # (n_rows, n_factors)
    sims = unit @ unit[index]  # (n_rows,)
    sims[index] = -np.inf  # never one's own neighbour
    order = np.argsort(-sims, kind="stable")[: min(n, len(v) - 1)]
    return order, sims[order]


def _strip_year(title: str) -> str:
    """Both "Matrix, The (1999)" and "the matrix" become "the matrix" (MovieLens moves articles to the end)."""
    text = re.sub(r"\s*\(\d{4}\)\s*$", "", str(title)).strip().lower()
    moved = re.fullmatch(r"(.*), (the|a|an)", text)
    return f"{moved.group(2)} {moved.group(1)}" if moved else text


def find_title(movies, query: str, encoder=None) -> int:
    """The movieId whose title matches ``query`` (exactly, or without the year, case-insensitive).

    Raises NotFoundError with close matches when there is no single match, or when ``encoder``
    is given and the film has no training ratings. Introduced in lesson 07.
    """
    titles = movies.drop_duplicates("movieId")
    lower = titles["title"].str.lower()
    hits = titles[lower == query.strip().lower()]
    if hits.empty:
        hits = titles[titles["title"].map(_strip_year) == _strip_year(query)]
    if len(hits) != 1:
        if len(hits) > 1:
            options = list(hits["title"])
        else:
            contains = list(titles.loc[lower.str.contains(query.strip().lower(), regex=False), "title"])
            normal = dict(zip(titles["title"].map(_strip_year), titles["title"]))
            close = [normal[t] for t in difflib.get_close_matches(_strip_year(query), list(normal), n=5, cutoff=0.6)]
            options = (close + contains)[:5]
        why = "matches several titles" if len(hits) > 1 else "is not a title in movies"
        hint = f"; did you mean: {'; '.join(dict.fromkeys(options))}?" if options else ""
        raise NotFoundError(f"{query!r} {why}{hint}")
    movie_id = int(hits["movieId"].iloc[0])
    if encoder is not None and movie_id not in set(np.asarray(encoder.item_ids_).tolist()):
        raise NotFoundError(f"{hits['title'].iloc[0]!r} has no ratings in the training split, so the model has no vector for it.")
    return movie_id


def _item_position(encoder, movie_id: int) -> int:
    hit = np.flatnonzero(np.asarray(encoder.item_ids_) == movie_id)
    if hit.size == 0:
        raise NotFoundError(f"movieId {movie_id} has no ratings in the training split.")
    return int(hit[0])


def similar(model, encoder, movies, title: str, n: int = 10, train=None, min_ratings: int = 0) -> pd.DataFrame:
    """The ``n`` films whose item vectors are closest (cosine) to ``title``'s.

    With ``train`` and ``min_ratings``, only films with that many training ratings are candidates
    (rarely rated films have barely trained vectors). Introduced in lesson 07.
    """
    idx = _item_position(encoder, find_title(movies, title, encoder))
    vectors = weights(model)["item_factors"].copy()
    table = item_table(encoder, movies, train) if train is not None else None
    if table is not None and min_ratings > 0:
        rare = table.n_ratings.to_numpy() < min_ratings
        rare[idx] = False
        vectors[rare] = 0.0  # zero vectors have similarity 0; filtered out below
    order, sims = cosine_neighbours(vectors, idx, n=len(vectors))
    if table is not None and min_ratings > 0:
        keep = ~rare[order]
        order, sims = order[keep], sims[keep]
    order, sims = order[:n], sims[:n]
    ids = np.asarray(encoder.item_ids_)[order]
    names = movies.drop_duplicates("movieId").set_index("movieId")["title"].reindex(ids).to_numpy()
    out = pd.DataFrame({"movieId": ids, "title": names, "similarity": sims})
    if table is not None:
        out["n_ratings"] = table.n_ratings.to_numpy()[order]
    return out.reset_index(drop=True)


def recommend(model, encoder, movies, train, user_id: int, n: int = 10, min_ratings: int = 0) -> pd.DataFrame:
    """Top-``n`` films by predicted rating for raw ``user_id``, leaving out films they rated in train.

    Introduced in lesson 07.
    """
    user_ids = np.asarray(encoder.user_ids_)
    hit = np.flatnonzero(user_ids == user_id)
    if hit.size == 0:
        raise NotFoundError(
            f"userId {user_id} has no ratings in the training split (known ids run {user_ids.min()}..{user_ids.max()})."
        )
    user = int(hit[0])
    table = item_table(encoder, movies, train)
    seen = np.zeros(len(table), dtype=bool)
    seen[train.loc[train["user"] == user, "item"].to_numpy(np.int64)] = True
    candidates = np.flatnonzero(~seen & (table.n_ratings.to_numpy() >= min_ratings))
    query = pd.DataFrame({"user": np.full(candidates.size, user, dtype=np.int64), "item": candidates.astype(np.int64)})
    scores = _predict(model, query)
    best = np.argsort(-scores, kind="stable")[:n]
    out = table.iloc[candidates[best]][["movieId", "title", "n_ratings", "mean_rating"]].copy()
    out.insert(2, "predicted", scores[best])
    return out.reset_index(drop=True)


def norm_vs_popularity(model, encoder, movies, train) -> pd.DataFrame:
    """Each item's vector length beside its number of training ratings (and its title).

    Introduced in lesson 07.
    """
    table = item_table(encoder, movies, train)
    table["norm"] = np.linalg.norm(weights(model)["item_factors"], axis=1)
    return table


def plot_norm_vs_popularity(frame: pd.DataFrame, ax=None):
    """Log-scaled scatter of vector norm against number of ratings.

    Introduced in lesson 07.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(frame["n_ratings"], frame["norm"], s=5, alpha=0.3)
    ax.set_xscale("log")
    ax.set_xlabel("ratings in train (log scale)")
    ax.set_ylabel("length of item vector")
    return ax
