"""Build the course's static site from the committed notebooks (``make site``), then check it.

The site is Sphinx with myst-nb (the engine under Jupyter Book 1) and the Jupyter Book theme; the
notebooks are rendered from their committed outputs and never executed. Steps:

1. Stage the sources in ``build/site-src/``, laid out as in the repository: ``index.md`` (from
   ``docs/site/index.md``), every ``notebooks/[0-9]*.ipynb`` (a new notebook is picked up by the glob,
   nothing to list), and every file of the repository that a staged page links to (for example
   ``benchmarks/RESULTS.md``), followed from page to page.
2. ``sphinx-build -W --keep-going`` into ``build/site/``: any warning (a broken cross-reference, an
   image that is missing, a page outside the navigation) fails the build.
3. Check every local link and image in the built HTML (files and ``#anchors``); links to other sites
   are not followed (no internet needed).

Run times on a CPU come from ``notebooks/RUNTIMES.json`` (or a ``notebooks/RUNTIMES.md`` table), the file
that notebooks/navigation.py copies into the line under each notebook's title; a notebook missing
there is shown as "not measured yet" (see :func:`load_runtimes`).
"""

from __future__ import annotations

import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NOTEBOOK_GLOB = "[0-9]*.ipynb"
NOT_MEASURED = "not measured yet"

# ---------------------------------------------------------------------------------------------------
# Run times


_TIME = re.compile(r"(?:\d+:\d\d(?::\d\d)?|\d+(?:\.\d+)?\s*(?:h|min|minutes?|s|sec|seconds?)\b)", re.I)
_NOTEBOOK_REF = re.compile(r"\b(\d\d)(?:_\w+)?(?:\.ipynb)?\b")


def format_seconds(seconds: float, measured: bool = True) -> str:
    """``40 -> 'under a minute'``, ``290 -> 'about 5 min'``; ``' (an estimate)'`` added when not measured
    (the wording of the line that notebooks/navigation.py writes under each notebook's title)."""
    text = "under a minute" if seconds < 60 else f"about {seconds / 60:.0f} min"
    return text if measured else f"{text} (an estimate)"


def _by_number(mapping: dict[str, str]) -> dict[str, str]:
    """Key run times by the notebook's two-digit number, whatever the source used as a key."""
    out = {}
    for key, value in mapping.items():
        match = _NOTEBOOK_REF.search(str(key))
        if match:
            out[match.group(1)] = value
    return out


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_runtimes_json(text: str) -> dict[str, str]:
    """``{"01_vgg19_layer_names": 95.2, "02": "3 min", "03": {"seconds": 300, "measured": false}}``, or
    the same under a ``"runtimes"`` key (the layout of notebooks/RUNTIMES.json)."""
    data = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("runtimes"), dict):
        data = data["runtimes"]
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object mapping notebooks to run times")
    out = {}
    for key, value in data.items():
        measured = True
        if isinstance(value, dict):  # {"seconds": 95, "measured": false, ...}, or the first number in it
            measured = value.get("measured", True) is not False
            value = value.get("seconds", next((v for v in value.values() if _is_number(v)), None))
        if _is_number(value):
            out[key] = format_seconds(value, measured)
        elif isinstance(value, str) and value:
            out[key] = value
    return _by_number(out)


def parse_runtimes_markdown(text: str) -> dict[str, str]:
    """The rows of a Markdown table that name a notebook (``01`` or ``01_vgg19_layer_names``) and a time
    (``95 s``, ``1.5 min``, ``2:05``): the first time-like cell after the notebook's cell is its run time."""
    out = {}
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for i, cell in enumerate(cells):
            match = _NOTEBOOK_REF.search(cell)
            if not match:
                continue
            times = [c for c in cells[i + 1:] if _TIME.search(c)]
            if times:
                out.setdefault(match.group(1), times[0])
            break
    return out


def load_runtimes(root: Path = ROOT) -> tuple[dict[str, str], str]:
    """Run times on a CPU by notebook number, and the file they came from (relative to ``root``)."""
    for path, parse in ((root / "notebooks" / "RUNTIMES.json", parse_runtimes_json),
                        (root / "notebooks" / "RUNTIMES.md", parse_runtimes_markdown)):
        if path.is_file():
            return parse(path.read_text(encoding="utf-8")), path.relative_to(root).as_posix()
    return {}, ""


def notebook_number(name: str) -> str:
    return Path(name).name[:2]


# ---------------------------------------------------------------------------------------------------
# Staging


_MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_SRC = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


def local_links(text: str) -> list[str]:
    """Relative link and image targets in Markdown text (no scheme, no pure #anchor), without anchors."""
    found = []
    for target in _MD_LINK.findall(text) + _HTML_SRC.findall(text):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        found.append(unquote(parts.path))
    return found


def _page_text(path: Path) -> str:
    """The Markdown of a page: the file itself, or a notebook's markdown cells."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        cells = json.loads(text).get("cells", [])
        return "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "markdown")
    return text


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob(NOTEBOOK_GLOB))


def stage(stage_dir: Path, root: Path = ROOT) -> list[str]:
    """Copy the site's sources into ``stage_dir`` (emptied first); return the staged paths (posix, relative).

    Pages linked from a staged page are staged too, at the same relative path, and followed in turn;
    Markdown pages reached this way get ``orphan: true`` (they are in the site, not in its sidebar).
    A link to a file that does not exist is left alone: Sphinx then reports it and the build fails.
    """
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    shutil.copy2(root / "docs" / "site" / "index.md", stage_dir / "index.md")
    staged = ["index.md"]
    for nb in notebooks(root):
        (stage_dir / "notebooks").mkdir(exist_ok=True)
        shutil.copy2(nb, stage_dir / "notebooks" / nb.name)
        staged.append(f"notebooks/{nb.name}")
    # The index lives at the root of the stage but is written as if it sat at the repository's root.
    origin = {"index.md": root / "index.md"}
    todo = list(staged)
    root_resolved = root.resolve()
    while todo:
        rel = todo.pop()
        source = origin.get(rel, root / rel)
        page = stage_dir / rel
        if page.suffix not in (".md", ".ipynb"):
            continue
        for link in local_links(_page_text(page)):
            target = (source.parent / link).resolve()
            try:
                target_rel = target.relative_to(root_resolved).as_posix()
            except ValueError:
                continue  # outside the repository: Sphinx will report it
            if target_rel in staged or not target.is_file():
                continue
            dest = stage_dir / target_rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if target.suffix == ".md":
                dest.write_text("---\norphan: true\n---\n" + target.read_text(encoding="utf-8"), encoding="utf-8")
            else:
                shutil.copy2(target, dest)
            staged.append(target_rel)
            todo.append(target_rel)
    return staged


# ---------------------------------------------------------------------------------------------------
# Local link check of the built HTML


class _LinkParser(html.parser.HTMLParser):
    ATTRS = {"href", "src"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            elif name in self.ATTRS and value and not (tag == "link" and ("rel", "preconnect") in attrs):
                self.links.append(value)


def check_links(out_dir: Path) -> list[str]:
    """Every local ``href``/``src`` in the HTML under ``out_dir`` that points to a missing file or anchor."""
    pages = {}
    for page in sorted(out_dir.rglob("*.html")):
        if "_static" in page.relative_to(out_dir).parts:
            continue  # the theme's template fragments, not pages
        parser = _LinkParser()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = parser
    broken = []
    for page, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:  # http(s), mailto, data, javascript, //host: not local
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(out_dir.resolve()).as_posix()}: {link}"
            if not target.is_file():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken


# ---------------------------------------------------------------------------------------------------


def build(out_dir: Path, stage_dir: Path, python: str = sys.executable) -> int:
    t0 = time.perf_counter()
    staged = stage(stage_dir)
    print(f"staged {len(staged)} files in {stage_dir}")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    cmd = [python, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-j", "1",
           "-c", str(HERE), "-d", str(stage_dir.parent / "site-doctrees"), str(stage_dir), str(out_dir)]
    rc = subprocess.call(cmd, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    if rc:
        print(f"make site: sphinx-build failed (exit {rc}); every warning is an error, see above", file=sys.stderr)
        return rc
    broken = check_links(out_dir)
    for line in broken:
        print(f"broken local link: {line}", file=sys.stderr)
    if broken:
        print(f"make site: {len(broken)} broken local links", file=sys.stderr)
        return 1
    print(f"site built with no warnings and no broken local links in {time.perf_counter() - t0:.0f} s: "
          f"{(out_dir / 'index.html').relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir / 'index.html'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="where the HTML goes")
    parser.add_argument("--stage", type=Path, default=ROOT / "build" / "site-src", help="where sources are staged")
    args = parser.parse_args(argv)
    return build(args.out.resolve(), args.stage.resolve())


if __name__ == "__main__":
    sys.exit(main())
