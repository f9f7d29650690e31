"""The weights of the objective's terms, checked. The objective itself (its loss terms, one class each,
and their weighted sum ``Objective``) is in ``method.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .method import Objective

__all__ = ["DEFAULT_STYLE_WEIGHT", "LossWeights", "Objective", "check_weight"]

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
