"""Write each notebook's navigation line: links to the previous and next notebook, and its run time on a CPU.

The run times live in one place, ``notebooks/RUNTIMES.json`` (the rendered site reads the same file);
this script copies them into the line under each notebook's title, so that updating the file and
running it (``make notebooks`` does) updates every notebook. Only the notebooks listed in the file
get a line; their neighbours are whatever ``NN_*.ipynb`` files sit beside them.

    python notebooks/navigation.py                 # every notebook listed in RUNTIMES.json
    python notebooks/navigation.py notebooks/05_optimisation_loop.ipynb
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent
RUNTIMES = NOTEBOOKS / "RUNTIMES.json"
# The line this script owns: it starts with this marker, so that it can be found and replaced.
MARKER = "**Course:**"
_TITLE = re.compile(r"^#\s+(\d\d)\s*·\s*(.+?)\s*$")
# The core path: the notebooks a class takes, in an afternoon; the others are optional (README's table).
CORE_PATH = ("01", "02", "03", "04", "05", "09")


def load_runtimes(path: Path = RUNTIMES) -> dict[str, dict]:
    """{notebook stem: {"seconds": full-mode seconds on a CPU, "measured": bool, "cpu": which CPU (optional;
    default "2-core CPU"), ...}}."""
    return json.loads(path.read_text(encoding="utf-8"))["runtimes"]


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def title_of(path: Path) -> str:
    """'05 · The optimisation loop' from the notebook's first heading (its file name if it has none)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first_line = "".join(cells[0]["source"]).split("\n", 1)[0] if cells else ""
    match = _TITLE.match(first_line)
    return f"{match.group(1)} · {match.group(2)}" if match else path.stem


def _amount(seconds: float) -> str:
    return "under a minute" if seconds < 60 else f"about {seconds / 60:.0f} min"


def describe_runtime(entry: dict) -> str:
    how = "measured" if entry.get("measured") else "an estimate"
    text = f"runs in {_amount(entry['seconds'])} on a {entry.get('cpu', '2-core CPU')} ({how})"
    if entry.get("quick_seconds"):
        text += f", {_amount(entry['quick_seconds'])} in quick mode (NST_QUICK=1)"
    return text


def navigation_line(path: Path, neighbours: list[Path], runtimes: dict[str, dict]) -> str:
    index = neighbours.index(path)
    parts = [MARKER]
    if index > 0:
        previous = neighbours[index - 1]
        parts.append(f"[← {title_of(previous)}]({previous.name})")
    if index + 1 < len(neighbours):
        following = neighbours[index + 1]
        parts.append(f"[{title_of(following)} →]({following.name})")
    if path.name[:2] in CORE_PATH:  # where the optional notebooks sit between two core ones, a link past them
        core = [other for other in neighbours if other.name[:2] in CORE_PATH]
        at = core.index(path)
        if at > 0 and core[at - 1] != neighbours[index - 1]:
            parts.append(f"[← back on the core path: {title_of(core[at - 1])}]({core[at - 1].name})")
        if at + 1 < len(core) and core[at + 1] != neighbours[index + 1]:
            parts.append(f"[next on the core path: {title_of(core[at + 1])} →]({core[at + 1].name})")
    line = " ".join(parts[:1]) + " " + " · ".join(parts[1:])
    path_kind = "**core path**" if path.name[:2] in CORE_PATH else "optional"
    return f"{line} · {path_kind} · {describe_runtime(runtimes[path.stem])}"


def with_navigation(first_cell_source: str, line: str) -> str:
    """The first cell with ``line`` under its title, replacing the line written there before."""
    lines = [text for text in first_cell_source.split("\n") if not text.startswith(MARKER)]
    while len(lines) > 2 and lines[1] == "" and lines[2] == "":  # the blank line the old one left
        del lines[1]
    return "\n".join(lines[:1] + ["", line] + lines[1:])


def update(path: Path, runtimes: dict[str, dict], neighbours: list[Path]) -> bool:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = notebook["cells"][0]
    source = "".join(cell["source"])
    new = with_navigation(source, navigation_line(path, neighbours, runtimes))
    if new == source:
        return False
    cell["source"] = new.splitlines(keepends=True)
    # The layout nbformat writes (one-space indent, sorted keys), so a diff shows only this line.
    path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook listed in RUNTIMES.json")
    args = parser.parse_args(argv)
    runtimes = load_runtimes()
    neighbours = course_notebooks()
    targets = [p.resolve() for p in args.notebooks] or [p for p in neighbours if p.stem in runtimes]
    for path in targets:
        if path.stem not in runtimes:
            print(f"{path.name}: not in {RUNTIMES.name}, left as it is")
            continue
        print(f"{path.name}: {'updated' if update(path, runtimes, neighbours) else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
