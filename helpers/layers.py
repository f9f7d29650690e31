"""VGG layer names (``conv4_2``, ``relu4_2``, ``pool4``) and a feature extractor that uses them.

torchvision numbers the layers of ``vgg19().features`` 0..36. Papers and most style-transfer code
name them by block instead: ``conv{block}_{i}`` for the i-th convolution of a block, ``relu{block}_{i}``
for its rectified output and ``pool{block}`` for the pooling that ends the block. ``layer_names``
derives those names from the modules themselves, so they match torchvision's indices for any VGG
configuration (VGG19: ``conv4_2`` is index 21, ``conv5_1`` is 28).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from . import settings

# The convolution widths of each VGG configuration, "M" marks a 2x2 max-pooling
# (Simonyan & Zisserman 2015, table 1; the same lists as torchvision's ``cfgs``).
VGG_CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_vgg_features(config: str) -> nn.Sequential:
    """Build the convolutional part of a VGG (torchvision's ``features`` layout, random weights).

    Only the ``features`` are built: the classifier would cost ~480 MB and style transfer never uses it.
    """
    layers: list[nn.Module] = []
    channels = 3
    for width in VGG_CONFIGS[config]:
        if width == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = width
    return nn.Sequential(*layers)


def layer_names(features: Iterable[nn.Module]) -> list[str]:
    """Conventional names for each module of a VGG ``features`` stack, in order.

    Works on any VGG configuration, with or without batch norm (``bn{block}_{i}``).
    """
    names, block, conv = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        elif isinstance(module, nn.BatchNorm2d):
            names.append(f"bn{block}_{conv}")
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            raise TypeError(f"unexpected module {module!r} in a VGG feature stack")
    return names


def receptive_fields(features: Iterable[nn.Module]) -> dict[str, tuple[int, int]]:
    """For each layer: (receptive field in input pixels, stride in input pixels between its outputs).

    The standard recurrence: a k x k layer with stride s widens the field by (k - 1) * jump and
    multiplies the jump by s. ReLUs change neither.
    """
    field, jump, result = 1, 1, {}
    for name, module in zip(layer_names(features), features):
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kernel = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
            stride = module.stride if isinstance(module.stride, int) else module.stride[0]
            field, jump = field + (kernel - 1) * jump, jump * stride
        result[name] = (field, jump)
    return result


def check_layer_names(requested: Iterable[str], valid: Sequence[str]) -> list[str]:
    """Return ``requested`` as a list, or raise a KeyError that lists the valid names."""
    requested = list(requested)
    unknown = [name for name in requested if name not in valid]
    if unknown:
        raise KeyError(f"unknown layer name(s) {', '.join(unknown)}; this network has: {', '.join(valid)}")
    return requested


class FeatureExtractor(nn.Module):
    """Run a frozen VGG up to the deepest requested layer and return ``{name: activation}``.

    Inputs are RGB images in [0, 1] of shape (N, 3, H, W); the backbone's own preprocessing
    (mean/std, channel order, scale) is applied inside, so callers never deal with it.

    pooling: ``"max"`` keeps the network as trained; ``"avg"`` swaps every max-pooling for
    average-pooling, which Gatys et al. found gives "slightly more appealing results" (and, in the arXiv
    version, "improves the gradient flow").
    """

    def __init__(self, backbone, layers: Iterable[str], pooling: str = "max"):
        super().__init__()
        if pooling not in settings.POOLINGS:
            raise ValueError(f"pooling must be one of {settings.POOLINGS}, not {pooling!r}")
        self.layers = check_layer_names(dict.fromkeys(layers), backbone.layer_names)
        if not self.layers:
            raise ValueError("ask for at least one layer")
        self.backbone_name = backbone.name
        self.preprocess = backbone.preprocess
        indices = {name: i for i, name in enumerate(backbone.layer_names)}
        deepest = max(indices[name] for name in self.layers)
        wanted = {indices[name] for name in self.layers}
        modules = []
        # Run only up to the deepest requested layer: later layers cost time and change nothing.
        for i, module in enumerate(backbone.features[: deepest + 1]):
            if isinstance(module, nn.MaxPool2d) and pooling == "avg":
                module = nn.AvgPool2d(kernel_size=module.kernel_size, stride=module.stride)
            elif isinstance(module, nn.ReLU):
                # An in-place ReLU would overwrite a requested pre-ReLU (conv) output; elsewhere
                # in-place saves memory.
                module = nn.ReLU(inplace=(i - 1) not in wanted)
            modules.append(module)
        self.names = backbone.layer_names[: deepest + 1]
        self.wanted = wanted
        # Each 2x2 pooling halves the image (rounding down): below this many pixels a side, the
        # deepest layer would be empty and PyTorch would fail with a message about pooling sizes.
        self.poolings = sum(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in modules)
        self.min_input_side = 2**self.poolings
        self.deepest = self.names[-1]
        self.body = nn.Sequential(*modules)
        self.requires_grad_(False)  # The image is the only thing optimised: no weight gradients.
        self.eval()
        # The convolutions and the preprocessing are the backbone's own modules (no copy: several
        # extractors share one network's memory) until this extractor is moved or cast, see ``_apply``.
        self._shares_backbone = True

    def _apply(self, fn, *args, **kwargs):
        """``.to(device)``, ``.cuda()``, ``.double()``...: move a private copy, never the shared network.

        ``nn.Module.to`` converts parameters in place, so moving modules shared with the backbone (and
        every other extractor or StyleTransfer made from it) would move the network under them all.
        """
        if getattr(self, "_shares_backbone", False):
            probe = next(self.body.parameters(), None)
            if probe is not None and fn(probe) is not probe:  # only when this call converts something
                self.body = copy.deepcopy(self.body)
                self.preprocess = copy.deepcopy(self.preprocess)  # its mean/std buffers are shared too
                self._shares_backbone = False
        return super()._apply(fn, *args, **kwargs)

    def check_size(self, image: torch.Tensor, what: str = "the image") -> None:
        """Raise a ValueError that says what to do when ``image`` is too small for the deepest layer."""
        height, width = image.shape[-2:]
        if min(height, width) < self.min_input_side:
            raise ValueError(
                f"{what} is {width}x{height} px, but layer {self.deepest} needs at least {self.min_input_side} px "
                f"on each side ({self.poolings} poolings each halve it). Use a larger size, crop a very long "
                f"and thin image, or use shallower layers.")

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self.check_size(image)
        x = self.preprocess(image)
        found = {}
        for i, module in enumerate(self.body):
            x = module(x)
            if i in self.wanted:
                found[self.names[i]] = x
        return {name: found[name] for name in self.layers}
