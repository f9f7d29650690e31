"""The optimisers that change the pixels: one small function each, chosen by name.

Each takes the image (a leaf tensor with ``requires_grad``), ``evaluate`` (one forward and backward
pass: it fills ``image.grad`` and returns the loss, and raises ``BudgetSpent`` once the level's steps
are used), and the run's record (``record.steps_left()``). It returns why its level ended:
``StopReason.FINISHED`` (the budget is used) or ``StopReason.CONVERGED`` (no progress any more).
Its keyword arguments' defaults are the documented defaults (``default_lr``).

Adding an optimiser is adding a function here, decorated with ``@register``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from .run_record import StopReason

OPTIMIZERS: dict[str, Callable] = {}


def register(function: Callable) -> Callable:
    OPTIMIZERS[function.__name__] = function
    return function


def default_lr(name: str) -> float:
    """The learning rate ``name`` uses when none is given (its ``lr`` default)."""
    return inspect.signature(OPTIMIZERS[name]).parameters["lr"].default


def optimise(name: str, image: torch.Tensor, evaluate: Callable, record, lr: float | None = None,
             **options) -> StopReason:
    """Run the optimiser called ``name`` until the level's budget is used; ``lr=None``: its default.
    Options another optimiser takes (``lbfgs_history``) are ignored by the ones that do not."""
    function = OPTIMIZERS[name]
    accepted = inspect.signature(function).parameters
    options = {key: value for key, value in options.items() if key in accepted}
    return function(image, evaluate, record, lr=default_lr(name) if lr is None else lr, **options)


@register
def lbfgs(image, evaluate, record, lr: float = 1.0, lbfgs_history: int = 100) -> StopReason:
    """L-BFGS, the paper's optimiser, with a strong-Wolfe line search (the course's choice: the paper names none)."""
    # Tolerances of 0 switch L-BFGS's convergence tests off: with its defaults it stops after one
    # evaluation whenever the losses are small. The step budget is enforced by the record instead.
    budget = record.steps_left()
    optimizer = torch.optim.LBFGS([image], lr=lr, max_iter=budget, max_eval=2 * budget,
                                  tolerance_grad=0.0, tolerance_change=0.0, history_size=lbfgs_history,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad(set_to_none=True)
        return evaluate()

    stalled = 0
    while record.steps_left() > 0:
        before = record.step
        optimizer.step(closure)
        stalled = stalled + 1 if record.step - before <= 1 else 0
        if stalled >= 3:  # the optimizer makes no progress any more (e.g. a zero gradient)
            return StopReason.CONVERGED
    return StopReason.FINISHED


@register
def adam(image, evaluate, record, lr: float = 0.02) -> StopReason:
    """Adam, one evaluation per step; slower to converge than L-BFGS but simple and steady."""
    optimizer = torch.optim.Adam([image], lr=lr)
    while record.steps_left() > 0:
        optimizer.zero_grad(set_to_none=True)
        evaluate()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)  # Adam takes small steps, so keeping pixels in range is safe here
    return StopReason.FINISHED
