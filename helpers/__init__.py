"""helpers: the small package behind the neural style transfer course.

One module per concept:

- ``settings``  device choice, quick mode, default sizes and step counts
- ``layers``    VGG layer names (conv4_2, relu4_2, pool4) and the feature extractor
- ``backbones`` the pretrained networks (vgg19, vgg16, the offline vgg16-imagenet and vgg16-hed) and how one is chosen
- ``files``     atomic writes and sha256 checks, written once
- ``images``    load anything as an RGB tensor in [0, 1], save atomically, show grids
- ``gallery``   named images: the bundled photos, paintings and generated styles, with credits
- ``method``    the whole algorithm in one file, read top to bottom: features, the loss terms (one class
  each), their weighted sum, the L-BFGS loop
- ``speed``     opt-in speed (bf16, channels-last, a faster Gram product), switched by ``precision``
- ``losses``    Gram matrix, content loss, style loss, total variation, with other normalisations to compare
- ``color``     colour preservation: luminance-only transfer, colour histogram matching
- ``transfer``  the library around the method (``stylize`` and ``StyleTransfer``): levels, colours, stopping;
  its parts: ``objective`` (the weights, checked), ``optimizers`` (by name), ``color_preservation`` (a
  strategy with a before and an after), ``run_options`` (the validated options and their defaults),
  ``run_inputs`` (the images read and checked), ``run_record`` (steps, best image, ``StopReason``)
- ``presets``   named recipes: the paper's method and the one measured to paint best per backbone
- ``feedforward`` Ghiasi et al.'s feed-forward style network (optional extra), the course's peer
- ``measure``   judges the optimisation does not see: style distance and layout kept
- ``diagram``   a drawing of the whole method (``draw_method_diagram``), for notebook 04
- ``exercises`` checks for the notebooks' exercises
- ``__main__``  the command line: ``python -m helpers CONTENT STYLE -o OUT`` (``_startup``: Ctrl-C while it starts)
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _startup  # noqa: F401  first: a Ctrl-C while `python -m helpers` loads torch is one line

# isort: split
import torch

from . import color, diagram, feedforward, gallery, measure, presets
from .backbones import Backbone, BackboneError, load_backbone
from .exercises import check_answer
from .images import (
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
    "diagram",
    "feedforward",
    "measure",
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
