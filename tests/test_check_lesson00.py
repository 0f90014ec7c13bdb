"""Lesson 00 checker (sparsity): the reference answer passes, typical wrong answers fail."""

import pytest

from cflearn import check


def sparsity(ratings):
    n_cells = ratings["userId"].nunique() * ratings["movieId"].nunique()
    return 1 - len(ratings) / n_cells


def stub(ratings):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")



def _first_hint(result):
    """The hint of the first failing case: the one a learner reads first."""
    failing = [c.hint for c in result.cases if not c.passed]
    assert failing, result
    return failing[0]

def test_registered():
    assert check.names(lesson="00") == ["sparsity"]


def test_reference_passes():
    assert check.run("sparsity", sparsity).status == "passed"
    assert check.run("sparsity", lambda r: float(1 - len(r) / (r.userId.nunique() * r.movieId.nunique()))).status == "passed"


def _drops_in_place(ratings):
    value = sparsity(ratings)
    del ratings["rating"]
    return value


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda r: 1 - sparsity(r), "density"),
        (lambda r: 100 * sparsity(r), "percentage"),
        (lambda r: 1 - len(r) / (r.userId.max() * r.movieId.max()), "largest ID"),
        (lambda r: 1 - len(r) / (len(r) * len(r)), "cells"),
        (lambda r: [sparsity(r)], "one number"),
        (lambda r: str(sparsity(r)), "one number"),
        (_drops_in_place, "changed the ratings frame"),
    ],
)
def test_wrong_answers_fail(wrong, fragment):
    result = check.run("sparsity", wrong)
    assert result.status == "failed", result
    assert fragment in _first_hint(result), repr(result)


def test_raising_answer_is_an_error_and_stub_not_attempted():
    def buggy(ratings):
        return 1 - len(ratings) / (ratings["user"].nunique() * ratings["item"].nunique())

    result = check.run("sparsity", buggy)
    assert result.status == "error"
    assert "KeyError" in result.message and "in buggy" in result.message
    assert check.run("sparsity", stub).status == "not attempted"
