"""helpers: the small package behind the neural style transfer course.

Read in this order; each layer uses only the ones above it.

The method (read ``method`` first: the whole algorithm in one file, top to bottom)
- ``method``    features, the loss terms (one class each, building its own target), their weighted sum,
  the L-BFGS loop with its closure
- ``layers``    VGG layer names (conv4_2, relu4_2, pool4) and the feature extractor
- ``backbones`` the pretrained networks (vgg19, vgg16, the offline vgg16-imagenet and vgg16-hed) and how one
  is chosen
- ``losses``    the loss functions as the notebooks build them, with other normalisations to compare

The library around it (``stylize``, ``StyleTransfer``, the command line)
- ``transfer``  levels coarse to fine, colours, stopping, saving; its parts: ``run_options`` (every run
  setting with its default and check, in one dataclass), ``presets`` (named recipes), ``objective`` (the
  weights), ``optimizers`` (by name), ``color`` and ``color_preservation`` (keep the photo's colours),
  ``run_inputs`` (the images read and checked), ``run_record`` (steps, best image, ``StopReason``)
- ``settings``  device choice, quick mode, default sizes and step counts
- ``speed``     opt-in speed (bf16, channels-last, a faster Gram product), switched by ``precision``
- ``feedforward`` Ghiasi et al.'s feed-forward style network (optional extra), the course's peer
- ``__main__``  the command line: ``python -m helpers CONTENT STYLE -o OUT`` (``_startup``: Ctrl-C while it
  starts)

``io/``: images and files in and out (``images``, ``gallery``, ``download``, ``files``)
``course/``: what the notebooks teach with (``exercises``, ``measure``, ``diagram``, ``studio``)

The research that chose the presets (recipe studies, screens, judges) lives outside the package, in
``research/``, and imports it as any user would.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _startup  # noqa: F401  first: a Ctrl-C while `python -m helpers` loads torch is one line

# isort: split
import torch

from . import color, course, feedforward, io, presets
from .backbones import Backbone, BackboneError, load_backbone
from .course.exercises import check_answer
from .io import gallery
from .io.images import (
    ImageLoadError,
    load_image,
    load_pil,
    resize_tensor,
    save_animation,
    save_image,
    show_images,
    tensor_to_pil,
)
from .layers import FeatureExtractor, layer_names, receptive_fields
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss
from .settings import choose_device, default_size, default_steps, output_dir, pick, quick_mode, seed_everything
from .transfer import PAPER_CONTENT_LAYERS, PAPER_STYLE_LAYERS, StyleTransfer, TransferResult, stylize

__all__ = [
    "Backbone",
    "BackboneError",
    "Course",
    "FeatureExtractor",
    "ImageLoadError",
    "PAPER_CONTENT_LAYERS",
    "PAPER_STYLE_LAYERS",
    "StyleTransfer",
    "TransferResult",
    "check_answer",
    "choose_device",
    "color",
    "course",
    "io",
    "feedforward",
    "presets",
    "content_loss",
    "course_setup",
    "default_size",
    "default_steps",
    "gallery",
    "gram_matrix",
    "layer_names",
    "load_backbone",
    "load_image",
    "load_pil",
    "output_dir",
    "pick",
    "quick_mode",
    "receptive_fields",
    "resize_tensor",
    "save_animation",
    "save_image",
    "seed_everything",
    "show_images",
    "style_loss",
    "stylize",
    "tensor_to_pil",
    "total_variation_loss",
]


@dataclass
class Course:
    """What the notebooks' setup cell resolves once: the backbone, the device and the defaults."""

    backbone: Backbone
    device: torch.device
    quick: bool
    size: int
    steps: int


def course_setup(seed: int = 0, backbone: str | None = None) -> Course:
    """The setup every notebook starts with: seed, choose backbone and device, print them."""
    seed_everything(seed)
    chosen = load_backbone(backbone)
    device = choose_device()
    course = Course(chosen, device, quick_mode(), default_size(device), default_steps(device))
    print(f"device: {device.type}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''} | "
          f"mode: {'quick (NST_QUICK=1: small images, few steps)' if course.quick else 'full'} | "
          f"image size: {course.size} px | steps: {course.steps}")
    return course
