"""The objective one level of a run minimises: the targets, computed once, and the weighted loss terms.

``Objective(image)`` returns each weighted term and their sum (key ``"total"``). A term is one
function ``(objective, image, features) -> tensor`` (or None when it is switched off) in ``TERMS``:
adding a loss term is adding a function there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .losses import content_loss, style_loss, total_variation_loss

# Style weight relative to a content weight of 1, for this package's relative losses (losses.py):
# a learner's first result should look painted but keep its subject.
DEFAULT_STYLE_WEIGHT = 10.0


@dataclass(frozen=True)
class LossWeights:
    """How much each term counts; the style weight is relative to the content weight (losses.py)."""

    content: float = 1.0
    style: float = DEFAULT_STYLE_WEIGHT
    tv: float = 0.0

    def __post_init__(self):
        # A negative weight rewards the error it should punish: the run "finishes" on noise or away from the
        # painting. NaN or infinity makes every loss NaN. Refused here, before any image is read.
        for name in ("content", "style", "tv"):
            check_weight(getattr(self, name), f"{name}_weight")


def check_weight(value, name: str) -> None:
    """A loss weight must be a finite number of at least 0; a ValueError naming it otherwise."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):  # a string, None, a list: not a weight
        raise ValueError(f"{name} must be a number of at least 0, not {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number of at least 0, not {value!r}")


@dataclass(frozen=True)
class Objective:
    """features: image -> activations (float32); content_targets: activations of the photo per content
    layer; style_targets: per style, its Gram matrix per style layer; style_blend: per style, its share;
    style_masks: per style, per layer, where that style applies (None: everywhere)."""

    features: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    content_targets: dict[str, torch.Tensor]
    style_targets: list[dict[str, torch.Tensor]]
    weights: LossWeights
    style_blend: Sequence[float] = (1.0,)
    style_masks: list[dict[str, torch.Tensor]] | None = None
    style_layer_weights: dict[str, float] | None = None

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.features(image)
        terms = {name: term(self, image, features) for name, term in TERMS.items()}
        terms = {name: value for name, value in terms.items() if value is not None}
        terms["total"] = sum(terms.values())
        return terms


def content_term(objective: Objective, image, features) -> torch.Tensor:
    """How far the image's content-layer activations are from the photo's (relative squared error)."""
    return objective.weights.content * content_loss(features, objective.content_targets)


def style_term(objective: Objective, image, features) -> torch.Tensor:
    """How far the image's Gram matrices are from each style's, the styles mixed by their blend."""
    masks = objective.style_masks or [None] * len(objective.style_targets)
    style = sum(blend * style_loss(features, targets, objective.style_layer_weights, masks=layer_masks)
                for blend, targets, layer_masks in zip(objective.style_blend, objective.style_targets, masks))
    return objective.weights.style * style


def total_variation_term(objective: Objective, image, features) -> torch.Tensor | None:
    """Neighbouring pixels' differences: smooths high-frequency noise. Off (None) at weight 0, the paper's."""
    return objective.weights.tv * total_variation_loss(image) if objective.weights.tv else None


# The history's keys, in this order (the progress bar and the notebooks show them so).
TERMS = {"content": content_term, "style": style_term, "tv": total_variation_term}
