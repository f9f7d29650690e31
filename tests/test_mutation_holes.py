"""Tests for three mutants of the maths that the other tests let through (an independent mutation pass)."""

from __future__ import annotations

import torch

from helpers import color, optimizers
from helpers.io.images import resize_tensor
from helpers.objective import LossWeights
from helpers.run_record import RunRecord


def test_adam_keeps_every_step_in_range():
    """Adam clamps the pixels to [0, 1] after each of its steps, not only at the end of the run."""
    steps = 5
    record = RunRecord(total_steps=steps, progress=False)
    record.start_level(8, steps)
    image = torch.full((1, 3, 4, 4), 0.9)
    image[:, :, :2] = 0.1  # the top half is pushed down, the bottom half up
    image.requires_grad_(True)
    direction = torch.ones_like(image)
    direction[:, :, :2] = -1.0
    seen = []  # the pixels each evaluation sees: the result of the step before it

    def evaluate():
        record.before_evaluation()
        seen.append(image.detach().clone())
        loss = -(image * direction).sum()  # lowered by moving pixels past 1 (bottom) and below 0 (top)
        loss.backward()
        record.after_evaluation(image, {"total": loss})
        return loss

    stopped = optimizers.adam(image, evaluate, record, lr=0.1)
    assert stopped == optimizers.StopReason.FINISHED and len(seen) == steps
    for step, pixels in enumerate([*seen[1:], image.detach()], start=1):
        assert pixels.min().item() >= 0.0 and pixels.max().item() <= 1.0, (
            f"after Adam step {step} the pixels span [{pixels.min().item():.3f}, {pixels.max().item():.3f}]")
    # The steps did move the pixels: both halves reached their bound (0.1 per step, from 0.1 and 0.9).
    assert torch.equal(image.detach()[:, :, :2], torch.zeros(1, 3, 2, 4))
    assert torch.equal(image.detach()[:, :, 2:], torch.ones(1, 3, 2, 4))


def _correlated_image(mean, stds, correlation, size=64, seed=0):
    """An RGB image (1, 3, size, size) whose pixels have about this mean, these stds and correlations (bounded
    noise: uniform, unit variance, so no pixel leaves [0, 1] and none is clamped)."""
    generator = torch.Generator().manual_seed(seed)
    stds = torch.tensor(stds, dtype=torch.float64)
    cov = torch.tensor(correlation, dtype=torch.float64) * stds[:, None] * stds[None, :]
    noise = (torch.rand(3, size * size, generator=generator, dtype=torch.float64) * 2 - 1) * 3**0.5
    pixels = torch.linalg.cholesky(cov) @ noise + torch.tensor(mean, dtype=torch.float64)[:, None]
    return pixels.reshape(3, 1, size, size).permute(1, 0, 2, 3).float()


def _pixel_stats(image):
    pixels = image.permute(1, 0, 2, 3).reshape(3, -1).double()
    mean = pixels.mean(dim=1)
    centred = pixels - mean[:, None]
    return mean, centred @ centred.T / pixels.shape[1]


def test_histogram_matching_reaches_the_content_covariance_with_correlated_channels():
    """Histogram matching gives the style image the content's colour mean and full covariance (order of A)."""
    style = _correlated_image((0.45, 0.5, 0.55), (0.16, 0.08, 0.12),
                              [[1.0, 0.7, -0.3], [0.7, 1.0, 0.0], [-0.3, 0.0, 1.0]], seed=1)
    content = _correlated_image((0.55, 0.45, 0.5), (0.08, 0.16, 0.12),
                                [[1.0, -0.5, 0.3], [-0.5, 1.0, 0.3], [0.3, 0.3, 1.0]], seed=2)
    for image in (style, content):  # no pixel is clamped, so the statistics are the images' own
        assert 0.0 < image.min().item() and image.max().item() < 1.0
    matched = color.match_color_histogram(style, content)
    assert 0.0 < matched.min().item() and matched.max().item() < 1.0  # the final clamp did not bend them
    mean_m, cov_m = _pixel_stats(matched)
    mean_c, cov_c = _pixel_stats(content)
    _, cov_s = _pixel_stats(style)
    assert (cov_s - cov_c).norm() / cov_c.norm() > 0.5  # the recolouring has work to do
    assert torch.allclose(mean_m, mean_c, atol=1e-5)
    error = ((cov_m - cov_c).norm() / cov_c.norm()).item()
    assert error < 0.02, f"the recoloured covariance misses the content's by {error:.4f} (relative)"


def test_style_image_scores_zero_against_its_own_style_targets(transfer, tiny_pair):
    """Style targets and the loss use the same Gram normalisation: the style image's own style loss is ~0."""
    content, style = tiny_pair
    style = resize_tensor(style, tuple(content.shape[-2:]))  # the content term compares features of one shape
    weights = LossWeights(content=1.0, style=1.0, tv=0.0)
    with torch.no_grad():
        objective = transfer.objective(content, [style], weights)
        from_objective = objective(style)
        content_targets, style_targets = transfer.targets(content, style)
        from_losses = transfer.losses(style, content_targets, style_targets, 1.0, 1.0, 0.0)
        photo = objective(content)  # an image that is not the style: its loss is far from 0
    for name, terms in (("Objective", from_objective), ("StyleTransfer.losses", from_losses)):
        assert terms["style"].item() < 1e-6, f"{name}: the style image's style loss is {terms['style'].item():g}"
    assert photo["style"].item() > 1e-2
