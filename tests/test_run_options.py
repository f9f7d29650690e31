"""The run's options: validated once and written to the recipe (the command line reads recipes back:
tests/test_cli.py and tests/test_hostile.py)."""

import json

import pytest
import torch

from helpers.run_options import RunOptions


def test_the_recipe_holds_every_run_option_and_repeats_the_run(transfer, tiny_pair):
    content, style = tiny_pair
    asked = dict(steps=[2, 3], scales=2, size=40, style_weight=30.0, tv_weight=0.5, init="noise", seed=4,
                 optimizer="adam", lr=0.03)
    first = transfer.run(content, style, progress=False, **asked)
    recipe = json.loads(json.dumps(first.recipe))  # as a PNG stores it
    assert {name: recipe[name] for name in asked} == asked
    again = transfer.run(content, style, progress=False, **{name: recipe[name] for name in asked})
    assert torch.equal(first.image, again.image)


@pytest.mark.parametrize("bad, message", [
    (dict(optimizer="sgd"), "optimizer must be one of"), (dict(init="zeros"), "init must be one of"),
    (dict(steps=[3, 2], scales=1), "one such number per scale"), (dict(scales=7), "scales must be between"),
    (dict(preserve_colors="sepia"), "preserve_colors"), (dict(lr=0.0), "above 0"),
    (dict(style_weight=-1.0), "style_weight must be a finite number of at least 0"),
    (dict(tv_weight=float("nan")), "tv_weight must be"), (dict(content_weight="1"), "content_weight must be"),
])
def test_bad_options_are_refused_where_they_are_made(bad, message):
    with pytest.raises(ValueError, match=message):
        RunOptions(**bad)


def test_run_takes_the_options_by_their_field_names_only(transfer, tiny_pair):
    """run() declares no option of its own: each keyword goes to RunOptions, whose checks and defaults apply."""
    with pytest.raises(TypeError, match="unknown option.*stepz.*RunOptions' fields"):
        transfer.run(*tiny_pair, stepz=1, progress=False)
    with pytest.raises(ValueError, match="scales must be between"):
        transfer.run(*tiny_pair, scales=0, progress=False)
    result = transfer.run(*tiny_pair, steps=2, progress=False)  # everything else at RunOptions' defaults
    assert len(result.history) == 2 and result.recipe["optimizer"] == "lbfgs" and result.recipe["seed"] == 0
