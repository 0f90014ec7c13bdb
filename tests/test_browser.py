"""End to end, as a learner sees it: JupyterLab in a real browser runs lessons 00 and 04.

The test starts a JupyterLab server on loopback (from this environment, with a throw-away
token, config and settings) over a temporary copy of lessons/, drives Debian's Chromium
through Playwright, opens a lesson, picks Run > Run All Cells from the menu, waits for the
kernel to finish and checks that every code cell ran and none shows an error; lesson 04 (a
Keras lesson) must show no stderr block either. A full-page screenshot of each goes to
test-artifacts/. A tiny notebook with a deliberate error proves that an error would be seen.
The kernel gets this environment without pytest's variables, as a learner's would.

It needs /usr/bin/chromium (Debian: ``apt-get install chromium``; .ci/run installs it) and
skips with that reason when it is missing; Playwright never downloads a browser here.
Run only this with ``.venv/bin/python -m pytest tests/test_browser.py``; skip it with
``-m "not browser"``.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("CFLEARN_CHROMIUM", "/usr/bin/chromium"))
LESSON = "00_data.ipynb"
KERAS_LESSON = "04_biases.ipynb"
RUN_TIMEOUT = 300  # seconds for Run All on one lesson (a loaded machine is slow)
MAX_SHOT_HEIGHT = 30_000  # pixels: a whole lesson, within what Chromium can capture
# Chromium on a machine with no network, as root, without a screen.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab 4 renders an error's traceback like stderr (data-mime-type vnd.jupyter.stderr), so the
# page alone cannot tell a warning from an error: the notebook model in the page (exposed with
# --LabApp.expose_app_in_browser) is asked for outputs of type "error" and for execution counts.
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'
MODEL_JS = """(path) => {
  const app = window.jupyterapp;
  const panels = Array.from(app.shell.widgets('main')).filter(w => w.context && w.context.path === path);
  if (!panels.length) return null;
  const cells = panels[0].content.model.cells;
  const report = {code: 0, executed: 0, errors: []};
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    report.code += 1;
    if (cell.executionCount !== null && cell.executionCount !== undefined) report.executed += 1;
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      if (out.output_type === 'error') report.errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    }
  }
  return report;
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test",
    ),
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url, proc, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a temporary copy of lessons/; yields (base_url, token, root)."""
    root = tmp_path_factory.mktemp("lab")
    home = root / "home"
    (root / "lessons").mkdir()
    for path in (REPO / "lessons").glob("*.ipynb"):
        if not path.name.endswith(".bak.ipynb"):
            shutil.copy(path, root / "lessons" / path.name)
    # every cell in the DOM (no virtual scrolling), so the test sees every prompt and output
    # and no questions: start the notebook's kernel, never ask about news (there is no network)
    settings = home / "lab-settings" / "@jupyterlab"
    for name, text in {
        "notebook-extension/tracker": '{"windowingMode": "none", "autoStartDefaultKernel": true}',
        "apputils-extension/notification": '{"fetchNews": "false", "checkForUpdates": false}',
    }.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{name}.jupyterlab-settings").write_text(text + "\n")
    port, token = _free_port(), uuid.uuid4().hex
    learner = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CFLEARN_CHECK_LOG"))}
    env = dict(
        learner,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYTHONUNBUFFERED="1",
    )
    # the kernel must be this environment's python (where cflearn is installed)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",
        f"--port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    log = root / "jupyterlab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / "browser-jupyterlab.log")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is pinned in requirements.txt; run `make test`")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def run_all(browser, lab, relpath, screenshot, timeout=RUN_TIMEOUT):
    """Open a notebook in JupyterLab, Run > Run All Cells, wait; return what the page shows."""
    base, token, root = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        # ?reset: a fresh workspace, so the notebook opened by an earlier test is not restored beside it
        page.goto(f"{base}/lab/tree/{relpath}?reset&token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
        _wait_idle(page, 120)
        nb = nbformat.read(root / relpath, as_version=4)
        n_code = sum(c.cell_type == "code" for c in nb.cells)
        started = time.monotonic()
        for attempt in range(3):
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()
            # a Run All sent before the kernel's websocket is up is lost: repeat it if nothing started
            if _started(page, 15):
                break
            _wait_idle(page, 60)
        else:
            raise AssertionError(f"{relpath}: Run > Run All Cells started no cell (kernel status {_status(page)!r})")
        deadline = time.monotonic() + timeout
        while True:
            prompts = _prompts(page)
            done = [p for p in prompts if p.strip().strip("[]:").strip().isdigit()]
            running = [p for p in prompts if "*" in p]
            model = page.evaluate(MODEL_JS, relpath)
            # finished: every cell ran, or Run All stopped at an error (later cells stay unrun)
            if _status(page) == "idle" and not running and (len(done) == n_code or model["errors"]):
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{relpath}: {len(done)} of {n_code} cells finished after {timeout} s (prompts {prompts})"
                )
            page.wait_for_timeout(500)
        page.wait_for_timeout(500)  # let the last outputs render
        model = page.evaluate(MODEL_JS, relpath)
        shown = page.locator(f".jp-NotebookPanel .jp-OutputArea-output{STDERR}").all_inner_texts()
        stderr_texts = [t.strip()[:800] for t in shown]
        outputs = page.locator(".jp-NotebookPanel .jp-OutputArea-output").all_inner_texts()
        return {
            "seconds": round(time.monotonic() - started, 1),
            "checks": [t.strip().split("]")[0] + "]" for t in outputs if re.match(r"\s*\[(passed|failed|not attempted|error)\]", t)],
            "n_code": n_code,
            "n_done": len(done),
            "prompts": prompts,
            "model": model,
            "errors": model["errors"],
            "tracebacks": [t.strip()[-1500:] for t in shown if "Traceback (most recent call last)" in t],
            "stderr": len(shown),
            "stderr_texts": stderr_texts,
        }
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        _full_screenshot(page, ARTIFACTS / screenshot)
        page.close()


def _full_screenshot(page, path):
    """The whole notebook in one image: the notebook scrolls inside its panel, not the page,
    so the window is made as tall as the notebook first."""
    height = page.evaluate(
        """() => { const el = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
                 || document.querySelector('.jp-NotebookPanel .jp-Notebook');
                 return el ? el.scrollHeight : 0; }"""
    )
    width = page.viewport_size["width"]
    if height:
        page.set_viewport_size({"width": width, "height": min(int(height) + 200, MAX_SHOT_HEIGHT)})
        page.wait_for_timeout(500)  # let JupyterLab lay out the taller window
        # Run All leaves the notebook scrolled to its end: show it from its first cell
        page.evaluate(
            """() => document.querySelectorAll('.jp-NotebookPanel .jp-WindowedPanel-outer, .jp-NotebookPanel .jp-Notebook')
                     .forEach(el => { el.scrollTop = 0; })"""
        )
        page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)


def _status(page):
    """The kernel status shown in the notebook toolbar ('idle', 'busy', ...), or '' if not shown yet."""
    indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
    if indicator.count():
        return indicator.first.get_attribute("data-status") or ""
    return ""


def _prompts(page):
    return page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()


def _started(page, timeout):
    """True once any code cell is queued, running or done ([*] or [n])."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.strip().strip("[]:").strip() for p in _prompts(page)):
            return True
        page.wait_for_timeout(300)
    return False


def _wait_idle(page, timeout, steady=3.0):
    """Wait until the kernel has been idle for `steady` seconds (the page says "idle" before it connects)."""
    deadline = time.monotonic() + timeout
    idle_since = None
    while True:
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():  # "Select Kernel": take the notebook's own kernel, as a learner would
            dialog.first.click()
        now = time.monotonic()
        if _status(page) == "idle":
            idle_since = idle_since or now
            if now - idle_since >= steady:
                return
        else:
            idle_since = None
        if now > deadline:
            raise AssertionError(f"the kernel was not ready within {timeout} s (status {_status(page)!r})")
        page.wait_for_timeout(300)


def test_an_error_in_a_cell_is_seen(lab, browser):
    """The detector itself: a notebook whose second cell raises shows exactly one error."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("import sys\nprint('to stderr, not an error', file=sys.stderr)"),
        nbformat.v4.new_code_cell("raise ValueError('a deliberate error')"),
    ]
    nbformat.write(nb, lab[2] / "broken.ipynb")
    shown = run_all(browser, lab, "broken.ipynb", "browser-broken.png", timeout=120)
    # Run All stops at the error: the first cell ran (its stderr is no error), the second shows the traceback
    assert shown["n_done"] == 2 and shown["model"]["executed"] == 2, shown
    assert shown["errors"] == ["cell 1: ValueError: a deliberate error"], shown
    assert shown["stderr"] == 2 and len(shown["tracebacks"]) == 1, shown  # on the page, too


def test_lesson_00_runs_in_jupyterlab_without_an_error(lab, browser):
    if not (lab[2] / "lessons" / LESSON).exists():
        pytest.skip(f"lessons/{LESSON} is not built yet (python -m cflearn.build)")
    shown = run_all(browser, lab, f"lessons/{LESSON}", "browser-00_data.png")
    assert not shown["errors"] and not shown["tracebacks"], (
        f"lessons/{LESSON} shows errors in JupyterLab: {shown['errors']}\n" + "\n---\n".join(shown["tracebacks"])
    )
    assert shown["n_code"] > 0 and shown["n_done"] == shown["n_code"], shown["prompts"]
    assert shown["model"]["executed"] == shown["model"]["code"] == shown["n_code"], shown["model"]
    # the lesson's exercises are unsolved: each check says so, none reports an error
    nb = nbformat.read(REPO / "lessons" / LESSON, as_version=4)
    n_checks = sum(c.source.count("check.run(") for c in nb.cells if c.cell_type == "code")
    assert shown["checks"] == ["[not attempted]"] * n_checks, shown["checks"]
    print(f"lessons/{LESSON}: {shown['n_code']} cells ran in JupyterLab in {shown['seconds']} s")
    assert (ARTIFACTS / "browser-00_data.png").stat().st_size > 10_000


def test_keras_lesson_04_runs_in_jupyterlab_without_an_error_or_a_stderr_block(lab, browser):
    """A learner's Run All of a Keras lesson: every cell runs, no error, no red stderr block
    (TensorFlow's start-up log used to show as two)."""
    if not (lab[2] / "lessons" / KERAS_LESSON).exists():
        pytest.skip(f"lessons/{KERAS_LESSON} is not built yet (python -m cflearn.build)")
    shot = f"browser-{Path(KERAS_LESSON).stem}.png"
    shown = run_all(browser, lab, f"lessons/{KERAS_LESSON}", shot)
    assert not shown["errors"] and not shown["tracebacks"], (
        f"lessons/{KERAS_LESSON} shows errors in JupyterLab: {shown['errors']}\n" + "\n---\n".join(shown["tracebacks"])
    )
    assert shown["n_code"] > 0 and shown["n_done"] == shown["n_code"], shown["prompts"]
    assert shown["model"]["executed"] == shown["model"]["code"] == shown["n_code"], shown["model"]
    assert shown["stderr"] == 0, f"lessons/{KERAS_LESSON} shows {shown['stderr']} stderr block(s):\n" + "\n---\n".join(
        shown["stderr_texts"]
    )
    nb = nbformat.read(REPO / "lessons" / KERAS_LESSON, as_version=4)
    n_checks = sum(c.source.count("check.run(") for c in nb.cells if c.cell_type == "code")
    assert shown["checks"] == ["[not attempted]"] * n_checks, shown["checks"]
    print(f"lessons/{KERAS_LESSON}: {shown['n_code']} cells ran in JupyterLab in {shown['seconds']} s")
    assert (ARTIFACTS / shot).stat().st_size > 10_000
