"""The Gatys optimisation loop: change the pixels of one image until its features match the content
image's and its Gram matrices match the style image's.

``stylize(content, style)`` does everything with sensible defaults; ``StyleTransfer`` keeps the
network so that several runs (a grid of weights, say) pay for loading it once.

Beyond the paper, ``run`` also takes several styles with blend weights, a mask per style (spatial
control), colour preservation (``color.py``) and coarse-to-fine optimisation (``scales``).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from . import color, presets, settings
from .backbones import Backbone, load_backbone
from .images import load_pil, long_side_size, pil_to_tensor, resize_long_side, resize_tensor, save_image
from .layers import FeatureExtractor
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss

# The paper's layers. Its "conv4_2" means the *rectified* response (Caffe applies ReLU in place),
# which in torchvision's numbering is relu4_2: the conv output itself is pre-ReLU.
PAPER_CONTENT_LAYERS = ("relu4_2",)
PAPER_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Style weight relative to a content weight of 1, for this package's relative losses (losses.py):
# a learner's first result should look painted but keep its subject.
DEFAULT_STYLE_WEIGHT = 10.0
# "palette" starts from the photo recoloured to the painting's colours (mean and covariance, as in
# color.match_color_histogram): the optimisation then spends its steps on texture, not on colour.
# "fast" is a warm start from the feed-forward network (feedforward.py, Ghiasi et al. 2017; an optional
# extra): one forward pass paints the photo, and the optimisation refines it (notebook 11).
INITS = ("content", "noise", "style", "palette", "fast")
# "bf16" runs the convolutions in bfloat16 (autocast), for hardware with bf16 units (recent GPUs,
# CPUs with AVX512_BF16 or AMX); Gram matrices and losses stay float32 either way.
PRECISIONS = ("fp32", "bf16")
OPTIMIZERS = ("lbfgs", "adam")
MIN_LEVEL_SIZE = 32  # coarse-to-fine never starts below this: VGG's fifth block would be 2 px wide
# Memory one run needs per megapixel of the result, beyond the network itself: measured here as
# 3.4-3.8 GB for VGG16 and VGG19 through relu5_1 with L-BFGS at 512-768 px (activations kept for the
# backward pass dominate). On a CPU running out of memory kills the process, so we check first.
MB_PER_MEGAPIXEL = 3600
# The style image only goes forward, without gradients, to compute its Gram matrices: measured here
# as 744-782 MB per megapixel for VGG19 through relu5_1 (fp32 and bf16, 1-23 MP). A large
# --style-scale can make it need more memory than the optimisation itself.
STYLE_MB_PER_MEGAPIXEL = 800
# bf16 convolutions on a CPU crash the process (a segmentation fault inside oneDNN, with memory to
# spare) once the image is large enough: measured with torch 2.14.1 here, VGG19 ran at 22.1 MP and
# crashed at 23.0 MP (4800 x 4800 px, reached with a large style scale). Above this, run in fp32.
BF16_CPU_MAX_PIXELS = 21_000_000


def _style_side(level_size: int, style_scale: float) -> int:
    """The style image's long side for a result whose long side is ``level_size``."""
    return max(8, round(level_size * style_scale))


@dataclass
class TransferResult:
    """What a run made: the best image, the loss history, and how and why it stopped."""

    image: torch.Tensor  # (1, 3, H, W) on the CPU, in [0, 1]
    history: list[dict] = field(default_factory=list)
    stopped: str = "finished"  # "finished", "interrupted", "not finite", "out of memory" or "converged"
    message: str = ""
    best_step: int = 0
    recipe: dict = field(default_factory=dict)

    @property
    def losses(self) -> dict:
        """The loss terms of the returned (lowest-loss) image."""
        return self.history[self.best_step - 1] if self.history else {}

    @property
    def seconds(self) -> float:
        return self.history[-1]["seconds"] if self.history else 0.0

    def save(self, path) -> str:
        """Save the image; a PNG also stores the recipe (backbone, layers, weights, ...)."""
        return str(save_image(self.image, path, metadata={"style-transfer-recipe": json.dumps(self.recipe)}))


class _BudgetSpent(Exception):
    """Raised inside the L-BFGS closure once the step budget is used: ends the level cleanly."""


class _NotFinite(Exception):
    pass


class StyleTransfer:
    """A frozen feature extractor plus the settings of the objective.

    backbone: a Backbone, a name, or None for the automatic choice (see ``backbones.py``).
    style_layer_weights: per-layer weights w_l; default 1/L each (the paper).
    pooling: "avg" (the paper) or "max" (the network as trained).
    precision: "fp32", or "bf16" for the convolutions on hardware with bf16 units (see ``features``).
    """

    def __init__(self, backbone: Backbone | str | None = None,
                 content_layers: Sequence[str] = PAPER_CONTENT_LAYERS,
                 style_layers: Sequence[str] = PAPER_STYLE_LAYERS,
                 style_layer_weights: Mapping[str, float] | Sequence[float] | None = None,
                 pooling: str = "avg", device: str | torch.device | None = "auto", verbose: bool = True,
                 precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        self.backbone = backbone if isinstance(backbone, Backbone) else load_backbone(backbone, verbose)
        self.device = settings.choose_device(device)
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        if style_layer_weights is not None and not isinstance(style_layer_weights, Mapping):
            style_layer_weights = dict(zip(self.style_layers, style_layer_weights, strict=True))
        self.style_layer_weights = dict(style_layer_weights) if style_layer_weights is not None else None
        self.pooling = pooling
        self.precision = precision
        if precision == "bf16" and settings.bf16_is_emulated(self.device):
            warnings.warn("this CPU has no bfloat16 units (or it cannot be told): bf16 is emulated and can be several "
                          "times slower than fp32 (about 9x in one probe)", stacklevel=2)
        if self.device.type == "cuda":
            # Every step of a level convolves tensors of the same shapes: cuDNN may time its algorithms
            # once and keep the fastest (PyTorch's performance tuning guide).
            torch.backends.cudnn.benchmark = True
        self.extractor = FeatureExtractor(self.backbone, self.content_layers + self.style_layers,
                                          pooling).to(self.device)

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The requested activations of ``image``, as float32 whatever the precision of the convolutions.

        In bf16 only the convolutions run in 16 bits: a Gram matrix sums H*W products, which in 16
        bits loses most of its digits (and in fp16 overflows to inf, a known failure), so the Gram
        matrices and the losses are computed from float32 copies.
        """
        if self.precision == "fp32":
            return self.extractor(image)
        if self.device.type == "cpu" and image.shape[-2] * image.shape[-1] > BF16_CPU_MAX_PIXELS:
            warnings.warn(f"a {image.shape[-1]}x{image.shape[-2]} px image is too large for bf16 convolutions on "
                          "this CPU (they crash above about 22 megapixels): it runs in fp32", stacklevel=2)
            return self.extractor(image)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            features = self.extractor(image)
        return {name: feature.float() for name, feature in features.items()}

    # ------------------------------------------------------------------------------ the objective
    @torch.no_grad()
    def targets(self, content: torch.Tensor, style: torch.Tensor) -> tuple[dict, dict]:
        """Content features and style Gram matrices, computed once (no gradient needed)."""
        content_features = self.features(content.to(self.device))
        return {name: content_features[name] for name in self.content_layers}, self.style_grams(style)

    @torch.no_grad()
    def style_grams(self, style: torch.Tensor) -> dict:
        """The style image's Gram matrix at each style layer."""
        features = self.features(style.to(self.device))
        return {name: gram_matrix(features[name]) for name in self.style_layers}

    def losses(self, image: torch.Tensor, content_targets: dict, style_targets: dict | list[dict],
               content_weight: float, style_weight: float, tv_weight: float,
               style_blend: Sequence[float] = (1.0,), style_masks: list[dict] | None = None) -> dict[str, torch.Tensor]:
        """Each weighted term of the objective and their sum (key "total").

        style_targets: one dict of Gram matrices, or a list (several styles) mixed by ``style_blend``;
        style_masks: per style, per layer, the region of the image where that style applies.
        """
        features = self.features(image)
        if isinstance(style_targets, Mapping):
            style_targets = [style_targets]
        masks = style_masks or [None] * len(style_targets)
        style = sum(blend * style_loss(features, targets, self.style_layer_weights, masks=layer_masks)
                    for blend, targets, layer_masks in zip(style_blend, style_targets, masks))
        terms = {"content": content_weight * content_loss(features, content_targets), "style": style_weight * style}
        if tv_weight:
            terms["tv"] = tv_weight * total_variation_loss(image)
        terms["total"] = sum(terms.values())
        return terms

    # ----------------------------------------------------------------------------------- the loop
    def run(self, content, style, *, size: int | None = None, style_scale: float = 1.0,
            content_weight: float = 1.0, style_weight: float = DEFAULT_STYLE_WEIGHT, tv_weight: float = 0.0,
            init: str | torch.Tensor = "content", optimizer: str = "lbfgs", steps: int | Sequence[int] | None = None,
            lr: float | None = None, seed: int = 0, callback: Callable | None = None,
            callback_every: int = 10, progress: bool = True, lbfgs_history: int = 100, scales: int = 1,
            preserve_colors: str = "none", style_blend: Sequence[float] | None = None,
            masks: Sequence | None = None) -> TransferResult:
        """Optimise an image; returns a TransferResult holding the lowest-loss image seen.

        content, style: anything ``load_image`` takes (path, URL, name, PIL, array, tensor); ``style``
            may also be a list of several styles, mixed by ``style_blend`` (default: equal).
        size: long side of the result (default: by device, see settings). The style image is
            resized to the same long side times ``style_scale`` (bigger: larger strokes).
        init: "content" (the photo), "noise" (white noise, as in the paper), "style", "palette" (the photo
            recoloured to the style's colours), "fast" (the feed-forward network's painting, an optional
            extra: feedforward.py), or a starting image tensor.
        steps: evaluations of the network (one forward and backward pass each), per scale; or one count
            per scale, coarse to fine (coarse steps are cheap: a level half the size costs a quarter).
        scales: coarse-to-fine levels; each level is half the size of the next and starts from the
            previous level's result, upsampled. 1 is the plain single-scale method.
        preserve_colors: "none", "luminance" (stylise brightness only, keep the photo's colours) or
            "histogram" (recolour the style to the photo's palette first).
        masks: one mask per style (white = this style goes here), anything ``load_image`` takes or
            a tensor (H, W) / (1, 1, H, W) in [0, 1]; resized to the image.
        callback(step, image, losses): called every ``callback_every`` steps with a CPU copy of the
            image; raising KeyboardInterrupt in it stops the run like Ctrl-C does.
        Ctrl-C stops the run and returns the best image so far (``stopped == "interrupted"``).
        """
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = self._check_options(optimizer, init, steps, scales, preserve_colors, styles, style_blend, masks)
        if lr is not None and not 0 < lr < math.inf:  # 0 would be taken for "the default" below, silently
            raise ValueError(f"lr (the learning rate) must be a number above 0, not {lr}; None gives the "
                             "optimizer's default")
        steps = steps if steps is not None else settings.default_steps(self.device)
        level_steps = list(steps) if isinstance(steps, Sequence) else [steps] * scales
        if size is None:
            size = max(content.shape[-2:]) if isinstance(content, torch.Tensor) else settings.default_size(self.device)
        settings.seed_everything(seed)

        content_pil = load_pil(content)
        style_pils = [load_pil(s) for s in styles]
        mask_images = [self._mask_tensor(m) for m in masks] if masks is not None else None
        if mask_images is not None:
            self._check_masks(mask_images)
        # Coarse levels never go below MIN_LEVEL_SIZE; the last level is always the size asked for.
        levels = [max(min(MIN_LEVEL_SIZE, size), round(size / 2**k)) for k in reversed(range(scales))]
        self._check_memory(long_side_size(content_pil.size, size), size,
                           [long_side_size(s.size, _style_side(size, style_scale)) for s in style_pils], style_scale)
        weights = dict(content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight)
        recipe = dict(backbone=self.backbone.name, content_layers=self.content_layers,
                      style_layers=self.style_layers, style_layer_weights=self.style_layer_weights,
                      pooling=self.pooling, precision=self.precision, init=init if isinstance(init, str) else "image",
                      optimizer=optimizer, steps=steps, lr=lr, seed=seed, style_scale=style_scale, scales=scales,
                      preserve_colors=preserve_colors, style_blend=blend, masks=masks is not None, **weights,
                      **{k: v for k, v in (("content", content), ("style", style)) if isinstance(v, str)})
        run = _Run(sum(level_steps), callback, callback_every, progress)

        image = None
        try:
            for level_size, steps_here in zip(levels, level_steps, strict=True):
                content_image = pil_to_tensor(resize_long_side(content_pil, level_size)).to(self.device)
                style_images = [pil_to_tensor(resize_long_side(s, _style_side(level_size, style_scale)))
                                .to(self.device) for s in style_pils]
                self.extractor.check_size(content_image, f"the content image at {level_size} px")
                for style_image in style_images:
                    self.extractor.check_size(style_image, f"the style image at {max(style_image.shape[-2:])} px")
                photo = content_image
                if preserve_colors == "histogram":
                    style_images = [color.match_color_histogram(s, photo) for s in style_images]
                elif preserve_colors == "luminance":
                    content_image = color.luminance(photo)
                    style_images = [color.match_luminance(s, photo) for s in style_images]
                if image is None:
                    start = self._initial_image(init, content_image, style_images[0], content_pil, style_pils[0])
                else:
                    start = resize_tensor(image, tuple(content_image.shape[-2:]))
                    if preserve_colors == "luminance":
                        start = color.luminance(start)
                image = self._optimise(start, content_image, style_images, blend, mask_images, weights,
                                       optimizer, lr, lbfgs_history, run, level_size, steps_here)
                recipe["size"] = max(content_image.shape[-2:])
                if run.stopped not in ("finished", "converged"):  # a level that converged ends that level only
                    break
        finally:
            run.close()
        if run.message:
            warnings.warn(run.message, stacklevel=2)
        result = image.clamp(0, 1)
        if preserve_colors == "luminance":
            result = color.combine_luminance(result, resize_tensor(photo, tuple(result.shape[-2:])))
        return TransferResult(result.cpu(), run.history, run.stopped, run.message, run.best_step, recipe)

    def _optimise(self, start, content_image, style_images, blend, mask_images, weights, optimizer, lr,
                  lbfgs_history, run, level_size, steps) -> torch.Tensor:
        """One level: optimise ``start`` against these targets; returns the level's best image."""
        with torch.no_grad():
            content_features = self.features(content_image)
            content_targets = {name: content_features[name] for name in self.content_layers}
            style_targets = [self.style_grams(style_image) for style_image in style_images]
            style_masks = None
            if mask_images is not None:
                shapes = {name: f.shape[-2:] for name, f in content_features.items()}
                style_masks = [{name: resize_tensor(mask, tuple(shapes[name])).clamp(0, 1)
                                for name in self.style_layers} for mask in
                               (m.to(self.device) for m in mask_images)]
        image = start.detach().clone().requires_grad_(True)
        run.start_level(level_size, steps)

        def evaluate() -> torch.Tensor:
            run.before_evaluation()
            terms = self.losses(image, content_targets, style_targets, **weights, style_blend=blend,
                                style_masks=style_masks)
            total = terms["total"]
            if not torch.isfinite(total):
                raise _NotFinite(f"the loss became {total.item()} at step {run.step + 1}")
            total.backward()
            run.after_evaluation(image, terms)
            return total

        try:
            if optimizer == "lbfgs":
                self._run_lbfgs(image, evaluate, run, 1.0 if lr is None else lr, lbfgs_history)
            else:
                self._run_adam(image, evaluate, run, 0.02 if lr is None else lr)
        except _BudgetSpent:
            pass
        except KeyboardInterrupt:
            run.stopped = "interrupted"
            run.message = (f"interrupted after {run.step} steps: returning the best image so far "
                           f"(step {run.best_step}, {level_size} px)")
        except _NotFinite as err:
            run.stopped = "not finite"
            run.message = (f"{err}: stopped, returning the best image so far (step {run.best_step}). "
                           "Lower the style weight or learning rate, or use L-BFGS.")
        except torch.OutOfMemoryError:
            run.stopped = "out of memory"
            run.message = (f"out of memory at {level_size} px after {run.step} steps: returning the best image so "
                           "far. Use a smaller size, or coarse-to-fine (scales) with fewer steps at the top size, "
                           "or the CPU, which has more memory.")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        return run.best_image if run.best_image is not None else start.detach()

    def _check_options(self, optimizer, init, steps, scales, preserve_colors, styles, style_blend, masks):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
        if isinstance(init, str) and init not in INITS:
            raise ValueError(f"init must be one of {INITS} or an image tensor, not {init!r}")
        if steps is not None:
            counts = list(steps) if isinstance(steps, Sequence) else [steps] * scales
            if len(counts) != scales or any(not isinstance(n, int) or n < 1 for n in counts):
                raise ValueError(f"steps must be a whole number of at least 1, or one such number per scale "
                                 f"({scales} scale{'s' * (scales != 1)}), not {steps}")
        if not 1 <= scales <= 6:
            raise ValueError(f"scales must be between 1 and 6, not {scales}")
        if preserve_colors not in color.PRESERVE_COLORS:
            raise ValueError(f"preserve_colors must be one of {color.PRESERVE_COLORS}, not {preserve_colors!r}")
        if not styles:
            raise ValueError("give at least one style image")
        blend = list(style_blend) if style_blend is not None else [1.0] * len(styles)
        if len(blend) != len(styles) or any(not (0 <= b < math.inf) for b in blend) or sum(blend) <= 0:
            count = f"{len(styles)} style{'s' * (len(styles) != 1)}"
            raise ValueError(f"style_blend needs one weight per style ({count} given), none negative and not all "
                             f"zero; got {blend}")
        if masks is not None and len(masks) != len(styles):
            raise ValueError(f"give one mask per style: {len(styles)} styles, {len(masks)} masks")
        if not math.isfinite(sum(blend)):  # weights near the float limit overflow: only their ratios count
            blend = [b / max(blend) for b in blend]
        return [b / sum(blend) for b in blend]

    def _check_memory(self, width_height: tuple[int, int], size: int, style_sizes=(),
                      style_scale: float = 1.0) -> None:
        """Refuse a size that would not fit, with the largest that would, instead of being killed."""
        available = settings.available_memory_mb(self.device)
        if available is None or self.device.type != "cpu":  # a GPU raises OutOfMemoryError, handled in the loop
            return
        megapixels = width_height[0] * width_height[1] / 1e6
        needed = MB_PER_MEGAPIXEL * megapixels
        if needed > available:
            fits = int(size * (available / needed) ** 0.5) // 16 * 16
            raise ValueError(f"a {width_height[0]}x{width_height[1]} px result needs about {needed / 1024:.0f} GB of "
                             f"memory, and {available / 1024:.1f} GB is free: use a size of at most {fits} px "
                             "(and upscale the result), or a machine with more memory")
        for width, height in style_sizes:
            needed = STYLE_MB_PER_MEGAPIXEL * width * height / 1e6
            if needed > available:
                fits = style_scale * (available / needed) ** 0.5
                raise ValueError(f"the style image at {width}x{height} px (style scale {style_scale:g} of a "
                                 f"{size} px result) needs about {needed / 1024:.0f} GB of memory, and "
                                 f"{available / 1024:.1f} GB is free: use a style scale of at most "
                                 f"{math.floor(fits * 10) / 10:g}")

    @staticmethod
    def _mask_tensor(mask) -> torch.Tensor:
        """A mask as (1, 1, H, W) in [0, 1]: tensors are taken as they are, images by their luminance."""
        if isinstance(mask, torch.Tensor) and mask.dim() in (2, 4) and (mask.dim() == 2 or mask.shape[1] == 1):
            values = mask.float() / 255 if mask.dtype == torch.uint8 else mask.float()
            return values.reshape(1, 1, *mask.shape[-2:]).clamp(0, 1)
        return color.luminance(pil_to_tensor(load_pil(mask)))[:, :1]

    @staticmethod
    def _check_masks(masks: list[torch.Tensor]) -> None:
        """A black mask gives its style no region: a warning, or an error when every mask is black (the
        photo would come back unchanged). Black: nowhere above 2% (JPEG noise on a black image)."""
        black = [i for i, mask in enumerate(masks, 1) if mask.numel() == 0 or mask.max() < 0.02]
        if black and len(black) == len(masks):
            raise ValueError(f"{'every mask is' if len(masks) > 1 else 'the mask is'} black: no style would go "
                             "anywhere and the photo would come back unchanged (white marks where a style goes)")
        for i in black:
            warnings.warn(f"mask {i} is black everywhere: style {i} is not used anywhere (white marks where a "
                          "style goes)", stacklevel=3)

    def _initial_image(self, init, content_image, style_image, content_pil, style_pil) -> torch.Tensor:
        if isinstance(init, torch.Tensor):
            return resize_tensor(init.to(self.device).float(), tuple(content_image.shape[-2:])).clone()
        if init == "content":
            return content_image.clone()
        if init == "style":
            return resize_tensor(style_image, tuple(content_image.shape[-2:])).clone()
        if init == "palette":
            return color.match_color_histogram(content_image, style_image)
        if init == "fast":
            from . import feedforward  # optional: says what to install when it is missing

            painted = feedforward.stylize_fast(content_pil, style_pil)
            return resize_tensor(painted.to(self.device), tuple(content_image.shape[-2:])).clone()
        return torch.rand(content_image.shape, device=self.device)  # white noise, as in the paper

    @staticmethod
    def _run_lbfgs(image, evaluate, run, lr, history_size):
        # Tolerances of 0 switch L-BFGS's convergence tests off: with its defaults it stops after one
        # evaluation whenever the losses are small. The step budget is enforced by _Run instead.
        budget = run.level_end - run.step
        optimizer = torch.optim.LBFGS([image], lr=lr, max_iter=budget, max_eval=2 * budget,
                                      tolerance_grad=0.0, tolerance_change=0.0, history_size=history_size,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad(set_to_none=True)
            return evaluate()

        stalled = 0
        while run.step < run.level_end:
            before = run.step
            optimizer.step(closure)
            stalled = stalled + 1 if run.step - before <= 1 else 0
            if stalled >= 3:  # the optimizer makes no progress any more (e.g. a zero gradient)
                run.stopped = "converged"
                break

    @staticmethod
    def _run_adam(image, evaluate, run, lr):
        optimizer = torch.optim.Adam([image], lr=lr)
        while run.step < run.level_end:
            optimizer.zero_grad(set_to_none=True)
            evaluate()
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0, 1)  # Adam takes small steps, so keeping pixels in range is safe here


class _Run:
    """Book-keeping of one run: step count, best image per level, history, progress bar, callbacks."""

    def __init__(self, total_steps, callback, callback_every, progress):
        self.total_steps, self.callback, self.callback_every = total_steps, callback, max(1, callback_every)
        self.step = self.level_end = self.best_step = 0
        self.level_size, self.best_loss, self.best_image = None, math.inf, None
        self.history, self.stopped, self.message = [], "finished", ""
        self.start = time.perf_counter()
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, desc="stylizing", unit="step", mininterval=1.0, leave=True)

    def start_level(self, size: int, steps: int):
        # Losses at different sizes are not comparable: the best image is tracked per level.
        self.level_end = self.step + steps
        self.stopped = "finished"  # a coarse level that converged does not stop the finer ones
        self.level_size, self.best_loss, self.best_image = size, math.inf, None

    def before_evaluation(self):
        if self.step >= self.level_end:
            raise _BudgetSpent

    def after_evaluation(self, image, terms):
        self.step += 1
        values = {name: value.item() for name, value in terms.items()}
        self.history.append({"step": self.step, **values, "seconds": time.perf_counter() - self.start,
                             "size": self.level_size})
        if values["total"] < self.best_loss:
            self.best_loss, self.best_step = values["total"], self.step
            self.best_image = image.detach().clone()
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
        if self.callback is not None and (self.step % self.callback_every == 0 or self.step == self.total_steps):
            self.callback(self.step, image.detach().clamp(0, 1).cpu(), values)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def stylize(content, style, *, preset: str | None = None, backbone: Backbone | str | None = None,
            device="auto", verbose: bool = True, precision: str = "fp32", **options) -> TransferResult:
    """Stylize ``content`` in the manner of ``style``, with the best measured recipe for the backbone.

    preset: a name from ``presets.PRESETS`` ("paper" is the paper's exact method); by default the one
        measured to paint best on this backbone (``presets.default_preset``).
    options: any option of ``StyleTransfer`` (layers, weights, pooling) or of ``StyleTransfer.run``
        (size, steps, weights, scales, ...); each one given here wins over the preset.
    """
    network = backbone if isinstance(backbone, Backbone) else load_backbone(backbone, verbose)
    device = settings.choose_device(device)
    chosen = presets.get(preset, network.name)
    transfer_options, run_options = presets.split_options(chosen.merge(options, device))
    transfer = StyleTransfer(network, device=device, verbose=verbose, precision=precision, **transfer_options)
    result = transfer.run(content, style, **run_options)
    result.recipe["preset"] = chosen.name
    return result
