"""The run's options: validated once, written to the recipe and read back from it."""

import json

import pytest
import torch

from helpers.run_options import RunOptions


def test_a_recipe_read_back_repeats_the_run(transfer, tiny_pair):
    content, style = tiny_pair
    first = transfer.run(content, style, steps=[2, 3], scales=2, size=40, style_weight=30.0, tv_weight=0.5,
                         init="noise", seed=4, optimizer="adam", lr=0.03, progress=False)
    options = RunOptions.from_recipe(json.loads(json.dumps(first.recipe)))  # as a PNG stores it
    assert options == RunOptions(size=40, steps=[2, 3], scales=2, style_weight=30.0, tv_weight=0.5, init="noise",
                                 seed=4, optimizer="adam", lr=0.03)
    again = transfer.run(content, style, progress=False, **options.run_arguments())
    assert torch.equal(first.image, again.image)


@pytest.mark.parametrize("bad, message", [
    (dict(optimizer="sgd"), "optimizer must be one of"), (dict(init="zeros"), "init must be one of"),
    (dict(steps=[3, 2], scales=1), "one such number per scale"), (dict(scales=7), "scales must be between"),
    (dict(preserve_colors="sepia"), "preserve_colors"), (dict(lr=0.0), "above 0"),
])
def test_bad_options_are_refused_where_they_are_made(bad, message):
    with pytest.raises(ValueError, match=message):
        RunOptions(**bad)
    with pytest.raises(ValueError, match=message):
        RunOptions.from_recipe(bad)


def test_a_recipe_that_started_from_a_python_image_is_refused():
    with pytest.raises(ValueError, match="started from an image"):
        RunOptions.from_recipe({"init": "image", "steps": 3})


def test_run_takes_the_options_by_their_field_names_only(transfer, tiny_pair):
    """run() declares no option of its own: each keyword goes to RunOptions, whose checks and defaults apply."""
    with pytest.raises(TypeError, match="unknown option.*stepz.*RunOptions' fields"):
        transfer.run(*tiny_pair, stepz=1, progress=False)
    with pytest.raises(ValueError, match="scales must be between"):
        transfer.run(*tiny_pair, scales=0, progress=False)
    result = transfer.run(*tiny_pair, steps=2, progress=False)  # everything else at RunOptions' defaults
    assert len(result.history) == 2 and result.recipe["optimizer"] == "lbfgs" and result.recipe["seed"] == 0
