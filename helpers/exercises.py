"""Checks for the notebooks' exercises: compare a learner's answer with the reference, kindly."""

from __future__ import annotations

import numpy as np
import torch


def check_answer(answer, reference, exercise: str = "exercise", rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Print whether ``answer`` matches ``reference`` (numbers, arrays or tensors).

    An answer left as None prints a reminder instead of failing, so the notebook still runs top to bottom.
    """
    if answer is None:
        print(f"{exercise}: not answered yet - replace None with your answer and run this cell again.")
        return
    try:
        got = answer.detach().cpu().double() if isinstance(answer, torch.Tensor) else torch.as_tensor(
            np.asarray(answer, dtype=float))
        want = reference.detach().cpu().double() if isinstance(reference, torch.Tensor) else torch.as_tensor(
            np.asarray(reference, dtype=float))
    except (TypeError, ValueError):
        print(f"{exercise}: the answer should be a number, an array or a tensor, not {type(answer).__name__}.")
        return
    if got.shape != want.shape:
        print(f"{exercise}: not yet - the shape is {tuple(got.shape)}, expected {tuple(want.shape)}.")
        return
    if torch.allclose(got, want, rtol=rtol, atol=atol):
        print(f"{exercise}: correct!")
        return
    worst = (got - want).abs().max().item()
    print(f"{exercise}: not yet - differs from the reference by up to {worst:.3g}.")
