"""The method module (helpers/method.py) against a plain, independent implementation of the paper's loss and
loop written here in a few lines of PyTorch (as notebook 05's plain cell does): the same first losses.

A wrong layer, preprocessing, pooling or normalisation changes the very first loss (at the start image);
a wrong loop (closure, line search, tolerances) changes the next ones.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import torch
from torch import nn

import helpers
from helpers import method

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CAFFE_MEAN_BGR = [104.00699, 116.66877, 122.67892]  # what vgg16-hed was trained with: BGR, 0-255, minus this


# ---------------------------------------------------------------------- the plain implementation
def plain_network(backbone):
    """The network up to relu5_1, frozen, with average pooling (the paper's), written out by hand."""
    names = backbone.layer_names[: backbone.layer_names.index("relu5_1") + 1]
    network = copy.deepcopy(backbone.features[: len(names)])
    for i, name in enumerate(names):
        if name.startswith("pool"):
            network[i] = nn.AvgPool2d(2, 2)
        elif name.startswith("relu"):
            network[i] = nn.ReLU()
    network.requires_grad_(False).eval()

    def features(rgb):
        x = rgb.flip(1) * 255 - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)  # the Caffe way, by hand
        found = {}
        for name, layer in zip(names, network):
            x = layer(x)
            found[name] = x
        return found

    return features


def plain_gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def plain_relative_error(value, target):
    return ((value - target) ** 2).sum() / (target ** 2).sum()


def plain_losses(features, content, style, style_weight, tv_weight):
    """(the function of the image that gives (content term, style term, tv term, total)), targets computed once."""
    with torch.no_grad():
        content_target = features(content)["relu4_2"]
        style_targets = {name: plain_gram(features(style)[name]) for name in STYLE_LAYERS}

    def losses(image):
        found = features(image)
        content_term = plain_relative_error(found["relu4_2"], content_target)
        style_term = sum(plain_relative_error(plain_gram(found[name]), style_targets[name]) / len(STYLE_LAYERS)
                         for name in STYLE_LAYERS)
        dy, dx = image[..., 1:, :] - image[..., :-1, :], image[..., :, 1:] - image[..., :, :-1]
        tv_term = (dy ** 2).mean() + (dx ** 2).mean()
        return content_term, style_term, tv_term, content_term + style_weight * style_term + tv_weight * tv_term

    return losses


def plain_lbfgs(losses, start, steps, first_step=0.05):
    """The paper's loop: L-BFGS on the pixels, its first step scaled to move the largest pixel by
    ``first_step``; returns the total loss at every new point it evaluates."""
    image = start.clone().requires_grad_(True)
    gradient, = torch.autograd.grad(losses(image)[-1], image)
    # torch's first try is lr * min(1, 1 / sum|g|) * g
    first_lr = first_step / gradient.abs().max().item() * max(1.0, gradient.abs().sum().item())
    optimizer = torch.optim.LBFGS([image], max_iter=steps, history_size=100,  # max_eval: 1.25 x steps
                                  line_search_fn="strong_wolfe", tolerance_grad=0, tolerance_change=0)
    optimizer.param_groups[0].update(lr=first_lr, max_iter=1)
    points, history = [], []

    def closure():
        optimizer.zero_grad()
        loss = losses(image)[-1]
        loss.backward()
        if not any(torch.equal(image.detach(), point) for point in points):  # each step() re-asks its end point
            points.append(image.detach().clone())
            history.append(loss.item())
        return loss

    optimizer.step(closure)
    optimizer.param_groups[0].update(lr=1.0, max_iter=steps)
    while len(history) < steps:
        optimizer.step(closure)
    return history[:steps]


# ------------------------------------------------------------------------------------ the tests
@pytest.fixture(scope="module")
def pair():
    return helpers.load_image("chelsea", 48), helpers.load_image("wave", 48)


def test_the_method_computes_the_plain_terms_at_the_first_step(hed, pair):
    content, style = pair
    start = torch.rand_like(content)  # white noise: every term is far from 0
    plain = plain_losses(plain_network(hed), content, style, style_weight=10.0, tv_weight=3.0)(start)
    objective = method.paper_objective(method.feature_extractor(hed), content, [style], style_weight=10.0,
                                       tv_weight=3.0)
    ours = objective(start)
    for name, expected in zip(("content", "style", "tv"), plain):
        weight = {"content": 1.0, "style": 10.0, "tv": 3.0}[name]
        assert ours[name].item() == pytest.approx(weight * expected.item(), rel=1e-5), name
    assert ours["total"].item() == pytest.approx(plain[-1].item(), rel=1e-5)


def test_the_method_and_the_library_follow_the_plain_loop(hed, pair):
    """The same first losses step by step: the method's loop, and StyleTransfer.run (which calls it)."""
    content, style = pair
    steps = 12
    plain = plain_lbfgs(plain_losses(plain_network(hed), content, style, 10.0, 0.0), content, steps)
    image, history = method.style_transfer(method.feature_extractor(hed), content, style, steps=len(plain))
    ours = [h["total"] for h in history]
    library = [h["total"] for h in helpers.StyleTransfer(hed, device="cpu", verbose=False).run(
        content, style, steps=len(plain), progress=False).history]
    for totals in (ours, library):
        assert len(totals) == len(plain)
        assert totals[0] == pytest.approx(plain[0], rel=1e-5), "the objective differs"
        torch.testing.assert_close(torch.tensor(totals[:5]), torch.tensor(plain[:5]), rtol=1e-3, atol=0)
    assert min(ours) < 0.5 * plain[0] and image.min() >= 0 and image.max() <= 1  # it painted


def test_the_methods_adam_follows_a_plain_adam_loop(hed, pair):
    content, style = pair
    losses = plain_losses(plain_network(hed), content, style, 10.0, 0.0)
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=0.02)
    plain = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = losses(image)[-1]
        loss.backward()
        plain.append(loss.item())
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    _, history = method.style_transfer(method.feature_extractor(hed), content, style, steps=5, optimizer=method.adam)
    torch.testing.assert_close(torch.tensor([h["total"] for h in history]), torch.tensor(plain), rtol=1e-4, atol=0)


@pytest.mark.parametrize("first_step", [0.05, 0.2])
def test_lbfgs_first_step_moves_the_largest_pixel_by_first_step_and_never_evaluates_a_point_twice(first_step):
    torch.manual_seed(0)
    target = torch.rand(1, 3, 40, 30)
    start = torch.rand(1, 3, 40, 30)
    weights = torch.rand(1, 3, 40, 30) + 0.5  # an uneven bowl: the gradient's entries differ
    points = []

    def objective(image):
        points.append(image.detach().clone())
        return {"total": 1e3 * (weights * (image - target) ** 2).sum()}

    image = start.clone().requires_grad_(True)
    budget = method.Budget(8)
    method.optimise(image, objective, budget, method.lbfgs, first_step=first_step)
    assert len(points) == 8 and budget.step == 8
    assert (points[1] - points[0]).abs().max().item() == pytest.approx(first_step, rel=1e-4)  # the first try
    for i, point in enumerate(points):
        assert not any(torch.equal(point, other) for other in points[:i]), f"evaluation {i + 1} repeats a point"
    assert budget.history[-1]["total"] < 1e-3 * budget.history[0]["total"]  # and it converges


def test_the_method_is_one_file_that_reads_only_the_network_and_the_image_helpers():
    source = Path(method.__file__)
    assert len(source.read_text().splitlines()) <= 400
    package_imports = {node.module for node in ast.walk(ast.parse(source.read_text()))
                       if isinstance(node, ast.ImportFrom) and node.level > 0}
    assert package_imports <= {"layers", "io.images"}, package_imports
