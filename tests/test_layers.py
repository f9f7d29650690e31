"""Layer names match torchvision's modules at every index, and the extractor returns the right tensors."""

import pytest
import torch
import torchvision
from torch import nn

import helpers
from helpers.layers import FeatureExtractor, layer_names, make_vgg_features


def _expected_name(features, index):
    """Name of module ``index`` computed independently: count pools and convs before it."""
    module = features[index]
    block = 1 + sum(isinstance(m, nn.MaxPool2d) for m in features[:index])
    last_pool = max([i for i in range(index) if isinstance(features[i], nn.MaxPool2d)], default=-1)
    conv = sum(isinstance(m, nn.Conv2d) for m in features[last_pool + 1: index + 1])
    kind = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}[type(module)]
    return f"pool{block}" if kind == "pool" else f"{kind}{block}_{conv}"


@pytest.mark.parametrize("config", ["vgg16", "vgg19"])
def test_names_match_torchvision_modules_at_every_index(config):
    reference = getattr(torchvision.models, config)(weights=None).features
    names = layer_names(reference)
    assert len(names) == len(reference)
    for index, name in enumerate(names):
        assert name == _expected_name(reference, index), index
        module = reference[index]
        assert name.startswith({nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}[type(module)])


@pytest.mark.parametrize("config", ["vgg16", "vgg19"])
def test_our_vgg_has_torchvisions_layout(config):
    ours, theirs = make_vgg_features(config), getattr(torchvision.models, config)(weights=None).features
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_well_known_vgg19_indices():
    names = layer_names(make_vgg_features("vgg19"))
    known = {"conv1_1": 0, "conv1_2": 2, "pool1": 4, "conv2_1": 5, "pool2": 9, "conv3_1": 10, "conv3_4": 16,
             "pool3": 18, "conv4_1": 19, "conv4_2": 21, "relu4_2": 22, "conv4_4": 25, "pool4": 27,
             "conv5_1": 28, "relu5_1": 29, "conv5_4": 34, "pool5": 36}
    assert {name: names.index(name) for name in known} == known


def test_well_known_vgg16_indices():
    names = layer_names(make_vgg_features("vgg16"))
    assert [names.index(n) for n in ("relu4_1", "conv4_2", "relu4_2", "relu5_1")] == [18, 19, 20, 25]


def test_batchnorm_variant_is_named():
    names = layer_names(torchvision.models.vgg11_bn(weights=None).features)
    assert names[:4] == ["conv1_1", "bn1_1", "relu1_1", "pool1"]


def test_unknown_layer_lists_valid_names(hed):
    with pytest.raises(KeyError) as info:
        FeatureExtractor(hed, ["relu4_2", "conv6_1"])
    message = str(info.value)
    assert "conv6_1" in message and "relu5_3" in message


def test_extractor_runs_only_to_the_deepest_layer(hed):
    extractor = FeatureExtractor(hed, ["relu2_1", "conv1_2"])
    assert len(extractor.body) == hed.layer_names.index("relu2_1") + 1
    out = extractor(torch.rand(1, 3, 32, 32))
    assert list(out) == ["relu2_1", "conv1_2"]
    assert out["relu2_1"].shape == (1, 128, 16, 16)


def test_too_small_an_image_gets_an_error_that_says_what_to_do(hed):
    extractor = FeatureExtractor(hed, ["relu1_1", "relu5_1"])
    assert extractor.min_input_side == 16  # four poolings before relu5_1
    extractor(torch.rand(1, 3, 16, 40))  # just big enough
    with pytest.raises(ValueError, match="relu5_1 needs at least 16 px"):
        extractor(torch.rand(1, 3, 15, 200))
    shallow = FeatureExtractor(hed, ["relu2_1"])
    assert shallow.min_input_side == 2
    shallow(torch.rand(1, 3, 2, 200))


def test_extractor_matches_running_the_whole_network(hed):
    image = torch.rand(1, 3, 32, 32)
    out = FeatureExtractor(hed, ["conv3_1", "relu4_2"])(image)
    x = hed.preprocess(image)
    expected = {}
    with torch.no_grad():
        for name, module in zip(hed.layer_names, hed.features):
            x = module(x.clone())
            expected[name] = x.clone()
    # conv3_1 is the pre-ReLU output: it must survive the in-place ReLU that follows it.
    assert (out["conv3_1"] < 0).any()
    torch.testing.assert_close(out["conv3_1"], expected["conv3_1"])
    torch.testing.assert_close(out["relu4_2"], expected["relu4_2"])


def test_average_pooling_swap(hed):
    extractor = FeatureExtractor(hed, ["relu3_1"], pooling="avg")
    assert not any(isinstance(m, nn.MaxPool2d) for m in extractor.body)
    assert sum(isinstance(m, nn.AvgPool2d) for m in extractor.body) == 2
    assert not any(isinstance(m, nn.AvgPool2d) for m in hed.features)  # the backbone is untouched
    with pytest.raises(ValueError):
        FeatureExtractor(hed, ["relu3_1"], pooling="median")


def test_weights_are_frozen_and_image_gets_gradients(hed):
    extractor = FeatureExtractor(hed, ["relu2_1"])
    assert all(not p.requires_grad for p in extractor.parameters())
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    extractor(image)["relu2_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in extractor.parameters())


def test_paper_layers_exist_in_every_backbone_config():
    for config in ("vgg16", "vgg19"):
        names = layer_names(make_vgg_features(config))
        assert set(helpers.PAPER_CONTENT_LAYERS + helpers.PAPER_STYLE_LAYERS) <= set(names)
