"""The rendered site's pieces (docs/site): run times, staging, the banner and the local link check.

The full build (``make site``, Sphinx with every warning an error) runs in CI from .ci/run; these tests
need neither Sphinx nor a build and check the parts that decide what the site shows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "site"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_site = _load("build_site", SITE / "build_site.py")


@pytest.fixture(scope="module")
def conf():
    return _load("site_conf", SITE / "conf.py")


def _notebook(*markdown: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_format_seconds():
    assert build_site.format_seconds(40) == "under a minute"
    assert build_site.format_seconds(95) == "about 2 min"
    assert build_site.format_seconds(1500, measured=False) == "about 25 min (an estimate)"


def test_runtimes_from_markdown_table():
    text = """Run times, full mode

| notebook | CPU | quick |
|---|---|---|
| [01 · VGG19](01_vgg19_layer_names.ipynb) | 35 s | 4 s |
| 02_what_the_layers_see | 3.5 min | 9 s |
| 03 | 1:05 | 2 s |
| total | 21 min | |
"""
    assert build_site.parse_runtimes_markdown(text) == {"01": "35 s", "02": "3.5 min", "03": "1:05"}


def test_runtimes_from_json():
    parsed = build_site.parse_runtimes_json(json.dumps({"_note": "text", "runtimes": {
        "01_vgg19_layer_names.ipynb": 35, "02": "about 3 min", "03_x": {"cpu_s": 600},
        "04_y": {"measured": False, "seconds": 300, "quick_seconds": None}, "05_z": None, "06_w": True}}))
    assert parsed == {"01": "under a minute", "02": "about 3 min", "03": "about 10 min",
                      "04": "about 5 min (an estimate)"}


def test_runtimes_of_the_course_parse():
    path = ROOT / "notebooks" / "RUNTIMES.json"
    if not path.is_file():
        pytest.skip("notebooks/RUNTIMES.json is not there")
    parsed = build_site.parse_runtimes_json(path.read_text(encoding="utf-8"))
    assert parsed, "no run time read from notebooks/RUNTIMES.json"
    assert all("min" in text or "minute" in text for text in parsed.values())


def test_runtimes_files(tmp_path):
    (tmp_path / "notebooks").mkdir()
    assert build_site.load_runtimes(tmp_path) == ({}, "")
    (tmp_path / "notebooks" / "RUNTIMES.md").write_text("| 01 | 2 min |\n")
    assert build_site.load_runtimes(tmp_path) == ({"01": "2 min"}, "notebooks/RUNTIMES.md")
    (tmp_path / "notebooks" / "RUNTIMES.json").write_text('{"runtimes": {"01": 1}}')
    assert build_site.load_runtimes(tmp_path) == ({"01": "under a minute"}, "notebooks/RUNTIMES.json")


def test_local_links():
    text = ('See [the results](../benchmarks/RESULTS.md#speed), ![a](img%20one.png "t"), '
            '[web](https://example.org/x.md), [here](#top), <img src="b.jpg"> and [mail](mailto:a@b).')
    assert build_site.local_links(text) == ["../benchmarks/RESULTS.md", "img one.png", "b.jpg"]


def test_stage_follows_links_and_picks_up_every_notebook(tmp_path):
    repo = tmp_path / "repo"
    (repo / "docs" / "site").mkdir(parents=True)
    (repo / "notebooks").mkdir()
    (repo / "benchmarks").mkdir()
    (repo / "docs" / "site" / "index.md").write_text("# Course\n![g](docs/g.jpg)\n")
    (repo / "docs" / "g.jpg").write_bytes(b"jpg")
    (repo / "notebooks" / "01_a.ipynb").write_text(_notebook("# 01 · A\n[r](../benchmarks/R.md) [gone](gone.md)"))
    (repo / "notebooks" / "11_feed_forward.ipynb").write_text(_notebook("# 11 · New"))
    (repo / "notebooks" / "scratch.ipynb").write_text(_notebook("# not a lesson"))
    (repo / "benchmarks" / "R.md").write_text("# R\n[data](r.json)\n")
    (repo / "benchmarks" / "r.json").write_text("{}")
    out = tmp_path / "stage"
    out.mkdir()
    (out / "stale.md").write_text("left from an earlier build")
    staged = build_site.stage(out, repo)
    assert sorted(staged) == ["benchmarks/R.md", "benchmarks/r.json", "docs/g.jpg", "index.md",
                              "notebooks/01_a.ipynb", "notebooks/11_feed_forward.ipynb"]
    assert not (out / "stale.md").exists()
    assert (out / "benchmarks" / "R.md").read_text().startswith("---\norphan: true\n---\n# R")
    assert (out / "notebooks" / "01_a.ipynb").read_text() == (repo / "notebooks" / "01_a.ipynb").read_text()


def test_banner_goes_under_the_title(conf):
    nb = json.loads(conf.add_banner(_notebook("# 03 · Gram\n\nText.", "More"), "03_gram_matrices.ipynb"))
    lines = nb["cells"][0]["source"].split("\n")
    assert lines[0] == "# 03 · Gram"
    assert "{download}`Download this notebook <03_gram_matrices.ipynb>`" in lines[2]
    assert "Run time on a CPU" in lines[2]
    assert lines[3:] == ["", "Text."]
    assert nb["cells"][1]["source"] == "More"
    untitled = json.loads(conf.add_banner(_notebook("no title"), "x.ipynb"))
    assert "Download this notebook" in untitled["cells"][0]["source"]
    assert untitled["cells"][1]["source"] == "no title"


def test_banner_leaves_the_run_time_to_the_notebooks_own_line(conf):
    source = "# 03 · Gram\n\n**Course:** [← 02](02_a.ipynb) · runs in about 5 min on a 2-core CPU\n\nText."
    lines = json.loads(conf.add_banner(_notebook(source), "03_gram_matrices.ipynb"))["cells"][0]["source"].split("\n")
    assert lines[2].startswith("**Course:**")
    assert lines[3] == ""
    assert "Download this notebook" in lines[4]
    assert "Run time" not in lines[4]
    assert lines[5:] == ["", "Text."]


def test_table_lists_every_notebook_of_the_course(conf):
    table = conf.notebooks_table(ROOT)
    for nb in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        assert f"](notebooks/{nb.name})" in table
        assert f"<notebooks/{nb.name}>`" in table
    assert "| 01 | [VGG19 and its layer names](notebooks/01_vgg19_layer_names.ipynb) |" in table


def test_link_check_finds_missing_files_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "a.css").write_text("")
    (tmp_path / "index.html").write_text(
        '<html><body><h1 id="top">x</h1><a href="#top">ok</a><a href="sub/b.html#sec">ok</a>'
        '<a href="https://example.org/nothing">external</a><link rel="stylesheet" href="a.css">'
        '<a href="sub/missing.html">bad</a><a href="sub/b.html#nowhere">bad anchor</a>'
        '<img src="pic.png"><a href="sub/">dir</a></body></html>')
    (tmp_path / "sub" / "b.html").write_text('<section id="sec"></section><a href="../index.html#top">up</a>')
    (tmp_path / "_static" / "macros.html").write_text("<a href=\"{{ pathto('x') }}\">template</a>")
    broken = build_site.check_links(tmp_path)
    assert broken == ["index.html: sub/missing.html (no such file)",
                      "index.html: sub/b.html#nowhere (no anchor #nowhere)",
                      "index.html: pic.png (no such file)",
                      "index.html: sub/ (no such file)"]
