"""Hygiene of the committed notebooks: template, one clean full run, no errors, no machine paths, size.

nbval (run by `make test`) executes them; this test checks what is committed.
"""

import ast
import json
import os
import re
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_BYTES = 3_000_000
SETUP_MARKER = "course = helpers.course_setup("


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _literal(node):
    """A constant, or a list/tuple of constants: a plain value."""
    return isinstance(node, ast.Constant) or (
        isinstance(node, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in node.elts))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_course_has_its_notebooks_in_order():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 5, names
    for name in names:
        assert re.fullmatch(r"\d{2}_[a-z0-9_]+\.ipynb", name), f"{name}: use NN_snake_case.ipynb"
    assert [int(n[:2]) for n in names] == list(range(1, len(names) + 1))


def test_every_notebook_has_the_same_setup_cell():
    setups = {p.name: _source(_code_cells(_load(p))[0]) for p in NOTEBOOKS}
    assert all(SETUP_MARKER in s for s in setups.values())
    assert len(set(setups.values())) == 1, "the setup cell must be identical in every notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template(path):
    nb = _load(path)
    cells = nb["cells"]
    first = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and first.startswith(f"# {path.name[:2]} · ")
    assert "What you will learn" in first
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_of_plain_values(path):
    code = _code_cells(_load(path))
    tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[1], "the second code cell, and only it, is tagged 'parameters'"
    for statement in ast.parse(_source(tagged[0])).body:
        assert isinstance(statement, ast.Assign), ast.dump(statement)
        value = statement.value
        plain = _literal(value)
        default = (isinstance(value, ast.Attribute) and ast.unparse(value).startswith(("course.", "helpers."))) or (
            isinstance(value, ast.Call) and ast.unparse(value.func) == "helpers.pick"
            and all(_literal(k.value) for k in value.keywords))
        assert plain or default, f"not a plain value or a helpers default: {ast.unparse(statement)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_from_one_clean_full_run(path):
    nb = _load(path)
    counts = [c["execution_count"] for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), "re-run top to bottom in one go (make notebooks)"
    errors = [o for c in _code_cells(nb) for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, errors[0].get("ename")
    setup_output = "".join(_source({"source": o.get("text", "")}) for o in _code_cells(nb)[0]["outputs"])
    assert "backbone:" in setup_output and "mode: full" in setup_output, "commit a full-mode run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths_and_modest_size(path):
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"
    machine = {str(ROOT.parent) + os.sep, tempfile.gettempdir() + os.sep, str(Path.home()) + os.sep,
               "/home/", "C:\\\\Users"}
    for fragment in machine:
        if len(fragment) > 2:
            assert fragment not in text, f"{path.name} contains the machine path {fragment!r}"
