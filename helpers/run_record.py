"""What one run did, step by step: the step count, the loss history, the best image of each level, the
progress bar, the callback, and why it stopped (``StopReason``).

A level of a coarse-to-fine run can end early (``CONVERGED``) while the run goes on to the finer
levels; only the reasons whose ``ends_run`` is true stop the whole run.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum

from .method import BudgetSpent  # raised by before_evaluation: the method's loop ends the level on it

__all__ = ["BudgetSpent", "RunRecord", "StopReason"]


class StopReason(StrEnum):
    """Why a level or a run stopped. A ``str``: ``result.stopped == "interrupted"`` holds, and it prints
    and saves (JSON) as its plain value."""

    FINISHED = "finished"  # the level used its step budget
    CONVERGED = "converged"  # the level stopped making progress: the finer levels still run
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, or a callback raising KeyboardInterrupt
    NOT_FINITE = "not finite"  # the loss became NaN or infinite
    OUT_OF_MEMORY = "out of memory"

    @property
    def ends_run(self) -> bool:
        """True when no further level may run: the user stopped it, or it cannot go on."""
        return self not in (StopReason.FINISHED, StopReason.CONVERGED)

    def __str__(self) -> str:  # "interrupted", not "StopReason.INTERRUPTED", in messages and notebooks
        return self.value

    __format__ = str.__format__


class RunRecord:
    """Book-keeping of one run: step count, best image per level, history, progress bar, callbacks."""

    def __init__(self, total_steps: int, callback=None, callback_every: int = 10, progress: bool = True):
        self.total_steps, self.callback, self.callback_every = total_steps, callback, max(1, callback_every)
        self.step = self.level_end = self.best_step = 0
        self.level_size, self.best_loss, self.best_image = None, math.inf, None
        self.history, self.stopped, self.message = [], StopReason.FINISHED, ""
        self.start = time.perf_counter()
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, desc="stylizing", unit="step", mininterval=1.0, leave=True)

    def start_level(self, size: int, steps: int) -> None:
        # Losses at different sizes are not comparable: the best image is tracked per level.
        self.level_end = self.step + steps
        self.stopped = StopReason.FINISHED
        self.level_size, self.best_loss, self.best_image = size, math.inf, None

    def steps_left(self) -> int:
        return self.level_end - self.step

    def before_evaluation(self) -> None:
        if self.step >= self.level_end:
            raise BudgetSpent

    def after_evaluation(self, image, terms: dict) -> None:
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

    def stop(self, reason: StopReason, message: str) -> None:
        """The run ends here, for ``reason``: the best image so far is what it returns."""
        self.stopped, self.message = reason, message

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
