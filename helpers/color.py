"""Colour control (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer").

Two ways to keep the photo's colours while taking the style's strokes:

- **Luminance-only transfer** (``"luminance"``): stylise the brightness channel only (Y of YIQ), then
  put the photo's colour channels (I, Q) back.
- **Colour histogram matching** (``"histogram"``): before the transfer, recolour the style image so
  that its pixel colours have the photo's mean and covariance; then transfer as usual.

All functions take and return RGB tensors (N, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import torch

# NTSC YIQ: Y is luminance, I and Q carry colour. The inverse is computed, not copied, so the pair
# round-trips exactly.
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                           [0.595716, -0.274453, -0.321263],
                           [0.211456, -0.522591, 0.311135]])
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)
PRESERVE_COLORS = ("none", "luminance", "histogram")


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel repeated three times: a grey RGB image the network can read."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Shift and scale the style's luminance to the content's mean and standard deviation (Gatys 2017,
    eq. 3), so that luminance-only transfer does not change the photo's overall brightness."""
    ys, yc = luminance(style), luminance(content)
    return (ys - ys.mean()) * (yc.std() / (ys.std() + 1e-8)) + yc.mean()


def combine_luminance(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylised image's luminance with the content's colour (I and Q), back in RGB."""
    yiq = rgb_to_yiq(content).clone()
    yiq[:, :1] = rgb_to_yiq(stylised)[:, :1]
    return yiq_to_rgb(yiq).clamp(0, 1)


def match_palette_keep_shading(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The photo in the painting's colours, with the photo's light and shade kept.

    ``match_color_histogram`` maps all three channels at once, mixing light and shade with hue, so regions
    that differ in hue can come out close in brightness (the astronaut's face against the wall beside it
    under The Great Wave: 0.05 apart in luminance, 0.11 in the photo), and the optimisation lets the face
    go (research/RECIPES.md). Here the colour (I, Q) is
    the recoloured photo's and the luminance is the photo's own, moved to the painting's mean and
    standard deviation (eq. 3 of Gatys et al. 2017, the other way round).
    """
    yiq = rgb_to_yiq(match_color_histogram(content, style))
    yiq[:, :1] = match_luminance(content, style)[:, :1]
    return yiq_to_rgb(yiq).clamp(0, 1)


def match_color_histogram(style: torch.Tensor, content: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Recolour ``style`` so that its pixels have the mean and covariance of ``content``'s.

    The linear map x -> A (x - mu_s) + mu_c with A = C_c^(1/2) C_s^(-1/2) (symmetric square roots), as in
    Gatys et al. 2017 (the "image analogies" colour transfer).
    """
    def stats(image):
        pixels = image.permute(1, 0, 2, 3).reshape(3, -1).double()
        mean = pixels.mean(dim=1, keepdim=True)
        centred = pixels - mean
        return pixels, mean, centred @ centred.T / pixels.shape[1] + eps * torch.eye(3, dtype=torch.float64,
                                                                                   device=image.device)

    def sqrtm(matrix, power):
        values, vectors = torch.linalg.eigh(matrix)
        return vectors @ torch.diag(values.clamp_min(eps) ** power) @ vectors.T

    pixels, mean_s, cov_s = stats(style)
    _, mean_c, cov_c = stats(content)
    transform = sqrtm(cov_c, 0.5) @ sqrtm(cov_s, -0.5)
    matched = transform @ (pixels - mean_s) + mean_c
    n, _, h, w = style.shape
    return matched.reshape(3, n, h, w).permute(1, 0, 2, 3).to(style.dtype).clamp(0, 1)
