"""Find a MovieLens data set on disk, or fetch it: the file side of ``cflearn.data``.

Lookup order for a data set ``name``:

1. the cache folder (``CFLEARN_DATA``, default: the user's cache directory), which
   holds ``<name>/`` once extracted and, after a download, ``<name>.zip``;
2. the mirror folder (``CFLEARN_DATA_MIRROR``), holding ``<name>.zip`` or the
   extracted ``<name>/``; the mirror is only ever read;
3. a download from GroupLens with ``pooch`` (checksum checked, progress bar).

Every file a loader reads is checked first (see ``cflearn._verify``). A damaged file in
the cache is replaced by a fresh extraction from the verified archive (cached, in the
mirror, or downloaded again); a damaged file in the mirror is reported by name. An
archive that passes its checksum is never deleted.

Every write is atomic. ``pooch`` downloads into a temporary file (``tmp*``) and renames
it only once its checksum matches; archives are extracted into a temporary folder
(``.<name>-*``) that is renamed to ``<name>/`` at the end. An interrupted run therefore
leaves nothing that a later run takes for a good copy. Leftovers of interrupted runs are
removed by the next load, but only once nobody can still be writing them: untouched for
``STALE_AFTER`` seconds and, where the system has file locks, not locked (a writer holds
a shared lock on its temporary file or folder while it writes).
"""

import difflib
import errno
import os
import re
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from cflearn import _verify

try:  # POSIX advisory locks; elsewhere the age rule alone protects a writer's files
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"
STALE_AFTER = 30 * 60  # seconds a temporary entry must sit untouched before it counts as abandoned

# name -> info. `md5`: the archive as GroupLens serves it; `files`: what the loader reads;
# `archive_mb`/`unpacked_mb`: rough sizes, for the disk-space message.
DATASETS = {
    "ml-latest-small": {
        "description": "100,836 ratings, 610 users, 9,742 movies (1 MB; the course default)",
        "md5": "bd8ff21f704c18b59b4a8765b038ac0e",
        "format": "csv",
        "files": ("ratings.csv", "movies.csv"),
        "archive_mb": 1, "unpacked_mb": 4,
    },
    "ml-100k": {
        "description": "100,000 ratings, 943 users, 1,682 movies (5 MB; official 5-fold splits u1..u5)",
        "md5": "0e33842e24a9c977be4e0107933c0723",
        "format": "100k",
        "files": ("u.data", "u.item", "u.genre"),
        "archive_mb": 5, "unpacked_mb": 16,
    },
    "ml-1m": {
        "description": "1,000,209 ratings, 6,040 users, 3,883 movies (6 MB; '::'-separated, latin-1)",
        "md5": "c4d9eecfca2ab87c1945afe126590906",
        "format": "1m",
        "files": ("ratings.dat", "movies.dat"),
        "archive_mb": 6, "unpacked_mb": 25,
    },
    "ml-20m": {
        "description": "20,000,263 ratings, 138,493 users, 27,278 movies (190 MB)",
        "md5": "cd245b17a1ae2cc31bb14903e1204af3",
        "format": "csv",
        "files": ("ratings.csv", "movies.csv"),
        "archive_mb": 200, "unpacked_mb": 880,
    },
    "ml-25m": {
        "description": "25,000,095 ratings, 162,541 users, 62,423 movies (250 MB)",
        "md5": "6b51fb2759a8657d3bfcbfc42b592ada",
        "format": "csv",
        "files": ("ratings.csv", "movies.csv"),
        "archive_mb": 265, "unpacked_mb": 1200,
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
    """Hex md5 of a file (remembered while the file is unchanged)."""
    return _verify.file_hash(path, "md5")


def check_name(name):
    """The ``DATASETS`` entry for ``name``; a clear error, with the close name, otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"the data set name must be a string such as 'ml-latest-small', got {name!r}.")
    if name not in DATASETS:
        close = difflib.get_close_matches(re.sub(r"[\s_]+", "-", name.strip().lower()), DATASETS, n=1, cutoff=0.6)
        hint = f' did you mean "{close[0]}"?' if close else ""
        raise ValueError(f"unknown MovieLens data set {name!r};{hint} known names: {', '.join(DATASETS)}")
    return DATASETS[name]


def dataset_dir(name, progress=True, files=None):
    """Return a folder holding the extracted data set ``name`` whose ``files`` are verified.

    ``files`` defaults to the files ``load_movielens`` reads (``DATASETS[name]["files"]``).
    """
    info = check_name(name)
    files = tuple(files or info["files"])
    cache = cache_dir()
    _tidy(cache)
    target = cache / name
    damage = ""
    if target.is_dir():
        found = _verify.problems(target, files, _verify.expected_files(target, name, info["md5"]))
        if not found:
            return target
        damage = _verify.describe(target, found)
    cached_zip = cache / f"{name}.zip"
    if cached_zip.is_file():
        _verify_zip(cached_zip, name, info)
        return _extract(cached_zip, name, info, cache, files, damage)
    mirror = os.environ.get("CFLEARN_DATA_MIRROR")
    if mirror:
        mirror = Path(mirror).expanduser()
        if (mirror / f"{name}.zip").is_file() and not (name in _verify.FILE_SHA256 and (mirror / name).is_dir()):
            _verify_zip(mirror / f"{name}.zip", name, info)
            return _extract(mirror / f"{name}.zip", name, info, cache, files, damage)
        if (mirror / name).is_dir():
            _verify_folder(mirror / name, name, info, files)
            return mirror / name
    archive = download(name, cache, progress, damage)
    return _extract(archive, name, info, cache, files, damage)


def _verify_zip(path, name, info):
    try:
        got = md5sum(path)
    except OSError as err:
        raise DataError(f"cannot read {path} ({type(err).__name__}: {err.strerror or err}); make it readable, "
                        f"or replace it with a fresh copy of {URL.format(name=name)}.") from None
    if got != info["md5"]:
        raise DataError(
            f"{path} fails its checksum (md5 {got}, expected {info['md5']}), so it is not the "
            f"{name} archive the course expects or it is damaged. Replace it with a fresh copy of "
            f"{URL.format(name=name)} or remove it.{REGENERATED if name == 'ml-latest-small' else ''}"
        )
    if not zipfile.is_zipfile(path):  # member CRCs are checked while extracting
        raise DataError(f"{path} is not a readable zip archive; replace it with a fresh copy "
                        f"of {URL.format(name=name)} or remove it.")


def _verify_folder(folder, name, info, files):
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DataError(f"the mirror folder {folder} lacks {', '.join(missing)}; it should hold the "
                        f"extracted {name} archive. Fix it or put {name}.zip there instead.")
    expected = _verify.expected_files(folder, name, info["md5"])
    if expected is None:
        raise DataError(
            f"the mirror folder {folder} cannot be verified: only the checksum of the {name} archive is "
            f"published, not of the files inside it. Put {name}.zip (from {URL.format(name=name)}) in "
            f"{folder.parent} instead; it is checked and extracted into the cache folder."
        )
    for fname, why in _verify.problems(folder, files, expected).items():
        raise DataError(
            f"{folder / fname} fails its checksum ({why}); the mirror folder {folder} does not hold an "
            f"intact {name}. Replace that file with the one from {URL.format(name=name)}, or remove the "
            f"folder {folder} and put {name}.zip in the mirror instead. The mirror is never written to."
        )


def _extract(archive, name, info, cache, files, damage=""):
    """Extract ``archive`` (already verified) into ``cache/name`` atomically; return that folder."""
    target = cache / name
    if damage:  # say why a cached copy is being replaced
        print(f"The cached copy is damaged ({damage}); extracting a fresh one from {archive}.")
    with _writing(cache, "extract", f"{name} (about {info['unpacked_mb']} MB)"):
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
        try:
            with _locked(tmp):
                try:
                    with zipfile.ZipFile(archive) as zf:
                        zf.extractall(tmp / "new")
                except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as err:
                    raise DataError(f"could not extract {archive} ({err}); replace it with a fresh copy of "
                                    f"{URL.format(name=name)} or remove it.") from None
                # the archives hold one top folder (ml-1m/...); accept files at the top level too
                new = tmp / "new"
                found = [p for p in [new / name, new, *new.iterdir()]
                         if p.is_dir() and all((p / f).is_file() for f in info["files"])]
                if not found:
                    raise DataError(f"{archive} does not contain {', '.join(info['files'])}; "
                                    f"is it really the {name} archive?")
                _verify.write_manifest(found[0], info["md5"])
                problems = _verify.problems(found[0], files, _verify.expected_files(found[0], name, info["md5"]))
                if problems:  # the archive passed its checksum, so only a changed checksum table gets here
                    raise DataError(f"{archive} passes its checksum but holds unexpected files "
                                    f"({_verify.describe(name, problems)}); replace it with a fresh copy of "
                                    f"{URL.format(name=name)}.")
                if target.exists():
                    current = _verify.expected_files(target, name, info["md5"])
                    if not _verify.problems(target, files, current):  # another run finished first
                        return target
                    os.replace(target, tmp / "damaged")  # removed with tmp below
                old = str(found[0].resolve())
                try:
                    os.replace(found[0], target)
                except OSError:
                    current = _verify.expected_files(target, name, info["md5"])
                    if not target.is_dir() or _verify.problems(target, files, current):
                        raise  # not a concurrent run finishing first: a real failure
                    return target
                _verify.remember_moved(old, target)
                return target
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# --- cache folder problems ------------------------------------------------------------------------

_NO_ROOM = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST, errno.EISDIR}
_NOT_ALLOWED = {errno.EACCES, errno.EPERM, errno.EROFS}


def _is_cache_error(err):
    """Whether an ``OSError`` is about writing the cache (rather than the network)."""
    try:
        import requests

        if isinstance(err, requests.RequestException):
            return False
    except ImportError:  # pragma: no cover
        pass
    # pooch re-raises PermissionError without an errno, hence the type check too
    return isinstance(err, (PermissionError, FileExistsError, NotADirectoryError, IsADirectoryError)) or (
        isinstance(err, OSError) and err.errno in _NO_ROOM | _NOT_A_FOLDER | _NOT_ALLOWED)


def _cache_message(err, cache, what):
    where = ("set by the environment variable CFLEARN_DATA" if os.environ.get("CFLEARN_DATA")
             else "the default; the environment variable CFLEARN_DATA chooses another")
    elsewhere = ("set CFLEARN_DATA to a folder you can write to, e.g. in Python "
                 "os.environ['CFLEARN_DATA'] = '/path/to/a/folder' before loading, or in the shell "
                 "export CFLEARN_DATA=/path/to/a/folder")
    reason = f"{type(err).__name__}: {err.strerror or err}"
    if err.errno in _NO_ROOM:
        return (f"the disk holding the cache folder {cache} ({where}) is full ({reason}): {what} needs free "
                f"space there. Free some space on that disk, or {elsewhere} on a disk with room. Nothing that "
                f"was already in the cache was removed.")
    if err.errno in _NOT_A_FOLDER or (cache.exists() and not cache.is_dir()):
        return (f"the cache folder {cache} ({where}) is not a folder: it, or a folder above it, is a file "
                f"({reason}). Point CFLEARN_DATA at a folder instead: {elsewhere}.")
    if err.errno in _NOT_ALLOWED or isinstance(err, PermissionError):
        return (f"cannot write to the cache folder {cache} ({where}; {reason}), so {what} cannot be stored. "
                f"Make it writable, or {elsewhere}.")
    return f"cannot write to the cache folder {cache} ({where}; {reason}). Check the folder, or {elsewhere}."


@contextmanager
def _writing(cache, verb, what):
    """Create ``cache`` and turn a failed write inside the block into a ``DataError`` naming CFLEARN_DATA."""
    what = f"to {verb} {what}"
    try:
        if cache.exists() and not cache.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is in the way", str(cache))
        cache.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as err:
        raise DataError(_cache_message(err, cache, what)) from None


# --- leftovers of interrupted runs ----------------------------------------------------------------

_TIDIED = set()
_LEFTOVER = re.compile(r"^(tmp[a-z0-9_]{6,}|\.(%s)-.+)$" % "|".join(re.escape(n) for n in DATASETS))


@contextmanager
def _locked(path):
    """Hold a shared lock on ``path`` (a file or folder) so ``_tidy`` in another process leaves it."""
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            fd = None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _in_use(path):
    """Whether another process holds a lock on ``path`` (never true where there are no locks)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # cannot tell: leave it alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _last_change(path):
    """The newest modification time of ``path`` and everything under it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, dirs, names in os.walk(path):
            for entry in dirs + names:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, entry)).st_mtime)
                except OSError:
                    pass
    return newest


def _tidy(cache, now=None):
    """Remove abandoned temporary entries (``tmp*``, ``.<name>-*``) from ``cache``, once per process.

    An entry is abandoned when nothing under it changed for ``STALE_AFTER`` seconds and no
    process holds its lock. Returns the names removed.
    """
    import time

    key = str(cache)
    if key in _TIDIED or not cache.is_dir():
        return []
    _TIDIED.add(key)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(cache.iterdir())
    except OSError:
        return []
    for path in entries:
        if not _LEFTOVER.match(path.name):
            continue
        try:
            if now - _last_change(path) < STALE_AFTER or _in_use(path):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path.name)
        except OSError:
            pass  # read-only cache, or it vanished meanwhile: nothing to do
    return removed


# --- downloads ------------------------------------------------------------------------------------

def _offline_message(name, cache, err, damage=""):
    mirror = os.environ.get("CFLEARN_DATA_MIRROR")
    reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
    return (
        (f"the cached copy is damaged ({damage}) and " if damage else "")
        + f"could not download {name} from {URL.format(name=name)} ({reason}). "
        f"To work offline, download {name}.zip on a machine with internet access, then either "
        f"put it at {cache / (name + '.zip')} (the cache folder, set by CFLEARN_DATA) or put it "
        f"(or its extracted {name}/ folder) in a folder named by the environment variable "
        f"CFLEARN_DATA_MIRROR" + (f" (now {mirror}, where it is missing)." if mirror else " (not set now).")
    )


# The downloader pooch uses (None: its HTTP downloader with a tqdm.auto bar); tests replace it to stay offline.
DOWNLOADER = None


class _Bar:
    """The progress-bar object pooch drives (``total``, ``update``, ``reset``, ``close``).

    The ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal, no fixed width) is made
    once pooch knows the size; a tqdm bar itself cannot be handed to pooch before that,
    because pooch tests it for truth and a bar without a total refuses that test.
    """

    def __init__(self, desc):
        self.desc, self.bar = desc, None

    @property
    def total(self):
        return self.bar.total if self.bar is not None else None

    @total.setter
    def total(self, value):
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=value or None, desc=self.desc, unit="B", unit_scale=True, unit_divisor=1024)

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def reset(self):
        if self.bar is not None:
            self.bar.reset()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _downloader(name, progress):
    """A pooch downloader that locks its temporary file while writing and shows a ``_Bar``."""

    def fetch(url, output_file, pooch_obj):
        with _locked(output_file):
            if DOWNLOADER is not None:
                return DOWNLOADER(url, output_file, pooch_obj)
            import pooch

            bar = _Bar(f"{name}.zip") if progress else False
            try:
                return pooch.HTTPDownloader(progressbar=bar)(url, output_file, pooch_obj)
            finally:
                if bar:
                    bar.close()

    return fetch


def download(name, cache, progress=True, damage=""):
    """Download ``<name>.zip`` into ``cache`` with pooch, checking its md5; return the path."""
    import logging

    import pooch

    info = check_name(name)
    url = URL.format(name=name)
    print(f"Downloading {name} (about {info['archive_mb']} MB) from {url} into {cache}")
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch's own "Downloading data from..." line goes to stderr
    try:
        with _writing(cache, "download", f"{name}.zip (about {info['archive_mb']} MB, then "
                                         f"{info['unpacked_mb']} MB extracted)"):
            try:
                path = pooch.retrieve(url, known_hash=f"md5:{info['md5']}", fname=f"{name}.zip",
                                      path=cache, downloader=_downloader(name, progress))
            except ValueError as err:
                if "hash" not in str(err).lower():
                    raise
                raise DataError(
                    f"the {name}.zip downloaded from {url} fails its checksum "
                    f"({' '.join(str(err).split())}); nothing was kept. Try again later."
                    f"{REGENERATED if name == 'ml-latest-small' else ''}"
                ) from None
            except OSError as err:
                if _is_cache_error(err):
                    raise
                raise DataError(_offline_message(name, cache, err, damage)) from None
            except (DataError, KeyboardInterrupt):
                raise
            except Exception as err:  # requests' HTTP errors and the like
                raise DataError(_offline_message(name, cache, err, damage)) from None
    finally:
        logger.setLevel(level)
    return Path(path)
