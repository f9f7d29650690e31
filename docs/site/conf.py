"""Sphinx configuration of the course's site. Build it with ``make site`` (docs/site/build_site.py stages
the sources in build/site-src/ and runs Sphinx with this folder as its configuration directory)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_site  # noqa: E402  (the staging and run-time helpers, beside this file)

project = "Neural style transfer, from the paper up"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = ["myst_nb"]
nb_execution_mode = "off"  # the committed outputs are the course; nothing runs at build time
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
exclude_patterns = ["**/.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "home_page_in_toc": True,
    "use_download_button": True,  # the theme's own download menu, beside the link on each page
    "show_navbar_depth": 1,
}
html_sourcelink_suffix = ""  # _sources/notebooks/01_....ipynb is the notebook itself, not a .txt copy
html_last_updated_fmt = None
html_copy_source = True

RUNTIMES, RUNTIMES_FROM = build_site.load_runtimes()
TABLE_MARKER = "<!-- the notebooks table -->"
RUNTIME_NOTE = (f"top to bottom in full mode (what is committed) on a 2-core CPU, from `{RUNTIMES_FROM}`"
                if RUNTIMES else "not measured yet")


def _runtime(name: str) -> str:
    return RUNTIMES.get(build_site.notebook_number(name), build_site.NOT_MEASURED)


def _title(cells) -> str:
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def notebooks_table(srcdir: Path) -> str:
    rows = ["| # | notebook | run time on a CPU | download |", "|---|---|---|---|"]
    for nb in sorted((srcdir / "notebooks").glob(build_site.NOTEBOOK_GLOB)):
        title = _title(json.loads(nb.read_text(encoding="utf-8")).get("cells", [])) or nb.stem
        title = title.split("·", 1)[-1].strip()
        rows.append(f"| {nb.name[:2]} | [{title}](notebooks/{nb.name}) | {_runtime(nb.name)} "
                    f"| {{download}}`{nb.name} <notebooks/{nb.name}>` |")
    return "\n".join(rows) + f"\n\nRun times: {RUNTIME_NOTE}."


# notebooks/navigation.py writes a line starting with this under each title: the previous and next
# notebooks and the run time. Where it is there, the banner adds only the download link.
NAVIGATION_MARKER = "**Course:**"


def banner(name: str, with_runtime: bool = True) -> str:
    download = f"{{download}}`Download this notebook <{name}>` and open it in JupyterLab (`make course`) to run it."
    return f"*Run time on a CPU: {_runtime(name)}* · {download}" if with_runtime else download


def add_banner(notebook_json: str, name: str) -> str:
    """The notebook with the download link (and the run time, unless the notebook states it) under its title."""
    nb = json.loads(notebook_json)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        lines = "".join(cell.get("source", "")).split("\n")
        if lines and lines[0].startswith("# "):
            nav = next((i for i, line in enumerate(lines) if line.startswith(NAVIGATION_MARKER)), None)
            at = 1 if nav is None else nav + 1  # under the title, or under the notebook's own line
            cell["source"] = "\n".join([*lines[:at], "", banner(name, nav is None), *lines[at:]])
            return json.dumps(nb)
        break
    nb.setdefault("cells", []).insert(0, {"cell_type": "markdown", "metadata": {}, "source": banner(name)})
    return json.dumps(nb)


def on_source_read(app, docname, source):
    if docname == "index":
        source[0] = source[0].replace(TABLE_MARKER, notebooks_table(Path(app.srcdir)))
    elif docname.startswith("notebooks/") and app.env.doc2path(docname).suffix == ".ipynb":
        source[0] = add_banner(source[0], Path(docname).name + ".ipynb")


def setup(app):
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True}
