"""The MovieLens data layer: loading, splitting, encoding and validating ratings.

This is the only part of cflearn that touches files or the network (with its helper
``cflearn._download``, which finds, downloads and extracts the archives). Every data
set comes back in the same shape, whatever its source format:

- ratings: ``userId`` (int64), ``movieId`` (int64), ``rating`` (float32), ``timestamp`` (int64);
- movies: ``movieId`` (int64), ``title`` (str), ``genres`` (str, ``"|"``-separated).

Where the files come from: the cache folder ``CFLEARN_DATA`` (default: the user's
cache directory), then the mirror folder ``CFLEARN_DATA_MIRROR`` (an archive or an
extracted folder, never written to), then GroupLens. Nothing else is cached: the
files are small enough to read again in well under a second.

MovieLens is published by GroupLens under its usage licence (non-commercial use; see
the README inside each archive); publications using it should cite F. M. Harper and
J. A. Konstan, "The MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015.
"""

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

from cflearn._download import DATASETS, DataError, cache_dir, check_name, dataset_dir

__all__ = [
    "DATASETS", "CourseData", "DataError", "IdEncoder", "cache_dir", "course_data", "encode_split",
    "load_ml100k_folds", "load_movielens", "split_ratings", "validate_ratings",
]

RATING_COLUMNS = ["userId", "movieId", "rating", "timestamp"]
RATING_DTYPES = {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"}
NO_GENRES = "(no genres listed)"  # what the CSV data sets write for a movie without genres


def load_movielens(name="ml-latest-small", *, progress=True):
    """Load a MovieLens data set as ``(ratings, movies)`` data frames.

    Parameters
    ----------
    name : str
        One of ``DATASETS``: ``"ml-latest-small"`` (default), ``"ml-100k"``, ``"ml-1m"``,
        ``"ml-20m"``, ``"ml-25m"``.
    progress : bool
        Show a progress bar if the archive has to be downloaded.

    Returns
    -------
    ratings : DataFrame with columns userId, movieId, rating, timestamp
    movies : DataFrame with columns movieId, title, genres

    Introduced in lesson 00.
    """
    info = check_name(name)
    folder = dataset_dir(name, progress=progress, files=info["files"])
    if info["format"] == "csv":
        ratings = pd.read_csv(folder / "ratings.csv", dtype=RATING_DTYPES)[RATING_COLUMNS]
        movies = pd.read_csv(folder / "movies.csv", dtype={"movieId": "int64"}, encoding="utf-8")
    elif info["format"] == "100k":
        ratings = _read_100k(folder / "u.data")
        movies = _movies_100k(folder)
    else:
        ratings = _read_1m_ratings(folder / "ratings.dat")
        movies = _movies_1m(folder / "movies.dat")
    movies = movies.assign(genres=movies["genres"].fillna(NO_GENRES))[["movieId", "title", "genres"]]
    return ratings, movies.astype({"movieId": "int64", "title": str, "genres": str})


def load_ml100k_folds(*, progress=True):
    """The five official ml-100k folds, ``[(train, test), ...]`` from ``u1.base/u1.test`` .. ``u5``.

    Each frame has the same columns as ``load_movielens`` ratings. Introduced in lesson 09.
    """
    names = [f"u{k}.{part}" for k in range(1, 6) for part in ("base", "test")]
    folder = dataset_dir("ml-100k", progress=progress, files=names)
    return [(_read_100k(folder / f"u{k}.base"), _read_100k(folder / f"u{k}.test")) for k in range(1, 6)]


def _read_100k(path):
    return pd.read_csv(path, sep="\t", header=None, names=RATING_COLUMNS, dtype=RATING_DTYPES)


def _movies_100k(folder):
    # u.genre: "name|index" lines; u.item: id|title|release|video release|url|19 genre flags
    genres = [line.split("|")[0] for line in (folder / "u.genre").read_text("latin-1").splitlines() if line.strip()]
    items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1",
                        names=["movieId", "title", "release", "video", "url", *genres])
    flags = items[genres].to_numpy(dtype=bool)  # (n_movies, 19)
    joined = ["|".join(g for g, on in zip(genres, row) if on) or NO_GENRES for row in flags]
    return pd.DataFrame({"movieId": items["movieId"], "title": items["title"], "genres": joined})


def _read_1m_ratings(path):
    # "1::1193::5::978300760": split on ":" (fast C parser) and keep every other field
    frame = pd.read_csv(path, sep=":", header=None, usecols=[0, 2, 4, 6], encoding="latin-1")
    frame.columns = RATING_COLUMNS
    return frame.astype(RATING_DTYPES)


def _movies_1m(path):
    # titles may contain ":" so split each line on "::" by hand (about 4,000 lines)
    rows = [line.split("::", 2) for line in path.read_text("latin-1").splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=["movieId", "title", "genres"])


def split_ratings(ratings, valid_frac=0.2, seed=42):
    """Randomly split rows into ``(train, valid)``, the same on every machine.

    The rows are shuffled with ``np.random.default_rng(seed).permutation``; the first
    ``ceil(valid_frac * n)`` shuffled rows form the validation set. Both frames keep the
    shuffled order and get a fresh index (0, 1, ...). Split first, then fit an
    ``IdEncoder`` on train. Introduced in lesson 01.

    Rows are split one by one, so a (userId, movieId) pair rated twice can land on both
    sides, and the model is then scored on a rating it trained on. Such duplicates are
    kept (the split stays the documented permutation) but a ``UserWarning`` counts them
    and says how to remove them first.
    """
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame (e.g. from load_movielens), got "
                        f"{type(ratings).__name__}; build one with pd.DataFrame(...).")
    if isinstance(valid_frac, bool) or not isinstance(valid_frac, numbers.Real):
        raise TypeError(f"valid_frac must be a number between 0 and 1 such as 0.2, got {valid_frac!r} "
                        f"({type(valid_frac).__name__}).")
    if not 0 < valid_frac < 1:
        raise ValueError(f"valid_frac must be between 0 and 1 (exclusive), got {valid_frac!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be a non-negative integer such as 42 (or None), got {seed!r}.")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be a non-negative integer such as 42 (or None), got {seed!r}.")
    n = len(ratings)
    n_valid = math.ceil(round(valid_frac * n, 9))
    if n_valid == 0 or n_valid == n:
        raise ValueError(f"cannot split {n} row(s) with valid_frac={valid_frac}: one side would be empty")
    _warn_duplicates(ratings)
    order = np.random.default_rng(seed).permutation(n)
    valid = ratings.iloc[order[:n_valid]].reset_index(drop=True)
    train = ratings.iloc[order[n_valid:]].reset_index(drop=True)
    return train, valid


def _warn_duplicates(ratings, key=("userId", "movieId")):
    key = [c for c in key if c in ratings.columns]
    if len(key) < 2:
        return
    n_dup = int(ratings.duplicated(subset=key).sum())
    if n_dup:
        warnings.warn(
            f"{n_dup:,} row(s) repeat a (userId, movieId) pair seen in an earlier row; split row by row, a "
            f"pair can land in both train and valid. Keep one rating per pair first, e.g. "
            f"ratings = ratings.sort_values('timestamp').drop_duplicates({key}, keep='last').",
            UserWarning, stacklevel=3,
        )


def encode_split(train_raw, test_raw, *, names=("train", "valid"), quiet=False):
    """Fit an ``IdEncoder`` on ``train_raw`` and encode both parts: ``(train, test, encoder)``.

    The one scoring rule of the course: rows of ``test_raw`` whose user or film is not in
    ``train_raw`` are dropped (the encoder prints how many), because no model can know them.
    ``quiet=True`` keeps the two count lines to itself. Introduced in lesson 01.
    """
    import contextlib
    import io

    encoder = IdEncoder().fit(train_raw)
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        train = encoder.transform(train_raw, name=names[0])
        test = encoder.transform(test_raw, unseen="drop", name=names[1])
    return train, test, encoder


class CourseData(NamedTuple):
    """The course split of a data set, raw and encoded (see ``course_data``)."""

    ratings: pd.DataFrame
    movies: pd.DataFrame
    train_raw: pd.DataFrame
    valid_raw: pd.DataFrame
    train: pd.DataFrame
    valid: pd.DataFrame
    encoder: "IdEncoder"


def course_data(name="ml-latest-small", *, valid_frac=0.2, seed=42, progress=True, quiet=False):
    """Load ``name``, split it, fit the encoder on train: what every lesson from 02 on starts from.

    The same steps lessons 00 and 01 take by hand: ``load_movielens``, ``split_ratings(ratings,
    valid_frac, seed)``, then ``encode_split``. Returns a ``CourseData`` with fields ``ratings,
    movies, train_raw, valid_raw, train, valid, encoder``. Introduced in lesson 02.
    """
    ratings, movies = load_movielens(name, progress=progress)
    train_raw, valid_raw = split_ratings(ratings, valid_frac=valid_frac, seed=seed)
    train, valid, encoder = encode_split(train_raw, valid_raw, quiet=quiet)
    return CourseData(ratings, movies, train_raw, valid_raw, train, valid, encoder)


class IdEncoder:
    """Map raw user and movie ids to contiguous indices ``0 .. n - 1``, fitted on train.

    Indices follow the sorted raw ids: ``user_ids_[u]`` is the raw id of user index ``u``
    and ``item_ids_[i]`` the movieId of item index ``i``. Introduced in lesson 01.

    Examples
    --------
    >>> enc = IdEncoder().fit(train)
    >>> valid = enc.transform(valid)  # prints how many rows were unseen and dropped
    """

    def __init__(self, user_col="userId", item_col="movieId"):
        self.user_col = user_col
        self.item_col = item_col

    def fit(self, train):
        """Learn the user and item ids present in ``train``; returns self."""
        self._check_columns(train, "train")
        self._check_missing(train, "train")
        self.user_ids_ = np.unique(train[self.user_col].to_numpy())
        self.item_ids_ = np.unique(train[self.item_col].to_numpy())
        self._users = pd.Index(self.user_ids_)
        self._items = pd.Index(self.item_ids_)
        return self

    @property
    def n_users(self):
        """Number of users seen in training (the size of a user embedding table)."""
        return len(self._fitted().user_ids_)

    @property
    def n_items(self):
        """Number of items seen in training (the size of an item embedding table)."""
        return len(self._fitted().item_ids_)

    def transform(self, df, unseen="drop", name="valid"):
        """Return a copy of ``df`` with int64 columns ``user`` and ``item`` added.

        Rows whose user or item was not seen in training are dropped (``unseen="drop"``,
        index reset), kept with index -1 (``"keep"``) or refused (``"error"``). One line
        is printed with the counts and what was done.
        """
        if unseen not in ("drop", "keep", "error"):
            raise ValueError(f"unseen must be 'drop', 'keep' or 'error', got {unseen!r}")
        self._fitted()
        self._check_columns(df, name)
        self._check_missing(df, name)
        user = self._users.get_indexer(df[self.user_col].to_numpy()).astype("int64")
        item = self._items.get_indexer(df[self.item_col].to_numpy()).astype("int64")
        bad = (user < 0) | (item < 0)
        n_bad = int(bad.sum())
        head = f"{name}: {len(df):,} rows; {n_bad:,} have a user or item unseen in training"
        if n_bad and unseen == "error":
            raise ValueError(
                f"{head} ({int((user < 0).sum()):,} rows with an unseen user, {int((item < 0).sum()):,} "
                f"with an unseen item); pass unseen='drop' to drop them or unseen='keep' to keep them as -1."
            )
        out = df.copy()
        out["user"] = user
        out["item"] = item
        if not n_bad:
            print(head)
        elif unseen == "drop":
            out = out[~bad].reset_index(drop=True)
            print(f"{head} -> dropped, {len(out):,} rows left")
        else:
            print(f"{head} -> kept with index -1")
        return out

    def fit_transform(self, train, unseen="drop", name="train"):
        """``fit(train)`` then ``transform(train)``."""
        return self.fit(train).transform(train, unseen=unseen, name=name)

    def user_index(self, user_ids):
        """Indices of raw user ids (scalar or array); ``KeyError`` for an id unseen in training."""
        return self._lookup(self._fitted()._users, user_ids, "user")

    def item_index(self, movie_ids):
        """Indices of raw movie ids (scalar or array); ``KeyError`` for an id unseen in training."""
        return self._lookup(self._fitted()._items, movie_ids, "item")

    def _lookup(self, index, ids, what):
        scalar = np.ndim(ids) == 0
        values = np.atleast_1d(np.asarray(ids))
        found = index.get_indexer(values).astype("int64")
        if (found < 0).any():
            missing = values[found < 0]
            raise KeyError(f"{len(missing)} {what} id(s) unseen in training, e.g. {missing[:5].tolist()}; "
                           f"only ids present in the data the encoder was fitted on have an index.")
        return int(found[0]) if scalar else found

    def _fitted(self):
        if not hasattr(self, "user_ids_"):
            raise RuntimeError("this IdEncoder is not fitted yet: call enc.fit(train) first.")
        return self

    def _check_columns(self, df, name):
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in (self.user_col, self.item_col) if c not in df.columns]
        if missing:
            raise ValueError(f"{name} has no column(s) {missing} (it has {list(df.columns)}); "
                             f"pass a ratings frame from load_movielens/split_ratings.")

    def _check_missing(self, df, name):
        # NaN is not an id: fitted, it would become an index of its own; transformed, an "unseen" row
        nans = {c: int(df[c].isna().sum()) for c in (self.user_col, self.item_col)}
        nans = {c: n for c, n in nans.items() if n}
        if nans:
            detail = ", ".join(f"{n:,} in column {c!r}" for c, n in nans.items())
            raise ValueError(f"{name} has missing ids (NaN: {detail}); an id must be a real user or movie. "
                             f"Drop those rows first, e.g. df.dropna(subset={list(nans)}).")

    def __repr__(self):
        if not hasattr(self, "user_ids_"):
            return "IdEncoder(not fitted)"
        return f"IdEncoder(n_users={self.n_users:,}, n_items={self.n_items:,})"


def validate_ratings(df, rating_range=None, *, columns=("userId", "movieId", "rating")):
    """Check a ratings frame; raise ``ValueError`` saying what is wrong and what to do.

    Checks that ``columns`` exist, hold no missing values, and (with ``rating_range=(low,
    high)``) that every rating lies in that closed range. Returns ``df`` unchanged.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame of ratings, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the ratings frame has no column(s) {missing} (it has {list(df.columns)}); "
                         f"rename yours to {list(columns)}.")
    nans = {c: int(n) for c, n in df[list(columns)].isna().sum().items() if n}
    if nans:
        detail = ", ".join(f"{n:,} in {c!r}" for c, n in nans.items())
        raise ValueError(f"the ratings frame has missing values ({detail}); drop those rows first, "
                         f"e.g. df.dropna(subset={list(nans)}).")
    if "rating" in df.columns and not pd.api.types.is_numeric_dtype(df["rating"]):
        raise ValueError(f"ratings must be numbers, but the 'rating' column has dtype {df['rating'].dtype}; "
                         f"convert it with pd.to_numeric(df['rating']).")
    if rating_range is not None and "rating" in df.columns:
        low, high = rating_range
        outside = (df["rating"] < low) | (df["rating"] > high)
        if outside.any():
            raise ValueError(
                f"{int(outside.sum()):,} rating(s) lie outside [{low}, {high}] (seen from {df['rating'].min()} "
                f"to {df['rating'].max()}); fix or drop them, or pass the right rating_range."
            )
    return df
