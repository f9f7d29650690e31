"""The studio panel builds without a browser and its Run does a real (tiny) transfer."""

from helpers.studio import Studio


def test_studio_runs_with_the_panels_settings(hed):
    studio = Studio(hed, device="cpu")
    studio.content.value, studio.style.value = "coffee", "mosaic"
    studio.size.value, studio.steps.value = 32, 3
    studio.layers.value = ("relu1_1", "relu2_1")
    studio.colors.value = "luminance"
    result = studio.run()
    assert max(result.image.shape[-2:]) == 32 and len(result.history) == 3
    assert result.recipe["style_layers"] == ["relu1_1", "relu2_1"] and result.recipe["preserve_colors"] == "luminance"
    assert studio.progress.value == 3 and studio.status.value.startswith("done: 3 steps")
    assert not studio.button.disabled
    studio.button.click()  # the button runs the same thing
    assert studio.progress.value == 3
