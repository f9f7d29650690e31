"""Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016): the whole method, top to bottom.

1. Features: a frozen VGG network describes an image by its activations at a few layers.
2. Loss terms, one small class each. Each builds its target once, from the images, and at every step
   compares the image's features with it:
   - ``ContentLoss``: the photo's activations at the content layer (the layout);
   - ``StyleLoss``: the painting's Gram matrices at the style layers (the texture), several paintings
     mixed by their blend, each limited to its mask's region if given;
   - ``TVLoss``: differences between neighbouring pixels (smoothness; off in the paper).
3. The objective: their weighted sum.
4. The loop: L-BFGS changes the pixels; its closure evaluates the objective and its gradient.

``style_transfer(features, content, style)`` runs the four steps at one size. The library around this
file (``transfer.py``) adds what is not the method: reading images, coarse-to-fine levels, colour
preservation, options, the progress bar and stopping cleanly; ``speed.py`` adds bfloat16 and a faster
Gram product, switched on by the ``precision`` option. A new style loss is one class: subclass
``StyleLoss`` (its constructor keeps the targets, the blend, the masks, the layer weights and the Gram
function) and write its ``target`` and ``__call__``, using ``self.mask`` and ``self.weights`` so that masks,
blends and layer weights still apply; pass it as ``StyleTransfer(style_loss=...)``. See
``research/sliced_wasserstein.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from .io.images import resize_tensor
from .layers import FeatureExtractor

# ------------------------------------------------------------------------------------ 1. features
# The paper's layers. Its "conv4_2" is the *rectified* response (Caffe applies ReLU in place), which in
# torchvision's numbering is relu4_2: the conv output itself is before the ReLU.
PAPER_CONTENT_LAYERS = ("relu4_2",)
PAPER_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
EPS = 1e-8  # keeps a relative error finite against an all-zero target

Features = Callable[[torch.Tensor], dict[str, torch.Tensor]]  # image (1, 3, H, W) in [0, 1] -> {layer: activation}


def feature_extractor(backbone, content_layers: Sequence[str] = PAPER_CONTENT_LAYERS,
                      style_layers: Sequence[str] = PAPER_STYLE_LAYERS, pooling: str = "avg") -> FeatureExtractor:
    """The network cut after the deepest layer used, frozen, returning ``{layer: activation}``; "avg" pooling
    is the paper's ("slightly more appealing results"). The backbone's own preprocessing is applied inside."""
    return FeatureExtractor(backbone, [*content_layers, *style_layers], pooling)


# --------------------------------------------------------------------------------- 2. loss terms
def relative_squared_error(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||value - target||^2 / ||target||^2``. The paper uses plain squared errors; relative ones do not
    change when a layer's activations are scaled, so one style weight works on every backbone."""
    return (value - target).pow(2).sum() / (target.pow(2).sum() + EPS)


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C): each pair of channels' products, summed over the positions and divided by
    their number H*W, so that Gram matrices of images of different sizes compare. With a mask (N or 1, 1,
    H, W) in [0, 1] only the masked region counts, and its weight is the number of positions."""
    n, c, h, w = features.shape
    positions = float(h * w)
    if mask is not None:
        features = features * mask
        positions = mask.pow(2).sum(dim=(1, 2, 3)).clamp_min(EPS).view(-1, 1, 1)
    flat = features.reshape(n, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / positions


def layer_weights(layers: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Each layer's weight w_l: the ones given, or 1/L each (the paper's); a KeyError names any missing."""
    if weights is None:
        return {name: 1.0 / len(layers) for name in layers}
    missing = set(layers) - set(weights)
    if missing:
        raise KeyError(f"no weight given for layer(s) {', '.join(sorted(missing))}")
    return dict(weights)


class ContentLoss:
    """How far the image's activations at the content layers are from the photo's (equal layer weights)."""

    def __init__(self, content_features: Mapping[str, torch.Tensor], layers: Sequence[str]):
        self.targets = {name: content_features[name].detach() for name in layers}
        self.weights = layer_weights(list(self.targets), None)

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if not self.targets:  # no content layer: texture synthesis
            return torch.zeros(())
        return sum(self.weights[name] * relative_squared_error(features[name], target)
                   for name, target in self.targets.items())


class StyleLoss:
    """How far the image's Gram matrices are from the paintings', summed over the style layers with the
    weights w_l; several paintings are mixed by ``blend`` (shares summing to 1), and each painting's
    ``mask`` ((1, 1, H, W) in [0, 1], white where it goes) limits its statistics to that region.

    ``target`` is what the loss keeps of one painting (here its Gram matrices); ``targets`` holds one per
    painting. ``gram`` computes the Gram matrices (``speed.py`` passes a faster one).
    """

    def __init__(self, targets: Sequence[dict], blend: Sequence[float] = (1.0,),
                 masks: Sequence[torch.Tensor] | None = None, weights: Mapping[str, float] | None = None,
                 gram: Callable = gram_matrix):
        self.targets, self.blend, self.masks, self.gram = list(targets), list(blend), masks, gram
        self.weights = layer_weights(list(self.targets[0]), weights) if self.targets else {}
        self.masks_at: dict = {}  # (painting, layer) -> its mask at that layer's size, made once

    @classmethod
    @torch.no_grad()
    def target(cls, style_features: Mapping[str, torch.Tensor], layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """One painting's target: its Gram matrix at each style layer."""
        return {name: gram_matrix(style_features[name]) for name in layers}

    def mask(self, painting: int, name: str, feature: torch.Tensor) -> torch.Tensor | None:
        """Painting ``painting``'s mask at the size of layer ``name``'s feature map (None: everywhere)."""
        if self.masks is None:
            return None
        if (painting, name) not in self.masks_at:  # the image's size is fixed within a level: resize once
            mask = resize_tensor(self.masks[painting].to(feature.device), tuple(feature.shape[-2:]))
            self.masks_at[painting, name] = mask.clamp(0, 1)
        return self.masks_at[painting, name]

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if not self.weights:  # no style layer: the content alone
            return torch.zeros(())
        loss = 0.0
        for painting, (share, target) in enumerate(zip(self.blend, self.targets)):
            layers = 0.0
            for name, gram in target.items():
                mask = self.mask(painting, name, features[name])
                layers = layers + self.weights[name] * relative_squared_error(self.gram(features[name], mask=mask),
                                                                              gram)
            loss = loss + share * layers
        return loss


class TVLoss:
    """Mean squared difference between neighbouring pixels: lowers high-frequency noise."""

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return total_variation_loss(image)


def total_variation_loss(image: torch.Tensor) -> torch.Tensor:
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


# --------------------------------------------------------------------------------- 3. the objective
class Objective:
    """The weighted sum of the loss terms. ``terms``: name -> (weight, loss); each loss is called with the
    image and its features. Returns each weighted term and their sum, key ``"total"``."""

    def __init__(self, features: Features, terms: dict[str, tuple[float, Callable]]):
        self.features, self.terms = features, terms

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        found = self.features(image)  # one pass through the network serves every term
        values = {name: weight * loss(image, found) for name, (weight, loss) in self.terms.items()}
        values["total"] = sum(values.values())
        return values


def paper_objective(features: Features, content: torch.Tensor, styles: Sequence[torch.Tensor],
                    content_layers: Sequence[str] = PAPER_CONTENT_LAYERS,
                    style_layers: Sequence[str] = PAPER_STYLE_LAYERS, content_weight: float = 1.0,
                    style_weight: float = 10.0, tv_weight: float = 0.0, blend: Sequence[float] = (1.0,),
                    masks: Sequence[torch.Tensor] | None = None, style_loss: type = StyleLoss) -> Objective:
    """The paper's objective for one size: targets from the photo and the paintings, computed once.
    ``style_loss``: the class of the style term (``StyleLoss``, the paper's, or one like it)."""
    with torch.no_grad():
        content_features = features(content)
        style_targets = [style_loss.target(features(style), style_layers) for style in styles]
    terms = {"content": (content_weight, ContentLoss(content_features, content_layers)),
             "style": (style_weight, style_loss(style_targets, blend, masks))}
    if tv_weight:  # off (the paper's), not computed
        terms["tv"] = (tv_weight, TVLoss())
    return Objective(features, terms)


# ------------------------------------------------------------------------------------- 4. the loop
class BudgetSpent(Exception):
    """Raised by an evaluation once the steps are used: L-BFGS may ask for more within one of its steps."""


class NotFinite(ArithmeticError):
    """The loss became NaN or infinite: the weights or the learning rate are too large."""


class Budget:
    """The simplest record of a run: counts the evaluations (the steps), refuses one past ``steps`` and keeps
    each one's losses. ``transfer.RunRecord`` does the same for the library, with the best image and a bar."""

    def __init__(self, steps: int):
        self.step, self.steps, self.history = 0, steps, []

    def steps_left(self) -> int:
        return self.steps - self.step

    def before_evaluation(self) -> None:
        if self.step >= self.steps:
            raise BudgetSpent

    def after_evaluation(self, image: torch.Tensor, terms: dict) -> None:
        self.step += 1
        self.history.append({name: value.item() for name, value in terms.items()})


def evaluation(image: torch.Tensor, objective: Callable, record) -> Callable[[], torch.Tensor]:
    """The closure the optimisers call: one forward and backward pass; fills ``image.grad``, returns the loss."""
    def evaluate() -> torch.Tensor:
        record.before_evaluation()
        terms = objective(image)
        total = terms["total"]
        if not torch.isfinite(total):
            raise NotFinite(f"the loss became {total.item()} at step {record.step + 1}")
        total.backward()
        record.after_evaluation(image, terms)
        return total
    return evaluate


def lbfgs(image: torch.Tensor, evaluate: Callable, record, lr: float = 1.0, lbfgs_history: int = 100,
          first_step: float = 0.05) -> str:
    """L-BFGS, the paper's optimiser, with a strong-Wolfe line search (the paper names none). Returns
    "finished" (the steps are used) or "converged" (no progress any more).

    ``first_step``: how far the first step moves the pixel that moves most. torch's own first try moves
    the pixels by 1 in all (at 512 px two millionths of the [0, 1] range each), and its line search then
    spends four or five evaluations finding the scale; later steps take theirs from the curvature seen."""
    # Tolerances of 0 switch L-BFGS's convergence tests off: with its defaults it stops after one
    # evaluation whenever the losses are small. The record enforces the step budget instead.
    budget = record.steps_left()
    optimizer = torch.optim.LBFGS([image], lr=lr, max_iter=budget, max_eval=2 * budget, tolerance_grad=0.0,
                                  tolerance_change=0.0, history_size=lbfgs_history, line_search_fn="strong_wolfe")
    last = {}  # the last evaluation: each optimizer.step() starts by asking again for the point it ends on

    def closure():
        if last and torch.equal(last["image"], image.detach()):
            image.grad = last["grad"].clone()
            return last["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss = evaluate()
        last.update(image=image.detach().clone(), grad=image.grad.clone(), loss=loss.detach())
        return loss

    # The first iteration alone, with the learning rate that makes torch's first try, lr * min(1, 1 / sum|g|)
    # times the gradient g, move the largest pixel by first_step; then the rest at the lr asked for.
    closure()
    gradient = image.grad.abs()
    if gradient.max() > 0:
        group = optimizer.param_groups[0]
        group.update(lr=first_step / gradient.max().item() * max(1.0, gradient.sum().item()), max_iter=1)
        optimizer.step(closure)
        group.update(lr=lr, max_iter=budget)
    stalled = 0
    while record.steps_left() > 0:
        before = record.step
        optimizer.step(closure)
        stalled = stalled + 1 if record.step - before <= 1 else 0
        if stalled >= 3:  # no progress any more (a zero gradient, say)
            return "converged"
    return "finished"


def adam(image: torch.Tensor, evaluate: Callable, record, lr: float = 0.02) -> str:
    """Adam, one evaluation per step: slower to converge than L-BFGS, but simple and steady."""
    optimizer = torch.optim.Adam([image], lr=lr)
    while record.steps_left() > 0:
        optimizer.zero_grad(set_to_none=True)
        evaluate()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)  # small steps: keeping the pixels in range after each is safe
    return "finished"


def optimise(image: torch.Tensor, objective: Callable, record, optimizer: Callable = lbfgs, **options) -> str:
    """Lower ``objective`` by changing ``image`` (a leaf tensor with ``requires_grad``) until ``record``'s
    steps are used; returns why it ended ("finished" or "converged")."""
    try:
        return optimizer(image, evaluation(image, objective, record), record, **options)
    except BudgetSpent:
        return "finished"


def style_transfer(features: Features, content: torch.Tensor, style: torch.Tensor, steps: int = 100,
                   start: torch.Tensor | None = None, optimizer: Callable = lbfgs, **objective_options):
    """The paper's method at one size: returns (the image, each step's losses). ``start``: the photo by
    default (the paper starts from white noise: ``torch.rand_like(content)``)."""
    objective = paper_objective(features, content, [style], **objective_options)
    image = (content if start is None else start).detach().clone().requires_grad_(True)
    record = Budget(steps)
    optimise(image, objective, record, optimizer)
    return image.detach().clamp(0, 1), record.history
