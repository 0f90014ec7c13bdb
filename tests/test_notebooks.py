"""Execute every notebook in solutions/ and lessons/ and check what their exercise checks logged.

Solutions must run without errors with every check "passed"; lessons (answers stubbed)
must run without errors with every check "not attempted". In both, the exercises run must
be exactly those registered for the lesson. Executed copies go to test-artifacts/.
Skip these with ``pytest -m "not notebook"``; pick a folder with ``--notebooks solutions``.
"""

import json
import os
import re
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from cflearn import check

from conftest import ARTIFACTS, NOTEBOOK_RUNS

REPO = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 300  # seconds per cell
FOLDERS = {"solutions": "passed", "lessons": "not attempted"}


def _notebooks(folder):
    return sorted(p for p in (REPO / folder).glob("*.ipynb") if not p.name.endswith(".bak.ipynb"))


ALL = [pytest.param(p, id=f"{p.parent.name}/{p.name}") for f in FOLDERS for p in _notebooks(f)]


def _lesson_number(path):
    match = re.match(r"(\d\d)_", path.name)
    assert match, f"{path.name}: notebook names start with a two-digit lesson number, e.g. 03_dot_product.ipynb"
    return match.group(1)


@pytest.mark.parametrize("path", ALL)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: clear outputs before committing (cells {dirty})"


def test_every_lesson_with_exercises_has_a_solution_notebook():
    numbers = {_lesson_number(p) for p in _notebooks("solutions")}
    missing = sorted(set(check.names_by_lesson()) - numbers)
    assert not missing, f"exercises registered for lessons {missing} but no solutions/NN_*.ipynb"


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
    """Peak memory of the kernel process (plus its children), sampled in a thread and after each cell."""

    def __init__(self, client, interval=0.2):
        self.client, self.interval, self.peak, self._proc = client, interval, 0, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        client.on_cell_executed = lambda **kwargs: self.sample()  # the kernel is alive here

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self):
        try:
            if self._proc is None:
                pid = getattr(getattr(getattr(self.client, "km", None), "provisioner", None), "pid", None)
                self._proc = psutil.Process(pid) if pid else None
            if self._proc is not None:
                children = sum(c.memory_info().rss for c in self._proc.children(recursive=True))
                self.peak = max(self.peak, _high_water_mark(self._proc) + children)
        except (psutil.Error, AttributeError, TypeError, ValueError):
            self._proc = None

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


@pytest.mark.notebook
@pytest.mark.parametrize("path", ALL)
def test_notebook_runs(path, tmp_path, monkeypatch, request):
    from nbclient import NotebookClient

    folder = path.parent.name
    wanted = request.config.getoption("--notebooks")
    if wanted not in ("all", folder):
        pytest.skip(f"--notebooks {wanted}")
    expected_status = FOLDERS[folder]
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("CFLEARN_CHECK_LOG", str(log))  # the kernel inherits this environment

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start, outcome = time.perf_counter(), "error"
    with _PeakMemory(client) as memory:
        try:
            client.execute()
            outcome = "ok"
        finally:
            seconds = time.perf_counter() - start
            out_dir = ARTIFACTS / folder
            out_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out_dir / path.name)
            peak_mb = memory.peak / 2**20
            NOTEBOOK_RUNS.append(
                {"folder": folder, "name": path.name, "seconds": round(seconds, 1), "peak_mb": round(peak_mb), "outcome": outcome}
            )
            print(f"{folder}/{path.name}: {seconds:.1f} s, peak kernel memory {peak_mb:.0f} MB ({outcome})")

    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    wrong = [r for r in runs if r["status"] != expected_status]
    assert not wrong, f"{folder}/{path.name}: expected every check {expected_status!r}, got {wrong}"
    registered = set(check.names(lesson=_lesson_number(path)))
    ran = {r["name"] for r in runs}
    assert ran == registered, (
        f"{folder}/{path.name}: exercises checked {sorted(ran)} but lesson registers {sorted(registered)}"
        f" (missing: {sorted(registered - ran)}, unknown: {sorted(ran - registered)})"
    )
