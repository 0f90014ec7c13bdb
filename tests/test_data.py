"""Tests for cflearn.data: loaders (mirror and native-format fixtures), the cache, error paths,
the split and the encoder. Nothing here touches the network: downloads go through a fake
pooch downloader."""

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from cflearn import _download, data

MIRROR = Path(os.environ.get("CFLEARN_DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "ml-latest-small.zip").is_file() or not (MIRROR / "ml-100k").is_dir(),
    reason=f"no MovieLens mirror at {MIRROR} (set CFLEARN_DATA_MIRROR to a folder with "
    "ml-latest-small.zip and ml-100k/)",
)
RATING_DTYPES = {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, the real mirror, and a downloader that fails the test if called."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CFLEARN_DATA", str(folder))
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(MIRROR))

    def no_network(url, output_file, pooch):
        raise AssertionError(f"the test tried to download {url}")

    monkeypatch.setattr(_download, "DOWNLOADER", no_network)
    return folder


# --- the real data sets, from the mirror -------------------------------------------------------

@needs_mirror
def test_latest_small_counts_from_mirror_zip(cache):
    ratings, movies = data.load_movielens("ml-latest-small", progress=False)
    assert len(ratings) == 100_836
    assert ratings["userId"].nunique() == 610
    assert ratings["movieId"].nunique() == 9_724
    assert len(movies) == 9_742
    assert (cache / "ml-latest-small" / "ratings.csv").is_file()  # extracted into the cache
    assert not list(cache.glob(".ml-latest-small-*"))  # no temporary folder left behind


@needs_mirror
def test_100k_counts_from_mirror_folder(cache):
    ratings, movies = data.load_movielens("ml-100k")
    assert len(ratings) == 100_000
    assert ratings["userId"].nunique() == 943
    assert ratings["movieId"].nunique() == 1_682
    assert len(movies) == 1_682
    title, genres = movies.set_index("movieId").loc[1, ["title", "genres"]]
    assert title == "Toy Story (1995)" and genres == "Animation|Children's|Comedy"
    assert not cache.exists() or not any(cache.iterdir())  # read in place, nothing copied


@needs_mirror
def test_same_columns_and_dtypes_whatever_the_format(cache):
    r1, m1 = data.load_movielens("ml-latest-small")
    r2, m2 = data.load_movielens("ml-100k")
    assert list(r1.columns) == list(r2.columns) == list(RATING_DTYPES)
    assert r1.dtypes.to_dict() == r2.dtypes.to_dict() == {c: np.dtype(t) for c, t in RATING_DTYPES.items()}
    assert list(m1.columns) == list(m2.columns) == ["movieId", "title", "genres"]
    assert m1.dtypes.to_dict() == m2.dtypes.to_dict()
    assert m1["movieId"].dtype == "int64"


@needs_mirror
def test_second_load_uses_the_cache_only(cache, monkeypatch):
    first, _ = data.load_movielens()
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(cache.parent / "gone"))
    second, _ = data.load_movielens()
    pd.testing.assert_frame_equal(first, second)


@needs_mirror
def test_course_split_of_latest_small(cache):
    ratings, _ = data.load_movielens()
    train, valid = data.split_ratings(ratings)
    assert (len(train), len(valid)) == (80_668, 20_168)
    order = np.random.default_rng(42).permutation(len(ratings))
    pd.testing.assert_frame_equal(valid, ratings.iloc[order[:20_168]].reset_index(drop=True))
    data.validate_ratings(train, rating_range=(0.5, 5.0))


@needs_mirror
def test_ml100k_folds(cache):
    folds = data.load_ml100k_folds()
    assert len(folds) == 5
    ratings, _ = data.load_movielens("ml-100k")
    tests = []
    for train, test in folds:
        assert (len(train), len(test)) == (80_000, 20_000)
        assert train.dtypes.to_dict() == test.dtypes.to_dict() == ratings.dtypes.to_dict()
        assert not set(zip(train.userId, train.movieId)) & set(zip(test.userId, test.movieId))
        tests.append(test)
    # the five test folds partition the whole data set
    key = ["userId", "movieId"]
    together = pd.concat(tests).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, ratings.sort_values(key).reset_index(drop=True))


@needs_mirror
def test_mirror_folder_with_a_damaged_file_is_refused(cache, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "ml-100k").mkdir(parents=True)
    for f in ("u.item", "u.genre"):
        (mirror / "ml-100k" / f).write_bytes((MIRROR / "ml-100k" / f).read_bytes())
    (mirror / "ml-100k" / "u.data").write_bytes((MIRROR / "ml-100k" / "u.data").read_bytes()[:-100])
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(mirror))
    with pytest.raises(data.DataError, match="u.data fails its checksum"):
        data.load_movielens("ml-100k")
    (mirror / "ml-100k" / "u.data").unlink()
    with pytest.raises(data.DataError, match="lacks u.data"):
        data.load_movielens("ml-100k")


# --- native formats on tiny hand-made archives ---------------------------------------------------

ML1M_RATINGS = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
ML1M_MOVIES = ("661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
               "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
               "2000::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
               "3000::Misérables, Les (1995)::Drama|Musical\n")
CSV_RATINGS = "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,4.0,1112484676\n7,2,0.5,974820889\n"
CSV_MOVIES = ('movieId,title,genres\n2,Jumanji (1995),Adventure|Children|Fantasy\n'
              '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama\n'
              "131262,Innocence (2014),(no genres listed)\n")


def make_zip(path, name, files, encoding):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"{name}/", "")
        for fname, text in files.items():
            zf.writestr(f"{name}/{fname}", text.encode(encoding))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return hashlib.md5(buffer.getvalue()).hexdigest()


@pytest.fixture
def fixture_mirror(tmp_path, cache, monkeypatch):
    """A mirror holding tiny ml-1m, ml-20m and ml-25m archives in their native formats."""
    mirror = tmp_path / "mirror"
    md5 = make_zip(mirror / "ml-1m.zip", "ml-1m", {"ratings.dat": ML1M_RATINGS, "movies.dat": ML1M_MOVIES}, "latin-1")
    monkeypatch.setitem(_download.DATASETS["ml-1m"], "md5", md5)
    for name in ("ml-20m", "ml-25m"):
        md5 = make_zip(mirror / f"{name}.zip", name, {"ratings.csv": CSV_RATINGS, "movies.csv": CSV_MOVIES}, "utf-8")
        monkeypatch.setitem(_download.DATASETS[name], "md5", md5)
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(mirror))
    return mirror


def test_ml1m_double_colon_latin1(fixture_mirror):
    ratings, movies = data.load_movielens("ml-1m")
    assert ratings.dtypes.to_dict() == {c: np.dtype(t) for c, t in RATING_DTYPES.items()}
    assert ratings.values.tolist() == [[1, 1193, 5, 978300760], [1, 661, 3, 978302109], [2, 1193, 4, 978298413]]
    assert movies["movieId"].tolist() == [661, 1193, 2000, 3000]
    assert movies["title"].tolist()[2:] == ["Star Wars: Episode IV - A New Hope (1977)", "Misérables, Les (1995)"]
    assert movies["genres"].tolist()[0] == "Animation|Children's|Musical"


@pytest.mark.parametrize("name", ["ml-20m", "ml-25m"])
def test_csv_datasets(fixture_mirror, name):
    ratings, movies = data.load_movielens(name)
    assert list(ratings.columns) == list(RATING_DTYPES)
    assert ratings["rating"].dtype == np.float32
    assert ratings["rating"].tolist() == [3.5, 4.0, 0.5]
    assert movies["title"][1] == "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
    assert movies["genres"].tolist()[2] == "(no genres listed)"


def test_fixture_formats_give_the_same_dtypes(fixture_mirror):
    r1, m1 = data.load_movielens("ml-1m")
    r2, m2 = data.load_movielens("ml-25m")
    assert r1.dtypes.to_dict() == r2.dtypes.to_dict()
    assert m1.dtypes.to_dict() == m2.dtypes.to_dict()


def test_unknown_name_lists_the_known_ones(cache):
    with pytest.raises(ValueError, match="unknown MovieLens data set 'ml-10k'.*ml-latest-small, ml-100k, ml-1m"):
        data.load_movielens("ml-10k")
    assert set(data.DATASETS) == {"ml-latest-small", "ml-100k", "ml-1m", "ml-20m", "ml-25m"}


# --- bad archives, offline, interrupted downloads -------------------------------------------------

def test_bad_mirror_archive_names_the_file_and_spares_the_cache(fixture_mirror, cache):
    data.load_movielens("ml-1m")  # a good copy is now in the cache
    cached = {p: p.read_bytes() for p in (cache / "ml-1m").iterdir()}
    bad = fixture_mirror / "ml-1m.zip"
    bad.write_bytes(b"not a zip at all")
    ratings, _ = data.load_movielens("ml-1m")  # the cache wins; the bad mirror file is not even read
    assert len(ratings) == 3
    assert {p: p.read_bytes() for p in (cache / "ml-1m").iterdir()} == cached
    # with nothing cached the bad mirror file is reported by name
    (cache / "ml-1m.zip").unlink(missing_ok=True)
    for p in cached:
        p.unlink()
    (cache / "ml-1m").rmdir()
    with pytest.raises(data.DataError, match=f"{bad}.*fails its checksum"):
        data.load_movielens("ml-1m")
    assert bad.read_bytes() == b"not a zip at all"  # the mirror is never written to
    assert not (cache / "ml-1m").exists()


def test_corrupt_archive_with_matching_checksum(fixture_mirror, cache, monkeypatch):
    bad = fixture_mirror / "ml-1m.zip"
    good = bad.read_bytes()
    damaged = good[: len(good) // 2]
    bad.write_bytes(damaged)
    monkeypatch.setitem(_download.DATASETS["ml-1m"], "md5", hashlib.md5(damaged).hexdigest())
    with pytest.raises(data.DataError, match=f"{bad} is not a readable zip"):
        data.load_movielens("ml-1m")
    assert not cache.exists() or list(cache.iterdir()) == []


def test_latest_small_checksum_mismatch_mentions_regeneration(tmp_path, cache, monkeypatch):
    mirror = tmp_path / "mirror"
    make_zip(mirror / "ml-latest-small.zip", "ml-latest-small", {"ratings.csv": CSV_RATINGS, "movies.csv": CSV_MOVIES}, "utf-8")
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(mirror))
    with pytest.raises(data.DataError, match="ml-latest-small.zip fails its checksum") as err:
        data.load_movielens()
    assert "regenerates ml-latest-small" in str(err.value)


def test_archive_without_the_expected_files_leaves_nothing(fixture_mirror, cache, monkeypatch):
    md5 = make_zip(fixture_mirror / "ml-1m.zip", "ml-1m", {"ratings.dat": ML1M_RATINGS}, "latin-1")
    monkeypatch.setitem(_download.DATASETS["ml-1m"], "md5", md5)
    with pytest.raises(data.DataError, match="does not contain ratings.dat, movies.dat"):
        data.load_movielens("ml-1m")
    assert [p.name for p in cache.iterdir()] == []  # no half-extracted folder


def test_offline_with_nothing_cached_says_how_to_get_the_data(cache, monkeypatch):
    def offline(url, output_file, pooch):
        raise requests.exceptions.ConnectionError("Failed to resolve 'files.grouplens.org'")

    monkeypatch.setattr(_download, "DOWNLOADER", offline)
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")
    with pytest.raises(data.DataError) as err:
        data.load_movielens("ml-1m", progress=False)
    message = str(err.value)
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in message
    assert str(cache / "ml-1m.zip") in message and "CFLEARN_DATA_MIRROR" in message
    assert not (cache / "ml-1m.zip").exists()


def test_interrupted_download_leaves_nothing_that_passes(fixture_mirror, cache, monkeypatch):
    archive = (fixture_mirror / "ml-1m.zip").read_bytes()
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")

    def interrupted(url, output_file, pooch):
        Path(output_file).write_bytes(archive[: len(archive) // 2])
        raise requests.exceptions.ChunkedEncodingError("connection reset mid-download")

    monkeypatch.setattr(_download, "DOWNLOADER", interrupted)
    with pytest.raises(data.DataError, match="could not download ml-1m"):
        data.load_movielens("ml-1m", progress=False)
    assert list(cache.iterdir()) == []  # pooch removed its temporary file; no ml-1m.zip, no ml-1m/

    def garbled(url, output_file, pooch):
        Path(output_file).write_bytes(archive[:-1] + b"x")

    monkeypatch.setattr(_download, "DOWNLOADER", garbled)
    with pytest.raises(data.DataError, match="fails its checksum"):
        data.load_movielens("ml-1m", progress=False)
    assert list(cache.iterdir()) == []

    def good(url, output_file, pooch):
        assert url == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
        Path(output_file).write_bytes(archive)

    monkeypatch.setattr(_download, "DOWNLOADER", good)
    ratings, _ = data.load_movielens("ml-1m", progress=False)
    assert len(ratings) == 3
    assert (cache / "ml-1m.zip").read_bytes() == archive


def test_archive_put_in_the_cache_by_hand_is_used(fixture_mirror, cache, monkeypatch):
    cache.mkdir()
    (cache / "ml-25m.zip").write_bytes((fixture_mirror / "ml-25m.zip").read_bytes())
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")
    ratings, _ = data.load_movielens("ml-25m")
    assert len(ratings) == 3


def test_import_touches_nothing():
    code = "import sys, cflearn.data; print('pooch' in sys.modules, 'requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --- split ----------------------------------------------------------------------------------------

@pytest.fixture
def toy():
    # 4 users x 5 movies, 20 ratings: a frame whose rows are easy to tell apart
    users, movies = np.meshgrid([10, 20, 30, 40], [1, 2, 3, 5, 8], indexing="ij")
    return pd.DataFrame({"userId": users.ravel(), "movieId": movies.ravel(),
                         "rating": np.arange(20, dtype="float32") / 4 + 0.5, "timestamp": np.arange(20)})


def test_split_matches_an_independent_permutation(toy):
    train, valid = data.split_ratings(toy, valid_frac=0.25, seed=7)
    order = np.random.default_rng(7).permutation(20)
    assert valid["timestamp"].tolist() == order[:5].tolist()
    assert train["timestamp"].tolist() == order[5:].tolist()
    assert list(train.index) == list(range(15)) and list(valid.index) == list(range(5))


def test_split_is_deterministic_disjoint_and_complete(toy):
    a = data.split_ratings(toy)
    b = data.split_ratings(toy)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    train, valid = a
    assert (len(train), len(valid)) == (16, 4)
    assert not set(train.timestamp) & set(valid.timestamp)
    assert sorted([*train.timestamp, *valid.timestamp]) == list(range(20))
    other = data.split_ratings(toy, seed=43)[1]
    assert other.timestamp.tolist() != valid.timestamp.tolist()


def test_split_sizes_round_up_like_scikit_learn(toy):
    assert len(data.split_ratings(toy, valid_frac=0.1)[1]) == 2  # 0.1 * 20 = 2, not 3
    assert len(data.split_ratings(toy, valid_frac=0.11)[1]) == 3  # 2.2 -> 3
    assert len(data.split_ratings(toy.iloc[:30], valid_frac=0.3)[1]) == 6


@pytest.mark.parametrize("frac", [0, 1, -0.2, 1.5])
def test_split_rejects_bad_fractions(toy, frac):
    with pytest.raises(ValueError, match="valid_frac must be between 0 and 1"):
        data.split_ratings(toy, valid_frac=frac)


def test_split_refuses_an_empty_side(toy):
    with pytest.raises(ValueError, match="one side would be empty"):
        data.split_ratings(toy.iloc[:1])


# --- encoder --------------------------------------------------------------------------------------

TRAIN = pd.DataFrame({"userId": [30, 10, 30, 20], "movieId": [7, 5, 9, 7], "rating": [4.0, 3.0, 5.0, 2.0]})
VALID = pd.DataFrame({"userId": [10, 99, 20, 30], "movieId": [9, 7, 11, 5], "rating": [1.0, 2.0, 3.0, 4.0]})


def test_encoder_is_contiguous_in_sorted_id_order(capsys):
    enc = data.IdEncoder()
    out = enc.fit_transform(TRAIN)
    assert enc.n_users == 3 and enc.n_items == 3
    assert enc.user_ids_.tolist() == [10, 20, 30] and enc.item_ids_.tolist() == [5, 7, 9]
    assert out["user"].tolist() == [2, 0, 2, 1] and out["item"].tolist() == [1, 0, 2, 1]
    assert out["user"].dtype == out["item"].dtype == np.int64
    assert enc.item_ids_[out["item"]].tolist() == TRAIN["movieId"].tolist()  # round trip
    assert capsys.readouterr().out == "train: 4 rows; 0 have a user or item unseen in training\n"
    assert "user" not in TRAIN.columns  # a copy, the input is untouched


def test_encoder_drops_unseen_rows_and_says_so(capsys):
    enc = data.IdEncoder().fit(TRAIN)
    out = enc.transform(VALID)
    assert capsys.readouterr().out == "valid: 4 rows; 2 have a user or item unseen in training -> dropped, 2 rows left\n"
    assert out["userId"].tolist() == [10, 30] and out["user"].tolist() == [0, 2] and out["item"].tolist() == [2, 0]
    assert list(out.index) == [0, 1]


def test_encoder_keeps_unseen_as_minus_one(capsys):
    out = data.IdEncoder().fit(TRAIN).transform(VALID, unseen="keep", name="test")
    assert capsys.readouterr().out == "test: 4 rows; 2 have a user or item unseen in training -> kept with index -1\n"
    assert out["user"].tolist() == [0, -1, 1, 2] and out["item"].tolist() == [2, 1, -1, 0]


def test_encoder_error_mode_counts_users_and_items():
    enc = data.IdEncoder().fit(TRAIN)
    with pytest.raises(ValueError, match=r"2 have a user or item unseen.*1 rows with an unseen user, 1 with an unseen item"):
        enc.transform(VALID, unseen="error")
    with pytest.raises(ValueError, match="unseen must be"):
        enc.transform(VALID, unseen="ignore")


def test_encoder_lookups():
    enc = data.IdEncoder().fit(TRAIN)
    assert enc.item_index(9) == 2 and isinstance(enc.item_index(9), int)
    assert enc.user_index([30, 10]).tolist() == [2, 0]
    with pytest.raises(KeyError, match=r"1 item id\(s\) unseen in training, e.g. \[11\]"):
        enc.item_index([7, 11])


def test_encoder_clear_errors():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        data.IdEncoder().transform(VALID)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        data.IdEncoder().n_users
    with pytest.raises(ValueError, match=r"no column\(s\) \['movieId'\]"):
        data.IdEncoder().fit(TRAIN.drop(columns="movieId"))
    with pytest.raises(ValueError, match=r"valid has no column\(s\) \['userId'\]"):
        data.IdEncoder().fit(TRAIN).transform(VALID.rename(columns={"userId": "user_id"}))


# --- validate_ratings -----------------------------------------------------------------------------

def test_validate_ratings_accepts_good_frames():
    assert data.validate_ratings(TRAIN, rating_range=(0.5, 5)) is TRAIN


def test_validate_ratings_errors():
    with pytest.raises(ValueError, match=r"no column\(s\) \['rating'\].*rename"):
        data.validate_ratings(TRAIN.drop(columns="rating"))
    nan = TRAIN.assign(rating=[1.0, np.nan, np.nan, 2.0])
    with pytest.raises(ValueError, match=r"missing values \(2 in 'rating'\).*dropna"):
        data.validate_ratings(nan)
    with pytest.raises(ValueError, match=r"1 rating\(s\) lie outside \[0.5, 4.5\]"):
        data.validate_ratings(TRAIN, rating_range=(0.5, 4.5))
    with pytest.raises(ValueError, match="ratings must be numbers.*pd.to_numeric"):
        data.validate_ratings(TRAIN.assign(rating=["4", "3", "5", "2"]))
    with pytest.raises(ValueError, match="expected a pandas DataFrame"):
        data.validate_ratings(TRAIN.to_numpy())


def test_cache_folder_default_and_override(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("CFLEARN_DATA", raising=False)
    assert data.cache_dir() == Path(platformdirs.user_cache_dir("cflearn"))
    monkeypatch.setenv("CFLEARN_DATA", str(tmp_path))
    assert data.cache_dir() == tmp_path


def test_datasets_table():
    for name, info in data.DATASETS.items():
        assert len(info["md5"]) == 32 and info["description"]
        assert info["format"] in ("csv", "100k", "1m")


def test_archive_with_a_damaged_member_is_refused(fixture_mirror, cache, monkeypatch):
    path = fixture_mirror / "ml-1m.zip"
    raw = bytearray(path.read_bytes())
    start = raw.index(b"1::1193")  # inside the stored (uncompressed) ratings.dat
    raw[start] = ord("9")
    path.write_bytes(bytes(raw))
    monkeypatch.setitem(_download.DATASETS["ml-1m"], "md5", hashlib.md5(bytes(raw)).hexdigest())
    with pytest.raises(data.DataError, match=f"could not extract {path}.*CRC"):
        data.load_movielens("ml-1m")
    assert list(cache.iterdir()) == []  # the temporary folder is gone, no ml-1m/ appeared
