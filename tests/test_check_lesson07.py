"""Lesson 07 checkers (item_titles, cosine_neighbours, top_unseen): references pass, typical mistakes fail."""

import numpy as np
import pandas as pd
import pytest

from cflearn import check


def stub(*args):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def item_titles(items, item_ids, movies):
    titles = movies.set_index("movieId")["title"]
    return [titles[item_ids[i]] for i in items]


def cosine_neighbours(vectors, index, n):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit[index]
    sims[index] = -np.inf
    return np.argsort(-sims)[:n]


def top_unseen(scores, seen, n):
    scores = scores.astype(float).copy()
    scores[seen] = -np.inf
    return list(np.argsort(-scores)[:n])


def test_registered():
    assert check.names(lesson="07") == ["cosine_neighbours", "item_titles", "top_unseen"]


@pytest.mark.parametrize("name, answer", [("item_titles", item_titles), ("cosine_neighbours", cosine_neighbours),
                                          ("top_unseen", top_unseen)])
def test_reference_passes_and_stub_is_not_attempted(name, answer):
    result = check.run(name, answer)
    assert result.status == "passed", result
    assert check.run(name, stub).status == "not attempted"


def test_other_correct_forms_pass():
    def titles_by_merge(items, item_ids, movies):
        wanted = pd.DataFrame({"movieId": item_ids[items]})
        return wanted.merge(movies, on="movieId", how="left")["title"]

    def neighbours_with_cosine_matrix(vectors, index, n):
        norms = np.sqrt((vectors**2).sum(1))
        sims = (vectors @ vectors.T)[index] / (norms * norms[index])
        order = [int(i) for i in np.argsort(sims)[::-1] if i != index]
        return order[:n]

    assert check.run("item_titles", titles_by_merge).passed
    assert check.run("cosine_neighbours", neighbours_with_cosine_matrix).passed


def _hints(result):
    return " ".join(c.hint for c in result.cases if not c.passed)


def test_titles_by_position_fail():
    result = check.run("item_titles", lambda items, item_ids, movies: list(movies.title.iloc[items]))
    assert result.status == "failed" and "position" in _hints(result)
    result = check.run("item_titles", lambda items, item_ids, movies: list(movies.title.iloc[item_ids[items] - 1]))
    assert result.status in ("failed", "error")  # movieId taken as a row number


def test_neighbour_mistakes_fail_with_hints():
    def dot_product(vectors, index, n):
        sims = vectors @ vectors[index]
        sims[index] = -np.inf
        return np.argsort(-sims)[:n]

    def with_self(vectors, index, n):
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.argsort(-(unit @ unit[index]))[:n]

    def ascending(vectors, index, n):
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        sims = unit @ unit[index]
        return [i for i in np.argsort(sims) if i != index][:n]

    def with_similarities(vectors, index, n):
        idx = cosine_neighbours(vectors, index, n)
        return idx, np.zeros(len(idx))

    for answer, words in ((dot_product, "length"), (with_self, "own closest"), (ascending, "descending"),
                          (with_similarities, "indices")):
        result = check.run("cosine_neighbours", answer)
        assert result.status == "failed", answer.__name__
        assert words in _hints(result), (answer.__name__, _hints(result))


def test_top_unseen_mistakes_fail():
    result = check.run("top_unseen", lambda scores, seen, n: list(np.argsort(-scores)[:n]))
    assert result.status == "failed" and "already rated" in _hints(result)

    def lowest(scores, seen, n):
        return [i for i in np.argsort(scores) if i not in seen][:n]

    assert check.run("top_unseen", lowest).status == "failed"


def test_raising_answer_is_an_error():
    def broken(vectors, index, n):
        return vectors.no_such_method()

    result = check.run("cosine_neighbours", broken)
    assert result.status == "error" and "AttributeError" in result.message


def _first_hint(result):
    """The hint of the first failing case: the one a learner reads first."""
    failing = [c.hint for c in result.cases if not c.passed]
    assert failing, result
    return failing[0]


def _euclidean(vectors, index, n):
    d = np.linalg.norm(vectors - vectors[index], axis=1)
    d[index] = np.inf
    return np.argsort(d)[:n]


def _drop_first(vectors, index, n):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.argsort(-(unit @ unit[index]), kind="stable")[1 : n + 1]


def _query_only(vectors, index, n):
    sims = vectors @ (vectors[index] / np.linalg.norm(vectors[index]))
    sims[index] = -np.inf
    return np.argsort(-sims)[:n]


@pytest.mark.parametrize(
    "name, wrong, fragment",
    [
        ("item_titles", lambda items, ids, movies: list(movies.title.iloc[items]), "position"),
        ("item_titles", lambda items, ids, movies: list(movies[movies.movieId.isin(ids[items])].title), "order"),
        ("item_titles", lambda items, ids, movies: item_titles(sorted(items), ids, movies), "order"),
        ("item_titles", lambda items, ids, movies: [ids[i] for i in items], "titles themselves"),
        ("item_titles", lambda items, ids, movies: item_titles(items, ids, movies)[0], "one string"),
        ("item_titles", lambda items, ids, movies: list(dict.fromkeys(item_titles(items, ids, movies))), "one title per"),
        ("cosine_neighbours", _query_only, "dot product"),
        ("cosine_neighbours", _drop_first, "leave it out"),
        ("cosine_neighbours", lambda v, index, n: cosine_neighbours(v, index, n + 1), "exactly n"),
        ("cosine_neighbours", lambda v, index, n: cosine_neighbours(v, index, n)[::-1], "cosine similarity"),
        ("cosine_neighbours", _euclidean, "cosine similarity"),
        ("top_unseen", lambda s, seen, n: list(np.argsort(-s)[:n]), "already rated"),
        ("top_unseen", lambda s, seen, n: top_unseen(np.where(np.isin(np.arange(len(s)), seen), 0.0, s), [], n), "in `seen`"),
        ("top_unseen", lambda s, seen, n: top_unseen(s, seen, n + 1), "exactly n"),
        ("top_unseen", lambda s, seen, n: top_unseen(s, seen, n)[::-1], "wrong order"),
        ("top_unseen", lambda s, seen, n: list(np.argsort(-np.delete(s, seen))[:n]), "positions"),
    ],
)
def test_wrong_answers_fail_with_first_hint(name, wrong, fragment):
    result = check.run(name, wrong)
    assert result.status == "failed", result
    assert fragment in _first_hint(result), _first_hint(result)


def test_top_unseen_that_changes_the_scores_fails():
    def in_place(scores, seen, n):
        scores[seen] = -np.inf
        return list(np.argsort(-scores)[:n])

    result = check.run("top_unseen", in_place)
    assert result.status == "failed"
    assert "changed the `scores`" in _first_hint(result)
