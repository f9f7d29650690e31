"""A run's inputs, read and checked before any optimisation: the photo, the styles and their blend, the
masks, and whether the sizes asked for fit in memory. Each refusal says what to do instead.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from PIL import Image

from . import color, settings
from .io.images import TRANSPARENCY_NOTE, load_pil, long_side_size, pil_to_tensor

# Memory one run needs per megapixel of the result, beyond the network itself: measured here as
# 3.4-3.8 GB for VGG16 and VGG19 through relu5_1 with L-BFGS at 512-768 px (activations kept for the
# backward pass dominate). On a CPU running out of memory kills the process, so we check first.
MB_PER_MEGAPIXEL = 3600
# The style image only goes forward, without gradients, to compute its Gram matrices: measured here
# as 744-782 MB per megapixel for VGG19 through relu5_1 (fp32 and bf16, 1-23 MP). A large
# --style-scale can make it need more memory than the optimisation itself.
STYLE_MB_PER_MEGAPIXEL = 800


@dataclass(frozen=True)
class RunInputs:
    """The images of one run, read once at full resolution; each level resizes them."""

    content: Image.Image
    styles: list[Image.Image]
    masks: list[torch.Tensor] | None  # per style, (1, 1, H, W) in [0, 1]


def read_inputs(content, styles: list, masks) -> RunInputs:
    """Read the photo, the styles and the masks (anything ``load_pil`` takes; masks also tensors)."""
    content_pil, style_pils = load_pil(content), [load_pil(s) for s in styles]
    mask_images = None
    if masks is not None:
        mask_images = []
        for number, mask in enumerate(masks, 1):  # a loop, not a comprehension: the warnings' stacklevel
            mask_images.append(mask_tensor(_mask_image(mask, number)))
        check_masks(mask_images)
    return RunInputs(content_pil, style_pils, mask_images)


def _mask_image(mask, number: int):
    """A mask given as an image, read; a tensor as it is. Transparency in a mask is composited onto white,
    which means "style here": a warning says so, since a painted mask may mean the opposite."""
    if isinstance(mask, torch.Tensor):
        return mask
    image = load_pil(mask)
    if image.info.get(TRANSPARENCY_NOTE):
        # stacklevel: _mask_image < read_inputs < StyleTransfer.run < the caller, whose line is shown
        warnings.warn(f"mask {number} has transparent areas: they count as white, so style {number} goes there "
                      "(save the mask in black and white, without transparency, to choose)", stacklevel=4)
    return image


def style_side(level_size: int, style_scale: float) -> int:
    """The style image's long side for a result whose long side is ``level_size``."""
    return max(8, round(level_size * style_scale))


def style_blend(styles: list, blend, masks) -> list[float]:
    """Each style's share of the style loss, summing to 1 (default: equal); checks masks match styles."""
    if not styles:
        raise ValueError("give at least one style image")
    blend = list(blend) if blend is not None else [1.0] * len(styles)
    if len(blend) != len(styles) or any(not (0 <= b < math.inf) for b in blend) or sum(blend) <= 0:
        count = f"{len(styles)} style{'s' * (len(styles) != 1)}"
        raise ValueError(f"style_blend needs one weight per style ({count} given), none negative and not all "
                         f"zero; got {blend}")
    if masks is not None and len(masks) != len(styles):
        raise ValueError(f"give one mask per style: {len(styles)} styles, {len(masks)} masks")
    if not math.isfinite(sum(blend)):  # weights near the float limit overflow: only their ratios count
        blend = [b / max(blend) for b in blend]
    return [b / sum(blend) for b in blend]


def mask_tensor(mask) -> torch.Tensor:
    """A mask as (1, 1, H, W) in [0, 1]: tensors are taken as they are, images by their luminance."""
    if isinstance(mask, torch.Tensor) and mask.dim() in (2, 4) and (mask.dim() == 2 or mask.shape[1] == 1):
        values = mask.float() / 255 if mask.dtype == torch.uint8 else mask.float()
        return values.reshape(1, 1, *mask.shape[-2:]).clamp(0, 1)
    return color.luminance(pil_to_tensor(load_pil(mask)))[:, :1]


def check_masks(masks: list[torch.Tensor]) -> None:
    """A black mask gives its style no region: a warning, or an error when every mask is black (the
    photo would come back unchanged). Black: nowhere above 2% (JPEG noise on a black image)."""
    black = [i for i, mask in enumerate(masks, 1) if mask.numel() == 0 or mask.max() < 0.02]
    if black and len(black) == len(masks):
        raise ValueError(f"{'every mask is' if len(masks) > 1 else 'the mask is'} black: no style would go "
                         "anywhere and the photo would come back unchanged (white marks where a style goes)")
    for i in black:
        # stacklevel: check_masks < read_inputs < StyleTransfer.run < the caller, whose line is shown
        warnings.warn(f"mask {i} is black everywhere: style {i} is not used anywhere (white marks where a "
                      "style goes)", stacklevel=4)


def check_memory(device: torch.device, inputs: RunInputs, size: int, style_scale: float) -> None:
    """Refuse a size that would not fit, with the largest that would, instead of being killed."""
    available = settings.available_memory_mb(device)
    if available is None or device.type != "cpu":  # a GPU raises OutOfMemoryError, handled in the loop
        return
    width, height = long_side_size(inputs.content.size, size)
    needed = MB_PER_MEGAPIXEL * width * height / 1e6
    if needed > available:
        fits = int(size * (available / needed) ** 0.5) // 16 * 16
        raise ValueError(f"a {width}x{height} px result needs about {needed / 1024:.0f} GB of "
                         f"memory, and {available / 1024:.1f} GB is free: use a size of at most {fits} px "
                         "(and upscale the result), or a machine with more memory")
    for style in inputs.styles:
        width, height = long_side_size(style.size, style_side(size, style_scale))
        needed = STYLE_MB_PER_MEGAPIXEL * width * height / 1e6
        if needed > available:
            fits = style_scale * (available / needed) ** 0.5
            raise ValueError(f"the style image at {width}x{height} px (style scale {style_scale:g} of a "
                             f"{size} px result) needs about {needed / 1024:.0f} GB of memory, and "
                             f"{available / 1024:.1f} GB is free: use a style scale of at most "
                             f"{math.floor(fits * 10) / 10:g}")
