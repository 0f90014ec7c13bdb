"""MovieLens-like ratings made up on the spot: any size, no download, a known right answer.

``ratings(n_ratings)`` returns ``(ratings, movies)`` frames exactly like ``data.load_movielens``
(ratings: ``userId`` int64, ``movieId`` int64, ``rating`` float32 in half stars 0.5-5.0,
``timestamp`` int64; movies: ``movieId``, ``title``, ``genres``), so every lesson and the
benchmark can use them where a large MovieLens would not fit or could not be downloaded.

How the data are made (``generate`` keeps the planted model too):

- **Sizes.** At ``n_ratings = 25,000,095`` the defaults are ml-25m's 162,541 users and 59,047
  films. Smaller data sets have fewer of both, sublinearly: ``n_users = 162,541 * s**0.9`` and
  ``n_items = 59,047 * s**0.6`` with ``s = n_ratings / 25,000,095`` (at 100,000 ratings: about
  1,100 users and 2,150 films, the scale of ml-100k and ml-latest-small).
- **Who rates what.** Each user's activity weight is log-normal (sigma 1.25: the median user
  rates about 0.46 times the mean, as in ml-25m); each film's popularity weight falls as
  ``(rank + r0) ** -1.5``, with ``r0`` chosen so that at full size the most popular film's weight
  is 0.33% of the total (Forrest Gump's share of ml-25m). (user, film) pairs are drawn from
  these weights; repeats are thrown away and redrawn, so there is **one rating per pair** (which trims the head a little: at
  full size the most rated film ends with about 0.2% of the ratings, the top 1% of films with
  about half, the median film with about 40 ratings and the median user with about 80).
- **The ratings.** A planted model, ``mu + user_bias + item_bias + user_factors . item_factors``
  (``n_factors`` = 10), plus Gaussian noise, rounded to half stars and clipped to 0.5-5.0. The
  defaults give a mean near 3.53 and a standard deviation near 1.06, as ml-25m. The planted
  model's own RMSE (its prediction clipped to 0.5-5.0; about 0.71 with the defaults), kept in
  ``SyntheticData.planted_rmse`` and ``ratings.attrs["planted_rmse"]``, is the noise floor: no model can expect
  to do better on held-out rows.

Everything is vectorised NumPy, seeded (the same arguments give the same frames) and about
O(n_ratings) in memory: 25 million ratings take about 0.7 GB as a frame and about 2 GB at the
peak while being made. Introduced in lesson 09.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FULL_SIZE", "Planted", "SyntheticData", "generate", "ratings", "sizes"]

# ml-25m: ratings, users who rated, films rated
FULL_SIZE = {"n_ratings": 25_000_095, "n_users": 162_541, "n_items": 59_047}
USER_EXPONENT, ITEM_EXPONENT = 0.9, 0.6  # how users and films grow with n_ratings (sublinear)
USER_SIGMA = 1.25  # log-normal spread of user activity
ITEM_POWER, ITEM_OFFSET = 1.5, 158.5  # popularity ~ (rank + r0) ** -1.5, r0 = 158.5 at 59,047 films
TIME_RANGE = (789_652_009, 1_574_327_703)  # ml-25m's first and last timestamps (1995-2019)
GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
_CHUNK = 1 << 21  # rows per chunk when computing ratings: (chunk, n_factors) float32 gathers stay small


@dataclass
class Planted:
    """The model the ratings were drawn from; ``predict`` gives its (clipped) rating for ids."""

    global_mean: float
    user_bias: np.ndarray  # (n_users,)
    item_bias: np.ndarray  # (n_items,)
    user_factors: np.ndarray  # (n_users, n_factors)
    item_factors: np.ndarray  # (n_items, n_factors)

    def predict(self, user_ids, movie_ids) -> np.ndarray:
        """Planted ratings (float32, clipped to 0.5-5.0) for 1-based ``userId`` / ``movieId`` arrays."""
        u = np.asarray(user_ids, dtype=np.int64) - 1
        i = np.asarray(movie_ids, dtype=np.int64) - 1
        if len(u) != len(i):
            raise ValueError(f"user_ids and movie_ids differ in length ({len(u)} and {len(i)}).")
        if len(u) and (u.min() < 0 or u.max() >= len(self.user_bias) or i.min() < 0 or i.max() >= len(self.item_bias)):
            raise ValueError("ids out of range: pass userId/movieId values of the synthetic data set this model made.")
        out = np.empty(len(u), dtype=np.float32)
        for s in range(0, len(u), _CHUNK):
            out[s:s + _CHUNK] = _unclipped(self, u[s:s + _CHUNK], i[s:s + _CHUNK])
        return np.clip(out, 0.5, 5.0)


@dataclass
class SyntheticData:
    """``generate``'s result: the two frames, the planted model and its RMSE on every rating."""

    ratings: pd.DataFrame
    movies: pd.DataFrame
    planted: Planted
    planted_rmse: float


def sizes(n_ratings: int) -> tuple[int, int]:
    """Default ``(n_users, n_items)`` for ``n_ratings``: ml-25m's at full size, sublinear below."""
    n_ratings = _check_count(n_ratings, "n_ratings")
    s = n_ratings / FULL_SIZE["n_ratings"]
    n_users = max(2, round(FULL_SIZE["n_users"] * s**USER_EXPONENT))
    n_items = max(2, round(FULL_SIZE["n_items"] * s**ITEM_EXPONENT))
    # tiny data sets: keep the matrix at most a third full so that distinct pairs are easy to find
    while n_users * n_items < 3 * n_ratings:
        n_users, n_items = n_users + 1, n_items + 1
    return n_users, n_items


def ratings(n_ratings: int, n_users: int | None = None, n_items: int | None = None, seed: int = 42,
            **settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(ratings, movies)`` shaped like ``data.load_movielens``'s, with ``n_ratings`` ratings.

    Parameters
    ----------
    n_ratings : int
        How many ratings (distinct user-film pairs).
    n_users, n_items : int, optional
        Default: ``sizes(n_ratings)`` (ml-25m's 162,541 and 59,047 at 25,000,095 ratings).
    seed : int
        The same seed and arguments give the same frames.
    **settings
        Passed to ``generate``: ``n_factors``, ``global_mean``, ``user_bias_std``,
        ``item_bias_std``, ``factor_std``, ``noise_std``.

    ``ratings.attrs["planted_rmse"]`` holds the planted model's RMSE (the noise floor).
    Introduced in lesson 09.
    """
    out = generate(n_ratings, n_users, n_items, seed=seed, **settings)
    out.ratings.attrs["planted_rmse"] = out.planted_rmse
    return out.ratings, out.movies


def generate(n_ratings: int, n_users: int | None = None, n_items: int | None = None, *, seed: int = 42,
             n_factors: int = 10, global_mean: float = 3.57, user_bias_std: float = 0.55, item_bias_std: float = 0.45,
             factor_std: float = 0.50, noise_std: float = 0.75) -> SyntheticData:
    """Make a synthetic data set; returns a ``SyntheticData`` (frames, planted model, its RMSE).

    ``factor_std`` is the standard deviation of the planted dot product, ``noise_std`` that of
    the noise added before rounding to half stars; see the module docstring for the rest.
    """
    n_ratings = _check_count(n_ratings, "n_ratings")
    default_users, default_items = sizes(n_ratings)
    n_users = default_users if n_users is None else _check_count(n_users, "n_users")
    n_items = default_items if n_items is None else _check_count(n_items, "n_items")
    if n_users * n_items < 2 * n_ratings:
        raise ValueError(f"{n_ratings:,} distinct ratings need a matrix at least twice as large; {n_users:,} users x "
                         f"{n_items:,} films has {n_users * n_items:,} cells. Pass more n_users/n_items (or leave "
                         f"them out for sizes(n_ratings)).")
    _check_count(n_factors, "n_factors")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise TypeError(f"seed must be a non-negative integer such as 42, got {seed!r}.")
    rng = np.random.default_rng(seed)

    user_w = rng.lognormal(0.0, USER_SIGMA, n_users)
    rank = rng.permutation(n_items)  # film k is the rank[k]-th most popular: ids carry no order
    item_w = (rank + ITEM_OFFSET * n_items / FULL_SIZE["n_items"]) ** -ITEM_POWER
    keys = _distinct_pairs(rng, user_w / user_w.sum(), item_w / item_w.sum(), n_ratings, n_items)
    user = (keys // n_items).astype(np.int64)  # 0-based, sorted by user then film like ml-25m's file
    item = (keys % n_items).astype(np.int64)
    del keys

    planted = Planted(
        global_mean=float(global_mean),
        user_bias=rng.normal(0.0, user_bias_std, n_users).astype(np.float32),
        item_bias=rng.normal(0.0, item_bias_std, n_items).astype(np.float32),
        # each factor ~ N(0, s) with s**4 * n_factors = factor_std**2, so the dot product has std factor_std
        user_factors=rng.normal(0.0, np.sqrt(factor_std / np.sqrt(n_factors)), (n_users, n_factors)).astype(np.float32),
        item_factors=rng.normal(0.0, np.sqrt(factor_std / np.sqrt(n_factors)), (n_items, n_factors)).astype(np.float32),
    )
    rating = np.empty(n_ratings, dtype=np.float32)
    sq_err = 0.0
    for s in range(0, n_ratings, _CHUNK):
        raw = _unclipped(planted, user[s:s + _CHUNK], item[s:s + _CHUNK])  # (chunk,) planted score
        truth = np.clip(raw, 0.5, 5.0)  # what Planted.predict gives: the best guess on the rating scale
        noisy = raw + rng.normal(0.0, noise_std, len(raw)).astype(np.float32)
        rating[s:s + _CHUNK] = np.clip(np.round(noisy * 2) / 2, 0.5, 5.0)
        sq_err += float(np.sum((rating[s:s + _CHUNK] - truth).astype(np.float64) ** 2))
    timestamp = rng.integers(TIME_RANGE[0], TIME_RANGE[1] + 1, n_ratings, dtype=np.int64)
    frame = pd.DataFrame({"userId": user + 1, "movieId": item + 1, "rating": rating, "timestamp": timestamp})
    return SyntheticData(frame, _movies(rng, n_items), planted, float(np.sqrt(sq_err / n_ratings)))


def _unclipped(planted: Planted, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    dot = np.einsum("nk,nk->n", planted.user_factors[u], planted.item_factors[i])  # (chunk,)
    return planted.global_mean + planted.user_bias[u] + planted.item_bias[i] + dot


def _distinct_pairs(rng, user_p, item_p, n_ratings: int, n_items: int) -> np.ndarray:
    """``n_ratings`` distinct keys ``user * n_items + item``, sorted, pairs drawn from the weights.

    Draw pairs, drop repeats (``np.unique``), draw again for the shortfall; a random subset of
    the distinct pairs is kept if the last round overshoots (so no user or film is favoured).
    """
    user_cdf, item_cdf = np.cumsum(user_p), np.cumsum(item_p)
    keys = np.empty(0, dtype=np.int64)
    want = int(n_ratings * 1.05) + 16
    for _ in range(100):
        u = np.minimum(np.searchsorted(user_cdf, rng.random(want)), len(user_cdf) - 1)
        i = np.minimum(np.searchsorted(item_cdf, rng.random(want)), len(item_cdf) - 1)
        new = u.astype(np.int64) * n_items + i
        del u, i
        new.sort()
        # two sorted runs: a stable sort (timsort) merges them in linear time
        keys = np.concatenate([keys, new])
        del new
        keys.sort(kind="stable")
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # drop repeats
        short = n_ratings - len(keys)
        if short <= 0:
            break
        want = 2 * short + 1024  # the repeats come from busy users on popular films: overdraw
    else:
        raise RuntimeError(f"could not find {n_ratings:,} distinct user-film pairs; pass more n_users or n_items.")
    if len(keys) > n_ratings:
        keep = np.sort(rng.choice(len(keys), n_ratings, replace=False))
        keys = keys[keep]
    return keys


def _movies(rng, n_items: int) -> pd.DataFrame:
    """Films 1..n_items with a made-up title (with a year, like MovieLens's) and one to three genres."""
    years = rng.integers(1920, 2020, n_items)
    n_genres = rng.integers(1, 4, n_items)
    picks = rng.integers(0, len(GENRES), (n_items, 3))
    genres = ["|".join(sorted({GENRES[g] for g in row[:k]})) for row, k in zip(picks, n_genres)]
    titles = [f"Synthetic film {m} ({y})" for m, y in zip(range(1, n_items + 1), years)]
    return pd.DataFrame({"movieId": np.arange(1, n_items + 1, dtype=np.int64), "title": titles, "genres": genres})


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer() and value >= 1:
            return int(value)  # 1e6 is a fine way to write a million
        raise TypeError(f"{name} must be a positive whole number such as 1_000_000, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}.")
    return int(value)
