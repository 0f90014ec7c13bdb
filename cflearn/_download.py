"""Find a MovieLens data set on disk, or fetch it: the file side of ``cflearn.data``.

Lookup order for a data set ``name``:

1. the cache folder (``CFLEARN_DATA``, default: the user's cache directory), which
   holds ``<name>/`` once extracted and, after a download, ``<name>.zip``;
2. the mirror folder (``CFLEARN_DATA_MIRROR``), holding ``<name>.zip`` or the
   extracted ``<name>/``; the mirror is only ever read;
3. a download from GroupLens with ``pooch`` (checksum checked, progress bar).

Every write is atomic. ``pooch`` downloads into a temporary file and renames it
only once its checksum matches; archives are extracted into a temporary folder
that is renamed to ``<name>/`` at the end. An interrupted run therefore leaves
nothing that a later run takes for a good copy.
"""

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"

# name -> info. `md5`: the archive as GroupLens serves it; `files` must exist in the extracted folder,
# `file_md5` (when known) is checked on an extracted mirror folder.
DATASETS = {
    "ml-latest-small": {
        "description": "100,836 ratings, 610 users, 9,742 movies (1 MB; the course default)",
        "md5": "bd8ff21f704c18b59b4a8765b038ac0e",
        "format": "csv",
        "files": ("ratings.csv", "movies.csv"),
        "file_md5": {},
    },
    "ml-100k": {
        "description": "100,000 ratings, 943 users, 1,682 movies (5 MB; official 5-fold splits u1..u5)",
        "md5": "0e33842e24a9c977be4e0107933c0723",
        "format": "100k",
        "files": ("u.data", "u.item", "u.genre"),
        "file_md5": {"u.data": "6e47046882bad158b0efbb84cd5cb987"},
    },
    "ml-1m": {
        "description": "1,000,209 ratings, 6,040 users, 3,883 movies (6 MB; '::'-separated, latin-1)",
        "md5": "c4d9eecfca2ab87c1945afe126590906",
        "format": "1m",
        "files": ("ratings.dat", "movies.dat"),
        "file_md5": {},
    },
    "ml-20m": {
        "description": "20,000,263 ratings, 138,493 users, 27,278 movies (190 MB)",
        "md5": "cd245b17a1ae2cc31bb14903e1204af3",
        "format": "csv",
        "files": ("ratings.csv", "movies.csv"),
        "file_md5": {},
    },
    "ml-25m": {
        "description": "25,000,095 ratings, 162,541 users, 62,423 movies (250 MB)",
        "md5": "6b51fb2759a8657d3bfcbfc42b592ada",
        "format": "csv",
        "files": ("ratings.csv", "movies.csv"),
        "file_md5": {},
    },
}

REGENERATED = (
    " GroupLens regenerates ml-latest-small from time to time, so a new upstream archive"
    " has a new checksum: if you downloaded it from GroupLens yourself, that is the likely"
    " cause; the course expects the 2018-09-26 archive (100,836 ratings)."
)


class DataError(RuntimeError):
    """A data set cannot be found, downloaded or trusted (offline, bad checksum, corrupt archive)."""


def cache_dir():
    """The cache folder: ``$CFLEARN_DATA`` or the user's cache directory for cflearn."""
    env = os.environ.get("CFLEARN_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("cflearn"))


def md5sum(path):
    """Hex md5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_name(name):
    if name not in DATASETS:
        raise ValueError(f"unknown MovieLens data set {name!r}; known names: {', '.join(DATASETS)}")
    return DATASETS[name]


def _complete(folder, info):
    return folder.is_dir() and all((folder / f).is_file() for f in info["files"])


def dataset_dir(name, progress=True):
    """Return a folder holding the extracted data set ``name`` (see the module docstring)."""
    info = check_name(name)
    cache = cache_dir()
    if _complete(cache / name, info):
        return cache / name
    cached_zip = cache / f"{name}.zip"
    if cached_zip.is_file():
        _verify_zip(cached_zip, name, info)
        return _extract(cached_zip, name, info, cache)
    mirror = os.environ.get("CFLEARN_DATA_MIRROR")
    if mirror:
        mirror = Path(mirror).expanduser()
        if (mirror / name).is_dir():
            _verify_folder(mirror / name, name, info)
            return mirror / name
        if (mirror / f"{name}.zip").is_file():
            _verify_zip(mirror / f"{name}.zip", name, info)
            return _extract(mirror / f"{name}.zip", name, info, cache)
    return _extract(download(name, cache, progress), name, info, cache)


def _verify_zip(path, name, info):
    got = md5sum(path)
    if got != info["md5"]:
        raise DataError(
            f"{path} fails its checksum (md5 {got}, expected {info['md5']}), so it is not the "
            f"{name} archive the course expects or it is damaged. Replace it with a fresh copy of "
            f"{URL.format(name=name)} or remove it.{REGENERATED if name == 'ml-latest-small' else ''}"
        )
    if not zipfile.is_zipfile(path):  # member CRCs are checked while extracting
        raise DataError(f"{path} is not a readable zip archive; replace it with a fresh copy "
                        f"of {URL.format(name=name)} or remove it.")


def _verify_folder(folder, name, info):
    missing = [f for f in info["files"] if not (folder / f).is_file()]
    if missing:
        raise DataError(f"the mirror folder {folder} lacks {', '.join(missing)}; it should hold the "
                        f"extracted {name} archive. Fix it or put {name}.zip there instead.")
    for fname, expected in info["file_md5"].items():
        got = md5sum(folder / fname)
        if got != expected:
            raise DataError(f"{folder / fname} fails its checksum (md5 {got}, expected {expected}); "
                            f"the mirror folder {folder} does not hold an intact {name}.")


def _extract(archive, name, info, cache):
    """Extract ``archive`` into ``cache/name`` atomically; return that folder."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DataError(f"could not extract {archive} ({err}); replace it with a fresh copy of "
                            f"{URL.format(name=name)} or remove it.") from err
        # the archives hold one top folder (ml-1m/...); accept files at the top level too
        found = [p for p in [tmp / name, tmp, *tmp.iterdir()] if _complete(p, info)]
        if not found:
            raise DataError(f"{archive} does not contain {', '.join(info['files'])}; "
                            f"is it really the {name} archive?")
        if _complete(target, info):  # someone else finished first
            return target
        if target.exists():  # incomplete, so not written by us (our writes are atomic): replace it
            shutil.rmtree(target)
        try:
            os.replace(found[0], target)
        except OSError:
            if not _complete(target, info):  # not a concurrent run finishing first: a real failure
                raise
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _offline_message(name, cache, err):
    mirror = os.environ.get("CFLEARN_DATA_MIRROR")
    return (
        f"could not download {name} from {URL.format(name=name)} ({type(err).__name__}: {err}). "
        f"To work offline, download {name}.zip on a machine with internet access, then either "
        f"put it at {cache / (name + '.zip')} (the cache folder, set by CFLEARN_DATA) or put it "
        f"(or its extracted {name}/ folder) in a folder named by the environment variable "
        f"CFLEARN_DATA_MIRROR" + (f" (now {mirror}, where it is missing)." if mirror else " (not set now).")
    )


# The downloader pooch uses (None: its HTTP default); tests replace it to stay offline.
DOWNLOADER = None


def download(name, cache, progress=True):
    """Download ``<name>.zip`` into ``cache`` with pooch, checking its md5; return the path."""
    import pooch

    info = check_name(name)
    try:
        path = pooch.retrieve(
            URL.format(name=name), known_hash=f"md5:{info['md5']}", fname=f"{name}.zip",
            path=cache, progressbar=progress, downloader=DOWNLOADER,
        )
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        raise DataError(
            f"the {name}.zip downloaded from {URL.format(name=name)} fails its checksum ({err}); "
            f"nothing was kept. Try again later.{REGENERATED if name == 'ml-latest-small' else ''}"
        ) from err
    except Exception as err:  # requests' connection errors, OSError, HTTP errors...
        raise DataError(_offline_message(name, cache, err)) from err
    return Path(path)
