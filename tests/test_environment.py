"""The pinned environment: two pin files, and the three ways they are installed.

requirements.txt holds what the lessons need, pinned exactly; requirements-dev.txt adds the local
JupyterLab and the test tools. The Makefile installs both into .venv, with PyTorch's CPU build
unless TORCH=cuda; Binder (environment.yml, then postBuild) installs requirements.txt only, with
the same PyTorch build and no pip cache, and leaves repo2docker's Jupyter server to conda.
pyproject.toml's loose requirements (kept loose for Colab) must be satisfied by the pins.
The Makefile and postBuild are run here with a stand-in Python that records what they install.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
RUNTIME, DEV = "requirements.txt", "requirements-dev.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Marker environments we promise to support. Binder is Linux.
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "darwin": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "win32": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}
# A pinned distribution that provides an import package under another distribution name.
PROVIDES = {"tensorflow-cpu": "tensorflow"}
# Extras that are optional tools outside the course environment (not pinned on purpose).
UNPINNED_EXTRAS = {"bench", "implicit"}
# Tools only the tests use, and the Jupyter server that Binder and Colab bring themselves:
# neither belongs in requirements.txt, which Binder installs.
TEST_TOOLS = {"pytest", "nbclient", "nbformat", "playwright"}
JUPYTER_SERVER = {"jupyterlab", "notebook", "jupyter-server", "jupyterhub", "jupyterlab-server", "nbclassic"}
# Runtime pins that lessons need without importing them by that name.
NOT_IMPORTED = {
    "ipykernel": "the kernel the lessons run in",
    "ipywidgets": "tqdm's notebook progress bars",
}


def _marker_env(platform, python="3.11"):
    env = default_environment()
    env.update(PLATFORMS[platform])
    env.update(python_version=python, python_full_version=f"{python}.0")
    return env


def _requirements(name):
    reqs = []
    for line in (REPO / name).read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            assert not line.startswith("-"), f"{name}: options do not belong here: {line!r}"
            reqs.append(Requirement(line))
    return reqs


def _all_requirements():
    return _requirements(RUNTIME) + _requirements(DEV)


def _environment_yml():
    return yaml.safe_load((REPO / "environment.yml").read_text())


def _pins_for(platform, files=(RUNTIME, DEV)):
    """{canonical name: pinned version} of what installs on that platform."""
    env = _marker_env(platform)
    pins = {}
    for name in files:
        for req in _requirements(name):
            if req.marker is None or req.marker.evaluate(env):
                (spec,) = req.specifier
                pins[canonicalize_name(req.name)] = spec.version
    return pins


# -- the pin files ---------------------------------------------------------------------------------


def test_requirements_are_exact_pins():
    for req in _all_requirements():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version, (
            f"{req} must be pinned exactly (name==version)"
        )
        assert "+" not in specs[0].version, f"{req}: the build (like +cpu) is the Makefile's and postBuild's choice"


def test_each_package_is_pinned_in_one_file_only():
    runtime = {canonicalize_name(r.name) for r in _requirements(RUNTIME)}
    dev = {canonicalize_name(r.name) for r in _requirements(DEV)}
    assert not runtime & dev, f"pinned in both {RUNTIME} and {DEV}: {sorted(runtime & dev)}"
    for platform in PLATFORMS:
        names = [canonicalize_name(r.name) for r in _all_requirements()
                 if r.marker is None or r.marker.evaluate(_marker_env(platform))]
        assert len(names) == len(set(names)), f"a package is pinned twice on {platform}: {names}"


def test_runtime_pins_hold_only_what_lessons_need():
    runtime = {canonicalize_name(r.name) for r in _requirements(RUNTIME)}
    assert not runtime & TEST_TOOLS, f"test tools belong in {DEV}, not in Binder's environment: {runtime & TEST_TOOLS}"
    assert not runtime & JUPYTER_SERVER, (
        f"{sorted(runtime & JUPYTER_SERVER)}: Binder and Colab bring their own Jupyter server; pin it in {DEV}"
    )
    assert "jupyterlab" in {canonicalize_name(r.name) for r in _requirements(DEV)}, "make lab needs JupyterLab"
    sources = [p.read_text(encoding="utf-8") for p in (REPO / "cflearn").rglob("*.py")]
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        sources += ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    code = "\n".join(sources)
    unused = []
    for name in sorted(runtime):
        module = PROVIDES.get(name, name).replace("-", "_")
        if name not in NOT_IMPORTED and not re.search(rf"^\s*(import|from)\s+{module}\b", code, re.M):
            unused.append(name)
    assert not unused, f"{RUNTIME} pins {unused}, which neither cflearn nor any lesson imports"


def test_binder_gets_tensorflow_cpu_and_macos_gets_tensorflow():
    linux, mac = _pins_for("linux", (RUNTIME,)), _pins_for("darwin", (RUNTIME,))
    assert "tensorflow-cpu" in linux and "tensorflow" not in linux
    assert "tensorflow" in mac and "tensorflow-cpu" not in mac  # tensorflow-cpu has no macOS wheels


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_pyproject_requirements_are_satisfied_by_the_pins(platform):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins_for(platform)
    for dist, alias in PROVIDES.items():
        if dist in pins:
            pins.setdefault(alias, pins[dist])
    groups = {"dependencies": project["dependencies"]}
    groups.update({f"[{k}]": v for k, v in project.get("optional-dependencies", {}).items() if k not in UNPINNED_EXTRAS})
    env = _marker_env(platform)
    problems = []
    for group, deps in groups.items():
        for text in deps:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = canonicalize_name(req.name)
            if name not in pins:
                problems.append(f"{group}: {text} is not pinned in {RUNTIME} or {DEV}")
            elif not req.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{group}: {text} is not satisfied by the pin {name}=={pins[name]}")
    assert not problems, f"on {platform}:\n  " + "\n  ".join(problems)


# -- environment.yml (Binder, conda) ---------------------------------------------------------------


def test_environment_yml_python_channels_and_jupyterlab():
    env = _environment_yml()
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pythons = [d for d in conda if re.match(r"python\b", d)]
    assert pythons == ["python=3.11"], f"environment.yml should pin python=3.11, found {pythons}"
    assert "pip" in conda, "environment.yml needs `- pip`: postBuild installs the pins with it"
    assert "conda-forge" in env.get("channels", []), "use conda-forge (the defaults channel needs a licence)"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "3.11" in SpecifierSet(requires), f"python=3.11 is outside pyproject's requires-python {requires}"
    # JupyterLab comes from conda with a range, so that on Binder the solver keeps it consistent with
    # repo2docker's notebook package; the range must hold the version the course is tested with.
    (lab,) = [d for d in conda if re.match(r"jupyterlab\b", d)]
    spec = lab[len("jupyterlab"):].strip()
    assert spec and not re.match(r"=?=", spec), f"environment.yml: {lab!r} should be a range, not an exact pin"
    assert SpecifierSet(spec).contains(_pins_for("linux")["jupyterlab"]), f"{lab!r} excludes {DEV}'s JupyterLab"


def test_environment_yml_leaves_pip_installs_to_postbuild():
    # a pip section would be installed by micromamba with pip's cache on, and the cache stays in the image
    pip = [d for d in _environment_yml()["dependencies"] if isinstance(d, dict)]
    assert not pip, "environment.yml: install the pins in postBuild (pip --no-cache-dir -r requirements.txt)"


def test_every_environment_yml_dependency_says_who_needs_it():
    lines = [l for l in (REPO / "environment.yml").read_text().splitlines() if re.match(r"\s*- ", l)]
    bare = [l.strip() for l in lines if "#" not in l and not re.match(r"\s*- (conda-forge|nodefaults)", l)]
    assert not bare, f"environment.yml: add a comment saying who needs each of {bare}"


def test_no_other_binder_configuration_overrides_environment_yml():
    # repo2docker uses binder/ or .binder/ instead of the root when they exist, and a
    # requirements.txt next to environment.yml is ignored by it: keep one configuration
    for folder in ("binder", ".binder"):
        assert not (REPO / folder).exists(), f"{folder}/ would make repo2docker ignore environment.yml"
    for name in ("Pipfile", "setup.py", "runtime.txt", "Dockerfile", "apt.txt"):
        assert not (REPO / name).exists(), f"{name} changes how repo2docker builds; environment.yml is the one source"


# -- JupyterLab settings ----------------------------------------------------------------------------


def test_jupyterlab_settings_shut_a_closed_notebooks_kernel_down():
    overrides = json.loads((REPO / ".jupyter" / "overrides.json").read_text())
    assert overrides["@jupyterlab/notebook-extension:tracker"]["kernelShutdown"] is True
    # every setting names a real one of the installed JupyterLab (a misspelt one is silently ignored)
    schemas = Path(sys.prefix, "share", "jupyter", "lab", "schemas")
    if not schemas.is_dir():
        pytest.skip(f"no JupyterLab schemas in {schemas}")
    for plugin, values in overrides.items():
        package, name = plugin.split(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        unknown = set(values) - set(schema["properties"])
        assert not unknown, f"{plugin} has no setting {unknown}"


# -- the Makefile and postBuild, run with a stand-in Python -------------------------------------------

# Answers the Makefile's questions as Python 3.11 would, makes `-m venv` a folder holding itself,
# and records every other command (with PIP_NO_CACHE_DIR) instead of running it.
STAND_IN = """#!/bin/sh
case "$1" in
  -c) case "$2" in
        *python_version*) echo "3.11.9 $(realpath "$0")" ;;
        *version_info*) echo "3.11" ;;
        *) echo "python $*" >> "$STAND_IN_LOG"; exit 1 ;;
      esac ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; fi
      echo "python $* no-cache=${PIP_NO_CACHE_DIR:-}" >> "$STAND_IN_LOG" ;;
  --version) echo "Python 3.11.9" ;;
  *) cat > /dev/null; echo "python $*" >> "$STAND_IN_LOG" ;;
esac
"""


@pytest.fixture
def sandbox(tmp_path):
    """A copy of what the Makefile reads, a stand-in python3.11 and its log."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    project = tmp_path / "project"
    for name in ("Makefile", RUNTIME, DEV, "pyproject.toml", ".jupyter/overrides.json", "postBuild"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, project / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python3.11"
    python.write_text(STAND_IN)
    python.chmod(0o755)
    shutil.copy2(python, bin_dir / "python")
    log = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PIP_NO_CACHE_DIR")}
    env.update(STAND_IN_LOG=str(log))
    return project, python, log, env


def _make(project, env, *args):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=project, env=env, capture_output=True, text=True)


def _read(log):
    return log.read_text().splitlines() if log.exists() else []


def _torch_installs(lines):
    return [l for l in lines if re.search(r"pip install .*\btorch==", l)]


def _expected_torch(build="cpu"):
    (version,) = [list(r.specifier)[0].version for r in _requirements(RUNTIME) if r.name == "torch"]
    return f"torch=={version}+cpu" if build == "cpu" else f"torch=={version}"


@pytest.mark.parametrize("how", ["PATH", "PYTHON="])
@pytest.mark.parametrize("answers", ["version-only", "like-python"])
def test_make_refuses_an_old_python_before_creating_anything(sandbox, tmp_path, how, answers):
    project, _, _, env = sandbox
    old = tmp_path / "old" / "python3"
    old.parent.mkdir()
    if answers == "version-only":  # prints its version whatever it is asked
        old.write_text('#!/bin/sh\necho "Python 3.10.12"\n')
    else:  # a real Python 3.10 would answer the -c question with "3.10"
        old.write_text('#!/bin/sh\nif [ "$1" = -c ]; then echo 3.10; else echo "Python 3.10.12"; fi\n')
    old.chmod(0o755)
    if how == "PATH":
        env["PATH"] = f"{old.parent}{os.pathsep}{env['PATH']}"
        done = _make(project, env, "lab")
    else:
        done = _make(project, env, "lab", f"PYTHON={old}")
    assert done.returncode != 0
    message = [l for l in done.stderr.splitlines() if not l.startswith("make:")]
    assert len(message) == 1, done.stderr
    assert "3.11" in message[0] and "3.10" in message[0] and "PYTHON=python3.11" in message[0], message
    assert not (project / ".venv").exists(), "nothing may be created before the Python is checked"


def test_make_setup_installs_the_cpu_torch_and_the_pins_and_remembers_the_python(sandbox):
    project, python, log, env = sandbox
    done = _make(project, env, "setup", f"PYTHON={python}")
    assert done.returncode == 0, done.stderr
    lines = _read(log)
    (torch,) = _torch_installs(lines)
    assert f" {_expected_torch()} " in torch, torch
    assert f"--extra-index-url {TORCH_CPU_INDEX}" in torch and "--no-deps" in torch, torch
    assert "--timeout" in torch and "--retries" in torch, "an unreachable CPU index must fail fast"
    pins = [l for l in lines if f"-r {RUNTIME}" in l]
    assert len(pins) == 1 and f"-r {DEV}" in pins[0] and TORCH_CPU_INDEX not in pins[0], pins
    assert lines.index(torch) < lines.index(pins[0]), "torch's build is installed before the pins"
    assert any("--no-deps -e ." in l for l in lines)
    stamp = (project / ".venv" / ".installed").read_text().split()
    assert stamp == ["python=3.11.9", str(python.resolve()), "torch=cpu"], stamp
    settings = project / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert settings.read_text() == (REPO / ".jupyter" / "overrides.json").read_text()
    # up to date: a second run, without PYTHON=, keeps the environment and installs nothing
    log.unlink()
    done = _make(project, env, "setup")
    assert done.returncode == 0 and _read(log) == [], (done.stdout, _read(log))


def test_make_torch_cuda_takes_pypis_build(sandbox):
    project, python, log, env = sandbox
    assert _make(project, env, "setup", f"PYTHON={python}").returncode == 0
    log.unlink()
    done = _make(project, env, "setup", "TORCH=cuda")
    assert done.returncode == 0, done.stderr
    (torch,) = _torch_installs(_read(log))
    assert f" {_expected_torch('cuda')} " in torch and TORCH_CPU_INDEX not in torch, torch
    assert (project / ".venv" / ".installed").read_text().split()[-1] == "torch=cuda"
    assert "TORCH=cuda" in (REPO / "README.md").read_text(), "README should document TORCH=cuda"
    bad = _make(project, env, "setup", "TORCH=gpu")
    assert bad.returncode != 0 and "TORCH=cpu" in bad.stderr and "TORCH=cuda" in bad.stderr


@pytest.mark.parametrize("previous", ["another-python", "unfinished"])
def test_make_rebuilds_venv_for_another_python_or_an_unfinished_setup(sandbox, previous):
    project, python, log, env = sandbox
    venv = project / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "left-over").write_text("from the previous environment")
    if previous == "another-python":
        (venv / ".installed").write_text("python=3.10.12 /usr/bin/python3.10 torch=cpu\n")
    done = _make(project, env, "setup", f"PYTHON={python}")
    assert done.returncode == 0, done.stderr
    assert not (venv / "left-over").exists(), "the old .venv should have been replaced"
    assert any(" -m venv .venv" in l for l in _read(log))
    assert str(python.resolve()) in (venv / ".installed").read_text()


def test_postbuild_installs_the_same_torch_and_only_the_runtime_pins_without_cache(sandbox):
    project, python, log, env = sandbox
    # the package install and the settings need the repository's files; the stand-in runs nothing
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", str(project / "postBuild")], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = _read(log)
    installs = [l for l in lines if "pip install" in l]
    (torch,) = _torch_installs(installs)
    make_n = _make(project, env, "-n", "setup", f"PYTHON={python}").stdout
    (make_torch,) = [l for l in make_n.splitlines() if re.search(r"pip install .*\btorch==", l)]
    spec = re.search(r"torch==[^\s\"']+", make_torch).group(0)
    assert spec == _expected_torch() and spec in torch, (spec, torch)
    assert TORCH_CPU_INDEX in torch and "--no-deps" in torch
    assert any(f"-r {RUNTIME}" in l for l in installs), installs
    assert not any(DEV in l for l in installs), "Binder does not install the test tools or a JupyterLab pin"
    assert all("--no-cache-dir" in l and l.endswith("no-cache=1") for l in installs), installs
    assert any(re.search(r"pip install .*--no-deps.* -e \.", l) for l in installs), "postBuild installs cflearn itself"
    assert lines.index(torch) < min(lines.index(l) for l in installs if f"-r {RUNTIME}" in l)


def test_postbuild_is_executable():
    path = REPO / "postBuild"
    assert path.read_text().startswith("#!"), "postBuild needs a shebang line"
    assert os.access(path, os.X_OK), "postBuild must be executable (chmod +x postBuild)"
    # a fresh clone gets the mode git recorded, not the mode of this working tree
    done = subprocess.run(["git", "ls-files", "-s", "postBuild"], cwd=REPO, capture_output=True, text=True)
    if done.returncode == 0 and done.stdout.strip():
        assert done.stdout.startswith("100755"), "postBuild is committed without its executable bit"
