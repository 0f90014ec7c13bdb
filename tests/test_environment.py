"""The pinned environment is one thing, written in three places that must agree.

requirements.txt holds the exact pins (the Makefile and CI install it); environment.yml
(Binder, conda) must list the same packages at the same versions with the same
environment markers; pyproject.toml's loose requirements (kept loose for Colab) must be
satisfied by those pins; postBuild must install the package on Binder.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent

# Marker environments we promise to support. Binder is Linux.
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "darwin": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "win32": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}
# A pinned distribution that provides an import package under another distribution name.
PROVIDES = {"tensorflow-cpu": "tensorflow"}
# Extras that are optional tools outside the course environment (not pinned on purpose).
UNPINNED_EXTRAS = {"bench"}


def _marker_env(platform, python="3.11"):
    env = default_environment()
    env.update(PLATFORMS[platform])
    env.update(python_version=python, python_full_version=f"{python}.0")
    return env


def _requirements_txt():
    reqs = []
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            assert not line.startswith("-"), f"requirements.txt: options do not belong here: {line!r}"
            reqs.append(Requirement(line))
    return reqs


def _environment_yml():
    return yaml.safe_load((REPO / "environment.yml").read_text())


def _yml_pip_entries():
    pip = [d for d in _environment_yml()["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one `- pip:` section"
    return pip[0]["pip"]


def _yml_pip_requirements():
    return [Requirement(e) for e in _yml_pip_entries() if not e.startswith("-")]


def _key(req):
    return (canonicalize_name(req.name), str(req.specifier), str(req.marker or ""), tuple(sorted(req.extras)))


def _pins_for(platform):
    """{canonical name: pinned version} of what installs on that platform."""
    env = _marker_env(platform)
    pins = {}
    for req in _requirements_txt():
        if req.marker is None or req.marker.evaluate(env):
            (spec,) = req.specifier
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_requirements_are_exact_pins():
    for req in _requirements_txt():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version, (
            f"requirements.txt: {req} must be pinned exactly (name==version)"
        )


def test_environment_yml_matches_requirements_txt():
    txt = {_key(r): str(r) for r in _requirements_txt()}
    yml = {_key(r): str(r) for r in _yml_pip_requirements()}
    missing = sorted(txt[k] for k in set(txt) - set(yml))
    extra = sorted(yml[k] for k in set(yml) - set(txt))
    assert not missing and not extra, (
        "environment.yml and requirements.txt disagree (requirements.txt is the source of the pins):\n"
        f"  in requirements.txt only: {missing}\n  in environment.yml only: {extra}"
    )
    names = [canonicalize_name(r.name) + str(r.marker or "") for r in _yml_pip_requirements()]
    assert len(names) == len(set(names)), "environment.yml lists a package twice"


def test_environment_yml_python_and_channels():
    env = _environment_yml()
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pythons = [d for d in conda if re.match(r"python\b", d)]
    assert pythons == ["python=3.11"], f"environment.yml should pin python=3.11, found {pythons}"
    assert "pip" in conda, "environment.yml needs `- pip` so the pip section can be installed"
    assert "conda-forge" in env.get("channels", []), "use conda-forge (the defaults channel needs a licence)"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    from packaging.specifiers import SpecifierSet

    assert "3.11" in SpecifierSet(requires), f"python=3.11 is outside pyproject's requires-python {requires}"


def test_binder_gets_tensorflow_cpu_and_macos_gets_tensorflow():
    linux = {canonicalize_name(r.name) for r in _yml_pip_requirements() if r.marker is None or r.marker.evaluate(_marker_env("linux"))}
    mac = {canonicalize_name(r.name) for r in _yml_pip_requirements() if r.marker is None or r.marker.evaluate(_marker_env("darwin"))}
    assert "tensorflow-cpu" in linux and "tensorflow" not in linux
    assert "tensorflow" in mac and "tensorflow-cpu" not in mac  # tensorflow-cpu has no macOS wheels


def test_binder_torch_is_the_cpu_build():
    # the default Linux torch wheels pull several GB of CUDA libraries: too big for Binder
    options = [e for e in _yml_pip_entries() if e.startswith("-")]
    assert any("download.pytorch.org/whl/cpu" in o for o in options), (
        "environment.yml's pip section should add --extra-index-url https://download.pytorch.org/whl/cpu"
    )


def test_every_environment_yml_dependency_says_who_needs_it():
    lines = [l for l in (REPO / "environment.yml").read_text().splitlines() if re.match(r"\s*- ", l)]
    bare = [l.strip() for l in lines if "#" not in l and not re.match(r"\s*- (pip:|conda-forge|nodefaults|--)", l)]
    assert not bare, f"environment.yml: add a comment saying who needs each of {bare}"


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
                problems.append(f"{group}: {text} is not pinned in requirements.txt")
            elif not req.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{group}: {text} is not satisfied by the pin {name}=={pins[name]}")
    assert not problems, f"on {platform}:\n  " + "\n  ".join(problems)


def test_postbuild_installs_the_package_and_is_executable():
    path = REPO / "postBuild"
    text = path.read_text()
    assert text.startswith("#!"), "postBuild needs a shebang line"
    assert os.access(path, os.X_OK), "postBuild must be executable (chmod +x postBuild)"
    commands = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert any(re.search(r"pip install .*--no-deps.* -e \.$", c) for c in commands), (
        "postBuild should install the package without touching the pins: pip install --no-deps -e ."
    )
    # a fresh clone gets the mode git recorded, not the mode of this working tree
    done = subprocess.run(["git", "ls-files", "-s", "postBuild"], cwd=REPO, capture_output=True, text=True)
    if done.returncode == 0 and done.stdout.strip():
        assert done.stdout.startswith("100755"), "postBuild is committed without its executable bit"


def test_no_other_binder_configuration_overrides_environment_yml():
    # repo2docker uses binder/ or .binder/ instead of the root when they exist, and a
    # requirements.txt next to environment.yml is ignored by it: keep one configuration
    for folder in ("binder", ".binder"):
        assert not (REPO / folder).exists(), f"{folder}/ would make repo2docker ignore environment.yml"
    for name in ("Pipfile", "setup.py", "runtime.txt", "Dockerfile", "apt.txt"):
        assert not (REPO / name).exists(), f"{name} changes how repo2docker builds; environment.yml is the one source"
