"""Speed, opt in: what makes a step faster without changing the method (``method.py``).

One switch, ``precision`` ("fp32" or "bf16", see ``settings.py``), turns it on: ``Speed.of(precision,
device)`` gives the run its feature function and its Gram function, and ``StyleTransfer`` calls the
method through them. At "fp32" on a CPU both are the method's own, untouched.

- bf16 convolutions (``torch.autocast``) on hardware with bf16 units; the losses stay float32.
- channels-last tensors: oneDNN's fast bf16 kernels on a CPU (AMX tiles where it has them) need them.
  A 512 px step took half the time on a CPU with AMX (benchmarks/RESULTS.md); in fp32 the layout made
  no difference there, so it is only used with bf16.
- a Gram product with its own backward pass (one matrix product instead of two), reading channels-last
  features without a copy: about 7% of a 512 px bf16 step on a CPU.
- cuDNN's benchmark mode on a GPU: every step convolves tensors of the same shapes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import method

# bf16 convolutions on a CPU crash the process (a segmentation fault inside oneDNN, with memory to
# spare) once the image is large enough: measured with torch 2.14.1 here, VGG19 ran at 22.1 MP and
# crashed at 23.0 MP (4800 x 4800 px, reached with a large style scale). Above this, run in fp32.
BF16_CPU_MAX_PIXELS = 21_000_000


def gram_product(features: torch.Tensor) -> torch.Tensor:
    """``F F^T`` for (N, C, H, W) features, unnormalised, in float32 for 16-bit features (multiplied in
    bf16 with float32 sums, as oneDNN's matrix kernels do: only the result is rounded)."""
    n, c, h, w = features.shape
    if c > 1 and features.is_contiguous(memory_format=torch.channels_last):
        # Channels-last features are stored position by position: read them as (h*w) x c, one column per
        # channel, without a copy, so the gradient comes back in their layout.
        gram = _GramProduct.apply(features.permute(0, 2, 3, 1).reshape(n, h * w, c), False)
    else:
        gram = _GramProduct.apply(features.reshape(n, c, h * w), True)  # c x (h*w): one row per channel
    return gram.float() if gram.dtype in (torch.bfloat16, torch.float16) else gram


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``method.gram_matrix`` (the same numbers, divided by the positions) through ``gram_product``."""
    positions = float(features.shape[-2] * features.shape[-1])
    if mask is not None:
        features = features * mask
        positions = mask.pow(2).sum(dim=(1, 2, 3)).clamp_min(method.EPS).view(-1, 1, 1)
    return gram_product(features) / positions


class _GramProduct(torch.autograd.Function):
    """``F @ F^T`` for F with one row per channel (``rows=True``), or ``F^T @ F`` for one column per channel.

    Autograd would compute ``dG @ F + (F^T @ dG)^T`` (two matrix products and a sum); the product is
    symmetric, so the gradient is ``(dG + dG^T) @ F``, one product.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, rows: bool) -> torch.Tensor:
        ctx.save_for_backward(flat)
        ctx.rows = rows
        # torch.bmm, not ``@``: for a batch of one, ``@`` copies a transposed bf16 operand first (6x slower).
        return torch.bmm(flat, flat.transpose(1, 2)) if rows else torch.bmm(flat.transpose(1, 2), flat)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (flat,) = ctx.saved_tensors
        symmetric = (grad + grad.transpose(1, 2)).to(flat.dtype)
        return (torch.bmm(symmetric, flat) if ctx.rows else torch.bmm(flat, symmetric)), None


@dataclass
class Speed:
    """How one StyleTransfer computes features and Gram matrices: ``features(extractor, image, float32)`` and
    ``gram`` (for the style loss at every step)."""

    precision: str  # "fp32" or "bf16"
    device: torch.device
    gram: Callable = method.gram_matrix

    @classmethod
    def of(cls, precision: str, device: torch.device) -> Speed:
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # cuDNN times its algorithms once per shape, keeps the fastest
        return cls(precision, device, gram_matrix if precision == "bf16" else method.gram_matrix)

    @property
    def channels_last(self) -> bool:
        return self.precision == "bf16" and self.device.type == "cpu"

    def prepare(self, extractor: torch.nn.Module) -> torch.nn.Module:
        """The extractor on the device, in the memory layout its kernels want (a copy: never the shared network)."""
        extractor = extractor.to(self.device)
        return extractor.to(memory_format=torch.channels_last) if self.channels_last else extractor

    def features(self, extractor: torch.nn.Module, image: torch.Tensor, float32: bool = True) -> dict:
        """The extractor's activations, as float32 whatever the precision of the convolutions (unless
        ``float32=False``: on a CPU the loop's loss reads bf16 activations as they are, and ``gram_matrix``
        multiplies them with float32 sums; a 512 px step took a third less time, at the same loss)."""
        if self.precision == "fp32":
            return extractor(image)
        if self.device.type == "cpu" and image.shape[-2] * image.shape[-1] > BF16_CPU_MAX_PIXELS:
            warnings.warn(f"a {image.shape[-1]}x{image.shape[-2]} px image is too large for bf16 convolutions on "
                          "this CPU (they crash above about 22 megapixels): it runs in fp32", stacklevel=3)
            return extractor(image)
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            found = extractor(image)
        return {name: feature.float() for name, feature in found.items()} if float32 else found
