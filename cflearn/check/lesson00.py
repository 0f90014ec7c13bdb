"""Checks for lesson 00 (the data): the sparsity of a ratings table.

The inputs are ratings frames of four to six rows whose answers can be worked out by hand.
Their IDs are sparse on purpose (user 1000 next to user 3), so an answer that counts IDs
by their largest value instead of by how many distinct ones there are gets caught.
"""

from __future__ import annotations

from cflearn.check.core import Case, describe, exercise
from cflearn.check.compare import type_problem


def _frame(rows):
    import numpy as np
    import pandas as pd

    df = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
    df["rating"] = df["rating"].astype(np.float32)
    return df


def _cases():
    return [
        # 2 users x 2 movies, 3 of 4 cells filled
        _frame([(1, 10, 4.0), (1, 20, 3.0), (2, 10, 5.0)]),
        # 3 users x 4 movies = 12 cells, 5 ratings; the IDs are large and sparse
        _frame([(1000, 7, 4.0), (1000, 500, 2.5), (3, 7, 1.0), (42, 31, 5.0), (42, 2, 3.5)]),
        # one user who rated everything: nothing is missing
        _frame([(5, 1, 3.0), (5, 2, 4.0), (5, 3, 5.0), (5, 4, 2.0)]),
    ]


def _hint(got, expected, df) -> str:
    n_users, n_items, n = df["userId"].nunique(), df["movieId"].nunique(), len(df)
    if abs(got - (1 - expected)) < 1e-9 and abs(expected - 0.5) > 1e-9:
        return "that is the density (the filled fraction); sparsity is the fraction that is missing"
    if abs(got - 100 * expected) < 1e-6 and expected > 0:
        return "return a fraction between 0 and 1, not a percentage"
    by_max = 1 - n / ((df["userId"].max()) * (df["movieId"].max()))
    if abs(got - by_max) < 1e-9:
        return "count the distinct users and movies (IDs can have gaps), not the largest ID"
    return f"{n_users} users x {n_items} movies = {n_users * n_items} cells, of which {n} hold a rating"


def _reference(ratings):
    """The fraction of the user x movie table with no rating."""
    n_cells = ratings["userId"].nunique() * ratings["movieId"].nunique()
    return 1 - len(ratings) / n_cells


@exercise("sparsity", lesson="00", reference=_reference)
def _sparsity(answer):
    import numpy as np

    for df in _cases():
        before = df.copy()
        n_users, n_items = df["userId"].nunique(), df["movieId"].nunique()
        expected = 1 - len(df) / (n_users * n_items)
        got = answer(df)
        shown = f"sparsity of {len(df)} ratings: users {sorted(set(df.userId))}, movies {sorted(set(df.movieId))}"
        if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
            got = got.item()
        if not isinstance(got, (int, float, np.floating, np.integer)) or isinstance(got, bool):
            why = type_problem(got, 0.5) or f"returned {describe(got)}; return one number"
            yield Case(shown, round(expected, 4), describe(got), False, why + " (a float between 0 and 1)")
            continue
        if got != got:  # nan
            yield Case(shown, round(expected, 4), got, False, "the result is nan: was a count zero?")
            continue
        ok = abs(float(got) - expected) < 1e-6
        hint = "" if ok else _hint(float(got), expected, df)
        if ok and not df.equals(before):
            ok, hint = False, "your function changed the ratings frame it was given; work on a copy"
        yield Case(shown, round(expected, 4), got, ok, hint)
