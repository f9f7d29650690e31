"""The two scripts `make notebooks` runs after executing a notebook: progress bars out, navigation in."""

import importlib.util
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, NOTEBOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


strip = _load("strip_progress_bars")
navigation = _load("navigation")

FRAME = "\rstylizing:  37%|███▋      | 56/150 [00:25<00:43,  2.16step/s, content=0.681, style=0.303]"
FIRST_FRAME = "\rstylizing:   0%|          | 0/150 [00:00<?, ?step/s]"
WARNING = "/x/transfer.py:310: UserWarning: interrupted after 9 steps\n  warnings.warn(message)\n"


def _stderr(text):
    return {"name": "stderr", "output_type": "stream", "text": text.splitlines(keepends=True)}


def test_strip_bars_removes_frames_and_keeps_warnings():
    assert strip.strip_bars(FIRST_FRAME) == ""
    assert strip.strip_bars(FIRST_FRAME + FRAME + "\n") == ""
    assert strip.strip_bars(WARNING) == WARNING
    assert strip.strip_bars(FIRST_FRAME + "\n" + WARNING + FRAME) == WARNING
    assert strip.strip_bars("stylizing: 56step [00:25, 2.16step/s]") == ""  # a bar without a total
    assert strip.strip_bars("loss 56% lower in 25 s\n") == "loss 56% lower in 25 s\n"  # looks close, is not a bar


def test_strip_notebook_drops_bar_outputs_and_their_blank_line_only():
    stdout = {"name": "stdout", "output_type": "stream", "text": ["L-BFGS final loss 0.8\n"]}
    cells = [
        {"cell_type": "code", "outputs": [_stderr(FIRST_FRAME), _stderr(FRAME), _stderr("\n"), stdout]},
        {"cell_type": "code", "outputs": [_stderr(WARNING)]},
        {"cell_type": "code", "outputs": [_stderr("\n")]},  # no bar in this cell: not touched
        {"cell_type": "markdown", "source": ["# title"]},
    ]
    notebook = {"cells": cells}
    assert strip.strip_notebook(notebook) == 3
    assert cells[0]["outputs"] == [stdout]
    assert cells[1]["outputs"] == [_stderr(WARNING)] and cells[2]["outputs"] == [_stderr("\n")]
    assert strip.strip_notebook(notebook) == 0  # a second pass changes nothing


def test_strip_notebook_joins_the_warnings_left_between_bars():
    cell = {"cell_type": "code", "outputs": [_stderr("warning one\n"), _stderr(FRAME), _stderr("warning two\n")]}
    strip.strip_notebook({"cells": [cell]})
    assert cell["outputs"] == [_stderr("warning one\nwarning two\n")]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("0[1-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_committed_notebooks_have_no_progress_bars(path):
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                text = "".join(output["text"])
                assert strip.strip_bars(text) == text, (path.name, text[:80])


def test_navigation_line_links_neighbours_and_states_the_time(tmp_path):
    names = ["01_first.ipynb", "02_second.ipynb", "03_third.ipynb"]
    for number, name in enumerate(names, 1):
        source = [f"# 0{number} · Title {number}\n", "\n", "Text."]
        cells = [{"cell_type": "markdown", "metadata": {}, "source": source}]
        (tmp_path / name).write_text(json.dumps({"cells": cells}), encoding="utf-8")
    paths = sorted(tmp_path.glob("*.ipynb"))
    runtimes = {"01_first": {"seconds": 20}, "02_second": {"seconds": 1020, "measured": True},
                "03_third": {"seconds": 90, "cpu": "2-core CPU with AMX"}}
    first, middle, last = (navigation.navigation_line(p, paths, runtimes) for p in paths)
    assert "←" not in first and "[02 · Title 2 →](02_second.ipynb)" in first and "under a minute" in first
    assert "[← 01 · Title 1](01_first.ipynb)" in middle and "[03 · Title 3 →](03_third.ipynb)" in middle
    assert "about 17 min" in middle and "(measured)" in middle and "(an estimate)" in first
    assert "→" not in last and "about 2 min on a 2-core CPU with AMX (an estimate)" in last
    assert "on a 2-core CPU (measured)" in middle  # no "cpu": the reference CPU's words
    assert "· **core path** ·" in first and "· optional ·" not in first  # 01 is on the core path
    runtimes["01_first"]["quick_seconds"] = 50
    assert "under a minute in quick mode (NST_QUICK=1)" in navigation.navigation_line(paths[0], paths, runtimes)
    del runtimes["01_first"]["quick_seconds"]
    assert navigation.update(paths[1], runtimes, paths) and not navigation.update(paths[1], runtimes, paths)
    source = "".join(json.loads(paths[1].read_text(encoding="utf-8"))["cells"][0]["source"])
    assert source == f"# 02 · Title 2\n\n{middle}\n\nText."
    runtimes["02_second"]["seconds"] = 60  # a new time replaces the old line, it does not add one
    assert navigation.update(paths[1], runtimes, paths)
    source = "".join(json.loads(paths[1].read_text(encoding="utf-8"))["cells"][0]["source"])
    assert source.count(navigation.MARKER) == 1 and "about 1 min" in source and source.endswith("\n\nText.")


def test_committed_navigation_matches_runtimes_json():
    runtimes = navigation.load_runtimes()
    neighbours = navigation.course_notebooks()
    assert {f"{n:02d}" for n in range(1, 10)} <= {stem[:2] for stem in runtimes}
    for path in neighbours:
        if path.stem not in runtimes:
            continue
        first_cell = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        assert navigation.navigation_line(path, neighbours, runtimes) in first_cell, (
            f"{path.name}: run python notebooks/navigation.py after changing RUNTIMES.json")
    assert "(10_studio.ipynb)" in navigation.navigation_line(NOTEBOOKS / "09_when_it_goes_wrong.ipynb", neighbours,
                                                             runtimes)


def test_the_core_path_links_past_the_optional_notebooks():
    runtimes, neighbours = navigation.load_runtimes(), navigation.course_notebooks()
    line_05 = navigation.navigation_line(NOTEBOOKS / "05_optimisation_loop.ipynb", neighbours, runtimes)
    line_09 = navigation.navigation_line(NOTEBOOKS / "09_when_it_goes_wrong.ipynb", neighbours, runtimes)
    line_03 = navigation.navigation_line(NOTEBOOKS / "03_gram_matrices.ipynb", neighbours, runtimes)
    assert "[next on the core path: 09 · " in line_05 and "(09_when_it_goes_wrong.ipynb)" in line_05
    assert "[← back on the core path: 05 · " in line_09 and "(05_optimisation_loop.ipynb)" in line_09
    assert "core path:" not in line_03  # its neighbours are on the core path: nothing to skip
    line_06 = navigation.navigation_line(NOTEBOOKS / "06_control.ipynb", neighbours, runtimes)
    assert "core path:" not in line_06  # an optional notebook links to its neighbours only
