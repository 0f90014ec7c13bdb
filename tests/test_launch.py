"""The ways in: `make lab`, the Colab and Binder badges, the generated setup cell, the README.

The repository URL (pyproject.toml) and the version (``cflearn.__version__``) are defined once;
here every badge, setup cell and README link is checked against URLs built independently from
those two, and the setup cell is executed as Colab would execute it (with pip and the device
setup replaced by recorders) to see what it installs.
"""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import types
import urllib.request
import json
import uuid
from pathlib import Path

import nbformat
import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import cflearn
from cflearn import build

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
GLOSSARY = ["n_users", "n_items", "n_factors", "user", "item", "rating", "y_range", "model", "lr",
            "n_epochs", "batch_size", "history"]
COLAB_KEEPS = ("torch", "tensorflow", "tensorflow-cpu", "keras", "numpy", "jax")


def _notebooks(folder):
    return sorted(p for p in (REPO / folder).glob("*.ipynb") if not p.name.endswith(".bak.ipynb"))


NOTEBOOKS = [pytest.param(p, id=f"{p.parent.name}/{p.name}") for f in ("solutions", "lessons") for p in _notebooks(f)]


def _repo():
    """(owner/name, version) from the one place each is defined."""
    url = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(\.git)?/?", url)
    assert match, f"pyproject.toml [project.urls] Repository should be a GitHub URL (Colab and Binder need one), not {url!r}"
    return match.group(1), cflearn.__version__


def _expected_urls(filename):
    slug, version = _repo()
    return (
        f"https://colab.research.google.com/github/{slug}/blob/v{version}/lessons/{filename}",
        f"https://mybinder.org/v2/gh/{slug}/v{version}?urlpath=lab/tree/lessons/{filename}",
    )


def _links(markdown):
    return re.findall(r"\]\((https?://[^)\s]+)\)", markdown)


def _make_n(*args):
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    # Run as a top-level make even when the suite itself runs under `make test`: a nested make
    # inherits MAKELEVEL/MAKEFLAGS and prints "Entering directory" lines around the recipe.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    done = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- make lab ---------------------------------------------------------------------------------


def _lab_command():
    lines = [l for l in _make_n("lab").splitlines() if re.search(r"jupyter[ -]lab\b", l)]
    assert len(lines) == 1, f"`make lab` should run one `jupyter lab` command, got {lines}"
    return shlex.split(lines[0])


def test_make_lab_sets_up_first_then_starts_jupyterlab_on_lessons():
    cmd = _lab_command()
    assert cmd[0].startswith(".venv/"), f"`make lab` should use the course environment's jupyter, not {cmd[0]}"
    assert any(a.rstrip("/") == "lessons" or a.endswith("=lessons") for a in cmd[1:]), cmd
    # on a fresh machine (pins newer than the environment) the same target installs everything first
    fresh = _make_n("-W", "requirements.txt", "lab")
    for step in ("-m venv", "-r requirements.txt", "--no-deps -e ."):
        assert step in fresh, f"`make lab` on a fresh machine should run `{step}`:\n{fresh}"
    assert fresh.rstrip().splitlines()[-1] == _make_n("lab").rstrip().splitlines()[-1]


def test_make_test_sets_up_first_then_runs_pytest_and_ci_calls_it():
    fresh = _make_n("-W", "requirements.txt", "test")
    assert "-r requirements.txt" in fresh and re.search(r"python -m pytest\b", fresh.splitlines()[-1]), fresh
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test\s*$", ci, re.M), ".ci/run should call the README's test command, `make test`"


@pytest.mark.parametrize("uid, allowed", [("0", True), ("1000", False)])
def test_make_lab_starts_as_root_only_when_run_as_root(tmp_path, uid, allowed):
    """JupyterLab refuses root without --allow-root (Docker, cloud machines); others do not need it."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    fake_id = tmp_path / "id"
    fake_id.write_text(f'#!/bin/sh\nif [ "$1" = -u ]; then echo {uid}; else exec /usr/bin/env -i id "$@"; fi\n')
    fake_id.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    for target, folder in (("lab", "lessons"), ("lab-solutions", "solutions")):
        done = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        (line,) = [l for l in done.stdout.splitlines() if re.search(r"jupyter[ -]lab\b", l)]
        cmd = shlex.split(line)
        assert ("--allow-root" in cmd) == allowed, f"uid {uid}: {line}"
        assert cmd[-1].rstrip("/") == folder, line


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_command_really_serves_the_lessons(tmp_path):
    """Start the exact `make lab` command (plus no-browser, port, token) and list what it serves."""
    cmd = _lab_command()
    if not (REPO / cmd[0]).exists():
        pytest.skip(f"{cmd[0]} does not exist yet (run `make lab` or `make test` once)")
    port, token = _free_port(), uuid.uuid4().hex
    # no --allow-root here: as root, `make lab`'s own command must carry it
    extra = ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}"]
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd + extra, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, listing = time.monotonic() + 120, None
        while listing is None:
            assert proc.poll() is None, f"`make lab`'s command exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer from `make lab`'s server:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=5) as r:
                    listing = json.load(r)
            except OSError:
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        lessons = {p.name for p in _notebooks("lessons")}
        assert lessons and lessons <= names, f"`make lab` should open JupyterLab on lessons/; it serves {sorted(names)}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- badges and setup cells (generated by the builder from one URL and one version) ----------------


def test_builder_reads_the_one_url_and_version():
    slug, version = _repo()
    assert build.project_info(REPO) == (f"https://github.com/{slug}", version)


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_badges_open_this_lesson_on_colab_and_binder(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    url, version = build.project_info(REPO)
    assert build.badges(path.name, url, version) in first.source, f"{path}: badges are not what the builder writes"
    colab, binder = _expected_urls(path.name)
    links = _links(first.source)
    assert colab in links and binder in links, f"{path}: expected badge links\n  {colab}\n  {binder}\ngot {links}"
    assert (REPO / "lessons" / path.name).exists(), f"the badges of {path} open lessons/{path.name}, which does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_setup_cell_is_the_generated_one(path):
    nb = nbformat.read(path, as_version=4)
    setup = [c for c in nb.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]
    assert len(setup) == 1, f"{path}: one code cell tagged 'setup'"
    assert nb.cells.index(setup[0]) == 1, f"{path}: the setup cell comes right after the title cell"
    frameworks = nb.metadata["cflearn"]["frameworks"]
    url, version = build.project_info(REPO)
    assert setup[0].source == build.setup_source(frameworks, url, version), f"{path}: run `make lessons`"


def _run_setup(source, monkeypatch, on_colab):
    calls, setups = [], []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)) or subprocess.CompletedProcess(a, 0))
    from cflearn import device

    monkeypatch.setattr(device, "setup", lambda *a, **k: setups.append((a, k)) or "device")
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    namespace = {}
    exec(compile(source, "<setup cell>", "exec"), namespace)
    return calls, setups, namespace


@pytest.mark.parametrize("frameworks", [(), ("torch",), ("torch", "keras")])
def test_setup_cell_on_colab_skips_the_install_when_the_pinned_cflearn_is_there(frameworks, monkeypatch):
    url, version = build.project_info(REPO)
    calls, setups, ns = _run_setup(build.setup_source(frameworks, url, version), monkeypatch, on_colab=True)
    assert calls == [], "cflearn at the pinned version is importable: the cell should not run pip"
    assert ns["SEED"] == 42 and ns["USE_GPU"] is True and ns["dev"] == "device"
    assert setups == [((True,), {"seed": 42, "frameworks": tuple(frameworks)})]


def test_setup_cell_on_colab_installs_the_pinned_package_and_nothing_else(tmp_path):
    """A fresh Python with a fake google.colab and a pip that records its arguments; the cell pins a
    version other than the one importable here, so it must install."""
    url, _ = build.project_info(REPO)
    fake = tmp_path / "fake" / "pip"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    log = tmp_path / "pip.json"
    (fake / "__main__.py").write_text(f"import json, sys\nopen({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    cell = tmp_path / "cell.py"
    cell.write_text(build.setup_source((), url, "9.9.9"))
    driver = (
        "import sys, types\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        f"exec(compile(open({str(cell)!r}).read(), '<setup cell>', 'exec'))\n"
        "assert SEED == 42 and USE_GPU is True and dev is not None\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parent), str(REPO)]), CFLEARN_DEVICE="cpu")
    done = subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (argv,) = [json.loads(l) for l in log.read_text().splitlines()]
    assert argv[:1] == ["install"], argv
    specs = [a for a in argv[1:] if not a.startswith("-")]
    options = [a for a in argv[1:] if a.startswith("-")]
    assert len(specs) == 1, f"install only cflearn, got {specs}"
    req = Requirement(specs[0])
    assert req.name == "cflearn" and req.url == f"git+{url}@v9.9.9", specs[0]
    assert not set(options) & {"-U", "--upgrade", "--force-reinstall", "-I", "--ignore-installed"}, options
    assert "Could not" not in done.stdout, done.stdout


def test_setup_cell_off_colab_installs_nothing(monkeypatch):
    url, version = build.project_info(REPO)
    calls, setups, _ = _run_setup(build.setup_source(("torch", "keras"), url, "9.9.9"), monkeypatch, on_colab=False)
    assert calls == [] and len(setups) == 1


def test_installing_cflearn_keeps_colabs_torch_tensorflow_and_numpy():
    deps = [Requirement(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
    names = {d.name.lower() for d in deps}
    assert not names & {"torch", "tensorflow", "tensorflow-cpu", "keras", "jax"}, (
        "cflearn's own dependencies must not pull a framework: Colab's preinstalled one is used"
    )
    numpy = next(d for d in deps if d.name.lower() == "numpy")
    for colab_numpy in ("1.26.4", "2.0.2", "2.2.6"):  # whichever NumPy Colab ships is accepted
        assert SpecifierSet(str(numpy.specifier)).contains(colab_numpy), numpy


def test_no_gpu_line_tells_the_learner_how_to_get_one(monkeypatch):
    from cflearn import device

    monkeypatch.delenv("CFLEARN_DEVICE", raising=False)
    monkeypatch.setattr(device, "_gpu_name", lambda frameworks: None)
    dev = device.resolve(True, frameworks=("keras",))
    assert not dev.is_gpu and "Change runtime type" in dev.name and "GPU" in dev.name, dev.name


# -- README ---------------------------------------------------------------------------------------


def _section(title):
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README needs a section '## {title}'"
    return match.group(1)


def _lesson_table():
    match = re.search(r"<!-- lessons -->\n(.*?)<!-- /lessons -->", README, re.S)
    assert match, "README needs the lesson table between <!-- lessons --> and <!-- /lessons -->"
    return [l for l in match.group(1).splitlines() if l.startswith("|") and not set(l) <= set("|-: ")][1:]


def test_readme_lesson_table_lists_every_lesson_with_time_and_badges():
    rows = _lesson_table()
    url, version = build.project_info(REPO)
    numbers = [r.split("|")[1].strip() for r in rows]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers
    for path in _notebooks("solutions"):
        row = [r for r in rows if f"](lessons/{path.name})" in r]
        assert len(row) == 1, f"README's lesson table needs one row linking lessons/{path.name}"
        assert build.badges(path.name, url, version) in row[0], f"README row for {path.name}: badges differ from the builder's"
        assert set(_expected_urls(path.name)) <= set(_links(row[0]))
        assert re.search(r"\|\s*\d+ min\s*\|", row[0]), f"README row for {path.name} needs a time, like '45 min'"
    for target in re.findall(r"\]\((lessons/[^)]+)\)", README) + re.findall(r"/lessons/([^)?\s]+\.ipynb)", README):
        target = target if target.startswith("lessons/") else f"lessons/{target}"
        assert (REPO / target).exists(), f"README links {target}, which does not exist"


def test_readme_binder_badge_opens_the_lessons():
    slug, version = _repo()
    assert f"https://mybinder.org/v2/gh/{slug}/v{version}?urlpath=lab/tree/lessons" in _links(README)


def test_readme_names_the_current_version_and_repository_everywhere():
    slug, version = _repo()
    versions = set(re.findall(r"(?:@v|/v)(\d+\.\d+(?:\.\d+)?)\b", README))
    assert versions == {version}, f"README names versions {sorted(versions)}; the package is {version}"
    repos = set(re.findall(r"github(?:\.com)?/([\w.-]+/[\w.-]+?)(?:/|\.git|@|\)|\s)", README))
    assert repos == {slug}, f"README names repositories {sorted(repos)}; pyproject.toml says {slug}"


def test_readme_documents_exactly_the_two_commands():
    start = _section("Start here")
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", start, re.S)
    assert blocks, "the 'Start here' section needs a code block with the commands"
    assert blocks[0].split("\n")[:-1] == ["make lab", "make test"], blocks[0]
    makefile = (REPO / "Makefile").read_text()
    for target in ("lab", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no `{target}` target"
        assert f"**`make {target}`**" in start, f"README should say what `make {target}` does"


def test_readme_glossary_has_every_term():
    glossary = _section("Glossary")
    missing = [t for t in GLOSSARY if not re.search(rf"^\|[^|]*`{t}`", glossary, re.M)]
    assert not missing, f"README glossary lacks {missing}"


def test_readme_documents_every_environment_variable_cflearn_reads():
    used = set()
    for path in (REPO / "cflearn").rglob("*.py"):
        used |= set(re.findall(r"\b(CFLEARN_[A-Z_]+)\b", path.read_text(encoding="utf-8")))
    missing = sorted(v for v in used if f"`{v}" not in README and f"${v}" not in README)
    assert not missing, f"README does not document {missing}"


def test_readme_troubleshooting_and_instructors():
    trouble = _section("Troubleshooting").lower()
    for topic in ("no gpu", "out of memory on binder", "checksum", "cannot find `cflearn`"):
        assert topic in trouble, f"README troubleshooting lacks '{topic}'"
    instructors = _section("For instructors")
    for needle in ("make lessons", "BEGIN SOLUTION", "@exercise(", "make test", "make bench", "--force"):
        assert needle in instructors, f"README instructors' section lacks {needle!r}"
    assert "## Results" in README


def test_readme_movielens_licence_and_citation():
    licence = _section("Data licence and citation")
    assert "F. Maxwell Harper and Joseph A. Konstan" in licence
    assert "The MovieLens Datasets: History and Context" in licence and "5, 4" in licence and "2015" in licence
    for condition in ("endorsement", "acknowledge", "redistribute", "commercial"):
        assert condition in licence, f"the GroupLens usage licence notice lacks the '{condition}' condition"
