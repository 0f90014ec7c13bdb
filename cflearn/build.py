"""The lesson builder: ``python -m cflearn.build`` writes lessons/ from solutions/.

solutions/NN_topic.ipynb is the only source. The builder
1. regenerates two cells in every solution (in place, so they never drift): the badges
   in the first markdown cell and the code cell tagged ``setup``;
2. writes lessons/NN_topic.ipynb: answers between ``# BEGIN SOLUTION`` and
   ``# END SOLUTION`` become a stub, cells tagged ``solution-only`` are dropped,
   outputs and execution counts are cleared;
3. records a hash of each lesson it wrote in lessons/.manifest.json and refuses to
   overwrite a lesson whose content changed since (a learner's work) unless ``--force``,
   which keeps a backup first.

``--check`` writes nothing and exits 1 when anything is not what a build would write.
The repository URL comes from pyproject.toml and the version from ``cflearn.__version__``.

An instructors' tool, not something lessons import: it stays in the package so that
``python -m cflearn.build`` (``make lessons``) runs from the course environment with nothing else
to install. It needs a checkout of the course repository (solutions/, lessons/, pyproject.toml);
run from a pip-installed cflearn it says so, and ``--root`` points it at a checkout.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ".manifest.json"
BADGES_OPEN = "<!-- badges -->"
BADGES_CLOSE = "<!-- /badges -->"
STUB = 'raise NotImplementedError("Exercise: write your answer here, then run the check below.")'
_BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
_END = re.compile(r"^\s*# END SOLUTION\s*$")
_ANY_MARKER = re.compile(r"#\s*(BEGIN|END)[\s_-]*SOLUTION", re.IGNORECASE)  # what a near-miss marker looks like
_SETUP_TEMPLATE = '''\
# Setup: run this cell first. On Colab it installs the course package; everywhere it sets the seed and the device.
import importlib
import subprocess
import sys

SEED = 42
USE_GPU = True  # set to False to force the CPU
dev = None  # the device, set below once cflearn is imported
problem = "This kernel cannot import cflearn: see 'The kernel cannot find cflearn' in the README's Troubleshooting."

if "google.colab" in sys.modules:  # Colab: install the course package once, keeping Colab's torch/TF/NumPy
    try:
        from cflearn import __version__ as installed
    except ImportError:
        installed = None
    if installed != "@VERSION@":
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "cflearn @ git+@REPO_URL@@v@VERSION@"],
            capture_output=True,
            text=True,
        )
        for name in [m for m in sys.modules if m.split(".")[0] == "cflearn"]:
            del sys.modules[name]  # forget an older cflearn, so that the one now installed is imported
        importlib.invalidate_caches()
        if pip.returncode != 0:  # say why in one line (git's or pip's own), and carry on if we can
            lines = [line.strip() for line in pip.stderr.splitlines() if line.strip()] or ["pip said nothing"]
            reason = ([line for line in lines if line.startswith(("fatal:", "ERROR:"))] or lines)[0]
            problem = f"Could not install cflearn @VERSION@ ({reason}). Check that this runtime is online, then run this cell again."
            if installed:
                print(f"Could not install cflearn @VERSION@ ({reason}); carrying on with the installed cflearn {installed}.")

try:
    from cflearn import device
except ImportError:
    print(problem)
else:
    dev = device.setup(USE_GPU, seed=SEED, frameworks=@FRAMEWORKS@)'''


class BuildError(Exception):
    """A solution notebook the builder cannot turn into a lesson."""


def project_info(root: Path = ROOT) -> tuple[str, str]:
    """Return ``(repository_url, version)`` from pyproject.toml and ``cflearn.__version__``."""
    import tomllib

    import cflearn

    with open(root / "pyproject.toml", "rb") as fh:
        url = tomllib.load(fh)["project"]["urls"]["Repository"].rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    return url, cflearn.__version__


def badges(filename: str, repo_url: str, version: str) -> str:
    """The Open-in-Colab and Launch-Binder badges for one lesson file."""
    slug = repo_url.split("github.com/", 1)[-1]
    colab = f"https://colab.research.google.com/github/{slug}/blob/v{version}/lessons/{filename}"
    binder = f"https://mybinder.org/v2/gh/{slug}/v{version}?urlpath=lab/tree/lessons/{filename}"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
        f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def setup_source(frameworks, repo_url: str, version: str) -> str:
    """The source of the generated setup cell."""
    frameworks = tuple(str(f) for f in frameworks)
    values = {"@REPO_URL@": repo_url, "@VERSION@": version, "@FRAMEWORKS@": repr(frameworks)}
    return re.sub("|".join(map(re.escape, values)), lambda m: values[m.group(0)], _SETUP_TEMPLATE)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def regenerate(nb: dict, filename: str, repo_url: str, version: str) -> dict:
    """Return a copy of a solution notebook with its badges and setup cell regenerated."""
    nb = copy.deepcopy(nb)
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    if not markdown or BADGES_OPEN not in _source(markdown[0]):
        raise BuildError(f"{filename}: the first markdown cell needs a line '{BADGES_OPEN}'")
    text = _source(markdown[0])
    start = text.index(BADGES_OPEN)
    end = text.find(BADGES_CLOSE, start)
    end = start + len(BADGES_OPEN) if end < 0 else end + len(BADGES_CLOSE)
    block = f"{BADGES_OPEN}\n{badges(filename, repo_url, version)}\n{BADGES_CLOSE}"
    markdown[0]["source"] = text[:start] + block + text[end:]

    setup = [c for c in nb["cells"] if c["cell_type"] == "code" and "setup" in _tags(c)]
    if len(setup) != 1:
        raise BuildError(f"{filename}: expected exactly one code cell tagged 'setup', found {len(setup)}")
    frameworks = nb.get("metadata", {}).get("cflearn", {}).get("frameworks")
    if frameworks is None:
        raise BuildError(
            f'{filename}: notebook metadata needs "cflearn": {{"frameworks": [...]}} (e.g. ["torch", "keras"] or [])'
        )
    setup[0]["source"] = setup_source(frameworks, repo_url, version)
    return nb


def strip_solutions(source: str, where: str = "") -> str:
    """Replace every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region by a stub at its indentation."""
    out, indent = [], None
    for n, line in enumerate(source.split("\n"), start=1):
        begin = _BEGIN.match(line)
        if not begin and not _END.match(line) and _ANY_MARKER.search(line):
            raise BuildError(
                f"{where}: line {n} looks like a solution marker but is not one ({line.strip()!r}), so the "
                "answer would be copied into the lesson; write '# BEGIN SOLUTION' or '# END SOLUTION' alone on its line"
            )
        if indent is None:
            if begin:
                indent = begin.group(1)
                out += [f"{indent}# YOUR CODE HERE", f"{indent}{STUB}"]
            elif _END.match(line):
                raise BuildError(f"{where}: '# END SOLUTION' without '# BEGIN SOLUTION' (line {n})")
            else:
                out.append(line)
        elif begin:
            raise BuildError(f"{where}: '# BEGIN SOLUTION' inside another solution region (line {n})")
        elif _END.match(line):
            indent = None
    if indent is not None:
        raise BuildError(f"{where}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    return "\n".join(out)


def make_lesson(solution: dict, filename: str) -> dict:
    """Turn a (regenerated) solution notebook into the learner's lesson notebook."""
    lesson = copy.deepcopy(solution)
    cells = []
    for i, cell in enumerate(lesson["cells"]):
        if "solution-only" in _tags(cell):
            continue
        if cell["cell_type"] != "code" and _ANY_MARKER.search(_source(cell)):
            raise BuildError(
                f"{filename} cell {i} ({cell['cell_type']}): holds a '# BEGIN/END SOLUTION' marker, but only code "
                "cells have their answers stripped, so it would be copied into the lesson answer and all. Move the "
                "answer into a code cell, or tag the cell 'solution-only' to leave it out of the lesson."
            )
        if cell["cell_type"] == "code":
            cell["source"] = strip_solutions(_source(cell), f"{filename} cell {i}")
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    lesson["cells"] = cells
    return lesson


def dumps(nb: dict) -> str:
    """Notebook JSON text exactly as the builder writes it (nbformat's layout)."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _generated_cells(nb: dict) -> list:
    """The sources of the cells the builder owns in a solution notebook."""
    markdown = [_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"][:1]
    setup = [_source(c) for c in nb["cells"] if c["cell_type"] == "code" and "setup" in _tags(c)]
    return markdown + setup


def plan(root: Path) -> list[dict]:
    """What a build would do: for each solution, its regenerated source and lesson text."""
    repo_url, version = project_info(root)
    items = []
    for path in sorted((root / "solutions").glob("*.ipynb")):
        if path.name.endswith(".bak.ipynb") or path.name.startswith("."):
            continue
        nb = _read_solution(path)
        try:
            solution = regenerate(nb, path.name, repo_url, version)
            lesson_text = dumps(make_lesson(solution, path.name))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise BuildError(f"solutions/{path.name} is not a well-formed notebook ({type(exc).__name__}: {exc}); "
                             "fix it in JupyterLab or restore it from version control") from None
        items.append(
            {
                "solution_path": path,
                "solution_changed": _generated_cells(nb) != _generated_cells(solution),
                "solution_text": dumps(solution),
                "lesson_path": root / "lessons" / path.name,
                "lesson_text": lesson_text,
            }
        )
    return items


def _read_solution(path: Path) -> dict:
    """A solution notebook as a plain dict; a ``BuildError`` naming the file if it cannot be read."""
    import nbformat

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError(f"solutions/{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "save it again as UTF-8 or restore it from version control") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, KeyError... for a broken file
        reason = " ".join(str(exc).split())[:200]
        raise BuildError(f"solutions/{path.name} is not a valid notebook ({type(exc).__name__}: {reason}); "
                         "fix the JSON (e.g. python -m json.tool on it shows where) or restore it from version control") from None
    return json.loads(json.dumps(nb))


def _read_lesson(path: Path):
    """A lesson's text, or None when it is not UTF-8 (then it is treated as a learner's changed file)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


def _read_manifest(lessons: Path) -> dict:
    path = lessons / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # includes text that is not UTF-8
        raise BuildError(f"{path} is not valid JSON ({exc}); delete it and rebuild with --force") from None
    if not isinstance(manifest, dict):
        raise BuildError(f"{path} is not a manifest (a JSON object of lesson hashes); delete it and rebuild with --force")
    return manifest


def _backup(path: Path) -> Path:
    """Copy ``path`` to a backup name not yet taken; an existing backup is never overwritten.

    ``NN.bak.ipynb`` first, then ``NN.<time>.bak.ipynb``, then ``NN.<time>-2.bak.ipynb``... (several
    forced builds can run within one second). Exclusive creation makes the choice race-free.
    """
    stem = path.name[: -len(".ipynb")]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = [f"{stem}.bak.ipynb", f"{stem}.{stamp}.bak.ipynb"]
    names += (f"{stem}.{stamp}-{n}.bak.ipynb" for n in range(2, 10_000))
    content = path.read_bytes()
    for name in names:
        backup = path.with_name(name)
        try:
            with open(backup, "xb") as fh:
                fh.write(content)
        except FileExistsError:
            continue
        return backup
    raise BuildError(f"lessons/: too many backups of {path.name}; move some .bak.ipynb files elsewhere")


def build(root: Path = ROOT, force: bool = False, out=sys.stdout) -> int:
    """Write lessons/ (and the generated cells of solutions/). Returns an exit status."""
    items = plan(root)
    lessons = root / "lessons"
    lessons.mkdir(exist_ok=True)
    manifest = _read_manifest(lessons)
    refused = []
    for item in items:
        path, text = item["lesson_path"], item["lesson_text"]
        if not path.exists():
            continue
        current = _read_lesson(path)
        if current is not None and (current == text or manifest.get(path.name) == _hash(current)):
            continue
        if not force:
            refused.append(path.name + (" (not UTF-8 text)" if current is None else ""))
        else:
            print(f"{path.name}: differs from what was last generated; kept a copy in {_backup(path).name}", file=out)
    if refused:
        print(
            "Refusing to overwrite lessons that were changed after they were generated (your work?): "
            + ", ".join(refused)
            + "\nSave your work elsewhere, or run `python -m cflearn.build --force` (it keeps a .bak.ipynb copy first).",
            file=out,
        )
        return 1
    new_manifest = {}
    for item in items:
        if item["solution_changed"]:
            item["solution_path"].write_text(item["solution_text"], encoding="utf-8")
            print(f"solutions/{item['solution_path'].name}: regenerated badges and setup cell", file=out)
        path = item["lesson_path"]
        if not path.exists() or _read_lesson(path) != item["lesson_text"]:
            path.write_text(item["lesson_text"], encoding="utf-8")
            print(f"lessons/{path.name}: written", file=out)
        new_manifest[path.name] = _hash(item["lesson_text"])
    manifest_text = json.dumps(new_manifest, indent=1, sort_keys=True) + "\n"
    manifest_path = lessons / MANIFEST
    if not manifest_path.exists() or manifest_path.read_text(encoding="utf-8") != manifest_text:
        manifest_path.write_text(manifest_text, encoding="utf-8")
    print(f"{len(items)} lesson(s) up to date in {lessons}", file=out)
    return 0


def check(root: Path = ROOT, out=sys.stdout) -> int:
    """Exit status 1, listing files, when a build would change anything; 0 otherwise."""
    stale = []
    items = plan(root)
    for item in items:
        if item["solution_changed"]:
            stale.append(f"solutions/{item['solution_path'].name} (generated badges/setup cell out of date)")
        path = item["lesson_path"]
        if not path.exists():
            stale.append(f"lessons/{path.name} (missing)")
        elif _read_lesson(path) is None:
            stale.append(f"lessons/{path.name} (not UTF-8 text)")
        elif _read_lesson(path) != item["lesson_text"]:
            stale.append(f"lessons/{path.name} (differs from a fresh build)")
    planned = {item["lesson_path"].name for item in items}
    for path in sorted((root / "lessons").glob("*.ipynb")):
        if not path.name.endswith(".bak.ipynb") and path.name not in planned:
            stale.append(f"lessons/{path.name} (no solutions/{path.name} to build it from)")
    manifest = _read_manifest(root / "lessons")
    expected = {item["lesson_path"].name: _hash(item["lesson_text"]) for item in items}
    if manifest != expected:
        stale.append(f"lessons/{MANIFEST} (out of date)")
    if stale:
        print("Not what a fresh build would write:\n  " + "\n  ".join(stale), file=out)
        print("Run `python -m cflearn.build` (or `make lessons`) and commit the result.", file=out)
        return 1
    print(f"lessons/ and solutions/ are up to date ({len(items)} notebook(s)).", file=out)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cflearn.build", description="Write lessons/ from solutions/.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a build would change files")
    parser.add_argument("--force", action="store_true", help="overwrite edited lessons (a .bak.ipynb copy is kept)")
    parser.add_argument("--root", type=Path, default=ROOT, help="project folder holding solutions/ and lessons/")
    args = parser.parse_args(argv)
    if not (args.root / "solutions").is_dir() or not (args.root / "pyproject.toml").is_file():
        print(f"error: {args.root} is not a checkout of the course repository (no solutions/ or pyproject.toml "
              "there). The builder writes lessons/ from solutions/ in a checkout: run it from the repository's "
              "own environment, or pass --root PATH/TO/CHECKOUT.", file=sys.stderr)
        return 2
    try:
        return check(args.root) if args.check else build(args.root, force=args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
