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
