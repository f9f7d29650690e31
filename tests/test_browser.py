"""The course in a real browser: JupyterLab under headless Chromium, driven by Playwright.

It starts JupyterLab on 127.0.0.1 only, with a token, in quick mode (NST_QUICK=1), on copies of the
notebooks in a temporary folder (so nothing it runs is saved over the committed ones) with their outputs,
execution counts and saved widget state removed (so a prompt number, an output or a panel on the page can
only come from this run), with every cell attached to the page (no lazy rendering), then:
- runs notebook 10 (the studio) top to bottom, clicks the panel's Run button, and checks that the live
  image changes while it paints and that a final image (at a readable size) and "done" appear;
- runs notebook 01 top to bottom and checks that every cell ran and none raised.
Everything it starts (the server, its kernels, the browser) is stopped by its own process id. On a
failure it saves a screenshot, the page's cells (prompt, model state, outputs), the browser console and
the server log into the test's temporary folder and prints their paths.

Needs Debian's ``chromium`` (``apt-get install chromium``; or set NST_CHROMIUM to a Chromium binary) and
the Python package ``playwright`` (``pip install -r requirements-browser.txt``; Playwright's own browser
download is not used): ``make browser`` installs both. Without either it is skipped and says which is
missing; NST_BROWSER_TEST=0 skips it too. CONTRIBUTING.md ("The browser test") has its history.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# Generous limits: a busy 2-core CI machine is slow; only a hang should fail the test.
SERVER_START_S = 180
NOTEBOOK_RUN_S = 900
STUDIO_RUN_S = 300


def _chromium() -> str | None:
    if os.environ.get("NST_CHROMIUM"):
        return os.environ["NST_CHROMIUM"]
    return next(filter(None, (shutil.which(name) for name in ("chromium", "chromium-browser"))), None)


# It runs whenever Playwright and Chromium are there (`make browser` installs both; CI runs it), and adds
# about 1-3 min to `make test`. NST_BROWSER_TEST=0 skips it.
if os.environ.get("NST_BROWSER_TEST", "").strip().lower() in {"0", "false", "no", "off"}:
    pytest.skip("the browser test is switched off (NST_BROWSER_TEST=0)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright: "
                               "make browser, or pip install -r requirements-browser.txt")
if _chromium() is None:
    pytest.skip("the browser test needs Chromium: make browser (as root), apt-get install chromium (Debian/Ubuntu), "
                "or set NST_CHROMIUM to a Chromium binary", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen, what: str) -> None:
    """Stop a process we started, and anything it started (its own process group), by its id."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # JupyterLab shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{what} did not stop within 30 s of SIGTERM: killing it")
    try:  # kernels left behind (the server was started in a new session: its group id is its pid)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


class Lab(NamedTuple):
    base: str  # http://127.0.0.1:port
    token: str
    log: Path  # the server's stdout and stderr
    notebooks: Path  # the folder it serves


def _fresh_copy(source: Path, target: Path) -> None:
    """Copy a notebook without its outputs, execution counts and saved widget state. The committed notebooks
    carry all three (notebook 10 even a saved, dead copy of the studio panel, Run button included, which
    JupyterLab draws from the notebook's metadata), so on a copy a cell that never ran would look as if it had."""
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"].pop("widgets", None)
    target.write_text(json.dumps(notebook, indent=1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server in quick mode on copies of the notebooks."""
    home = tmp_path_factory.mktemp("lab")
    course = home / "notebooks"
    course.mkdir()
    for name in ("01_vgg19_layer_names.ipynb", "10_studio.ipynb"):
        _fresh_copy(NOTEBOOKS / name, course / name)
    settings = {
        # Every cell attached to the page and drawn at once. By default (windowingMode "contentVisibility")
        # JupyterLab 4 inserts the cells in batches when the browser is idle, which a busy machine delays:
        # the page then has fewer cells than the notebook, and a widget's output is drawn once its cell is.
        "notebook-extension/tracker": {"windowingMode": "none"},
        # No "get notified about Jupyter news?" toast over the page.
        "apputils-extension/notification": {"fetchNews": "false"},
    }
    for name, values in settings.items():
        path = home / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token = os.urandom(16).hex()
    port = _free_port()
    env = {**os.environ, "NST_QUICK": "1", "NST_OUTPUT_DIR": str(home / "outputs"),
           # Keep the user's Jupyter settings, workspaces and runtime files out of it, and it out of theirs.
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
               "--ServerApp.port_retries=0", "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate",
               # window.jupyterapp: the kernel's and the cells' state, read by the checks and the failure report
               "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root
    log = open(home / "server.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, f"JupyterLab exited: {(home / 'server.log').read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as answer:
                    json.load(answer)
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within the limit"
                time.sleep(0.5)
        yield Lab(base, token, home / "server.log", course)
    finally:
        _stop(server, "JupyterLab")
        log.close()


# The browser's console, uncaught page errors and the test's own steps, with the seconds since the browser
# started: saved on a failure.
CONSOLE: list[str] = []
_T0 = [time.monotonic()]


def _log(what: str) -> None:
    CONSOLE.append(f"{time.monotonic() - _T0[0]:8.1f} s {what}")


@pytest.fixture(scope="module")
def page(lab):
    CONSOLE.clear()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(), headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [])  # Chromium's sandbox refuses to run as root
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            _T0[0] = time.monotonic()
            page.on("console", lambda message: _log(f"console {message.type}: {message.text}"))
            page.on("pageerror", lambda error: _log(f"page error: {error}"))
            yield page
        finally:
            browser.close()


# The current notebook's kernel is started, connected, and idle. Not the toolbar's indicator: it says "idle"
# from the moment the notebook opens, before the kernel exists, and Run All Cells then silently runs nothing
# (JupyterLab clears each cell when its session has no kernel yet).
KERNEL_READY = """() => {
    const context = window.jupyterapp?.shell.currentWidget?.sessionContext, kernel = context?.session?.kernel;
    return Boolean(context?.isReady && kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
}"""
CODE_PROMPTS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"""


def _open_and_run_all(page, lab, notebook: str) -> None:
    """Open a notebook in JupyterLab, wait for its kernel, run every cell, and wait until the kernel is done."""
    cells = json.loads((lab.notebooks / notebook).read_text())["cells"]
    code_cells = sum(cell["cell_type"] == "code" for cell in cells)
    _log(f"test: opening {notebook}")
    page.goto(f"{lab.base}/lab/tree/{notebook}?reset&token={lab.token}")
    page.wait_for_function(f"() => ({CODE_PROMPTS})().length === {code_cells}", timeout=SERVER_START_S * 1000)
    windowing = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.notebookConfig.windowingMode")
    assert windowing == "none", f"the test's JupyterLab setting windowingMode 'none' was not applied: {windowing}"
    _log(f"test: every code cell on the page; the kernel: {page.evaluate(KERNEL_STATE)}")
    page.wait_for_function(KERNEL_READY, timeout=SERVER_START_S * 1000, polling=250)
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.info; }")
    _log(f"test: kernel ready: {page.evaluate(KERNEL_STATE)}")
    _log("test: Run All Cells")
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    # Done when no cell is queued or running ([*]) and the kernel is idle again.
    page.wait_for_function(
        f"""() => {{
            const prompts = ({CODE_PROMPTS})();
            return ({KERNEL_READY})() && prompts.length === {code_cells} && !prompts.some(p => p.includes('*'));
        }}""", timeout=NOTEBOOK_RUN_S * 1000, polling=500)
    _log("test: no cell queued or running, kernel idle")


def _check_no_error_cell(page, notebook: str) -> None:
    report = page.evaluate(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const cells = [...panel.querySelectorAll('.jp-CodeCell')];
            return cells.map((cell, i) => ({
                index: i,
                prompt: cell.querySelector('.jp-InputPrompt').textContent.trim(),
                output: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
            }));
        }""")
    unrun = [cell["index"] for cell in report if not any(ch.isdigit() for ch in cell["prompt"])]
    errors = [(cell["index"], cell["output"][-800:]) for cell in report
              if "Traceback (most recent call last)" in cell["output"]]
    assert not errors, f"{notebook}: cells that raised: {errors}"
    assert not unrun, f"{notebook}: code cells that did not run: {unrun}"


# The current notebook's kernel as JupyterLab's session sees it (window.jupyterapp).
KERNEL_STATE = """() => {
    const context = window.jupyterapp?.shell.currentWidget?.sessionContext, kernel = context?.session?.kernel;
    return context ? {displayStatus: context.kernelDisplayStatus, isReady: context.isReady, id: kernel?.id ?? null,
                      status: kernel?.status ?? null, connection: kernel?.connectionStatus ?? null} : null;
}"""
# What the page shows and what JupyterLab's models hold, cell by cell, for a failure report.
PAGE_STATE = """() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const dom = panel ? [...panel.querySelectorAll('.jp-CodeCell')].map(cell => ({
        prompt: cell.querySelector('.jp-InputPrompt')?.textContent ?? null,
        outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o =>
            `${o.dataset.mimeType ?? '?'}: ${o.innerText.slice(0, 300)}`),
    })) : null;
    const widget = window.jupyterapp?.shell.currentWidget;
    const cells = widget?.content?.widgets?.filter(cell => cell.model.type === 'code').map(cell => ({
        executionCount: cell.model.executionCount, executionState: cell.model.executionState,
        placeholder: cell.isPlaceholder?.(), attached: cell.isAttached,
        outputs: cell.model.outputs.toJSON().map(o => o.output_type + ' ' + Object.keys(o.data ?? {}).join(',')),
    }));
    return {
        url: location.href, title: document.title, dom, cells,
        windowingMode: widget?.content?.notebookConfig?.windowingMode,
        kernel: (KERNEL_STATE)(),
        indicator: panel?.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status ?? null,
        dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.slice(0, 500)),
        notifications: [...document.querySelectorAll('.jp-toast-message, .Toastify__toast')].map(t => t.innerText),
    };
}""".replace("(KERNEL_STATE)", f"({KERNEL_STATE})")


@contextlib.contextmanager
def _report_failure(page, lab: Lab, folder: Path):
    """On a failure, save what explains it into ``folder`` and print where: a screenshot, the page's and the
    models' state cell by cell, the browser console and a copy of the server log."""
    try:
        yield
        print("timeline:", *(line for line in CONSOLE if " s test: " in line), sep="\n")
    except BaseException:
        saved = []
        with contextlib.suppress(Exception):
            page.screenshot(path=folder / "page.png", full_page=True, timeout=30_000)
            saved.append(folder / "page.png")
        with contextlib.suppress(Exception):
            (folder / "page_state.json").write_text(json.dumps(page.evaluate(PAGE_STATE), indent=1))
            saved.append(folder / "page_state.json")
        (folder / "console.txt").write_text("\n".join(CONSOLE) + "\n")
        shutil.copy(lab.log, folder / "server.log")
        saved += [folder / "console.txt", folder / "server.log"]
        print("the browser test failed; what the page, the browser and the server showed:",
              *(f"  {path}" for path in saved), sep="\n")
        raise


# Records every new picture of an <img> (a content hash, read before the blob URL is revoked) and every
# text of an element, from the moment it is installed.
WATCH = """([imageSelector, textSelector]) => {
    const image = document.querySelector(imageSelector), text = document.querySelector(textSelector);
    window.nstImages = []; window.nstTexts = [text.innerText];
    const record = src => fetch(src).then(r => r.arrayBuffer()).then(buffer => {
        let hash = 2166136261;
        for (const byte of new Uint8Array(buffer)) { hash = Math.imul(hash ^ byte, 16777619) >>> 0; }
        window.nstImages.push(hash);
    }).catch(() => window.nstImages.push('unreadable'));
    new MutationObserver(() => record(image.src)).observe(image, {attributes: true, attributeFilter: ['src']});
    new MutationObserver(() => window.nstTexts.push(text.innerText))
        .observe(text, {childList: true, subtree: true, characterData: true});
}"""


def test_the_studio_paints_live_in_a_browser(page, lab, tmp_path):
    with _report_failure(page, lab, tmp_path):
        _studio_paints_live(page, lab)


def _studio_paints_live(page, lab):
    _open_and_run_all(page, lab, "10_studio.ipynb")
    _check_no_error_cell(page, "10_studio.ipynb")
    run = page.locator("button.nst-studio-run")
    # The widget manager draws the panel after the cell's output arrives, asynchronously: wait for it.
    try:
        page.wait_for_function("() => document.querySelectorAll('button.nst-studio-run').length > 0", timeout=120_000)
    except sync_api.TimeoutError:
        pass  # the assertion below says what is missing
    assert run.count() == 1, f"the studio panel (its Run button) is not on the page: {run.count()} Run buttons"
    run.scroll_into_view_if_needed()
    _log("test: the studio panel is on the page")
    live, status = "img.nst-studio-live", ".nst-studio-status"
    page.evaluate(WATCH, [live, status])
    run.click()
    page.wait_for_function("() => window.nstTexts.some(t => /^(running|step)/.test(t)) && "
                           "/^done/.test(window.nstTexts[window.nstTexts.length - 1])",
                           timeout=STUDIO_RUN_S * 1000, polling=200)
    page.wait_for_function("() => !document.querySelector('button.nst-studio-run').disabled", timeout=30_000)
    _log("test: the studio painted and said done")
    images = page.evaluate("() => window.nstImages")
    texts = page.evaluate("() => window.nstTexts")
    assert "unreadable" not in images, images
    # The start, at least one step while painting, and the final image: at least three different pictures.
    assert len(set(images)) >= 3, f"the live image did not change while painting: {images}, status {texts}"
    assert any(text.startswith("step ") for text in texts), texts
    width = page.evaluate(f"() => document.querySelector('{live}').getBoundingClientRect().width")
    natural = page.evaluate(f"() => document.querySelector('{live}').naturalWidth")
    assert width >= 256 and natural >= 256, (width, natural)  # a 48 px quick-mode result, shown readable


def test_notebook_01_runs_without_an_error_in_a_browser(page, lab, tmp_path):
    with _report_failure(page, lab, tmp_path):
        _open_and_run_all(page, lab, "01_vgg19_layer_names.ipynb")
        _check_no_error_cell(page, "01_vgg19_layer_names.ipynb")
