"""Drop tqdm progress bars from executed notebooks' stderr outputs, keeping every real warning.

A progress bar is useful while a cell runs, but committed it is dozens of stderr frames that
JupyterLab and rendered sites show as pink, error-like boxes. ``make notebooks`` runs this after
nbconvert; the library's progress output for terminal users is unchanged.

    python notebooks/strip_progress_bars.py notebooks/05_optimisation_loop.ipynb [...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

# One tqdm frame: "desc:  37%|███▋      | 56/150 [00:25<00:43,  2.16step/s, ...]", or without a
# total: "desc: 56step [00:25, 2.16step/s]". Anchored on the bar and the [elapsed<remaining] clock.
_BAR = re.compile(r"(\d+%\|.*\|\s*\d+(\.\d+)?[kMG]?/\d+(\.\d+)?[kMG]?\s*\[[\d:]+<)|(\b\d+\w*\s*\[[\d:]+,\s)")


def _is_bar(segment: str) -> bool:
    return bool(_BAR.search(segment))


def strip_bars(text: str) -> str:
    """``text`` without its progress-bar frames (carriage-return separated), and without the lines
    that held nothing else; every other line, a warning printed between two frames included, stays."""
    lines = text.split("\n")
    kept = []
    for i, line in enumerate(lines):
        segments = line.split("\r")
        if not any(_is_bar(s) for s in segments):
            kept.append(line)
            continue
        rest = "\r".join(s for s in segments if s and not _is_bar(s))
        if rest.strip():
            kept.append(rest)
        elif i == len(lines) - 1 and kept:
            kept.append("")  # the text ended with frames after a newline: keep that newline
    return "\n".join(kept)


def strip_notebook(notebook: dict) -> int:
    """Remove progress bars from every stderr stream of ``notebook`` in place; return how many outputs changed.

    In a cell that had bars, a stderr output left blank (tqdm's closing newline) goes too."""
    changed = 0
    for cell in notebook.get("cells", []):
        outputs = cell.get("outputs")
        if not outputs:
            continue
        kept, had_bars = [], False
        for output in outputs:
            if _is_stderr(output):
                text = "".join(output["text"])
                stripped = strip_bars(text)
                if stripped != text:
                    changed, had_bars = changed + 1, True
                    output = {**output, "text": stripped.splitlines(keepends=True)}
            kept.append(output)
        if had_bars:
            blank = [o for o in kept if _is_stderr(o) and not "".join(o["text"]).strip()]
            changed += sum(1 for o in blank if "".join(o["text"]))  # blank ones not already counted
            kept = [o for o in kept if o not in blank]
            cell["outputs"] = _merge_streams(kept)
    return changed


def _is_stderr(output: dict) -> bool:
    return output.get("output_type") == "stream" and output.get("name") == "stderr"


def _merge_streams(outputs: list[dict]) -> list[dict]:
    """Join neighbouring streams of the same name, as Jupyter would have shown them without the bars between."""
    merged: list[dict] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (previous is not None and output.get("output_type") == "stream" and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")):
            text = "".join(previous["text"]) + "".join(output["text"])
            merged[-1] = {**previous, "text": text.splitlines(keepends=True)}
        else:
            merged.append(output)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        changed = strip_notebook(notebook)
        if changed:
            # The layout nbformat writes (one-space indent, sorted keys), so a diff shows only the outputs.
            path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path.name}: {changed} progress-bar output(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
