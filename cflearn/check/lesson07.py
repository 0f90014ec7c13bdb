"""Checks for lesson 07 (interpreting embeddings): titles by id, cosine neighbours, top-N unseen.

- ``item_titles(items, item_ids, movies)``: titles of item indices, found through their movieId.
- ``cosine_neighbours(vectors, index, n)``: indices of the ``n`` rows closest to row ``index``
  by cosine similarity, most similar first, the row itself left out.
- ``top_unseen(scores, seen, n)``: the ``n`` best-scored item indices the user has not rated.
All inputs are tiny and can be checked by hand.
"""

from __future__ import annotations

from cflearn.check.core import Case, describe, exercise


def _as_int_list(got):
    import numpy as np

    if isinstance(got, tuple) and len(got) == 2 and hasattr(got[0], "__len__"):
        return None  # (indices, similarities): the prompt asks for indices only
    try:
        arr = np.asarray(got)
    except Exception:
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        return None
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        return None
    return [int(v) for v in arr]


# ---------------------------------------------------------------- item_titles
def _movies():
    import pandas as pd

    # movieIds are not 0..n-1 and the rows are not in id order: position and id never agree
    return pd.DataFrame(
        {
            "movieId": [1, 2, 3, 5, 8, 13],
            "title": ["Alpha (1990)", "Bravo (1991)", "Charlie (1992)", "Delta (1993)", "Echo (1994)", "Foxtrot (1995)"],
            "genres": ["Drama"] * 6,
        }
    ).iloc[[3, 0, 5, 1, 4, 2]].reset_index(drop=True)


def _titles_problem(got) -> str:
    """Why ``got`` is not a sequence of title strings ("" when it is)."""
    import pandas as pd

    if got is None:
        return "your function returned None: did you forget the return statement?"
    if isinstance(got, str):
        return f"returned one string ({got[:40]!r}...); return a list of titles, one string per item index"
    if isinstance(got, pd.DataFrame):
        return "returned a DataFrame; return only the titles (a list of strings, or the title column)"
    if isinstance(got, dict) or not hasattr(got, "__iter__"):
        return f"returned {describe(got)}; return a list of titles, one string per item index"
    try:
        values = list(got)
    except Exception:
        return f"returned {describe(got)}; return a list of titles"
    if not all(isinstance(v, str) for v in values):
        return f"return the titles themselves (strings); got {describe(got)} holding {type(values[0]).__name__ if values else 'nothing'}"
    return ""


def _reference_titles(items, item_ids, movies):
    """Item index -> movieId -> title."""
    by_id = dict(zip(movies["movieId"].tolist(), movies["title"].tolist()))
    return [by_id[int(item_ids[i])] for i in items]


@exercise("item_titles", lesson="07", reference=_reference_titles)
def _item_titles(answer):
    import numpy as np

    movies = _movies()
    by_id = dict(zip(movies.movieId, movies.title))
    item_ids = np.array([8, 1, 13, 3, 5])  # item index i is movieId item_ids[i] (2 was never rated)
    for items in ([0], [2, 4, 1], [3, 0, 3]):
        expected = [by_id[int(item_ids[i])] for i in items]
        got = answer(np.array(items), item_ids.copy(), movies.copy())
        problem = _titles_problem(got)
        if problem:
            yield Case(input=f"items={items}, item_ids={item_ids.tolist()}", expected=expected, got=got, passed=False, hint=problem)
            continue
        got_list = [str(t) for t in got]
        ok = got_list == expected
        hint = ""
        if not ok:
            by_position = [movies.title.iloc[i] for i in items]
            if got_list == by_position:
                hint = "that is the row at position `item` of movies; map the index to its movieId first, then look the id up"
            elif isinstance(got_list, list) and len(got_list) != len(items):
                hint = f"return one title per item index: {len(items)} of them (a repeated index gets its title again)"
            elif sorted(got_list) == sorted(expected):
                hint = "the right titles in the wrong order: return them in the order of `items`"
            else:
                hint = "item index -> movieId with item_ids[item], then movieId -> title through the movieId column"
        yield Case(input=f"items={items}, item_ids={item_ids.tolist()}", expected=expected, got=got, passed=ok, hint=hint)


# ---------------------------------------------------------------- cosine_neighbours
def _neighbour_cases():
    import numpy as np

    return [
        # short and long vectors: dot products favour the long ones, cosine does not
        (np.array([[2.0, 0.0], [1.0, 1.0], [4.0, 5.0], [3.0, -0.3], [-1.0, 0.0], [0.0, 5.0]]), 0, 3),
        (np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.5], [0.0, 1.0, 0.0], [-1.0, -2.0, 0.0], [10.0, 0.0, 1.0]]), 1, 4),
        (np.array([[0.0, 1.0], [5.0, 1.0], [1.0, 3.0], [0.1, -2.0]]), 3, 1),
        # row 0 points exactly the same way as row 2 (similarity 1, like the row itself): dropping
        # the first of the sorted list is not the same as leaving row `index` out
        (np.array([[2.0, 4.0], [1.0, 0.0], [1.0, 2.0], [0.5, 1.5]]), 2, 2),
    ]


def _rankings(vectors, index):
    import numpy as np

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = unit @ unit[index]
    dot = vectors @ vectors[index]
    others = [i for i in np.argsort(-cos, kind="stable") if i != index]
    return {
        "right": others,
        "dot": [i for i in np.argsort(-dot, kind="stable") if i != index],
        "with_self": list(np.argsort(-cos, kind="stable")),
        "ascending": others[::-1],
        "dot_with_self": list(np.argsort(-dot, kind="stable")),
    }


def _reference_neighbours(vectors, index, n):
    """The n rows most cosine-similar to row ``index``, most similar first, itself left out."""
    return [int(i) for i in _rankings(vectors, index)["right"][:n]]


@exercise("cosine_neighbours", lesson="07", reference=_reference_neighbours)
def _cosine_neighbours(answer):
    for vectors, index, n in _neighbour_cases():
        ranks = _rankings(vectors, index)
        expected = [int(i) for i in ranks["right"][:n]]
        got = answer(vectors.copy(), index, n)
        got_list = _as_int_list(got)
        ok = got_list == expected
        hint = ""
        if not ok:
            if got is None:
                hint = "your function returned None: did you forget the return statement?"
            elif got_list is None:
                hint = f"return the neighbours' indices as a list or 1-D array of ints (got {describe(got)})"
            elif got_list == [int(i) for i in ranks["dot"][:n]]:
                hint = "that ranks by dot product, which favours long vectors; divide each vector by its length first"
            elif got_list in ([int(i) for i in ranks["with_self"][:n]], [int(i) for i in ranks["dot_with_self"][:n]]):
                hint = "an item is always its own closest match (similarity 1); leave row `index` out"
            elif got_list == [int(i) for i in ranks["ascending"][:n]]:
                hint = "those are the least similar; sort by similarity in descending order"
            elif len(got_list) != n:
                hint = f"return exactly n={n} indices"
            elif index in got_list:
                hint = ("row `index` itself is in your answer: leave it out by its index (another row can be "
                        "exactly as similar, so dropping the first of the sorted list is not enough)")
            else:
                hint = "cosine similarity = u.v / (|u| |v|); keep the n largest, most similar first"
        yield Case(input=f"vectors={vectors.tolist()}, index={index}, n={n}", expected=expected, got=got, passed=ok, hint=hint)


# ---------------------------------------------------------------- top_unseen
def _reference_top_unseen(scores, seen, n):
    """The n best-scored items not in ``seen``, best first."""
    import numpy as np

    seen_set = set(np.asarray(seen).tolist())
    return [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in seen_set][:n]


@exercise("top_unseen", lesson="07", reference=_reference_top_unseen)
def _top_unseen(answer):
    import numpy as np

    cases = [
        (np.array([3.1, 4.5, 2.0, 4.9, 3.8]), np.array([3]), 2),
        (np.array([4.0, 1.0, 5.0, 2.5, 4.2, 3.3]), np.array([2, 0, 4]), 3),
        (np.array([1.0, 2.0, 3.0]), np.array([], dtype=int), 1),
        # raw scores can be negative: a seen item's score set to 0 would still win
        (np.array([-0.5, -2.0, -1.2, -0.1, -0.9]), np.array([3, 0]), 2),
    ]
    for scores, seen, n in cases:
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        seen_set = set(seen.tolist())
        expected = [i for i in order if i not in seen_set][:n]
        unseen = [i for i in range(len(scores)) if i not in seen_set]
        positions = [int(k) for k in np.argsort(-scores[unseen], kind="stable")][:n]
        given = scores.copy()
        got = answer(given, seen.copy(), n)
        got_list = _as_int_list(got)
        ok = got_list == expected
        hint = ""
        if ok and not np.array_equal(given, scores):
            ok, hint = False, "your function changed the `scores` array it was given; work on a copy (np.array(scores, dtype=float))"
        if not ok and not hint:
            if got is None:
                hint = "your function returned None: did you forget the return statement?"
            elif got_list is None:
                hint = f"return item indices as a list or 1-D array of ints (got {describe(got)})"
            elif got_list == order[:n]:
                hint = "some of those the user has already rated; drop the `seen` items before taking the top n"
            elif got_list == [i for i in order[::-1] if i not in set(seen.tolist())][:n]:
                hint = "those are the lowest scores; highest first"
            elif len(got_list) != n:
                hint = f"return exactly n={n} indices"
            elif got_list == positions and positions != expected:
                hint = ("those are positions in the list of unseen items, not item indices: map each position "
                        "back to its item index")
            elif seen_set & set(got_list):
                hint = (f"items {sorted(seen_set & set(got_list))} are in `seen`: leave every seen item out (a score "
                        "of 0 is not low enough when scores can be negative; use -np.inf or drop them)")
            elif sorted(got_list) == sorted(expected):
                hint = "the right items, in the wrong order: highest score first"
            else:
                hint = "rank the unseen items by score, highest first, and keep n"
        yield Case(input=f"scores={scores.tolist()}, seen={seen.tolist()}, n={n}", expected=expected, got=got, passed=ok, hint=hint)
