"""The options of one run that describe the method: validated once, with their defaults in one place.

``RunOptions`` is what ``StyleTransfer.run`` takes besides the images and the callbacks; its field
defaults are ``run``'s defaults and the command line's (tests/test_cli.py checks that they agree);
``recipe()`` writes the entries a saved PNG keeps and ``from_recipe`` reads them back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch

from . import color, optimizers, settings
from .objective import DEFAULT_STYLE_WEIGHT, LossWeights

# "palette" starts from the photo recoloured to the painting's colours (mean and covariance, as in
# color.match_color_histogram): the optimisation then spends its steps on texture, not on colour.
# "fast" is a warm start from the feed-forward network (feedforward.py, Ghiasi et al. 2017; an optional
# extra): one forward pass paints the photo, and the optimisation refines it (notebook 11).
INITS = ("content", "noise", "style", "palette", "fast")
MAX_SCALES = 6
MIN_LEVEL_SIZE = 32  # coarse-to-fine never starts below this: VGG's fifth block would be 2 px wide


@dataclass(frozen=True)
class RunOptions:
    """size: long side of the result (None: the device's default, or a tensor content's own size);
    steps: per level, or one count per level coarse to fine (None: the device's default); lr: None
    gives the optimiser's default (optimizers.default_lr)."""

    size: int | None = None
    style_scale: float = 1.0
    content_weight: float = 1.0
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = 0.0
    init: str | torch.Tensor = "content"
    optimizer: str = "lbfgs"
    steps: int | Sequence[int] | None = None
    lr: float | None = None
    seed: int = 0
    lbfgs_history: int = 100
    scales: int = 1
    preserve_colors: str = "none"

    def __post_init__(self):
        if self.optimizer not in optimizers.OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {tuple(optimizers.OPTIMIZERS)}, not {self.optimizer!r}")
        if isinstance(self.init, str) and self.init not in INITS:
            raise ValueError(f"init must be one of {INITS} or an image tensor, not {self.init!r}")
        if self.steps is not None:
            counts = self._per_level(self.steps)
            if len(counts) != self.scales or any(not isinstance(n, int) or n < 1 for n in counts):
                raise ValueError(f"steps must be a whole number of at least 1, or one such number per scale "
                                 f"({self.scales} scale{'s' * (self.scales != 1)}), not {self.steps}")
        if not 1 <= self.scales <= MAX_SCALES:
            raise ValueError(f"scales must be between 1 and {MAX_SCALES}, not {self.scales}")
        if self.preserve_colors not in color.PRESERVE_COLORS:
            raise ValueError(f"preserve_colors must be one of {color.PRESERVE_COLORS}, not {self.preserve_colors!r}")
        if self.lr is not None and not 0 < self.lr < math.inf:  # 0 would be taken for "the default", silently
            raise ValueError(f"lr (the learning rate) must be a number above 0, not {self.lr}; None gives the "
                             "optimizer's default")

    def _per_level(self, steps) -> list:
        return list(steps) if isinstance(steps, Sequence) else [steps] * self.scales

    def resolved(self, device: torch.device, content=None) -> RunOptions:
        """These options with the device's defaults filled in (a tensor content keeps its own size)."""
        size = self.size
        if size is None:
            size = max(content.shape[-2:]) if isinstance(content, torch.Tensor) else settings.default_size(device)
        steps = self.steps if self.steps is not None else settings.default_steps(device)
        return replace(self, size=size, steps=steps)

    def level_sizes(self) -> list[int]:
        """Each level's long side, coarse to fine, each half the next; the last is the size asked for."""
        return [max(min(MIN_LEVEL_SIZE, self.size), round(self.size / 2**k)) for k in reversed(range(self.scales))]

    def level_steps(self) -> list[int]:
        return self._per_level(self.steps)

    def weights(self) -> LossWeights:
        return LossWeights(self.content_weight, self.style_weight, self.tv_weight)

    def recipe(self) -> dict:
        """The entries a saved PNG keeps (a tensor start is recorded as "image": it cannot be stored)."""
        return dict(init=self.init if isinstance(self.init, str) else "image", optimizer=self.optimizer,
                    steps=self.steps, lr=self.lr, seed=self.seed, style_scale=self.style_scale, scales=self.scales,
                    preserve_colors=self.preserve_colors)

    @classmethod
    def from_recipe(cls, recipe: dict) -> RunOptions:
        """The options a saved recipe (``TransferResult.recipe``, a PNG's) describes, validated; entries
        that are not run options (backbone, layers, ...) are left to whoever reads them."""
        known = {f.name for f in fields(cls)}
        options = {key: value for key, value in recipe.items() if key in known and value is not None}
        if options.get("init") == "image":
            raise ValueError("the recipe started from an image passed from Python, which it does not hold: "
                             "give init (content, noise, style, palette or fast, or the image)")
        return cls(**options)

    def run_arguments(self) -> dict:
        """These options as keyword arguments of ``StyleTransfer.run``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def defaults() -> dict:
    """Each option's default: what ``run`` and the command line use when it is not given."""
    return {f.name: f.default for f in fields(RunOptions)}
