"""Tests for cflearn.data: loaders (mirror and native-format fixtures), the cache, error paths,
the split and the encoder. Nothing here touches the network: downloads go through a fake
pooch downloader."""

import errno
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


@needs_mirror
def test_recorded_checksums_are_those_of_the_real_files():
    # The tables the loader verifies against, checked against GroupLens's own files in the mirror.
    import zipfile

    from cflearn import _verify

    archive = MIRROR / "ml-latest-small.zip"
    assert hashlib.md5(archive.read_bytes()).hexdigest() == data.DATASETS["ml-latest-small"]["md5"]
    with zipfile.ZipFile(archive) as zf:
        for name, (size, sha) in _verify.FILE_SHA256["ml-latest-small"].items():
            raw = zf.read(f"ml-latest-small/{name}")
            assert (len(raw), hashlib.sha256(raw).hexdigest()) == (size, sha), name
    for name, (size, sha) in _verify.FILE_SHA256["ml-100k"].items():
        raw = (MIRROR / "ml-100k" / name).read_bytes()
        assert (len(raw), hashlib.sha256(raw).hexdigest()) == (size, sha), name


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


# --- every file is verified, in the mirror and in the cache ------------------------------------------

def _copy_100k(tmp_path):
    folder = tmp_path / "mirror" / "ml-100k"
    folder.mkdir(parents=True)
    for path in (MIRROR / "ml-100k").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def _cut(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


@needs_mirror
@pytest.mark.parametrize("fname, keep", [("ratings.csv", 1_000_000), ("ratings.csv", 1_000_003),
                                         ("movies.csv", 100_000)])
def test_damaged_cached_file_is_extracted_again(cache, fname, keep, capsys):
    data.load_movielens()
    good = (cache / "ml-latest-small" / fname).read_bytes()
    _cut(cache / "ml-latest-small" / fname, keep)  # cut at a line end, or mid-line
    ratings, movies = data.load_movielens()
    assert (len(ratings), len(movies)) == (100_836, 9_742)
    assert (cache / "ml-latest-small" / fname).read_bytes() == good
    assert "damaged" in capsys.readouterr().out
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # the damaged copy is gone too


@needs_mirror
def test_damaged_cached_file_with_a_damaged_archive_keeps_the_archive(cache, tmp_path, monkeypatch):
    data.load_movielens()
    (cache / "ml-latest-small.zip").write_bytes(b"not the archive")
    _cut(cache / "ml-latest-small" / "ratings.csv", 1000)
    with pytest.raises(data.DataError, match="ml-latest-small.zip fails its checksum"):
        data.load_movielens()
    assert (cache / "ml-latest-small.zip").read_bytes() == b"not the archive"  # reported, never deleted


@needs_mirror
@pytest.mark.parametrize("fname, loader", [
    ("u.data", lambda: data.load_movielens("ml-100k")),
    ("u.item", lambda: data.load_movielens("ml-100k")),
    ("u.genre", lambda: data.load_movielens("ml-100k")),
    ("u1.base", data.load_ml100k_folds),
    ("u5.test", data.load_ml100k_folds),
])
def test_every_file_of_a_mirror_folder_is_verified(cache, tmp_path, monkeypatch, fname, loader):
    folder = _copy_100k(tmp_path)
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(folder.parent))
    _cut(folder / fname, 5_000 if fname != "u.genre" else 100)
    with pytest.raises(data.DataError, match=f"{fname} fails its checksum.*truncated.*Replace that file"):
        loader()
    # same size, one byte changed: the sha256 catches it
    raw = bytearray((MIRROR / "ml-100k" / fname).read_bytes())
    raw[10] ^= 1
    (folder / fname).write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match=f"{fname} fails its checksum.*sha256"):
        loader()
    assert not cache.exists() or not any(cache.iterdir())


@needs_mirror
def test_folds_only_verify_the_files_they_read(cache, tmp_path, monkeypatch):
    folder = _copy_100k(tmp_path)
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(folder.parent))
    _cut(folder / "ua.base", 10)  # not read by either loader
    assert len(data.load_ml100k_folds()[0][0]) == 80_000
    assert len(data.load_movielens("ml-100k")[0]) == 100_000


def test_manifest_catches_a_damaged_cached_file_of_an_unpublished_set(fixture_mirror, cache, capsys):
    data.load_movielens("ml-1m")
    manifest = cache / "ml-1m" / _download._verify.MANIFEST
    assert manifest.is_file()
    ratings_dat = cache / "ml-1m" / "ratings.dat"
    _cut(ratings_dat, len(ML1M_RATINGS) - 20)  # mid-line: two whole rows and a stub
    ratings, _ = data.load_movielens("ml-1m")
    assert len(ratings) == 3 and ratings_dat.read_text() == ML1M_RATINGS
    manifest.unlink()  # a folder without its manifest cannot be trusted either: extracted again
    assert len(data.load_movielens("ml-1m")[0]) == 3 and manifest.is_file()


def test_unpublished_set_as_an_extracted_mirror_folder_is_refused(tmp_path, cache, monkeypatch):
    folder = tmp_path / "mirror" / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(ML1M_RATINGS)
    (folder / "movies.dat").write_text(ML1M_MOVIES, encoding="latin-1")
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(folder.parent))
    with pytest.raises(data.DataError, match="cannot be verified.*Put ml-1m.zip"):
        data.load_movielens("ml-1m")


@needs_mirror
def test_files_are_hashed_once_per_process(cache, monkeypatch):
    data.load_movielens()
    data.load_movielens("ml-100k")
    calls = []
    real = _download._verify.hashlib.new
    monkeypatch.setattr(_download._verify.hashlib, "new", lambda *a: calls.append(a) or real(*a))
    data.load_movielens()
    data.load_movielens("ml-100k")
    assert calls == []
    os.utime(cache / "ml-latest-small" / "ratings.csv", ns=(1, 1))  # changed mtime: hashed again
    data.load_movielens()
    assert len(calls) == 1


# --- cache folder problems --------------------------------------------------------------------------

@needs_mirror
def test_full_disk_says_how_much_room_and_keeps_the_archive(cache, monkeypatch):
    cache.mkdir()
    archive = cache / "ml-latest-small.zip"
    archive.write_bytes((MIRROR / "ml-latest-small.zip").read_bytes())

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", full)
    with pytest.raises(data.DataError) as err:
        data.load_movielens()
    message = str(err.value)
    assert "is full" in message and "about 4 MB" in message and "CFLEARN_DATA" in message
    assert "remove it" not in message and "delete" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert archive.read_bytes() == (MIRROR / "ml-latest-small.zip").read_bytes()
    assert [p.name for p in cache.iterdir()] == ["ml-latest-small.zip"]


def test_full_disk_while_downloading(fixture_mirror, cache, monkeypatch):
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")

    def full(url, output_file, pooch):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_download, "DOWNLOADER", full)
    with pytest.raises(data.DataError, match=r"is full.*download ml-1m.zip \(about 6 MB.*CFLEARN_DATA") as err:
        data.load_movielens("ml-1m", progress=False)
    assert "could not download" not in str(err.value)  # not network advice


@needs_mirror
def test_read_only_cache_names_cflearn_data(cache, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(cache))

    monkeypatch.setattr(_download.tempfile, "mkdtemp", refused)
    with pytest.raises(data.DataError, match=f"cannot write to the cache folder {cache}.*CFLEARN_DATA") as err:
        data.load_movielens()
    assert err.value.__cause__ is None


def test_read_only_cache_while_downloading_is_not_network_advice(cache, monkeypatch):
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")
    import pooch

    def refused(path):
        raise PermissionError("Pooch could not write to data cache folder")

    monkeypatch.setattr(pooch.core, "make_local_storage", refused)
    with pytest.raises(data.DataError, match="cannot write to the cache folder.*CFLEARN_DATA") as err:
        data.load_movielens("ml-1m", progress=False)
    assert "could not download" not in str(err.value)


@needs_mirror
def test_cflearn_data_pointing_at_a_file(tmp_path, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    monkeypatch.setenv("CFLEARN_DATA", str(a_file))
    monkeypatch.setenv("CFLEARN_DATA_MIRROR", str(MIRROR))
    with pytest.raises(data.DataError, match="is not a folder.*Point CFLEARN_DATA at a folder"):
        data.load_movielens()
    monkeypatch.setenv("CFLEARN_DATA", str(a_file / "sub"))
    with pytest.raises(data.DataError, match="is not a folder.*CFLEARN_DATA"):
        data.load_movielens()
    assert a_file.read_text() == "mine"
    assert len(data.load_movielens("ml-100k")[0]) == 100_000  # read in place from the mirror: no cache needed


# --- leftovers of interrupted runs --------------------------------------------------------------------

def test_abandoned_temporary_entries_are_removed_but_not_fresh_or_locked_ones(tmp_path):
    cache = tmp_path / "cache"
    (cache / ".ml-1m-abc123xy" / "new").mkdir(parents=True)
    (cache / ".ml-1m-abc123xy" / "new" / "ratings.dat").write_text("half")
    (cache / "tmpq8z_1abc").write_bytes(b"half a download")
    (cache / "tmplocked1").write_bytes(b"still downloading")
    (cache / ".ml-25m-fresh123").mkdir()
    (cache / "ml-1m.zip").write_bytes(b"an archive")  # never a candidate
    (cache / "tmp-notes.txt").write_text("not a temporary name of ours")
    old = 1_000_000.0
    for path in cache.rglob("*"):
        if "fresh" not in str(path):
            os.utime(path, (old, old))
    now = old + _download.STALE_AFTER + 1
    os.utime(cache / ".ml-25m-fresh123", (now - 5, now - 5))
    with _download._locked(cache / "tmplocked1"):
        removed = _download._tidy(cache, now=now)
    assert sorted(removed) == [".ml-1m-abc123xy", "tmpq8z_1abc"]
    assert sorted(p.name for p in cache.iterdir()) == [".ml-25m-fresh123", "ml-1m.zip", "tmp-notes.txt", "tmplocked1"]
    assert _download._tidy(cache, now=now) == []  # once per process


def test_a_deep_write_keeps_a_temporary_folder_fresh(tmp_path):
    cache = tmp_path / "cache"
    (cache / ".ml-25m-abcdefgh" / "new" / "ml-25m").mkdir(parents=True)
    old = 1_000_000.0
    os.utime(cache / ".ml-25m-abcdefgh", (old, old))
    now = old + _download.STALE_AFTER + 1
    os.utime(cache / ".ml-25m-abcdefgh" / "new" / "ml-25m", (now, now))  # written just now
    assert _download._tidy(cache, now=now) == []


# --- downloads: one clear message, one plain line, a notebook-friendly bar ------------------------------

def test_failed_download_has_no_chained_traceback(cache, monkeypatch, capsys):
    def offline(url, output_file, pooch):
        raise requests.exceptions.ConnectionError("Max retries exceeded\nwith url: /ml-1m.zip")

    monkeypatch.setattr(_download, "DOWNLOADER", offline)
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")
    with pytest.raises(data.DataError) as err:
        data.load_movielens("ml-1m", progress=False)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "ConnectionError: Max retries exceeded with url: /ml-1m.zip" in str(err.value)  # the reason, one line
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and captured.out.startswith("Downloading ml-1m")
    assert captured.err == ""


def test_download_uses_a_tqdm_auto_bar_and_silences_pooch(fixture_mirror, cache, monkeypatch, capsys):
    import logging

    import pooch
    import tqdm.auto

    archive = (fixture_mirror / "ml-1m.zip").read_bytes()
    monkeypatch.delenv("CFLEARN_DATA_MIRROR")
    bars = []

    class Bar(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            bars.append(kwargs)
            super().__init__(*args, **kwargs)

    def http(self, url, output_file, pooch_obj):  # stands in for the network, driving the bar as pooch does
        assert self.progressbar and not isinstance(self.progressbar, bool)
        self.progressbar.total = len(archive)
        self.progressbar.update(len(archive))
        self.progressbar.reset()
        self.progressbar.update(len(archive))
        self.progressbar.close()
        Path(output_file).write_bytes(archive)

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", http)
    monkeypatch.setattr(_download, "DOWNLOADER", None)
    level = pooch.get_logger().level
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    pooch.get_logger().addHandler(handler)
    try:
        assert len(data.load_movielens("ml-1m")[0]) == 3
    finally:
        pooch.get_logger().removeHandler(handler)
    assert len(bars) == 1 and "ncols" not in bars[0] and bars[0]["total"] == len(archive)
    assert not [r for r in records if r.levelno < logging.WARNING]
    assert pooch.get_logger().level == level  # restored


# --- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typo", ["ML-100K", "ml100k", "ml_100k", "ml-100"])
def test_misspelt_name_suggests_the_close_one(typo):
    with pytest.raises(ValueError, match=f"'{typo}'; did you mean \"ml-100k\"\\?"):
        data.load_movielens(typo)


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match="must be a string"):
        data.load_movielens(100)


# --- split and encoder: no silent acceptance ------------------------------------------------------------

def test_split_warns_once_about_duplicate_pairs(toy):
    doubled = pd.concat([toy, toy.iloc[:3]], ignore_index=True)
    with pytest.warns(UserWarning, match=r"3 row\(s\) repeat a \(userId, movieId\) pair.*drop_duplicates") as record:
        train, valid = data.split_ratings(doubled)
    assert len(record) == 1
    assert len(train) + len(valid) == len(doubled)  # kept: the split is still the documented permutation
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.split_ratings(toy)  # no duplicates, no warning


@pytest.mark.parametrize("frac", ["0.2", None, True, [0.2]])
def test_split_rejects_a_fraction_that_is_not_a_number(toy, frac):
    with pytest.raises(TypeError, match="valid_frac must be a number"):
        data.split_ratings(toy, valid_frac=frac)


@pytest.mark.parametrize("ratings", [[1, 2, 3], np.arange(10), None, "ratings.csv"])
def test_split_rejects_what_is_not_a_frame(ratings):
    with pytest.raises(TypeError, match="ratings must be a pandas DataFrame"):
        data.split_ratings(ratings)


@pytest.mark.parametrize("seed, error", [("42", TypeError), (1.5, TypeError), (-1, ValueError)])
def test_split_rejects_a_bad_seed(toy, seed, error):
    with pytest.raises(error, match="seed must be a non-negative integer"):
        data.split_ratings(toy, seed=seed)


def test_encoder_refuses_missing_ids():
    frame = pd.DataFrame({"userId": [1.0, np.nan, 2.0, np.nan], "movieId": [10, 10, np.nan, 20], "rating": 4.0})
    with pytest.raises(ValueError, match=r"2 in column 'userId', 1 in column 'movieId'.*dropna"):
        data.IdEncoder().fit(frame)
    enc = data.IdEncoder().fit(frame.dropna())
    with pytest.raises(ValueError, match=r"valid has missing ids.*1 in column 'movieId'"):
        enc.transform(frame.iloc[2:3])


def test_course_data_is_lessons_00_and_01_by_hand():
    ratings, movies = data.load_movielens("ml-latest-small", progress=False)
    course = data.course_data(seed=42, progress=False, quiet=True)
    train_raw, valid_raw = data.split_ratings(ratings, valid_frac=0.2, seed=42)
    encoder = data.IdEncoder().fit(train_raw)
    pd.testing.assert_frame_equal(course.train_raw, train_raw)
    pd.testing.assert_frame_equal(course.train, encoder.transform(train_raw))
    pd.testing.assert_frame_equal(course.valid, encoder.transform(valid_raw, unseen="drop"))
    assert course.encoder.n_users == encoder.n_users and len(course.movies) == len(movies)
    # every validation row left has a user and a film seen in training; the dropped ones are unseen
    assert course.valid.user.min() >= 0 and course.valid.item.min() >= 0
    dropped = ~valid_raw.userId.isin(train_raw.userId) | ~valid_raw.movieId.isin(train_raw.movieId)
    assert len(course.valid) == len(valid_raw) - int(dropped.sum()) > 0
