"""The Gatys optimisation loop: change the pixels of one image until its features match the content
image's and its Gram matrices match the style image's.

``stylize(content, style)`` does everything with sensible defaults; ``StyleTransfer`` keeps the
network and targets so that several runs (a grid of weights, say) pay for them once.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from . import settings
from .backbones import Backbone, load_backbone
from .images import load_image, resize_tensor, save_image
from .layers import FeatureExtractor
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss

# The paper's layers. Its "conv4_2" means the *rectified* response (Caffe applies ReLU in place),
# which in torchvision's numbering is relu4_2: the conv output itself is pre-ReLU.
PAPER_CONTENT_LAYERS = ("relu4_2",)
PAPER_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Style weight relative to a content weight of 1, for this package's relative losses (losses.py):
# a learner's first result should look painted but keep its subject.
DEFAULT_STYLE_WEIGHT = 10.0
INITS = ("content", "noise", "style")
OPTIMIZERS = ("lbfgs", "adam")


@dataclass
class TransferResult:
    """What a run made: the best image, the loss history, and how and why it stopped."""

    image: torch.Tensor  # (1, 3, H, W) on the CPU, in [0, 1]
    history: list[dict] = field(default_factory=list)
    stopped: str = "finished"  # "finished", "interrupted", "not finite" or "converged"
    message: str = ""
    best_step: int = 0
    recipe: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.history[-1]["seconds"] if self.history else 0.0

    def save(self, path) -> str:
        """Save the image; a PNG also stores the recipe (backbone, layers, weights, ...)."""
        return str(save_image(self.image, path, metadata={"style-transfer-recipe": json.dumps(self.recipe)}))


class _BudgetSpent(Exception):
    """Raised inside the L-BFGS closure once the step budget is used: ends the run cleanly."""


class _NotFinite(Exception):
    pass


class StyleTransfer:
    """A frozen feature extractor plus the settings of the objective.

    backbone: a Backbone, a name, or None for the automatic choice (see ``backbones.py``).
    style_layer_weights: per-layer weights w_l; default 1/L each (the paper).
    pooling: "avg" (the paper) or "max" (the network as trained).
    """

    def __init__(self, backbone: Backbone | str | None = None,
                 content_layers: Sequence[str] = PAPER_CONTENT_LAYERS,
                 style_layers: Sequence[str] = PAPER_STYLE_LAYERS,
                 style_layer_weights: Mapping[str, float] | Sequence[float] | None = None,
                 pooling: str = "avg", device: str | torch.device | None = "auto", verbose: bool = True):
        self.backbone = backbone if isinstance(backbone, Backbone) else load_backbone(backbone, verbose)
        self.device = settings.choose_device(device)
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        if style_layer_weights is not None and not isinstance(style_layer_weights, Mapping):
            style_layer_weights = dict(zip(self.style_layers, style_layer_weights, strict=True))
        self.style_layer_weights = dict(style_layer_weights) if style_layer_weights is not None else None
        self.pooling = pooling
        self.extractor = FeatureExtractor(self.backbone, self.content_layers + self.style_layers,
                                          pooling).to(self.device)

    # ------------------------------------------------------------------------------ the objective
    @torch.no_grad()
    def targets(self, content: torch.Tensor, style: torch.Tensor) -> tuple[dict, dict]:
        """Content features and style Gram matrices, computed once (no gradient needed)."""
        content_features = self.extractor(content.to(self.device))
        style_features = self.extractor(style.to(self.device))
        return ({name: content_features[name] for name in self.content_layers},
                {name: gram_matrix(style_features[name]) for name in self.style_layers})

    def losses(self, image: torch.Tensor, content_targets: dict, style_targets: dict,
               content_weight: float, style_weight: float, tv_weight: float) -> dict[str, torch.Tensor]:
        """Each weighted term of the objective and their sum (key "total")."""
        features = self.extractor(image)
        terms = {"content": content_weight * content_loss(features, content_targets),
                 "style": style_weight * style_loss(features, style_targets, self.style_layer_weights)}
        if tv_weight:
            terms["tv"] = tv_weight * total_variation_loss(image)
        terms["total"] = sum(terms.values())
        return terms

    # ----------------------------------------------------------------------------------- the loop
    def run(self, content, style, *, size: int | None = None, style_scale: float = 1.0,
            content_weight: float = 1.0, style_weight: float = DEFAULT_STYLE_WEIGHT, tv_weight: float = 0.0,
            init: str | torch.Tensor = "content", optimizer: str = "lbfgs", steps: int | None = None,
            lr: float | None = None, seed: int = 0, callback: Callable | None = None,
            callback_every: int = 10, progress: bool = True, lbfgs_history: int = 100) -> TransferResult:
        """Optimise an image; returns a TransferResult holding the lowest-loss image seen.

        content, style: anything ``load_image`` takes (path, URL, name, PIL, array, tensor).
        size: long side of the result (default: by device, see settings). The style image is
            resized to the same long side times ``style_scale``.
        init: "content", "noise", "style", or a starting image tensor.
        steps: evaluations of the network (one forward and backward pass each).
        callback(step, image, losses): called every ``callback_every`` steps with a CPU copy of the
            image; raising KeyboardInterrupt in it stops the run like Ctrl-C does.
        Ctrl-C stops the run and returns the best image so far (``stopped == "interrupted"``).
        """
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
        if isinstance(init, str) and init not in INITS:
            raise ValueError(f"init must be one of {INITS} or an image tensor, not {init!r}")
        size = size or (None if isinstance(content, torch.Tensor) else settings.default_size(self.device))
        steps = steps if steps is not None else settings.default_steps(self.device)
        if steps < 1:
            raise ValueError(f"steps must be at least 1, not {steps}")
        settings.seed_everything(seed)

        content_image = load_image(content, size, self.device)
        style_size = max(8, round(max(content_image.shape[-2:]) * style_scale))
        style_image = load_image(style, None, self.device)
        style_image = resize_tensor(style_image, style_size) if style_image.shape[-2:] != style_size else style_image
        content_targets, style_targets = self.targets(content_image, style_image)

        image = self._initial_image(init, content_image, style_image).requires_grad_(True)
        weights = dict(content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight)
        recipe = dict(backbone=self.backbone.name, content_layers=self.content_layers,
                      style_layers=self.style_layers, style_layer_weights=self.style_layer_weights,
                      pooling=self.pooling, init=init if isinstance(init, str) else "image",
                      optimizer=optimizer, steps=steps, lr=lr, seed=seed, style_scale=style_scale,
                      size=max(content_image.shape[-2:]), **weights,
                      **{k: v for k, v in (("content", content), ("style", style)) if isinstance(v, str)})
        run = _Run(steps, callback, callback_every, progress)

        def evaluate() -> torch.Tensor:
            run.before_evaluation()
            terms = self.losses(image, content_targets, style_targets, **weights)
            total = terms["total"]
            if not torch.isfinite(total):
                raise _NotFinite(f"the loss became {total.item()} at step {run.step + 1}")
            total.backward()
            run.after_evaluation(image, terms)
            return total

        try:
            if optimizer == "lbfgs":
                self._run_lbfgs(image, evaluate, run, lr or 1.0, lbfgs_history)
            else:
                self._run_adam(image, evaluate, run, lr or 0.02)
        except _BudgetSpent:
            pass
        except KeyboardInterrupt:
            run.stopped = "interrupted"
            run.message = f"interrupted after {run.step} steps: returning the best image so far (step {run.best_step})"
        except _NotFinite as err:
            run.stopped = "not finite"
            run.message = (f"{err}: stopped, returning the best image so far (step {run.best_step}). "
                           "Lower the style weight or learning rate, or use L-BFGS.")
        finally:
            run.close()
        if run.message:
            warnings.warn(run.message, stacklevel=2)
        best = run.best_image if run.best_image is not None else image.detach().clamp(0, 1).cpu()
        return TransferResult(best, run.history, run.stopped, run.message, run.best_step, recipe)

    def _initial_image(self, init, content_image, style_image) -> torch.Tensor:
        if isinstance(init, torch.Tensor):
            return resize_tensor(init.to(self.device).float(), tuple(content_image.shape[-2:])).clone()
        if init == "content":
            return content_image.clone()
        if init == "style":
            return resize_tensor(style_image, tuple(content_image.shape[-2:])).clone()
        return torch.rand(content_image.shape, device=self.device)  # white noise, as in the paper

    @staticmethod
    def _run_lbfgs(image, evaluate, run, lr, history_size):
        # Tolerances of 0 switch L-BFGS's convergence tests off: with its defaults it stops after one
        # evaluation whenever the losses are small. The step budget is enforced by _Run instead.
        optimizer = torch.optim.LBFGS([image], lr=lr, max_iter=run.steps, max_eval=2 * run.steps,
                                      tolerance_grad=0.0, tolerance_change=0.0, history_size=history_size,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad(set_to_none=True)
            return evaluate()

        stalled = 0
        while run.step < run.steps:
            before = run.step
            optimizer.step(closure)
            stalled = stalled + 1 if run.step - before <= 1 else 0
            if stalled >= 3:  # the optimizer makes no progress any more (e.g. a zero gradient)
                run.stopped = "converged"
                break

    @staticmethod
    def _run_adam(image, evaluate, run, lr):
        optimizer = torch.optim.Adam([image], lr=lr)
        while run.step < run.steps:
            optimizer.zero_grad(set_to_none=True)
            evaluate()
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0, 1)  # Adam takes small steps, so keeping pixels in range is safe here


class _Run:
    """Book-keeping of one run: step count, best image, history, progress bar, callbacks."""

    def __init__(self, steps, callback, callback_every, progress):
        self.steps, self.callback, self.callback_every = steps, callback, max(1, callback_every)
        self.step, self.best_loss, self.best_step, self.best_image = 0, math.inf, 0, None
        self.history, self.stopped, self.message = [], "finished", ""
        self.start = time.perf_counter()
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=steps, desc="stylizing", unit="step", mininterval=1.0, leave=True)

    def before_evaluation(self):
        if self.step >= self.steps:
            raise _BudgetSpent

    def after_evaluation(self, image, terms):
        self.step += 1
        values = {name: value.item() for name, value in terms.items()}
        self.history.append({"step": self.step, **values, "seconds": time.perf_counter() - self.start})
        if values["total"] < self.best_loss:
            self.best_loss, self.best_step = values["total"], self.step
            self.best_image = image.detach().clamp(0, 1).cpu().clone()
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
        if self.callback is not None and (self.step % self.callback_every == 0 or self.step == self.steps):
            self.callback(self.step, image.detach().clamp(0, 1).cpu(), values)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def stylize(content, style, *, backbone: Backbone | str | None = None,
            content_layers: Sequence[str] = PAPER_CONTENT_LAYERS, style_layers: Sequence[str] = PAPER_STYLE_LAYERS,
            style_layer_weights=None, pooling: str = "avg", device="auto", verbose: bool = True,
            **run_options) -> TransferResult:
    """Stylize ``content`` in the manner of ``style`` (see ``StyleTransfer.run`` for the options)."""
    transfer = StyleTransfer(backbone, content_layers, style_layers, style_layer_weights, pooling, device, verbose)
    return transfer.run(content, style, **run_options)
