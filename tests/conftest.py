"""Shared pytest setup: markers, the ``--notebooks`` option, and the notebook checks nbval lacks.

nbval (``--nbval-lax``, set in pyproject.toml) runs every notebook in solutions/ and lessons/,
one test item per code cell, failing a cell that raises. An exercise check never raises, so
``NotebookChecks`` below reads the check log (``CFLEARN_CHECK_LOG``, one per notebook) after
each cell and fails the cell whose check said the wrong thing: anything but "passed" in
solutions/, anything but "not attempted" in lessons/. After a notebook's last cell it fails
that cell unless the exercises checked are exactly those registered for the lesson, and unless
every claim ``tests/claims.py`` lists for the lesson holds on the numbers the notebook recorded
with ``claims.record`` (``CFLEARN_CLAIMS_LOG``, one per notebook). It also
marks every cell ``notebook``, times each notebook, samples its kernel's peak memory, writes the
executed copy to test-artifacts/ and prints a summary.

Run one notebook with ``python -m pytest -m notebook -k "solutions and 03_"``.
"""

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
FOLDERS = {"solutions": "passed", "lessons": "not attempted"}  # the status every check must say

# one record per executed notebook: folder, name, seconds, peak_mb, outcome, stderr_cells
NOTEBOOK_RUNS: list = []


def pytest_addoption(parser):
    parser.addoption(
        "--notebooks",
        choices=("all", "solutions", "lessons"),
        default="all",
        help="which notebook folders are executed (default: all)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", 'notebook: executes a course notebook (slow); skip with -m "not notebook"')
    config.addinivalue_line("markers", 'browser: drives JupyterLab in Chromium; skip with -m "not browser"')
    # a plugin object, not conftest hooks: the cells live in solutions/ and lessons/, where
    # hooks of tests/conftest.py would not be called
    if not config.pluginmanager.has_plugin("cflearn-notebooks"):
        config.pluginmanager.register(NotebookChecks(config), "cflearn-notebooks")


def lesson_number(path):
    """The two-digit lesson number a notebook's name starts with."""
    match = re.match(r"(\d\d)_", Path(path).name)
    assert match, f"{Path(path).name}: notebook names start with a two-digit lesson number, e.g. 03_dot_product.ipynb"
    return match.group(1)


def _is_cell(item):
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def _high_water_mark(proc):
    """Peak resident memory of a process in bytes (Linux VmHWM; current RSS elsewhere)."""
    try:
        with open(f"/proc/{proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return proc.memory_info().rss


class _PeakMemory:
    """Peak memory of a kernel process (plus its children), sampled in a thread and after each cell."""

    def __init__(self, pid, interval=0.2):
        self.peak, self.interval = 0, interval
        try:
            self._proc = psutil.Process(pid) if pid else None
        except psutil.Error:
            self._proc = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def sample(self):
        try:
            if self._proc is not None:
                children = sum(c.memory_info().rss for c in self._proc.children(recursive=True))
                self.peak = max(self.peak, _high_water_mark(self._proc) + children)
        except (psutil.Error, ValueError):
            self._proc = None  # the kernel has gone: keep the last peak

    def stop(self):
        self.sample()
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


class _Run:
    """What is tracked while one notebook runs."""

    def __init__(self, nbfile, log, previous_log, claims_log=None, previous_claims_log=None):
        self.previous_log = previous_log  # restored once the notebook is done
        self.claims_log, self.previous_claims_log = claims_log, previous_claims_log
        path = Path(str(nbfile.fspath))
        self.path, self.folder, self.log = path, path.parent.name, log
        self.expected = FOLDERS.get(self.folder)
        self.start = time.perf_counter()
        self.seconds = None
        self.memory = None
        self.offset = 0  # bytes of the check log already read
        self.checks = []  # every record logged so far
        self.failed = False  # a cell failed (shown in the summary)
        self.errored = False  # a cell raised, so later checks may not have run
        self.stderr_cells = []  # code-cell indices that wrote to stderr

    def new_checks(self):
        """Records the kernel appended to the check log since the last call."""
        if not self.log.exists():
            return []
        with open(self.log, encoding="utf-8") as fh:
            fh.seek(self.offset)
            text = fh.read()
        complete = text[: text.rfind("\n") + 1]  # a line still being written waits for next time
        self.offset += len(complete.encode("utf-8"))
        records = [json.loads(line) for line in complete.splitlines() if line.strip()]
        self.checks += records
        return records


class NotebookChecks:
    """The checks nbval does not do on the course notebooks (see the module docstring)."""

    def __init__(self, config):
        self.config = config
        self.runs = {}  # IPyNbFile nodeid -> _Run
        self.complete = set()  # nodeids of notebooks whose every code cell is selected
        self.tmp = Path(tempfile.mkdtemp(prefix="cflearn-check-logs-"))

    # -- collection -------------------------------------------------------------------------
    @pytest.hookimpl
    def pytest_ignore_collect(self, collection_path, config):
        if collection_path.suffix != ".ipynb":
            return None
        if collection_path.name.endswith(".bak.ipynb"):  # the builder's backup of a hand-edited lesson
            return True
        wanted = config.getoption("--notebooks")
        if wanted != "all" and collection_path.parent.name in FOLDERS and collection_path.parent.name != wanted:
            return True
        return None

    @pytest.hookimpl
    def pytest_itemcollected(self, item):
        if _is_cell(item):  # here, so that -m "not notebook" sees the marker
            item.add_marker(pytest.mark.notebook)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        per_file = {}
        for item in items:  # what is left after -k and -m
            if _is_cell(item):
                per_file.setdefault(item.parent, []).append(item)
        for nbfile, cells in per_file.items():
            if len(cells) == sum(c.cell_type == "code" for c in nbfile.nb.cells):
                self.complete.add(nbfile.nodeid)

    # -- running ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        nbfile = getattr(item, "parent", None)
        if _is_cell(item) and nbfile.nodeid not in self.runs:
            # before nbval starts this notebook's kernel, which inherits os.environ
            log = self.tmp / f"{len(self.runs):03d}-checks.jsonl"
            claims_log = self.tmp / f"{len(self.runs):03d}-claims.jsonl"
            self.runs[nbfile.nodeid] = _Run(nbfile, log, os.environ.get("CFLEARN_CHECK_LOG"), claims_log,
                                            os.environ.get("CFLEARN_CLAIMS_LOG"))
            os.environ["CFLEARN_CHECK_LOG"] = str(log)
            os.environ["CFLEARN_CLAIMS_LOG"] = str(claims_log)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if not _is_cell(item):
            return (yield)
        run = self.runs[item.parent.nodeid]
        if run.memory is None:
            kernel = item.parent.kernel
            pid = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "pid", None)
            run.memory = _PeakMemory(pid)
        try:
            result = yield
        except BaseException:
            run.failed = True
            # a cell that raised (or timed out) may have stopped a check from running
            outputs = item.test_outputs or []
            run.errored |= item.parent.timed_out or any(o.get("output_type") == "error" for o in outputs)
            self._after_cell(item, run, judge=False)  # the cell's own error is the one to report
            raise
        self._after_cell(item, run)
        return result

    def _after_cell(self, item, run, judge=True):
        """Note stderr, then fail the cell if its checks (or, at the end, the notebook's) are wrong."""
        run.memory.sample()
        outputs = item.test_outputs or []
        if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in outputs):
            run.stderr_cells.append(item.cell_num)
        item.cell.outputs, item.cell.execution_count = outputs, item.cell_num + 1  # for the executed copy
        records = run.new_checks()
        if not judge or run.expected is None:
            return
        wrong = [r for r in records if r.get("status") != run.expected]
        if wrong:
            run.failed = True
            said = "; ".join(f"{r.get('name')!r} says {r.get('status')!r}" for r in wrong)
            item.raise_cell_error(f"exercise check {said}: in {run.folder}/ every check must say {run.expected!r}")
        last = item.cell_num == sum(c.cell_type == "code" for c in item.parent.nb.cells) - 1
        # only when every cell was selected and none raised: otherwise some checks never ran
        if last and item.parent.nodeid in self.complete and not run.errored:
            from cflearn import check

            registered = set(check.names(lesson=lesson_number(run.path)))
            ran = {r.get("name") for r in run.checks}
            if ran != registered:
                run.failed = True
                item.raise_cell_error(
                    f"the exercises checked were {sorted(ran)} but lesson {lesson_number(run.path)} registers"
                    f" {sorted(registered)} (missing: {sorted(registered - ran)}, unknown: {sorted(ran - registered)})"
                )
            # every sentence the lesson states about a result, against the numbers it recorded
            import claims

            values = claims.load(run.claims_log) if run.claims_log.exists() else {}
            false = claims.failures(lesson_number(run.path), values)
            if false:
                run.failed = True
                item.raise_cell_error("a claim in the lesson's text is not what it measured:\n" + "\n".join(false))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if _is_cell(item) and report.failed and item.parent.nodeid in self.runs:
            self.runs[item.parent.nodeid].failed = True
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        if _is_cell(item) and (nextitem is None or getattr(nextitem, "parent", None) is not item.parent):
            run = self.runs.get(item.parent.nodeid)
            if run is not None and run.seconds is None:
                self._finish(item.parent, run)  # before nbval stops the kernel
        return (yield)

    def _finish(self, nbfile, run):
        import nbformat

        run.seconds = time.perf_counter() - run.start
        # the next test sees the environment it would have seen
        for name, previous in (("CFLEARN_CHECK_LOG", run.previous_log), ("CFLEARN_CLAIMS_LOG", run.previous_claims_log)):
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        if run.memory is not None:
            run.memory.stop()
        peak_mb = (run.memory.peak if run.memory else 0) / 2**20
        record = {
            "folder": run.folder,
            "name": run.path.name,
            "seconds": round(run.seconds, 1),
            "peak_mb": round(peak_mb),
            "outcome": "failed" if run.failed else "ok",
            "stderr_cells": run.stderr_cells,
        }
        NOTEBOOK_RUNS.append(record)
        out_dir = ARTIFACTS / run.folder
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(nbfile.nb, out_dir / run.path.name)  # the executed copy, outputs as nbval saw them
        except (OSError, ValueError) as exc:
            print(f"could not write the executed copy of {run.path.name}: {exc}")


def pytest_terminal_summary(terminalreporter):
    if not NOTEBOOK_RUNS:
        return
    tr = terminalreporter
    tr.section("notebook wall time and peak kernel memory")
    for run in NOTEBOOK_RUNS:
        noisy = f"  stderr in cells {run['stderr_cells']}" if run["stderr_cells"] else ""
        tr.write_line(
            f"{run['folder']:>9}/{run['name']:<32} {run['seconds']:7.1f} s  {run['peak_mb']:7.0f} MB  {run['outcome']}{noisy}"
        )
    total = sum(run["seconds"] for run in NOTEBOOK_RUNS)
    tr.write_line(f"total {total:.0f} s for {len(NOTEBOOK_RUNS)} notebook(s); executed copies in {ARTIFACTS}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook-runs.json").write_text(json.dumps(NOTEBOOK_RUNS, indent=1) + "\n")
