"""Tests for the lesson builder (cflearn.build)."""

import io
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from cflearn import build

REPO = Path(__file__).resolve().parent.parent

SOLUTION_CODE = """\
def encode_column(values):
    \"\"\"Map values to 0..n-1.\"\"\"
    # BEGIN SOLUTION
    uniques = sorted(set(values))
    return [uniques.index(v) for v in values]
    # END SOLUTION

class Scaler:
    def fit(self, x):
        if x:
            # BEGIN SOLUTION
            self.mean_ = sum(x) / len(x)
            # END SOLUTION
        return self"""


def _notebook(frameworks=("torch",)):
    nb = nbformat.v4.new_notebook()
    nb.metadata["cflearn"] = {"frameworks": list(frameworks)}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Encoding\n\nGoal paragraph.\n\n<!-- badges -->\n\nMore text."),
        nbformat.v4.new_code_cell("placeholder", metadata={"tags": ["setup"]}),
        nbformat.v4.new_code_cell(SOLUTION_CODE),
        nbformat.v4.new_code_cell("print('answer only')", metadata={"tags": ["solution-only"]}),
        nbformat.v4.new_code_cell("check.run('encode_column', encode_column)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="passed")]),
    ]
    return nb


@pytest.fixture
def project(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "solutions").mkdir()
    nbformat.write(_notebook(), tmp_path / "solutions" / "01_encoding.ipynb")
    return tmp_path


def _run(project, *args):
    out = io.StringIO()
    if "--check" in args:
        code = build.check(project, out=out)
    else:
        code = build.build(project, force="--force" in args, out=out)
    return code, out.getvalue()


def _lesson(project, name="01_encoding.ipynb"):
    return nbformat.read(project / "lessons" / name, as_version=4)


def test_stub_keeps_indentation_and_every_region():
    got = build.strip_solutions(SOLUTION_CODE)
    assert "uniques" not in got and "self.mean_" not in got
    lines = got.split("\n")
    assert lines[2] == "    # YOUR CODE HERE"
    assert lines[3] == "    " + build.STUB
    assert "            # YOUR CODE HERE" in lines
    assert "            " + build.STUB in lines
    assert lines[-1] == "        return self"
    assert got.count("NotImplementedError") == 2
    compile(got, "<lesson>", "exec")  # the stub is valid Python


@pytest.mark.parametrize(
    "source",
    ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION", "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"],
)
def test_unbalanced_markers_are_an_error(source):
    with pytest.raises(build.BuildError, match="SOLUTION"):
        build.strip_solutions(source, "x.ipynb cell 2")


def test_build_writes_lesson(project):
    code, text = _run(project)
    assert code == 0, text
    lesson = _lesson(project)
    sources = [c.source for c in lesson.cells]
    assert not any("answer only" in s for s in sources)  # solution-only cell removed
    assert len(lesson.cells) == 4
    assert "raise NotImplementedError" in sources[2] and "uniques" not in sources[2]
    for cell in lesson.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # the solution keeps its answers and outputs; only generated cells changed
    solution = nbformat.read(project / "solutions" / "01_encoding.ipynb", as_version=4)
    assert "uniques" in solution.cells[2].source
    assert solution.cells[4].outputs
    manifest = json.loads((project / "lessons" / build.MANIFEST).read_text())
    assert set(manifest) == {"01_encoding.ipynb"}


def test_badges_and_setup_are_generated_and_idempotent(project):
    url, version = build.project_info(project)
    _run(project)
    first = (project / "solutions" / "01_encoding.ipynb").read_text()
    lesson_first = (project / "lessons" / "01_encoding.ipynb").read_text()
    solution = nbformat.read(project / "solutions" / "01_encoding.ipynb", as_version=4)
    head = solution.cells[0].source
    slug = url.split("github.com/")[1]
    assert f"https://colab.research.google.com/github/{slug}/blob/v{version}/lessons/01_encoding.ipynb" in head
    assert f"https://mybinder.org/v2/gh/{slug}/v{version}?urlpath=lab/tree/lessons/01_encoding.ipynb" in head
    assert head.count(build.BADGES_OPEN) == 1 and head.count(build.BADGES_CLOSE) == 1
    assert head.startswith("# 01 · Encoding") and head.endswith("More text.")
    setup = solution.cells[1].source
    assert "placeholder" not in setup
    assert f"cflearn @ git+{url}@v{version}" in setup
    assert '"google.colab" in sys.modules' in setup
    assert "SEED = 42" in setup and "USE_GPU = True" in setup
    assert "frameworks=('torch',)" in setup
    compile(setup, "<setup>", "exec")
    # a second build changes nothing
    code, _ = _run(project)
    assert code == 0
    assert (project / "solutions" / "01_encoding.ipynb").read_text() == first
    assert (project / "lessons" / "01_encoding.ipynb").read_text() == lesson_first
    assert _run(project, "--check")[0] == 0


def test_missing_frameworks_metadata_is_a_clear_error(project):
    nb = _notebook()
    del nb.metadata["cflearn"]
    nbformat.write(nb, project / "solutions" / "01_encoding.ipynb")
    with pytest.raises(build.BuildError, match="frameworks"):
        _run(project)


def test_refuses_to_overwrite_edited_lesson_then_backs_up_with_force(project):
    _run(project)
    path = project / "lessons" / "01_encoding.ipynb"
    lesson = _lesson(project)
    lesson.cells[2].source = lesson.cells[2].source.replace("# YOUR CODE HERE", "return 42  # my work")
    nbformat.write(lesson, path)
    edited = path.read_text()
    # the solution changes, so a rebuild would overwrite the lesson
    solution = nbformat.read(project / "solutions" / "01_encoding.ipynb", as_version=4)
    solution.cells.append(nbformat.v4.new_markdown_cell("## Summary"))
    nbformat.write(solution, project / "solutions" / "01_encoding.ipynb")
    code, text = _run(project)
    assert code == 1 and "01_encoding.ipynb" in text and "--force" in text
    assert path.read_text() == edited
    code, text = _run(project, "--force")
    assert code == 0
    assert (project / "lessons" / "01_encoding.bak.ipynb").read_text() == edited
    assert "## Summary" in path.read_text()
    # a second forced overwrite keeps the first backup and adds a timestamped one
    nbformat.write(lesson, path)
    solution.cells.append(nbformat.v4.new_markdown_cell("## Going further"))
    nbformat.write(solution, project / "solutions" / "01_encoding.ipynb")
    assert _run(project, "--force")[0] == 0
    backups = sorted(p.name for p in (project / "lessons").glob("01_encoding.*bak.ipynb"))
    assert len(backups) == 2


def test_untracked_lesson_counts_as_learner_work(project):
    (project / "lessons").mkdir()
    (project / "lessons" / "01_encoding.ipynb").write_text("{}")
    code, text = _run(project)
    assert code == 1 and "01_encoding.ipynb" in text
    assert (project / "lessons" / "01_encoding.ipynb").read_text() == "{}"


def test_check_reports_stale_files(project):
    code, text = _run(project, "--check")
    assert code == 1 and "solutions/01_encoding.ipynb" in text and "lessons/01_encoding.ipynb (missing)" in text
    _run(project)
    assert _run(project, "--check")[0] == 0
    path = project / "lessons" / "01_encoding.ipynb"
    path.write_text(path.read_text().replace("YOUR CODE HERE", "edited"))
    code, text = _run(project, "--check")
    assert code == 1 and "lessons/01_encoding.ipynb (differs" in text


def test_check_reports_lesson_without_solution(project):
    _run(project)
    (project / "lessons" / "02_orphan.ipynb").write_text("{}")
    (project / "lessons" / "01_encoding.bak.ipynb").write_text("{}")  # backups are ignored
    code, text = _run(project, "--check")
    assert code == 1 and "02_orphan.ipynb (no solutions/" in text and "bak" not in text


def test_builder_imports_no_framework():
    import subprocess
    import sys

    code = "import sys, cflearn.build, cflearn.check; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'keras', 'tensorflow')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_main_check_exit_status(project):
    assert build.main(["--check", "--root", str(project)]) == 1
    assert build.main(["--root", str(project)]) == 0
    assert build.main(["--check", "--root", str(project)]) == 0


def test_committed_lessons_equal_a_fresh_build():
    out = io.StringIO()
    code = build.check(REPO, out=out)
    assert code == 0, out.getvalue()


def test_forced_builds_in_the_same_second_never_overwrite_a_backup(project, monkeypatch):
    monkeypatch.setattr(build.time, "strftime", lambda fmt: "20250101-120000")  # every build in one second
    _run(project)
    path = project / "lessons" / "01_encoding.ipynb"
    solution_path = project / "solutions" / "01_encoding.ipynb"
    edits = []
    for n in range(4):
        lesson = _lesson(project)
        lesson.cells[2].source += f"\n# my work {n}"
        nbformat.write(lesson, path)
        edits.append(path.read_text())
        solution = nbformat.read(solution_path, as_version=4)
        solution.cells.append(nbformat.v4.new_markdown_cell(f"## Section {n}"))
        nbformat.write(solution, solution_path)
        code, text = _run(project, "--force")
        assert code == 0 and "kept a copy in" in text
    backups = sorted((project / "lessons").glob("01_encoding.*bak.ipynb"))
    assert len(backups) == 4
    assert sorted(p.read_text() for p in backups) == sorted(edits)  # every edit survives
    assert build.check(project, out=io.StringIO()) == 0  # backups are not taken for lessons


@pytest.mark.parametrize("cell_type", ["markdown", "raw"])
def test_solution_markers_outside_code_cells_are_refused(project, cell_type):
    nb = _notebook()
    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_raw_cell
    nb.cells.insert(3, make("Answer:\n# BEGIN SOLUTION\nthe answer is 42\n# END SOLUTION"))
    nbformat.write(nb, project / "solutions" / "01_encoding.ipynb")
    with pytest.raises(build.BuildError, match=f"01_encoding.ipynb cell 3 \\({cell_type}\\).*solution-only"):
        _run(project)
    assert not (project / "lessons" / "01_encoding.ipynb").exists()
    nb.cells[3].metadata["tags"] = ["solution-only"]  # left out of the lesson: fine
    nbformat.write(nb, project / "solutions" / "01_encoding.ipynb")
    assert _run(project)[0] == 0
    assert "the answer is 42" not in (project / "lessons" / "01_encoding.ipynb").read_text()


@pytest.mark.parametrize("line", ["#BEGIN SOLUTION", "# BEGIN SOLUTION: the loop", "# begin solution"])
def test_near_miss_markers_in_code_are_refused(line):
    with pytest.raises(build.BuildError, match="looks like a solution marker"):
        build.strip_solutions(f"x = 1\n{line}\nanswer = 42\n# END SOLUTION", "nb cell 2")


def test_solution_that_is_not_json_names_the_file(project, capsys):
    (project / "solutions" / "02_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert build.main(["--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert "solutions/02_broken.ipynb is not a valid notebook" in err and "Traceback" not in err
    (project / "solutions" / "02_broken.ipynb").write_bytes(b'{"cells": "caf\xe9"}')
    assert build.main(["--root", str(project), "--check"]) == 2
    assert "solutions/02_broken.ipynb is not UTF-8" in capsys.readouterr().err
    (project / "solutions" / "02_broken.ipynb").write_text('{"cells": 3}', encoding="utf-8")
    assert build.main(["--root", str(project)]) == 2
    assert "solutions/02_broken.ipynb" in capsys.readouterr().err


def test_lesson_that_is_not_utf8_is_kept_and_named(project):
    _run(project)
    path = project / "lessons" / "01_encoding.ipynb"
    raw = path.read_bytes().replace(b"Goal paragraph.", b"Goal paragraph. caf\xe9")  # saved as latin-1
    path.write_bytes(raw)
    code, text = _run(project, "--check")
    assert code == 1 and "lessons/01_encoding.ipynb (not UTF-8 text)" in text
    code, text = _run(project)
    assert code == 1 and "01_encoding.ipynb (not UTF-8 text)" in text and path.read_bytes() == raw
    code, text = _run(project, "--force")
    assert code == 0 and (project / "lessons" / "01_encoding.bak.ipynb").read_bytes() == raw
    assert build.check(project, out=io.StringIO()) == 0


@pytest.mark.parametrize("case", ["pinned-installed", "older-installed", "none-installed"])
def test_setup_cell_on_colab_without_network_still_defines_seed_gpu_and_device(case, tmp_path):
    """Run the generated cell in a fresh Python, as Colab would, with a `pip` that cannot reach
    anything (a stand-in on the path, failing the way pip fails when git cannot clone)."""
    import os
    import subprocess
    import sys

    url, version = build.project_info(REPO)
    fake = tmp_path / "fake"
    (fake / "pip").mkdir(parents=True)
    (fake / "pip" / "__init__.py").write_text("")
    log = tmp_path / "pip.log"
    (fake / "pip" / "__main__.py").write_text(
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.stderr.write('  error: subprocess-exited-with-error\\n'\n"
        "                 \"      fatal: unable to access 'https://github.com/x/': Could not resolve host: github.com\\n\"\n"
        "                 'ERROR: Failed to build cflearn\\n')\n"
        "sys.exit(1)\n"
    )
    path = [str(fake), str(REPO)]
    pinned = version
    if case == "older-installed":
        pinned = "9.9.9"  # the cell pins a version newer than the cflearn it finds
    elif case == "none-installed":  # no cflearn at all (the repository is not on the path either)
        (fake / "cflearn").mkdir()
        (fake / "cflearn" / "__init__.py").write_text("raise ImportError('No module named cflearn')\n")
        path = [str(fake)]
    cell = tmp_path / "cell.py"
    cell.write_text(build.setup_source((), url, pinned))
    driver = (
        "import sys, types\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        f"exec(compile(open({str(cell)!r}).read(), '<setup cell>', 'exec'))\n"
        "print('DEFINED', SEED, USE_GPU, dev is not None)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), CFLEARN_DEVICE="cpu")
    done = subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    *printed, defined = done.stdout.strip().splitlines()
    calls = log.read_text().splitlines() if log.exists() else []
    if case == "pinned-installed":
        assert calls == [], "the pinned cflearn is importable: nothing to install"
        assert defined == "DEFINED 42 True True" and len(printed) == 2, done.stdout  # versions, device
    elif case == "older-installed":
        assert len(calls) == 1 and f"cflearn @ git+{url}@v9.9.9" in calls[0], calls
        assert defined == "DEFINED 42 True True", done.stdout
        assert len(printed) == 3 and printed[0].startswith("Could not install cflearn 9.9.9"), printed
        assert "Could not resolve host: github.com" in printed[0] and f"installed cflearn {version}" in printed[0]
    else:
        assert len(calls) == 1, calls
        assert defined == "DEFINED 42 True False", done.stdout  # SEED and USE_GPU set, dev is None
        assert len(printed) == 1, printed
        assert "Could not resolve host" in printed[0] and "run this cell again" in printed[0], printed


def test_outside_a_checkout_the_builder_says_it_needs_one(tmp_path, capsys):
    assert build.main(["--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a checkout of the course repository" in err and "--root" in err
    assert not (tmp_path / "lessons").exists()  # nothing written
