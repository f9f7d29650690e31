"""Gram matrix and losses against independent computations (einsum, loops), and a gradient check."""

import pytest
import torch

from helpers.losses import content_loss, gram_matrix, style_loss, total_variation_loss


def test_gram_matches_einsum_and_loops():
    features = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    n, c, h, w = features.shape
    expected = torch.einsum("nchw,ndhw->ncd", features, features)
    looped = torch.zeros(n, c, c, dtype=torch.float64)
    for b in range(n):
        for i in range(c):
            for j in range(c):
                looped[b, i, j] = (features[b, i] * features[b, j]).sum()
    torch.testing.assert_close(expected, looped)
    torch.testing.assert_close(gram_matrix(features, "none"), expected)
    torch.testing.assert_close(gram_matrix(features, "hw"), expected / (h * w))
    torch.testing.assert_close(gram_matrix(features, "chw"), expected / (c * h * w))
    torch.testing.assert_close(gram_matrix(features[0]), expected[0] / (h * w))  # unbatched


def test_gram_is_symmetric_and_ignores_position():
    features = torch.randn(1, 8, 6, 6)
    gram = gram_matrix(features)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    shuffled = features.flatten(2)[:, :, torch.randperm(36)].reshape(1, 8, 6, 6)
    torch.testing.assert_close(gram_matrix(shuffled), gram)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_gram_value_and_gradient_in_either_memory_format(memory_format):
    """gram_matrix computes its own backward pass (one product for the symmetric Gram): autograd's
    numerical check, and the gradient of the product written out, in both layouts it reads."""
    features = torch.randn(2, 5, 3, 4, dtype=torch.float64).contiguous(memory_format=memory_format)
    features.requires_grad_(True)
    torch.autograd.gradcheck(lambda f: gram_matrix(f), (features,))
    weights = torch.randn(2, 5, 5, dtype=torch.float64)
    (gram_matrix(features) * weights).sum().backward()
    plain = features.detach().clone().requires_grad_(True)
    flat = plain.reshape(2, 5, 12)
    expected = flat @ flat.transpose(1, 2) / 12
    (expected * weights).sum().backward()
    torch.testing.assert_close(gram_matrix(features), expected)
    torch.testing.assert_close(features.grad, plain.grad)
    assert features.grad.is_contiguous(memory_format=memory_format), "the gradient keeps the features' layout"


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_gram_of_bf16_features_sums_in_float32(memory_format):
    """The loop on a CPU passes bf16 activations straight to gram_matrix: the product must sum its
    h*w terms in float32 (only the result rounded to bf16, then returned as float32). Summed in bf16,
    ten thousand positive products would stall long before the true sum."""
    torch.manual_seed(0)
    exact = torch.rand(1, 8, 100, 100, dtype=torch.float64)  # ReLU-like: positive, like the real activations
    features = exact.to(torch.bfloat16).contiguous(memory_format=memory_format).requires_grad_(True)
    gram = gram_matrix(features)
    assert gram.dtype == torch.float32
    reference = gram_matrix(features.detach().double())  # the same bf16 numbers, multiplied in float64
    # At most one bf16 rounding of the result (8 significant bits), whatever the number of positions summed
    assert float(((gram.detach() - reference).abs() / reference).max()) < 1.01 * 2 ** -8
    weights = torch.randn(1, 8, 8, dtype=torch.float64)
    (gram * weights.float()).sum().backward()
    assert features.grad.dtype == torch.bfloat16
    assert features.grad.is_contiguous(memory_format=memory_format)
    plain = features.detach().double().requires_grad_(True)
    (gram_matrix(plain) * weights).sum().backward()
    assert float((features.grad.double() - plain.grad).norm() / plain.grad.norm()) < 1e-2


def test_gram_rejects_unknown_norm():
    with pytest.raises(ValueError):
        gram_matrix(torch.ones(1, 2, 2, 2), "paper")


def test_content_loss_is_relative_squared_error():
    f, p = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    expected = ((f - p) ** 2).sum() / (p ** 2).sum()
    torch.testing.assert_close(content_loss({"a": f}, {"a": p}), expected)
    # Scale-free: multiplying features and target by any factor (backbones differ in scale) changes nothing.
    torch.testing.assert_close(content_loss({"a": 58 * f}, {"a": 58 * p}), expected)


def test_style_loss_with_layer_weights():
    a, b = torch.randn(1, 3, 4, 4), torch.randn(1, 5, 2, 2)
    ta, tb = torch.randn(1, 3, 4, 4), torch.randn(1, 5, 2, 2)
    ga, gb = gram_matrix(ta), gram_matrix(tb)

    def rel(x, t):
        g = torch.einsum("nchw,ndhw->ncd", x, x) / (x.shape[2] * x.shape[3])
        return ((g - t) ** 2).sum() / (t ** 2).sum()

    features, targets = {"a": a, "b": b}, {"a": ga, "b": gb}
    torch.testing.assert_close(style_loss(features, targets), (rel(a, ga) + rel(b, gb)) / 2)
    torch.testing.assert_close(style_loss(features, targets, {"a": 0.25, "b": 2.0}),
                               0.25 * rel(a, ga) + 2.0 * rel(b, gb))
    with pytest.raises(KeyError):
        style_loss(features, targets, {"a": 1.0})
    assert style_loss({"a": ta}, {"a": ga}).item() == pytest.approx(0.0, abs=1e-6)


def test_total_variation_against_loops():
    image = torch.rand(1, 3, 5, 6, dtype=torch.float64)
    dy = sum((image[0, c, i + 1, j] - image[0, c, i, j]) ** 2 for c in range(3) for i in range(4) for j in range(6))
    dx = sum((image[0, c, i, j + 1] - image[0, c, i, j]) ** 2 for c in range(3) for i in range(5) for j in range(5))
    torch.testing.assert_close(total_variation_loss(image), dy / (3 * 4 * 6) + dx / (3 * 5 * 5))
    assert total_variation_loss(torch.ones(1, 3, 4, 4)).item() == 0.0


def test_gradients_of_the_losses():
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    target = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    gram_target = gram_matrix(target)
    assert torch.autograd.gradcheck(lambda v: style_loss({"l": v}, {"l": gram_target}), (x,))
    assert torch.autograd.gradcheck(lambda v: content_loss({"l": v}, {"l": target}), (x,))
    assert torch.autograd.gradcheck(total_variation_loss, (x,))
