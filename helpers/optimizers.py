"""The optimisers by name: the method's own (``method.lbfgs``, ``method.adam``) and any registered later.

An optimiser takes the image (a leaf tensor with ``requires_grad``), ``evaluate`` (the closure: one
forward and backward pass that fills ``image.grad`` and returns the loss) and the run's record
(``record.steps_left()``, ``record.step``), and returns why its level ended: "finished" (the budget is
used) or "converged" (no progress any more). Its ``lr`` default is the documented default (``default_lr``).

Adding an optimiser is adding a function here, decorated with ``@register``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from . import method
from .run_record import StopReason

OPTIMIZERS: dict[str, Callable] = {}


def register(function: Callable) -> Callable:
    OPTIMIZERS[function.__name__] = function
    return function


lbfgs = register(method.lbfgs)
adam = register(method.adam)


def default_lr(name: str) -> float:
    """The learning rate ``name`` uses when none is given (its ``lr`` default)."""
    return inspect.signature(OPTIMIZERS[name]).parameters["lr"].default


def optimise(name: str, image: torch.Tensor, objective: Callable, record, lr: float | None = None,
             **options) -> StopReason:
    """Lower ``objective`` from ``image`` with the optimiser called ``name`` until the level's budget is used;
    ``lr=None``: its default. Options another optimiser takes (``lbfgs_history``) are ignored by the ones
    that do not."""
    function = OPTIMIZERS[name]
    accepted = inspect.signature(function).parameters
    options = {key: value for key, value in options.items() if key in accepted}
    return StopReason(method.optimise(image, objective, record, function,
                                      lr=default_lr(name) if lr is None else lr, **options))
