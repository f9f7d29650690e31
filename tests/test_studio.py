"""The studio panel builds without a browser, its Run does a real (tiny) transfer, and its sliders keep
the values set in code (or refuse them) instead of silently moving them."""

import pytest
import traitlets

from helpers.studio import Studio


@pytest.fixture
def studio(hed):
    return Studio(hed, device="cpu")


def test_studio_runs_with_the_panels_settings(studio):
    studio.content.value, studio.style.value = "coffee", "mosaic"
    studio.size.value, studio.steps.value = 32, 3
    studio.layers.value = ("relu1_1", "relu2_1")
    studio.colors.value = "luminance"
    result = studio.run()
    assert max(result.image.shape[-2:]) == 32 and len(result.history) == 3
    assert result.recipe["style_layers"] == ["relu1_1", "relu2_1"] and result.recipe["preserve_colors"] == "luminance"
    assert studio.progress.value == 3 and studio.status.value.startswith("done: 3 steps")
    assert not studio.button.disabled


def test_the_run_button_runs(studio):
    """Bug: a Run button whose click does nothing (the result and progress stay as they were)."""
    studio.size.value, studio.steps.value = 32, 2
    studio.button.click()
    assert studio.result is not None and len(studio.result.history) == 2
    assert studio.progress.value == 2 and studio.status.value.startswith("done: 2 steps")
    first = studio.result
    studio.steps.value = 3
    studio.button.click()
    assert studio.result is not first and len(studio.result.history) == 3 and studio.progress.value == 3


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
