"""The studio panel builds without a browser; its Run paints (live image and loss curve), Stop keeps the
best image, Save writes the PNG with its recipe, uploads become inputs, its sliders keep the values set
in code (or refuse them) instead of silently moving them, and it draws itself as a picture.
(tests/test_browser.py clicks the same panel in a real browser.)"""

import io
import json
import time
from datetime import UTC, datetime

import pytest
import traitlets
from PIL import Image

import helpers
from helpers.course import studio as studio_module
from helpers.course.studio import Studio
from helpers.io.images import read_metadata


@pytest.fixture
def studio(hed, tmp_path, monkeypatch):
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    return Studio(hed, device="cpu")


def _wait_for(condition, what, seconds=300):
    """Poll until ``condition()`` holds (a busy CI machine may be slow: only a hang fails)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_studio_runs_with_the_panels_settings(studio):
    studio.content.value, studio.style.value = "coffee", "mosaic"
    studio.size.value, studio.steps.value = 32, 3
    studio.layers.value = ("relu1_1", "relu2_1")
    studio.colors.value, studio.start.value = "luminance", "palette"
    result = studio.run()
    assert max(result.image.shape[-2:]) == 32 and len(result.history) == 3
    assert result.recipe["style_layers"] == ["relu1_1", "relu2_1"] and result.recipe["preserve_colors"] == "luminance"
    assert result.recipe["init"] == "palette" and result.recipe["content"] == "coffee"
    assert studio.progress.value == 3 and studio.status.value.startswith("done: 3 steps")
    assert not studio.run_button.disabled and studio.stop_button.disabled and not studio.save_button.disabled


def test_the_studio_offers_the_default_recipes_start(studio):
    """The start every preset uses can be picked in the studio too (painterly's, palette_shading, was missing)."""
    for preset in helpers.presets.PRESETS.values():
        start = preset.options.get("init", "content")
        assert start == "fast" or start in studio.start.options, f"{preset.name}'s start {start!r} is not offered"


def test_the_run_button_runs(studio):
    """Bug: a Run button whose click does nothing (the result and progress stay as they were)."""
    studio.size.value, studio.steps.value = 32, 2
    studio.run_button.click()
    assert studio.wait() is not None and len(studio.result.history) == 2
    assert studio.progress.value == 2 and studio.status.value.startswith("done: 2 steps")
    first = studio.result
    studio.steps.value = 3
    studio.run_button.click()
    studio.wait()
    assert studio.result is not first and len(studio.result.history) == 3 and studio.progress.value == 3


def test_the_image_and_the_loss_curve_update_live_at_a_readable_size(studio):
    shown = []
    studio.live_view.observe(lambda change: shown.append(bytes(change["new"])), "value")
    studio.size.value, studio.steps.value = 32, 4
    studio.run()
    # The start, then one picture per step (4 steps: every step is shown); the best image ends it.
    assert studio.live_updates == 4 and len(shown) >= 5 and len(set(shown)) >= 3
    assert shown[-1] == bytes(studio.live_view.value)
    width, height = Image.open(io.BytesIO(studio.live_view.value)).size
    assert width == studio_module.DISPLAY_WIDTH >= 256 and height > 100  # a 32 px result, shown 320 px wide
    curve = bytes(studio.curve_view.value).decode()
    assert curve.count("<polyline") == 3 and "<circle" in curve  # total, content, style, and the best step


def test_the_loss_curve_is_drawn_from_the_history():
    history = [{"step": i, "total": 10 / i, "content": 1 / i, "style": 9 / i} for i in range(1, 11)]
    svg = studio_module.loss_curve_svg(history, best_step=10, width=300, height=200).decode()
    total = next(p for p in svg.split("<polyline")[1:] if studio_module.CURVE_COLOURS["total"] in p)
    points = [tuple(map(float, xy.split(","))) for xy in total.split('points="')[1].split('"')[0].split()]
    assert len(points) == 10 and points[0][0] < points[-1][0] and points[0][1] < points[-1][1]  # falls: y grows down
    assert "the loss appears here" in studio_module.loss_curve_svg([]).decode()


def test_stop_keeps_the_best_image(studio):
    studio.size.value, studio.steps.value = 32, studio.steps.max
    studio.stop_button.click()  # nothing runs yet: a no-op
    studio.run_button.click()
    _wait_for(lambda: len(studio.history) >= 3, "three steps")
    studio.stop_button.click()
    result = studio.wait()
    assert result.stopped == "interrupted" and 3 <= len(result.history) < studio.steps.max
    assert result.losses["total"] == min(h["total"] for h in result.history)
    assert studio.status.value.startswith("stopped:") and f"step {result.best_step}" in studio.status.value
    assert not studio.save_button.disabled


def test_save_writes_the_png_with_its_recipe(studio, tmp_path):
    assert studio.save_button.disabled
    with pytest.raises(RuntimeError, match="press Run first"):
        studio.save()
    studio.content.value, studio.style.value = "chelsea", "the_scream"
    studio.size.value, studio.steps.value = 32, 2
    studio.style_weight.value = 30
    result = studio.run()
    studio.save_button.click()
    assert studio.saved is not None and studio.saved.parent == tmp_path and studio.saved.suffix == ".png"
    assert "chelsea" in studio.saved.name and "the-scream" in studio.saved.name
    stored = json.loads(read_metadata(studio.saved)["style-transfer-recipe"])
    assert stored == json.loads(json.dumps(result.recipe)) and stored["style_weight"] == 30
    assert studio.status.value == f"saved {studio.saved.name} in the outputs folder (the recipe is inside)"
    elsewhere = studio.save(tmp_path / "mine" / "picture.png")
    assert elsewhere.is_file() and str(tmp_path / "mine") in studio.status.value


def _upload(name, data):
    """What a FileUpload widget holds after a file was chosen in the browser."""
    return ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.now(UTC)},)


def test_an_uploaded_photo_becomes_the_input(studio, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    before = studio.photo_view.value
    studio.upload_content.value = _upload("my photo.png", buffer.getvalue())
    assert studio.content.value == str(tmp_path / "uploads" / "my_photo.png")
    assert studio.content.label == "upload: my_photo.png" and studio.photo_view.value != before
    studio.size.value, studio.steps.value = 32, 1
    assert studio.run().image.shape[-2:] == (24, 32)  # the upload's 4:3 shape, not a bundled photo's
    studio.upload_style.value = _upload("notes.png", b"hello")
    assert studio.style.value == "starry_night" and "notes.png" in studio.status.value  # refused, and said so


def test_any_painting_can_be_the_photo(studio):
    assert set(helpers.io.gallery.PAINTINGS) <= set(studio.content.options) <= set(helpers.io.gallery.names())
    assert set(helpers.io.gallery.PAINTINGS) <= set(studio.style.options)


def test_slider_ranges_suit_the_device(studio):
    """On a CPU the sizes stay small and the starting values sit near the middle of each slider."""
    assert studio.size.max <= 256 and studio.steps.max <= 300
    for slider in (studio.size, studio.steps):
        assert 0.25 <= (slider.value - slider.min) / (slider.max - slider.min) <= 0.75, slider.description
    assert studio_module.SIZE_RANGES["cuda"][1] >= 1024


def test_sliders_keep_values_set_in_code_or_refuse_them(studio):
    """A browser snaps a slider's value to its grid (style weight 30 became 31.6 and size 48 became 64 on
    the old log and 32-px grids): values set in code must be on the grid, and others refused loudly."""
    studio.style_weight.value, studio.size.value, studio.steps.value = 30, 48, 7
    assert (studio.style_weight.value, studio.size.value, studio.steps.value) == (30, 48, 7)
    assert studio.style_weight.options[studio.style_weight.index] == 30  # the browser's slider sits on 30
    assert (studio.size.value - studio.size.min) % studio.size.step == 0
    for slider, value in ((studio.style_weight, 25), (studio.size, 50), (studio.size, 2048), (studio.steps, 0),
                          (studio.steps, 5000)):
        with pytest.raises(traitlets.TraitError, match="is not on the slider"):
            slider.value = value
    assert (studio.style_weight.value, studio.size.value, studio.steps.value) == (30, 48, 7)
    studio.steps.value = 2
    assert studio.run().recipe["style_weight"] == 30 and studio.result.recipe["size"] == 48


def test_the_panel_is_never_shown_as_widget_text(studio):
    bundle = studio._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert not bundle["text/plain"].startswith(("HBox", "VBox")) and "JupyterLab" in bundle["text/plain"]


def test_the_picture_shows_photo_painting_result_and_curve(studio):
    empty = studio.picture()
    assert sum(bool(ax.images) for ax in empty.axes) == 2  # before a run: the photo and the painting
    studio.size.value, studio.steps.value = 32, 2
    studio.run()
    picture = studio.picture()
    assert [bool(ax.images) for ax in picture.axes] == [True, True, True, False]
    assert len(picture.axes[3].lines) == 4 and len(picture.axes[3].lines[0].get_xdata()) == 2
    assert "32 px" in picture._suptitle.get_text()


def test_an_error_in_a_run_is_shown_not_lost(studio, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    studio.add_image(studio.content, broken)
    assert studio.content.value == str(broken) and "cannot show" in studio.status.value
    studio.size.value, studio.steps.value = 32, 1
    studio.run_button.click()
    with pytest.raises(helpers.io.images.ImageLoadError):
        studio.wait()
    assert studio.status.value.startswith("error: ImageLoadError") and not studio.run_button.disabled
