"""The library around the method: ``stylize(content, style)`` does everything with sensible defaults;
``StyleTransfer`` keeps the network so that several runs (a grid of weights, say) pay for loading it once.

The method itself (features, the loss terms, their weighted sum, the L-BFGS loop) is ``method.py``:
read that to see how style transfer works. This module runs it on real inputs: it reads and checks the
images (``run_inputs.py``), paints level by level, coarse to fine, each level the method's loop from a
start image, keeps colours (``color_preservation.py``), records the steps, the best image and why the
run stopped (``run_record.py``), and turns Ctrl-C, NaN and out-of-memory into a result with a message.
The options and their defaults are in ``run_options.py`` and ``settings.py``; the speed options
(bfloat16, channels-last, a faster Gram product) in ``speed.py``, switched by ``precision``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from . import color, color_preservation, method, optimizers, presets, run_inputs, run_options, settings, speed
from .backbones import Backbone, load_backbone
from .io.images import pil_to_tensor, resize_long_side, resize_tensor, save_image
from .method import PAPER_CONTENT_LAYERS, PAPER_STYLE_LAYERS, ContentLoss, NotFinite, Objective, TVLoss
from .objective import DEFAULT_STYLE_WEIGHT, LossWeights
from .run_inputs import RunInputs
from .run_options import INITS, MIN_LEVEL_SIZE, NetworkOptions, RunOptions
from .run_record import RunRecord, StopReason

PRECISIONS = settings.PRECISIONS
OPTIMIZERS = tuple(optimizers.OPTIMIZERS)  # by name: optimizers.py
__all__ = ["DEFAULT_STYLE_WEIGHT", "INITS", "MIN_LEVEL_SIZE", "OPTIMIZERS", "PAPER_CONTENT_LAYERS",
           "PAPER_STYLE_LAYERS", "PRECISIONS", "StopReason", "StyleTransfer", "TransferResult", "stylize"]


@dataclass
class TransferResult:
    """What a run made: the best image, the loss history, and how and why it stopped."""

    image: torch.Tensor  # (1, 3, H, W) on the CPU, in [0, 1]
    history: list[dict] = field(default_factory=list)
    stopped: StopReason = StopReason.FINISHED  # compares equal to its value: "finished", "interrupted", ...
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

    def save(self, path, replace: bool = True) -> str:
        """Save the image; a PNG also stores the recipe (backbone, layers, weights, ...).
        ``replace=False``: never replace an existing file (FileExistsError)."""
        return str(save_image(self.image, path, metadata={"style-transfer-recipe": json.dumps(self.recipe)},
                              replace=replace))


class StyleTransfer:
    """A frozen feature extractor plus the settings of the objective.

    backbone: a Backbone, a name, or None for the automatic choice (see ``backbones.py``).
    precision: "fp32", "bf16" for the convolutions on hardware with bf16 units (``speed.py``), or
        "auto" (bf16 where the CPU has bf16 units: ``settings.default_precision``).
    network: what the network compares, the fields of ``NetworkOptions`` (declared there once, with their
        defaults and checks; listed below): layers, their weights, pooling, the style loss.
    """

    def __init__(self, backbone: Backbone | str | None = None, *, device: str | torch.device | None = "auto",
                 verbose: bool = True, precision: str = settings.PRECISION, **network):
        options = run_options.checked(NetworkOptions, network, "StyleTransfer()")
        self.device = settings.choose_device(device)
        self.precision = settings.resolve_precision(precision, self.device)
        self.backbone = backbone if isinstance(backbone, Backbone) else load_backbone(backbone, verbose)
        self.content_layers = list(options.content_layers)
        self.style_layers = list(options.style_layers)
        self.style_layer_weights = options.style_layer_weights
        self.pooling = options.pooling
        self.style_loss = options.style_loss
        if self.precision == "bf16" and settings.bf16_is_emulated(self.device):
            warnings.warn(settings.BF16_EMULATED, stacklevel=2)
        self.speed = speed.Speed.of(self.precision, self.device)  # the one switch: what makes a step faster
        self.extractor = self.speed.prepare(method.feature_extractor(  # a copy on the device: never the shared network
            self.backbone, self.content_layers, self.style_layers, self.pooling))
        self.channels_last = self.speed.channels_last

    def features(self, image: torch.Tensor, float32: bool = True) -> dict[str, torch.Tensor]:
        """The requested activations of ``image``, as float32 whatever the precision of the convolutions
        (unless ``float32=False``, see ``speed.Speed.features``). A Gram matrix sums H*W products: in 16
        bits it would lose most of its digits, so the targets and the losses stay float32."""
        return self.speed.features(self.extractor, image, float32)

    # ------------------------------------------------------------------------------ the objective
    @torch.no_grad()
    def targets(self, content: torch.Tensor, style: torch.Tensor) -> tuple[dict, dict]:
        """Content features and the style's target (for the paper's loss, its Gram matrices), computed once."""
        content_features = self.features(content.to(self.device))
        return {name: content_features[name] for name in self.content_layers}, self.style_target(style)

    @torch.no_grad()
    def style_target(self, style: torch.Tensor) -> dict:
        """What the style loss keeps of one style image: for the paper's, its Gram matrix at each style layer."""
        return self.style_loss.target(self.features(style.to(self.device)), self.style_layers)

    @torch.no_grad()
    def objective(self, content_image: torch.Tensor, style_images: list[torch.Tensor], weights: LossWeights,
                  style_blend: Sequence[float] = (1.0,), masks: list[torch.Tensor] | None = None) -> Objective:
        """The objective of one level (``method.Objective``): the photo's features and each style's target,
        computed once. masks: per style, (1, 1, H, W) in [0, 1], where that style goes."""
        return self._objective(self.features(content_image), [self.style_target(s) for s in style_images],
                               weights, style_blend, masks)

    def _objective(self, content_features: dict, style_targets: list, weights: LossWeights,
                   style_blend: Sequence[float], masks) -> Objective:
        terms = {"content": (weights.content, ContentLoss(content_features, self.content_layers)),
                 "style": (weights.style, self.style_loss(style_targets, style_blend, masks, self.style_layer_weights,
                                                          gram=self.speed.gram))}
        if weights.tv:  # off at weight 0 (the paper's): not computed
            terms["tv"] = (weights.tv, TVLoss())
        return Objective(self._loss_features, terms)

    def _loss_features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The features the loss reads at every step. On a CPU, bf16 activations stay bf16 (see ``features``):
        a 512 px step took a third less time (benchmarks/RESULTS.md), at the same loss. GPUs keep float32
        copies: their bf16 products may also sum in bf16 (cuBLAS's reduced-precision reductions), not measured."""
        return self.features(image, float32=self.device.type != "cpu")

    def losses(self, image: torch.Tensor, content_targets: dict, style_targets: dict | list[dict],
               content_weight: float, style_weight: float, tv_weight: float,
               style_blend: Sequence[float] = (1.0,), style_masks: list[torch.Tensor] | None = None
               ) -> dict[str, torch.Tensor]:
        """Each weighted term of the objective and their sum (key "total"), for targets computed elsewhere.

        style_targets: one style's target (``style_target``), or a list (several styles) mixed by ``style_blend``;
        style_masks: per style, (1, 1, H, W) in [0, 1], the region of the image where that style applies.
        """
        if isinstance(style_targets, Mapping):
            style_targets = [style_targets]
        weights = LossWeights(content_weight, style_weight, tv_weight)
        return self._objective(content_targets, style_targets, weights, style_blend, style_masks)(image)

    # ----------------------------------------------------------------------------------- the loop
    def run(self, content, style, *, style_blend: Sequence[float] | None = None, masks: Sequence | None = None,
            callback: Callable | None = None, callback_every: int = 10, progress: bool = True,
            **options) -> TransferResult:
        """Optimise an image; returns a TransferResult holding the lowest-loss image seen.

        content, style: anything ``load_image`` takes (path, URL, name, PIL, array, tensor); ``style``
            may also be a list of several styles, mixed by ``style_blend`` (default: equal).
        masks: one mask per style (white = this style goes here), anything ``load_image`` takes or
            a tensor (H, W) / (1, 1, H, W) in [0, 1]; resized to the image.
        callback(step, image, losses): called every ``callback_every`` steps (and after the last), once
            the step is in the history, with a CPU copy of the image; raising KeyboardInterrupt in it
            stops the run like Ctrl-C does.
        options: the method's settings, the fields of ``RunOptions`` (declared there once, with their
            defaults and checks; listed below). None for size and steps: the device's default (settings.py),
            or for size a tensor content's own size; None for lr: the optimiser's default.
        Ctrl-C stops the run and returns the best image so far (``stopped == "interrupted"``).
        """
        options = run_options.checked(RunOptions, options, "run()")
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = run_inputs.style_blend(styles, style_blend, masks)
        options = options.resolved(self.device, content)
        sizes = options.level_sizes()
        if len(set(sizes)) < len(sizes):
            warnings.warn(f"{options.scales} levels at {options.size} px: no level goes below {sizes[0]} px, so the "
                          f"first {sizes.count(sizes[0])} all run at {sizes[0]} px; at this size ask for at most "
                          f"{len(set(sizes))} levels (scales={len(set(sizes))})", stacklevel=2)
        settings.seed_everything(options.seed)
        inputs = run_inputs.read_inputs(content, styles, masks)
        run_inputs.check_memory(self.device, inputs, options.size, options.style_scale)
        recipe = self._recipe(options, blend, masks is not None, content, style)
        run = RunRecord(sum(options.level_steps()), callback, callback_every, progress)
        try:
            image = self._paint_levels(inputs, options, blend, run, recipe)
        finally:
            run.close()
        if run.message:
            warnings.warn(run.message, stacklevel=2)
        return TransferResult(image.cpu(), run.history, run.stopped, run.message, run.best_step, recipe)

    def _paint_levels(self, inputs: RunInputs, options: RunOptions, blend: list[float], run: RunRecord,
                      recipe: dict) -> torch.Tensor:
        """Coarse to fine: each level starts from the previous level's result, upsampled; returns the
        last level's best image, with the colours the strategy keeps."""
        colors = color_preservation.strategy(options.preserve_colors)
        image = photo = None
        for level_size, steps in zip(options.level_sizes(), options.level_steps(), strict=True):
            try:
                level_photo, content_image, start, objective = self._prepare_level(
                    inputs, options, blend, colors, level_size, image)
            except KeyboardInterrupt:
                if image is None:  # nothing painted yet: nothing to return
                    raise
                # Ctrl-C while the next level's images and targets are made: the last level's picture is kept.
                run.stop(StopReason.INTERRUPTED, f"interrupted while preparing the {level_size} px level: returning "
                                                 f"the {recipe['size']} px level's picture, smaller than the "
                                                 f"{options.size} px asked for")
                break
            photo = level_photo
            image = self._paint_level(start, objective, options, run, level_size, steps)
            recipe["size"] = max(content_image.shape[-2:])
            if run.stopped.ends_run:  # a level that converged ends that level only
                break
        return colors.after(image.clamp(0, 1), photo)

    def _prepare_level(self, inputs: RunInputs, options: RunOptions, blend: list[float], colors, level_size: int,
                       previous: torch.Tensor | None) -> tuple:
        """(the photo, the content image, the start, the objective) of one level; the start is the previous
        level's picture upsampled, or the run's initial image."""
        try:
            photo, style_images = self._level_images(inputs, level_size, options.style_scale)
        except ValueError as err:
            if level_size >= options.size:
                raise
            raise ValueError(f"{err} ({level_size} px is a coarse level of this {options.scales}-level, "
                             f"{options.size} px run: with one level (scales=1, or preset='paper'), the run "
                             "starts at the size asked for.)") from None
        content_image, style_images = colors.before(photo, style_images)
        if previous is None:
            start = self._initial_image(options.init, content_image, style_images[0], inputs.content,
                                        inputs.styles[0])
        else:
            start = colors.resume(resize_tensor(previous, tuple(content_image.shape[-2:])))
        objective = self.objective(content_image, style_images, options.weights(), blend, inputs.masks)
        return photo, content_image, start, objective

    def _level_images(self, inputs: RunInputs, level_size: int, style_scale: float) -> tuple:
        """(the photo, the style images) at one level's size, on the device, checked against the network."""
        photo = pil_to_tensor(resize_long_side(inputs.content, level_size)).to(self.device)
        styles = [pil_to_tensor(resize_long_side(s, run_inputs.style_side(level_size, style_scale))).to(self.device)
                  for s in inputs.styles]
        self.extractor.check_size(photo, f"the content image at {level_size} px")
        for style_image in styles:
            try:
                self.extractor.check_size(style_image, f"the style image at {max(style_image.shape[-2:])} px")
            except ValueError as err:
                if style_scale >= 1:
                    raise
                raise ValueError(f"{err} (style_scale {style_scale:g} makes the painting {style_scale:g} times the "
                                 f"{level_size} px of this level: raise style_scale; style_scale=1 paints it at "
                                 "the level's size)") from None
        return photo, styles

    def _paint_level(self, start: torch.Tensor, objective: Objective, options: RunOptions, run: RunRecord,
                     level_size: int, steps: int) -> torch.Tensor:
        """One level: the optimiser lowers ``objective`` from ``start``; returns the level's best image."""
        image = start.detach().clone().requires_grad_(True)  # the pixels are what the optimiser changes
        run.start_level(level_size, steps)
        try:
            run.stopped = optimizers.optimise(options.optimizer, image, objective, run, options.lr,
                                              lbfgs_history=options.lbfgs_history)
        except (KeyboardInterrupt, NotFinite, torch.OutOfMemoryError) as err:
            reason, message = self._why_stopped(err, run, level_size)
            if level_size < options.size and reason != StopReason.OUT_OF_MEMORY:
                message += f"; it is the {level_size} px level's picture, smaller than the {options.size} px asked for"
            run.stop(reason, message)
        return run.best_image if run.best_image is not None else start.detach()

    def _why_stopped(self, err: BaseException, run: RunRecord, level_size: int) -> tuple[StopReason, str]:
        """The reason and the message for a run that ``err`` ended; the best image so far is kept."""
        if isinstance(err, KeyboardInterrupt):
            return StopReason.INTERRUPTED, (f"interrupted after {run.step} step{'s' * (run.step != 1)}: returning the "
                                            f"best image so far (step {run.best_step}, {level_size} px)")
        if isinstance(err, NotFinite):
            kept = (f"returning the best image so far (step {run.best_step})" if run.best_step
                    else "before any step was done")
            return StopReason.NOT_FINITE, (f"{err}: stopped, {kept}. Lower the weights (style, content, total "
                                           "variation) or the learning rate; with Adam, try L-BFGS.")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return StopReason.OUT_OF_MEMORY, (f"out of memory at {level_size} px after {run.step} steps: returning the "
                                          "best image so far. Use a smaller size, or coarse-to-fine (scales) with "
                                          "fewer steps at the top size, or the CPU, which has more memory.")

    def _initial_image(self, init, content_image, style_image, content_pil, style_pil) -> torch.Tensor:
        if isinstance(init, torch.Tensor):
            return resize_tensor(init.to(self.device).float(), tuple(content_image.shape[-2:])).clone()
        if init == "content":
            return content_image.clone()
        if init == "style":
            return resize_tensor(style_image, tuple(content_image.shape[-2:])).clone()
        if init == "palette":
            return color.match_color_histogram(content_image, style_image)
        if init == "palette_shading":
            return color.match_palette_keep_shading(content_image, style_image)
        if init == "fast":
            from . import feedforward  # optional: says what to install when it is missing

            painted = feedforward.stylize_fast(content_pil, style_pil)
            return resize_tensor(painted.to(self.device), tuple(content_image.shape[-2:])).clone()
        return torch.rand(content_image.shape, device=self.device)  # white noise, as in the paper

    def _recipe(self, options: RunOptions, blend: list[float], masked: bool, content, style) -> dict:
        """What a saved PNG keeps, to re-run it (``python -m helpers --recipe``); "size" comes per level."""
        return dict(backbone=self.backbone.name, content_layers=self.content_layers, style_layers=self.style_layers,
                    style_layer_weights=self.style_layer_weights, pooling=self.pooling, precision=self.precision,
                    **options.recipe(), style_blend=blend, masks=masked, content_weight=options.content_weight,
                    style_weight=options.style_weight, tv_weight=options.tv_weight,
                    **{k: v for k, v in (("content", content), ("style", style)) if isinstance(v, str)})


StyleTransfer.__doc__ += "\n    The network's options (``NetworkOptions``' fields) and their defaults:\n\n" + "".join(
    f"    {name}={default!r}: {help}\n" for name, default, help in run_options.described(NetworkOptions))
StyleTransfer.run.__doc__ += "\n        The options (``RunOptions``' fields) and their defaults:\n\n" + "".join(
    f"        {name}={default!r}: {help}\n" for name, default, help in run_options.described())


def stylize(content, style, *, preset: str | None = None, backbone: Backbone | str | None = None,
            device="auto", verbose: bool = True, precision: str = settings.PRECISION, **options) -> TransferResult:
    """Stylize ``content`` in the manner of ``style``, with the best measured recipe for the backbone.

    preset: a name from ``presets.PRESETS`` ("paper" is the paper's method as the notebooks teach it);
        by default the one measured to paint best on this backbone (``presets.default_preset``).
    options: any option of ``StyleTransfer`` (layers, weights, pooling) or of ``StyleTransfer.run``
        (size, steps, weights, scales, ...); each one given here wins over the preset.
    """
    network = backbone if isinstance(backbone, Backbone) else load_backbone(backbone, verbose)
    device = settings.choose_device(device)
    chosen = presets.get(preset, network.name)
    precision = settings.resolve_precision(precision, device)  # the schedule depends on it (presets.py)
    transfer_options, run_options = presets.split_options(chosen.merge(options, device, precision))
    transfer = StyleTransfer(network, device=device, verbose=verbose, precision=precision, **transfer_options)
    result = transfer.run(content, style, **run_options)
    result.recipe["preset"] = chosen.name
    return result
