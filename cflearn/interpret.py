"""Looking inside a trained model: biases with titles, PCA of item vectors, neighbours, recommendations.

A model is read through its embedding tables, named ``user_factors`` and ``item_factors``
(``nn.Embedding`` in PyTorch, ``keras.layers.Embedding`` in Keras), plus optional ``user_bias``
and ``item_bias``. Any model laid out that way works: the ``cflearn.torch`` and ``cflearn.keras``
models, a model class of your own, a ``cflearn.scratch.BiasedMF``, or a plain dict of arrays.

Titles are found through the encoder, once: ``items = item_table(encoder, movies, train)`` has
one row per item index (row ``i`` is movieId ``encoder.item_ids_[i]``), and the functions that
talk about films take that table. Charts of the results live in ``cflearn.plotting``.
Introduced in lesson 07.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd

from cflearn import _inputs, ranking

__all__ = [
    "NotFoundError", "weights", "item_table", "item_biases", "user_biases", "pca", "embedding_pca",
    "cosine_neighbours", "find_title", "similar", "recommend", "item_norms",
]

TABLES = ("user_factors", "item_factors", "user_bias", "item_bias")


class NotFoundError(LookupError):
    """A title or user the model does not know, with suggestions where there are any."""


# --- reading a model -------------------------------------------------------------------------


def _layer_array(model, name: str, framework: str) -> np.ndarray:
    """The table of embedding layer ``model.<name>`` as NumPy, ``(n, dim)``."""
    layer = getattr(model, name)
    table = getattr(layer, "embeddings" if framework == "keras" else "weight", None)
    if table is None:
        kind = "keras.layers.Embedding (built)" if framework == "keras" else "torch.nn.Embedding"
        raise TypeError(f"{type(model).__name__}.{name} is a {type(layer).__name__}; interpret reads it as a {kind}.")
    if framework == "torch":
        return table.detach().cpu().numpy()
    from keras import ops  # keras is already imported: the model is a keras.Model

    return ops.convert_to_numpy(table)


def weights(model) -> dict:
    """The model's embedding tables as float64 NumPy arrays.

    Parameters
    ----------
    model : torch.nn.Module, keras.Model, cflearn.scratch.BiasedMF or dict
        Anything with ``item_factors`` (and usually ``user_factors``, ``user_bias``, ``item_bias``)
        as embedding layers, or a dict of arrays under those names.

    Returns
    -------
    dict
        The tables found: factors ``(n, n_factors)``, biases flattened to ``(n,)``.

    Introduced in lesson 07.
    """
    framework = _inputs.model_framework(model)
    if isinstance(model, dict):
        raw = model
    elif hasattr(model, "params_"):  # cflearn.scratch.BiasedMF
        raw = model.params_
    elif framework is not None:
        raw = {name: _layer_array(model, name, framework) for name in TABLES if hasattr(model, name)}
    else:
        raise TypeError(
            f"cannot read embeddings from a {type(model).__name__}: pass a PyTorch nn.Module or keras.Model with "
            "embedding layers named user_factors and item_factors, a cflearn.scratch.BiasedMF, or a dict of arrays."
        )
    out = {}
    for name in TABLES:
        if name in raw:
            value = np.asarray(raw[name], dtype=np.float64)
            if name.endswith("bias"):
                if value.ndim > 2 or (value.ndim == 2 and value.shape[1] != 1):
                    raise ValueError(f"{name} should have one number per row, shape (n, 1) or (n,); got {value.shape}.")
                value = value.reshape(-1)
            elif value.ndim != 2:
                raise ValueError(f"{name} should be a table (n, n_factors); got shape {value.shape}.")
            out[name] = value
    if not out:
        raise ValueError(f"{type(model).__name__} has none of the tables interpret reads: {', '.join(TABLES)}.")
    for side in ("user", "item"):
        factors, bias = out.get(f"{side}_factors"), out.get(f"{side}_bias")
        if factors is not None and bias is not None and len(factors) != len(bias):
            raise ValueError(f"{side}_factors has {len(factors)} rows but {side}_bias has {len(bias)}.")
    return out


def _need(w: dict, name: str, model, what: str) -> np.ndarray:
    if name not in w:
        raise ValueError(
            f"{what} needs {name}, and this {type(model).__name__} has only {', '.join(w)}; "
            "interpret reads embedding layers named user_factors, item_factors, user_bias, item_bias "
            "(a DotProductBias has all four)."
        )
    return w[name]


def _predict(model, user: np.ndarray, item: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Predicted ratings for index arrays, calling the model the way cflearn's ``fit`` does."""
    if isinstance(model, dict):  # plain arrays: global_mean + biases + dot product, no y_range
        w = weights(model)
        score = np.sum(w["user_factors"][user] * w["item_factors"][item], axis=1) + float(model.get("global_mean", 0.0))
        return score + (w["user_bias"][user] if "user_bias" in w else 0) + (w["item_bias"][item] if "item_bias" in w else 0)
    if hasattr(model, "params_"):
        return np.asarray(model.predict(pd.DataFrame({"user": user, "item": item})), dtype=np.float64)
    framework = _inputs.model_framework(model)
    if framework == "keras":  # one (rows, 2) array of user, item, as keras fit passes it
        x = np.stack([user, item], axis=1).astype(np.int32)
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64).reshape(-1)
    if framework == "torch":  # model(user, item) in eval mode (no dropout), on the model's device
        import torch

        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                parts = [
                    model(torch.as_tensor(user[s : s + batch_size], device=device), torch.as_tensor(item[s : s + batch_size], device=device))
                    for s in range(0, len(user), batch_size)
                ]
        finally:
            model.train(was_training)
        return torch.cat(parts).double().cpu().numpy().reshape(-1) if parts else np.zeros(0)
    raise TypeError(f"cannot predict with a {type(model).__name__}; pass a PyTorch or Keras model, a BiasedMF or a dict.")


# --- the item table ----------------------------------------------------------------------------


def _counts(train, column: str, n: int):
    """Ratings per index and their mean, from an encoded frame."""
    if not isinstance(train, pd.DataFrame) or column not in train.columns or "rating" not in train.columns:
        raise ValueError(f"train needs the encoded columns {column!r} and 'rating'; pass the frame returned by IdEncoder.transform.")
    index = train[column].to_numpy(np.int64)
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"train has {column} indices outside 0..{n - 1}; encode it with the same IdEncoder.")
    counts = np.bincount(index, minlength=n)
    sums = np.bincount(index, train["rating"].to_numpy(np.float64), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts, sums / counts  # mean is NaN for an index with no rating


def item_table(encoder, movies, train) -> pd.DataFrame:
    """One row per item index: ``movieId``, ``title``, ``n_ratings`` and ``mean_rating`` in train.

    Parameters
    ----------
    encoder : IdEncoder
        Fitted on train; row ``i`` is movieId ``encoder.item_ids_[i]``.
    movies : DataFrame
        Columns ``movieId``, ``title`` in any row order (titles are looked up by id).
    train : DataFrame
        The encoded training ratings (columns ``item``, ``rating``).

    Returns
    -------
    DataFrame
        Indexed by item index (named ``item``); the table the other functions take as ``items``.

    Introduced in lesson 07.
    """
    ids = np.asarray(encoder.item_ids_)
    titles = movies.drop_duplicates("movieId").set_index("movieId")["title"]
    counts, mean = _counts(train, "item", len(ids))
    table = pd.DataFrame(
        {"movieId": ids, "title": titles.reindex(ids).fillna("(unknown title)").to_numpy(), "n_ratings": counts, "mean_rating": mean}
    )
    table.index.name = "item"
    return table


def _items(items, n_model: int | None = None) -> pd.DataFrame:
    """``items`` checked to be a whole item table (in item order), matching the model's size."""
    if not isinstance(items, pd.DataFrame) or not {"movieId", "title", "n_ratings"} <= set(items.columns):
        raise TypeError(
            f"items must be the table from interpret.item_table(encoder, movies, train), got a {type(items).__name__}."
        )
    whole = "pass the whole table from item_table (one row per item index, not a filtered copy)"
    if not np.array_equal(np.sort(items.index.to_numpy()), np.arange(len(items))):
        raise ValueError(f"items has rows missing or repeated: {whole}.")
    if n_model is not None and n_model != len(items):
        raise ValueError(
            f"the model has {n_model} item vectors but items has {len(items)} rows: {whole}, "
            "built with the encoder the model was trained with."
        )
    return items.sort_index()


# --- biases -------------------------------------------------------------------------------------


def item_biases(model, items, min_ratings: int = 20) -> pd.DataFrame:
    """Films with at least ``min_ratings`` training ratings, sorted by learned bias, highest first.

    Returns ``items``' rows with a ``bias`` column. Introduced in lesson 07.
    """
    bias = _need(weights(model), "item_bias", model, "item_biases")
    table = _items(items, len(bias)).copy()
    table["bias"] = bias
    return table[table.n_ratings >= min_ratings].sort_values("bias", ascending=False, kind="stable")


def user_biases(model, encoder, train, min_ratings: int = 20) -> pd.DataFrame:
    """Users with at least ``min_ratings`` training ratings, sorted by learned bias, highest first.

    Columns ``userId``, ``n_ratings``, ``mean_rating``, ``bias``. Introduced in lesson 07.
    """
    bias = _need(weights(model), "user_bias", model, "user_biases")
    ids = np.asarray(encoder.user_ids_)
    if len(ids) != len(bias):
        raise ValueError(f"the model has {len(bias)} users but the encoder {len(ids)}: pass the encoder it was built with.")
    counts, mean = _counts(train, "user", len(ids))
    table = pd.DataFrame({"userId": ids, "n_ratings": counts, "mean_rating": mean, "bias": bias})
    table.index.name = "user"
    return table[table.n_ratings >= min_ratings].sort_values("bias", ascending=False, kind="stable")


# --- the main directions of the item space ------------------------------------------------------


def pca(x, n_components: int = 2):
    """Principal components of the rows of ``x`` by SVD of the centred matrix (NumPy only).

    Returns
    -------
    coords : (n_rows, n_components) array
    components : (n_components, n_cols) array of unit vectors
    explained : (n_components,) array, the share of variance of each component

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


def embedding_pca(model, items, n_components: int = 2, min_ratings: int = 20) -> pd.DataFrame:
    """Item vectors of films with at least ``min_ratings`` ratings, projected on their top components.

    Returns ``items``' rows with columns ``pc1``, ``pc2``, ...; ``frame.attrs["explained"]`` holds
    the share of variance of each. ``plotting.pca_map`` draws it. Introduced in lesson 07.
    """
    vectors = _need(weights(model), "item_factors", model, "embedding_pca")
    table = _items(items, len(vectors))
    keep = table.n_ratings.to_numpy() >= min_ratings
    if keep.sum() <= n_components:
        raise ValueError(f"only {int(keep.sum())} films have {min_ratings}+ ratings; lower min_ratings.")
    coords, _, explained = pca(vectors[keep], n_components)
    frame = table[keep].copy()
    for k in range(n_components):
        frame[f"pc{k + 1}"] = coords[:, k]
    frame.attrs["explained"] = [float(e) for e in explained]
    return frame


# --- neighbours and titles ----------------------------------------------------------------------


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


def _match_title(frame, query: str, where: str) -> pd.DataFrame:
    """The one row of ``frame`` whose title matches ``query``, or NotFoundError with suggestions."""
    titles = frame.drop_duplicates("movieId")
    lower = titles["title"].str.lower()
    hits = titles[lower == str(query).strip().lower()]
    if hits.empty:
        hits = titles[titles["title"].map(_strip_year) == _strip_year(query)]
    if len(hits) == 1:
        return hits
    if len(hits) > 1:
        options, why = list(hits["title"]), "matches several titles"
    else:
        contains = list(titles.loc[lower.str.contains(str(query).strip().lower(), regex=False), "title"])
        normal = dict(zip(titles["title"].map(_strip_year), titles["title"]))
        close = [normal[t] for t in difflib.get_close_matches(_strip_year(query), list(normal), n=5, cutoff=0.6)]
        options, why = (close + contains)[:5], f"is not a title {where}"
    hint = f"; did you mean: {'; '.join(dict.fromkeys(options))}?" if options else ""
    raise NotFoundError(f"{query!r} {why}{hint}")


def find_title(movies, query: str, encoder=None) -> int:
    """The movieId whose title matches ``query`` (exactly, or without the year, case-insensitive).

    Raises NotFoundError with close matches when there is no single match, or when ``encoder``
    is given and the film has no training ratings. Introduced in lesson 07.
    """
    hit = _match_title(movies, query, "in movies")
    movie_id = int(hit["movieId"].iloc[0])
    if encoder is not None:
        try:
            encoder.item_index(movie_id)
        except KeyError:
            raise NotFoundError(
                f"{hit['title'].iloc[0]!r} has no ratings in the training split, so the model has no vector for it."
            ) from None
    return movie_id


def similar(model, items, title: str, n: int = 10, min_ratings: int = 0) -> pd.DataFrame:
    """The ``n`` films whose item vectors point most nearly the same way (cosine) as ``title``'s.

    Only films with at least ``min_ratings`` training ratings are candidates (rarely rated films
    have barely trained vectors). Returns ``items``' rows with a ``similarity`` column, most
    similar first. Introduced in lesson 07.
    """
    vectors = _need(weights(model), "item_factors", model, "similar")
    table = _items(items, len(vectors))
    idx = int(_match_title(table, title, "of a film rated in train").index[0])
    rare = table.n_ratings.to_numpy() < min_ratings
    rare[idx] = False
    order, sims = cosine_neighbours(vectors, idx, n=len(vectors))
    keep = ~rare[order]
    order, sims = order[keep][:n], sims[keep][:n]
    out = table.iloc[order][["movieId", "title", "n_ratings"]].copy()
    out.insert(2, "similarity", sims)
    return out


# --- recommendations and vector lengths ---------------------------------------------------------


def recommend(model, items, encoder, train, user_id: int, n: int = 10, min_ratings: int = 0) -> pd.DataFrame:
    """Top-``n`` films by predicted rating for raw ``user_id``, leaving out films they rated in train.

    The model is called as in training (PyTorch ``model(user, item)``, Keras ``model.predict``
    on ``(rows, 2)``), so ``y_range`` and the global mean are included. Returns ``items``' rows
    with a ``predicted`` column, best first. Introduced in lesson 07.
    """
    try:
        user = encoder.user_index(user_id)
    except KeyError:
        ids = np.asarray(encoder.user_ids_)
        raise NotFoundError(
            f"userId {user_id} has no ratings in the training split (known ids run {ids.min()}..{ids.max()})."
        ) from None
    w = weights(model)
    table = _items(items, len(_need(w, "item_factors", model, "recommend")))
    if not isinstance(train, pd.DataFrame) or not {"user", "item"} <= set(train.columns):
        raise ValueError("train needs the encoded columns 'user' and 'item'; pass the frame returned by IdEncoder.transform.")
    seen = np.zeros(len(table), dtype=bool)
    seen[train.loc[train["user"] == user, "item"].to_numpy(np.int64)] = True
    candidates = np.flatnonzero(~seen & (table.n_ratings.to_numpy() >= min_ratings))
    scores = _predict(model, np.full(candidates.size, user, dtype=np.int64), candidates.astype(np.int64))
    best = ranking.top_n(scores, n) if scores.size else np.zeros(0, dtype=np.int64)
    best = best[best >= 0]  # fewer candidates than n: the list is shorter, not padded
    out = table.iloc[candidates[best]][["movieId", "title", "n_ratings", "mean_rating"]].copy()
    out.insert(2, "predicted", scores[best])
    return out


def item_norms(model, items) -> pd.DataFrame:
    """``items`` with each film's vector length in a ``norm`` column, beside its ``n_ratings``.

    ``plotting.norm_vs_popularity`` draws it. Introduced in lesson 07.
    """
    vectors = _need(weights(model), "item_factors", model, "item_norms")
    table = _items(items, len(vectors)).copy()
    table["norm"] = np.linalg.norm(vectors, axis=1)
    return table
