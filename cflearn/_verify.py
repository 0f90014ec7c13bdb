"""Checksums of the files the loaders read, and the check that a folder still holds them intact.

Where the per-file checksums are known (ml-latest-small and ml-100k, below), every file
a loader reads is checked against them, wherever it lies (mirror folder or cache). For
the other data sets only the archive's md5 is published, so when a verified archive is
extracted the size and sha256 of each extracted file are recorded in a manifest
(``.cflearn-manifest.json`` inside the extracted folder) and later reads are checked
against it. A file is hashed at most once per process while its path, size and
modification time stay the same.
"""

import hashlib
import json
import os
from pathlib import Path

MANIFEST = ".cflearn-manifest.json"

# (bytes, sha256) of each file in the GroupLens archives, as extracted.
FILE_SHA256 = {
    "ml-latest-small": {
        "README.txt": (8342, "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404"),
        "links.csv": (197979, "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31"),
        "movies.csv": (494431, "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07"),
        "ratings.csv": (2483723, "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"),
        "tags.csv": (118660, "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d"),
    },
    "ml-100k": {
        "README": (6750, "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52"),
        "allbut.pl": (716, "bfc6a75cbd65c74bb38a0b580dbe866af252733dfa9a65a2c4b93258774ee8a3"),
        "mku.sh": (643, "7929735c375e89a04340e34de621bf2ea643cd04b0bcda2c6f458e4be961ae71"),
        "u.data": (1979173, "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
        "u.genre": (202, "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
        "u.info": (36, "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b"),
        "u.item": (236366, "033c274ff3c57575a578fca0b53c82e6244db68e522474080afa9bfeba918f9c"),
        "u.occupation": (193, "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d"),
        "u.user": (22628, "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
        "u1.base": (1586544, "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a"),
        "u1.test": (392629, "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950"),
        "u2.base": (1583948, "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e"),
        "u2.test": (395225, "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3"),
        "u3.base": (1582546, "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d"),
        "u3.test": (396627, "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d"),
        "u4.base": (1581878, "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca"),
        "u4.test": (397295, "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9"),
        "u5.base": (1581776, "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485"),
        "u5.test": (397397, "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634"),
        "ua.base": (1792501, "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2"),
        "ua.test": (186672, "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42"),
        "ub.base": (1792476, "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881"),
        "ub.test": (186697, "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da"),
    },
}

_HASHES = {}  # (algorithm, path, size, mtime_ns) -> hex digest


def file_hash(path, algorithm="sha256"):
    """Hex digest of a file, read in 1 MiB blocks; remembered while the file is unchanged."""
    path = Path(path)
    stat = path.stat()
    key = (algorithm, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.new(algorithm)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def expected_files(folder, name, archive_md5):
    """``{file: (bytes, sha256)}`` that ``folder`` must match, or None if nothing is known.

    The published table where there is one, else the manifest recorded at extraction
    (only if it was recorded from the archive with ``archive_md5``).
    """
    if name in FILE_SHA256:
        return FILE_SHA256[name]
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("archive_md5") != archive_md5:
            return None
        return {f: (int(v["size"]), str(v["sha256"])) for f, v in manifest["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def problems(folder, files, expected):
    """What is wrong with ``files`` in ``folder``: ``{file: reason}`` (empty when all is well)."""
    found = {}
    for fname in files:
        path = Path(folder) / fname
        if not path.is_file():
            found[fname] = "missing"
        elif expected is None or fname not in expected:
            found[fname] = "no checksum recorded for it"
        else:
            size, sha = expected[fname]
            try:
                got = path.stat().st_size
                digest = file_hash(path) if got == size else None
            except OSError as err:
                found[fname] = f"cannot be read ({type(err).__name__}: {err.strerror or err})"
                continue
            if got != size:
                found[fname] = f"{got:,} bytes, expected {size:,} (truncated or changed)"
            elif digest != sha:
                found[fname] = f"sha256 {digest[:12]}..., expected {sha[:12]}... (damaged or changed)"
    return found


def describe(folder, found):
    """One line listing the problems ``problems`` found."""
    return "; ".join(f"{Path(folder) / f}: {why}" for f, why in found.items())


def write_manifest(folder, archive_md5):
    """Record size and sha256 of every file under ``folder`` (just extracted from a verified archive)."""
    folder = Path(folder)
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": file_hash(path)}
    text = json.dumps({"archive_md5": archive_md5, "files": files}, indent=1, sort_keys=True)
    (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")


def remember_moved(old_folder, new_folder):
    """Keep the remembered hashes of files whose folder was renamed (size and mtime are unchanged)."""
    old, new = str(Path(old_folder).resolve()), str(Path(new_folder).resolve())
    for (algorithm, path, size, mtime), digest in list(_HASHES.items()):
        if path.startswith(old + os.sep):
            _HASHES[(algorithm, new + path[len(old):], size, mtime)] = digest
