"""The blind judge's sheets (research/judge_sheets.py) and the recipe study's per-backbone files."""

import importlib.util
import json
import sys
from pathlib import Path

import torch
from PIL import Image

from helpers import settings

RESEARCH = Path(__file__).resolve().parent.parent / "research"


def _load(name):
    sys.path.insert(0, str(RESEARCH))  # judge_sheets imports recipe_study from beside it
    try:
        spec = importlib.util.spec_from_file_location(name, RESEARCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(RESEARCH))


def test_sheets_hide_which_result_is_which_and_the_score_counts_the_key(tmp_path, monkeypatch):
    sheets = _load("judge_sheets")
    monkeypatch.setattr(sheets, "HERE", tmp_path)
    colours = {"net-a:v": "red", "net-b:v": "blue"}

    def fake_result(spec, photo, painting, size):
        path = tmp_path / "results" / f"{spec.replace(':', '_')}_{photo}_{painting}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (64, 48), colours[spec]).save(path)
        return path

    monkeypatch.setattr(sheets, "result_file", fake_result)
    pairs = [("chelsea", "wave"), ("tubingen", "starry_night"), ("coffee", "udnie"), ("astronaut", "shipwreck")]
    folder = sheets.make_sheets("trial", "net-a:v", "net-b:v", pairs, 64, per_sheet=3, seed=1)
    key = json.loads((folder / "key.json").read_text())
    assert sorted(p.name for p in folder.glob("sheet_*.jpg")) == ["sheet_01.jpg", "sheet_02.jpg"]
    assert [(r["sheet"], r["row"]) for r in key["rows"]] == [(1, 1), (1, 2), (1, 3), (2, 1)]
    assert all({r["X"], r["Y"]} == {"net-a:v", "net-b:v"} for r in key["rows"])
    assert len({r["X"] for r in key["rows"]}) == 2, "the order is drawn per row, not fixed"
    # The picture in the X column of each row is the one the key names.
    sheet = Image.open(folder / "sheet_01.jpg").convert("RGB")
    x_pixel = sheet.getpixel((2 * 256 + 30 + 100, 10 + 15 + 100))
    assert (x_pixel[0] > x_pixel[2]) == (key["rows"][0]["X"] == "net-a:v")
    # Judgements that always pick net-a's picture score 4 of 4 for it, whichever letter it had.
    picks = [dict(sheet=r["sheet"], row=r["row"], pick="X" if r["X"] == "net-a:v" else "Y") for r in key["rows"]]
    (folder / "judgements.jsonl").write_text("".join(json.dumps(p) + "\n" for p in picks))
    assert "net-a:v 4 (100%), net-b:v 0 (0%)" in sheets.score(folder)


def test_a_mirror_swaps_every_row_and_a_judge_who_picks_by_side_cannot_tell(tmp_path, monkeypatch):
    sheets = _load("judge_sheets")
    monkeypatch.setattr(sheets, "HERE", tmp_path)

    def fake_result(spec, photo, painting, size):
        path = tmp_path / "results" / f"{spec.replace(':', '_')}_{photo}_{painting}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (64, 48), "red" if spec == "net-a:v" else "blue").save(path)
        return path

    monkeypatch.setattr(sheets, "result_file", fake_result)
    pairs = [("chelsea", "wave"), ("tubingen", "starry_night"), ("coffee", "udnie")]
    first = sheets.make_sheets("trial", "net-a:v", "net-b:v", pairs, 64, per_sheet=3, seed=1)
    rows = json.loads((first / "key.json").read_text())["rows"]
    mirror_of = {(r["photo"], r["painting"]): r["X"] for r in rows}
    mirrored = sheets.make_sheets("trial_mirror", "net-a:v", "net-b:v", pairs, 64, per_sheet=3, mirror=mirror_of)
    mirror_rows = json.loads((mirrored / "key.json").read_text())["rows"]
    assert [(r["photo"], r["X"], r["Y"]) for r in mirror_rows] == [(r["photo"], r["Y"], r["X"]) for r in rows]

    def judge(folder, picks):
        (folder / "judgements.jsonl").write_text(
            "".join(json.dumps(dict(sheet=1, row=n, pick=p)) + "\n" for n, p in enumerate(picks, start=1)))

    # Always X: a preference for the side, so no pair is won.
    judge(first, "XXX")
    judge(mirrored, "XXX")
    assert "pairs won: cannot tell 3" in sheets.both_ways(first, mirrored)
    # net-a's picture on whichever side it stands: net-a wins every pair.
    judge(first, ["X" if r["X"] == "net-a:v" else "Y" for r in rows])
    judge(mirrored, ["X" if r["X"] == "net-a:v" else "Y" for r in mirror_rows])
    assert "pairs won: net-a:v 3" in sheets.both_ways(first, mirrored)


def test_each_backbone_has_its_own_results_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    study = _load("recipe_study")
    study.use_backbone("vgg16-hed")
    assert study.RESULTS.name == "recipe_study.jsonl" and study.IMAGES == "recipe_study"
    study.use_backbone("vgg16-imagenet")
    assert study.RESULTS.name == "recipe_study_vgg16-imagenet.jsonl" and study.IMAGES == "recipe_study_vgg16-imagenet"
    assert study.image_file("paper", "chelsea", "wave", 64).parent.name == "recipe_study_vgg16-imagenet"


def test_cpu_description_names_the_threads():
    text = settings.cpu_description()
    assert text.endswith(f"{torch.get_num_threads()} threads") and "flags" in text
