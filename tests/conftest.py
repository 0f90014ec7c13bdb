"""Shared pytest setup: the ``notebook`` marker, the ``--notebooks`` option and a timing summary."""

import json
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# one record per executed notebook: folder, name, seconds, peak_mb (filled by test_notebooks.py)
NOTEBOOK_RUNS: list = []


def pytest_addoption(parser):
    parser.addoption(
        "--notebooks",
        choices=("all", "solutions", "lessons"),
        default="all",
        help="which notebook folders test_notebooks.py executes (default: all)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", 'notebook: executes a course notebook (slow); skip with -m "not notebook"'
    )


def pytest_terminal_summary(terminalreporter):
    if not NOTEBOOK_RUNS:
        return
    tr = terminalreporter
    tr.section("notebook wall time and peak kernel memory")
    for run in NOTEBOOK_RUNS:
        tr.write_line(f"{run['folder']:>9}/{run['name']:<32} {run['seconds']:7.1f} s  {run['peak_mb']:7.0f} MB  {run['outcome']}")
    total = sum(run["seconds"] for run in NOTEBOOK_RUNS)
    tr.write_line(f"total {total:.0f} s for {len(NOTEBOOK_RUNS)} notebook(s); executed copies in {ARTIFACTS}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook-runs.json").write_text(json.dumps(NOTEBOOK_RUNS, indent=1) + "\n")
