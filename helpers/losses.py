"""The three terms of the Gatys objective: content loss, style (Gram) loss, total variation.

Normalisation, chosen on purpose:

- ``gram_matrix`` divides by the number of positions ``h*w``: each entry is the *average* product of
  two channels' responses, so Gram matrices of images of different sizes can be compared (needed
  for style scale and multi-scale optimisation). Other conventions are available for comparison.
- ``content_loss`` and ``style_loss`` are *relative* squared errors: ``||F - P||^2 / ||P||^2``. They
  do not change when a layer's activations are scaled, so one style/content ratio works on the
  course's trained backbones, whose activation scales differ per layer and per network (notebook 02
  measures them): with squared errors, activations s times larger make the content term s^2 and a
  squared Gram error s^4 times larger. For a trained network each term starts near 1 for an
  unrelated image; not for a randomly initialised one, whose deep features hardly depend on the image.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from . import speed
from .method import EPS as _EPS
from .method import layer_weights, relative_squared_error, total_variation_loss

__all__ = ["GRAM_NORMS", "content_loss", "gram_matrix", "relative_squared_error", "style_loss",
           "total_variation_loss"]
GRAM_NORMS = ("none", "hw", "chw")


def gram_matrix(features: torch.Tensor, norm: str = "hw", mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel-by-channel inner products of a feature map, with position summed out.

    features: (N, C, H, W) or (C, H, W). Returns (N, C, C) or (C, C), in float32 for bf16 features
    (multiplied in bf16 with float32 sums: only the result is rounded, see ``StyleTransfer.features``).
    norm: ``"hw"`` (default) divides by H*W; ``"chw"`` by C*H*W (PyTorch tutorial, d2l,
    neural-style); ``"none"`` leaves the raw sum (the paper puts 1/(4 C^2 (HW)^2) in the loss instead).
    mask: (N or 1, 1, H, W) weights in [0, 1]: only the masked region counts (spatial control), and
    "positions" become the mask's total weight, so a uniform mask gives the unmasked result.
    """
    if norm not in GRAM_NORMS:
        raise ValueError(f"norm must be one of {GRAM_NORMS}, not {norm!r}")
    batched = features.dim() == 4
    if not batched:
        features = features.unsqueeze(0)
    # The method's Gram matrix, divided by the positions (H*W, or the mask's weight), through speed.py's
    # product; the other normalisations are rescaled from it.
    gram = speed.gram_matrix(features, mask)
    if norm == "chw":
        gram = gram / features.shape[1]
    elif norm == "none":  # the division undone: H*W positions, or the mask's weight
        gram = gram * (features.shape[-2] * features.shape[-1] if mask is None
                       else mask.pow(2).sum(dim=(1, 2, 3)).clamp_min(_EPS).view(-1, 1, 1))
    return gram if batched else gram[0]


def content_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                 weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Weighted sum over layers of the relative squared feature difference (equal weights by default)."""
    return _weighted_sum({name: relative_squared_error(features[name], targets[name]) for name in targets},
                         weights)


def style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
               weights: Mapping[str, float] | None = None, norm: str = "hw",
               masks: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Weighted sum over layers of the relative squared Gram-matrix difference.

    weights: per-layer weights (the paper's w_l); by default 1/L each, as in the paper.
    masks: per layer, the region (N or 1, 1, H, W) whose statistics must match (spatial control).
    """
    masks = masks or {}
    return _weighted_sum({name: relative_squared_error(gram_matrix(features[name], norm, masks.get(name)), target)
                          for name, target in target_grams.items()}, weights)


def _weighted_sum(per_layer: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None) -> torch.Tensor:
    if not per_layer:  # no layers for this term (e.g. texture synthesis has no content layer)
        return torch.zeros(())
    weights = layer_weights(list(per_layer), weights)  # 1/L each by default; a KeyError names a missing one
    return sum(weights[name] * loss for name, loss in per_layer.items())
