"""Tests that pin behaviour: known values for each function, and for each option a check of its effect
(not only that it is accepted). Each one fails for a deliberate one-line bug that the rest of the suite
let through (the bug is named in the test's docstring)."""

import os
import stat

import pytest
import torch

import helpers
from helpers import color, settings
from helpers.layers import FeatureExtractor
from helpers.losses import gram_matrix, relative_squared_error, style_loss
from helpers.transfer import StyleTransfer


@pytest.fixture
def spy_style_images(transfer, monkeypatch):
    """Record every style image whose Gram matrices the loop computes (after resizing and recolouring)."""
    seen = []
    original = transfer.style_target

    def style_target(style):
        seen.append(style.detach().clone())
        return original(style)

    monkeypatch.setattr(transfer, "style_target", style_target)
    return seen


# ------------------------------------------------------------------------------------ known values
def test_the_papers_layers_are_the_rectified_ones(hed):
    """Bug: PAPER_CONTENT_LAYERS = ("conv4_2",) (the pre-ReLU output)."""
    assert helpers.PAPER_CONTENT_LAYERS == ("relu4_2",)
    assert helpers.PAPER_STYLE_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    transfer = StyleTransfer(hed, device="cpu", verbose=False)
    assert transfer.content_layers == ["relu4_2"]
    features = transfer.features(torch.rand(1, 3, 32, 32))
    assert (features["relu4_2"] >= 0).all() and (features["relu4_2"] == 0).any()  # rectified


def test_luminance_of_the_primaries():
    """Bug: R and B luminance weights swapped (0.114 R + 0.587 G + 0.299 B): grey alone cannot tell."""
    primaries = torch.eye(3).view(3, 3, 1, 1)  # red, green, blue images of one pixel
    yiq = color.rgb_to_yiq(primaries)[:, :, 0, 0]
    torch.testing.assert_close(yiq[:, 0], torch.tensor([0.299, 0.587, 0.114]))
    torch.testing.assert_close(yiq[:, 1], torch.tensor([0.595716, -0.274453, -0.321263]))
    torch.testing.assert_close(yiq[:, 2], torch.tensor([0.211456, -0.522591, 0.311135]))
    torch.testing.assert_close(color.luminance(primaries)[:, :, 0, 0],
                               torch.tensor([0.299, 0.587, 0.114]).view(3, 1).expand(3, 3))


def test_style_loss_honours_its_norm():
    """Bug: style_loss computes every Gram matrix with norm "hw", whatever ``norm`` says."""
    features = torch.rand(1, 4, 5, 6)
    for norm in ("none", "hw", "chw"):
        target = gram_matrix(features, norm)
        assert style_loss({"l": features}, {"l": target}, norm=norm).item() == pytest.approx(0.0, abs=1e-6), norm
    # against a raw (norm "none") target, "hw" is off by the factor H*W = 30: (1/30 - 1)^2
    raw = gram_matrix(features, "none")
    assert style_loss({"l": features}, {"l": raw}, norm="hw").item() == pytest.approx((1 / 30 - 1) ** 2, rel=1e-4)


def test_relative_squared_error_known_value():
    value, target = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    assert relative_squared_error(value, target).item() == pytest.approx((4 + 4) / (9 + 16))


def test_gram_matrix_known_value_and_mask_weights():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, -1.0]]]])  # (1, 2, 1, 2): two channels, two positions
    torch.testing.assert_close(gram_matrix(features, "none")[0], torch.tensor([[5.0, 1.0], [1.0, 10.0]]))
    torch.testing.assert_close(gram_matrix(features, "chw")[0], torch.tensor([[5.0, 1.0], [1.0, 10.0]]) / 4)
    only_first = torch.tensor([[[[1.0, 0.0]]]])  # a mask that keeps the first position only
    torch.testing.assert_close(gram_matrix(features, mask=only_first)[0], torch.tensor([[1.0, 3.0], [3.0, 9.0]]))


def test_match_luminance_known_value():
    style = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3)  # grey ramp: Y = value
    content = torch.tensor([0.4, 0.5, 0.6]).view(1, 1, 1, 3).expand(1, 3, 1, 3)
    matched = color.match_luminance(style, content)
    torch.testing.assert_close(matched[0, :, 0], torch.tensor([0.4, 0.5, 0.6]).expand(3, 3), atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------------- the loop
def test_the_best_image_is_kept_and_its_losses_reported(transfer, tiny_pair):
    """Bugs: the best image not copied (the last iterate returned); ``TransferResult.losses`` returning
    the last entry instead of the best. Adam with lr 1 from the photo makes every later step worse."""
    content, style = tiny_pair
    result = transfer.run(content, style, steps=4, init="content", optimizer="adam", lr=1.0, progress=False)
    totals = [h["total"] for h in result.history]
    assert result.best_step == 1 and min(totals[1:]) > totals[0]
    torch.testing.assert_close(result.image, content)  # step 1 evaluated the photo itself
    assert result.losses == result.history[0] and result.losses != result.history[-1]


def test_style_scale_sets_the_style_images_size(transfer, spy_style_images):
    """Bug: the loop resizes the style image to the level's size, ignoring ``style_scale``."""
    transfer.run("chelsea", "swirls", size=64, steps=1, style_scale=0.5, progress=False)
    transfer.run("chelsea", "swirls", size=64, steps=1, style_scale=1.5, progress=False)
    transfer.run("chelsea", "swirls", size=64, steps=1, style_scale=0.5, scales=2, progress=False)
    assert [max(s.shape[-2:]) for s in spy_style_images] == [32, 96, 16, 32]


def test_luminance_mode_matches_the_styles_luminance_to_the_photo(transfer, tiny_pair, spy_style_images):
    """Bug: in luminance mode the style image is used as it is (or grey but not matched to the photo)."""
    content, style = tiny_pair
    transfer.run(content, style, steps=1, preserve_colors="luminance", progress=False)
    used = spy_style_images[0]
    torch.testing.assert_close(used[:, 0], used[:, 1])  # grey: three equal channels
    torch.testing.assert_close(used[:, 0], used[:, 2])
    y = color.luminance(content)
    assert used.mean().item() == pytest.approx(y.mean().item(), abs=1e-4)
    assert used.std().item() == pytest.approx(y.std().item(), rel=1e-3)
    assert abs(color.luminance(style).mean() - y.mean()) > 0.02  # so the test above is not trivially true


def test_histogram_mode_recolours_the_style_to_the_photo(transfer, tiny_pair, spy_style_images):
    content, style = tiny_pair
    transfer.run(content, style, steps=1, preserve_colors="histogram", progress=False)
    mean = lambda image: image.mean(dim=(0, 2, 3))
    assert (mean(spy_style_images[0]) - mean(content)).abs().max() < 0.02 < (mean(style) - mean(content)).abs().max()


def test_inits_start_where_they_say(transfer, tiny_pair):
    content, style = tiny_pair
    starts = {}
    for init in ("content", "style", "noise"):
        transfer.run(content, style, steps=1, init=init, callback=lambda step, image, losses, init=init:
                     starts.setdefault(init, image), callback_every=1, progress=False)
    torch.testing.assert_close(starts["content"], content)
    torch.testing.assert_close(starts["style"], helpers.resize_tensor(style, tuple(content.shape[-2:])))
    noise = starts["noise"]
    assert abs(noise.mean().item() - 0.5) < 0.05 and abs(noise.std().item() - 12 ** -0.5) < 0.05  # uniform [0, 1]


def test_seed_changes_the_noise_start(transfer, tiny_pair):
    runs = [transfer.run(*tiny_pair, steps=1, init="noise", seed=seed, progress=False) for seed in (1, 2)]
    assert runs[0].history[0]["total"] != runs[1].history[0]["total"]


def test_weights_scale_their_terms(transfer, tiny_pair):
    """Each weight multiplies its own term (measured at the same start image, step 1)."""
    content, style = tiny_pair
    noise = torch.rand_like(content)  # the photo would give a content term of 0
    first = lambda **weights: transfer.run(content, style, steps=1, init=noise, progress=False, **weights).history[0]
    base = first(content_weight=1.0, style_weight=1.0, tv_weight=0.0)
    scaled = first(content_weight=3.0, style_weight=5.0, tv_weight=2.0)
    assert scaled["content"] == pytest.approx(3 * base["content"], rel=1e-5)
    assert scaled["style"] == pytest.approx(5 * base["style"], rel=1e-5)
    assert scaled["tv"] == pytest.approx(2 * helpers.total_variation_loss(noise).item(), rel=1e-5)
    assert "tv" not in base
    assert scaled["total"] == pytest.approx(scaled["content"] + scaled["style"] + scaled["tv"], rel=1e-6)


def test_style_blend_and_masks_mix_the_styles_terms(transfer, tiny_pair):
    content, style = tiny_pair
    other = helpers.load_image("mosaic", 40)
    first = lambda styles, **options: transfer.run(content, styles, steps=1, init="content", style_weight=1.0,
                                                   progress=False, **options).history[0]["style"]
    one, two = first(style), first(other)
    assert one != pytest.approx(two)
    assert first([style, other], style_blend=[1, 0]) == pytest.approx(one, rel=1e-5)
    assert first([style, other], style_blend=[3, 1]) == pytest.approx(0.75 * one + 0.25 * two, rel=1e-5)
    # A mask of zeros leaves that style no region: its Gram matrices are 0, a relative error of 1 per layer.
    h, w = content.shape[-2:]
    with pytest.warns(UserWarning, match="mask 2 is black everywhere"):
        masked = first([style, other], masks=[torch.ones(h, w), torch.zeros(h, w)])
    assert masked == pytest.approx(0.5 * one + 0.5, rel=1e-5)


def test_style_layer_weights_weight_the_layers(hed, tiny_pair):
    content, style = tiny_pair
    first = lambda transfer: transfer.run(content, style, steps=1, progress=False).history[0]["style"]
    only_first = first(StyleTransfer(hed, style_layers=["relu1_1", "relu2_1"], style_layer_weights=[1.0, 0.0],
                                     device="cpu", verbose=False))
    alone = first(StyleTransfer(hed, style_layers=["relu1_1"], device="cpu", verbose=False))
    assert only_first == pytest.approx(alone, rel=1e-5)


# --------------------------------------------------------------------- a network shared by several users
def test_moving_one_extractor_leaves_the_shared_network_where_it_was(hed):
    """``.to()`` converts parameters in place: moving modules shared with the backbone moved the network
    under every other FeatureExtractor and StyleTransfer made from it (on a GPU: a device mismatch)."""
    image = torch.rand(1, 3, 32, 32)
    stay = FeatureExtractor(hed, ["relu2_1"])
    before = stay(image)["relu2_1"]
    moved = FeatureExtractor(hed, ["relu2_1"]).to(torch.float64)  # a move a CPU can make, like .to("cuda")
    assert all(p.dtype == torch.float32 for p in hed.features.parameters())
    assert all(b.dtype == torch.float32 for b in hed.preprocess.buffers())
    torch.testing.assert_close(stay(image)["relu2_1"], before)  # still runs, on the network as it was
    torch.testing.assert_close(moved(image.double())["relu2_1"], before.double(), rtol=1e-4, atol=1e-4)
    # Without a move, extractors share the backbone's modules (no copy of the weights).
    assert stay.body[0] is hed.features[0] and moved.body[0] is not hed.features[0]
    assert FeatureExtractor(hed, ["relu1_1"]).to("cpu").body[0] is hed.features[0]  # no-op moves copy nothing


# -------------------------------------------------------------------------------- files and memory
def test_saved_files_get_the_usual_permissions(tmp_path):
    """The atomic save's temporary file is private (0600); the saved picture must not be."""
    image = torch.rand(1, 3, 8, 8)
    old = os.umask(0o022)
    try:
        path = helpers.save_image(image, tmp_path / "a.png")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(helpers.save_image(image, tmp_path / "b.png").stat().st_mode) == 0o600
        path.chmod(0o664)  # overwriting keeps the file's own mode, as a plain write would
        assert stat.S_IMODE(helpers.save_image(image, path).stat().st_mode) == 0o664
        gif = helpers.io.images.save_animation([image, image], tmp_path / "c.gif")
        assert stat.S_IMODE(gif.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_memory_estimate_known_value_and_unknown_peaks():
    """Peak memory is NaN where it cannot be read (Windows without the API): the estimate says None."""
    # 100 MB + 1000 MB per megapixel; 80% of 2100 MB leaves 1580 MB: (1580 / 1000 * 1e6) ** 0.5 px
    estimate = settings.largest_square_side([100, 200, 400], [110, 140, 260], 2100)
    assert estimate[0] == pytest.approx(1000) and estimate[1] == int((1580 / 1000 * 1e6) ** 0.5)
    assert settings.largest_square_side([100, 200], [float("nan"), 140], 2100) is None
    assert settings.largest_square_side([100, 200], [110, 140], None) is None
    assert settings.largest_square_side([100, 200], [140, 140], 2100) is None  # no growth: no estimate
    assert settings.peak_memory_mb("cpu") > 0 and settings.total_memory_mb("cpu") > 0  # Linux, as tested here


def test_out_of_memory_error_exists_in_the_supported_torch():
    """The loop catches ``torch.OutOfMemoryError``, new in torch 2.4: the requirements must ask for it."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    assert hasattr(torch, "OutOfMemoryError")
    for text in ((root / "requirements.txt").read_text(), (root / "pyproject.toml").read_text()):
        assert "torch>=2.4" in text and "torch>=2.1" not in text


def test_pooling_and_content_layers_reach_the_network(hed, tiny_pair):
    from torch import nn

    average = StyleTransfer(hed, device="cpu", verbose=False)  # the paper's average pooling by default
    maximum = StyleTransfer(hed, pooling="max", device="cpu", verbose=False)
    assert any(isinstance(m, nn.AvgPool2d) for m in average.extractor.body)
    assert not any(isinstance(m, nn.AvgPool2d) for m in maximum.extractor.body)
    shallow = StyleTransfer(hed, content_layers=["relu2_2"], device="cpu", verbose=False)
    content_targets, _ = shallow.targets(*tiny_pair)
    assert list(content_targets) == ["relu2_2"] and content_targets["relu2_2"].shape[1] == 128


def test_adam_learning_rate_sets_the_step(transfer, tiny_pair):
    content, style = tiny_pair
    moved = {}
    for lr in (0.01, 0.04):
        seen = []
        transfer.run(content, style, steps=2, init="content", optimizer="adam", lr=lr, progress=False,
                     callback=lambda step, image, losses, seen=seen: seen.append(image), callback_every=1)
        moved[lr] = (seen[1] - seen[0]).abs().max().item()  # Adam's first step moves each pixel by about lr
    assert moved[0.01] == pytest.approx(0.01, rel=0.05) and moved[0.04] == pytest.approx(0.04, rel=0.05)


def test_known_sizes():
    from helpers.io.images import long_side_size
    from helpers.run_inputs import style_side as _style_side

    assert long_side_size((400, 300), 200) == (200, 150) and long_side_size((300, 400), 200) == (150, 200)
    assert long_side_size((1000, 3), 100) == (100, 1)  # never 0 px
    assert _style_side(256, 1.0) == 256 and _style_side(256, 0.5) == 128 and _style_side(256, 0.01) == 8


def test_combine_luminance_known_value():
    grey = torch.full((1, 3, 1, 1), 0.5)
    red = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1)
    combined = color.combine_luminance(grey, red)  # the grey image's luminance, the red photo's colour
    assert color.rgb_to_yiq(combined)[0, 0].item() == pytest.approx(0.5, abs=1e-5)
    torch.testing.assert_close(color.rgb_to_yiq(combined)[:, 1:], color.rgb_to_yiq(red)[:, 1:], atol=1e-5, rtol=0)
    assert combined[0, 0].item() > combined[0, 1].item()  # still red
