"""Colour preservation as one strategy: what it does to the images *before* a level is optimised, and to
the result *after* the run (Gatys et al. 2017, "Controlling Perceptual Factors"; the maths is in
``color.py``).

- ``none``: the paper's method, nothing changes.
- ``luminance``: optimise brightness only (the photo's and the style's luminance, the style's matched
  to the photo's mean and spread), then put the photo's colours back on the result.
- ``histogram``: recolour the style images to the photo's palette first; the result is kept as it is.
"""

from __future__ import annotations

import torch

from . import color
from .io.images import resize_tensor


class KeepNothing:
    """``preserve_colors="none"``: the style's colours are painted too."""

    def before(self, photo: torch.Tensor, styles: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(the content image to match, the style images to match) for one level."""
        return photo, styles

    def resume(self, image: torch.Tensor) -> torch.Tensor:
        """The previous level's result, upsampled, as the start of the next level."""
        return image

    def after(self, result: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """The returned image, from the optimised one and the last level's photo."""
        return result


class KeepLuminanceOnly(KeepNothing):
    def before(self, photo, styles):
        return color.luminance(photo), [color.match_luminance(s, photo) for s in styles]

    def resume(self, image):
        return color.luminance(image)

    def after(self, result, photo):
        return color.combine_luminance(result, resize_tensor(photo, tuple(result.shape[-2:])))


class KeepPhotoPalette(KeepNothing):
    def before(self, photo, styles):
        return photo, [color.match_color_histogram(s, photo) for s in styles]


STRATEGIES = {"none": KeepNothing, "luminance": KeepLuminanceOnly, "histogram": KeepPhotoPalette}
assert tuple(STRATEGIES) == color.PRESERVE_COLORS  # the names color.py documents, in its order


def strategy(name: str) -> KeepNothing:
    """The strategy for ``preserve_colors=name``; ValueError for an unknown name."""
    if name not in STRATEGIES:
        raise ValueError(f"preserve_colors must be one of {color.PRESERVE_COLORS}, not {name!r}")
    return STRATEGIES[name]()
