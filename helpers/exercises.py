"""Checks for the notebooks' exercises: compare a learner's answer with the reference, kindly.

Three kinds of check, so that an exercise cell never shows its own answer:

- ``check_answer``: the learner writes code (a Gram matrix, a preprocessing) and the check compares its
  result with the course's own function on the same input; the answer is the code, not a number.
- ``check_hashed``: the learner predicts a number, a word or a list; the cell holds only a digest of
  the rounded answer (``answer_digest``), so reading the cell does not give it away.
- ``check_that``: the answer depends on this run (the machine, the backbone, quick mode); the cell
  holds a test that only the right answer passes (for example "works, and a tenth of it does not").

An answer left as None prints "not answered yet" instead of failing, so the notebook runs top to bottom.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import numpy as np
import torch

DIGEST_LENGTH = 16  # hex digits of the sha256 kept: plenty to tell answers apart, short enough for a cell


def _not_answered(exercise: str) -> None:
    print(f"{exercise}: not answered yet - replace None with your answer and run this cell again.")


def check_answer(answer, reference, exercise: str = "exercise", rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Print whether ``answer`` matches ``reference`` (numbers, arrays or tensors).

    Meant for answers that are code: ``reference`` is the course's function on the same input.
    For a single number the message does not say by how much it differs (that would give it away).
    """
    if answer is None:
        _not_answered(exercise)
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
    if want.numel() == 1:
        print(f"{exercise}: not yet - try again.")
        return
    worst = (got - want).abs().max().item()
    print(f"{exercise}: not yet - differs from the reference by up to {worst:.3g}.")


def _canonical(answer, decimals: int) -> str:
    """One spelling per answer: numbers rounded to ``decimals``, words lower-cased, lists element-wise."""
    if isinstance(answer, str):
        return " ".join(answer.strip().lower().split())
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().cpu().tolist()
    elif isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if isinstance(answer, (list, tuple)):
        return "[" + ",".join(_canonical(item, decimals) for item in answer) + "]"
    value = float(answer)  # bool, int, float, numpy and torch scalars; raises TypeError/ValueError otherwise
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # -0.00 and 0.00 are one answer


def answer_digest(answer, decimals: int = 0) -> str:
    """The digest an exercise cell stores instead of its answer (see ``check_hashed``)."""
    return hashlib.sha256(_canonical(answer, decimals).encode()).hexdigest()[:DIGEST_LENGTH]


def _nudged(answer, step: float):
    """The answer with every number moved by ``step`` (words unchanged), for the rounding tolerance."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().cpu().tolist()
    elif isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if isinstance(answer, (list, tuple)):
        return [_nudged(item, step) for item in answer]
    return float(answer) + step


def check_hashed(answer, digest: str, exercise: str = "exercise", decimals: int = 0) -> None:
    """Print whether ``answer`` rounds to the answer whose ``answer_digest`` is ``digest``.

    Numbers are compared after rounding to ``decimals`` places, and an answer a little under one unit
    of the last place away (either side) still passes, so that a measured value that sits on a
    rounding boundary is not refused; the neighbouring rounded values (23 and 25 for 24) do not pass.
    Words ignore case and surrounding spaces; lists compare element by element, in order.
    """
    if answer is None:
        _not_answered(exercise)
        return
    tolerance = 0.4 * 10.0**-decimals
    try:
        candidates = {_canonical(answer, decimals), _canonical(_nudged(answer, tolerance), decimals),
                      _canonical(_nudged(answer, -tolerance), decimals)}
    except (TypeError, ValueError):
        print(f"{exercise}: the answer should be a number, a word or a list, not {type(answer).__name__}.")
        return
    wanted = digest.lower()
    if any(hashlib.sha256(text.encode()).hexdigest()[:len(wanted)] == wanted for text in candidates):
        print(f"{exercise}: correct!")
    else:
        print(f"{exercise}: not yet - try again (the solutions are linked at the end of the notebook).")


def check_that(answer, passes: Callable[[object], bool], exercise: str = "exercise") -> None:
    """Print whether ``passes(answer)`` holds: for answers that depend on this run, tested by property.

    ``passes`` should accept only the right answer (for example: the smallest value that works, so
    "it works" and "a tenth of it does not" are both checked), never a whole range of easy ones.
    """
    if answer is None:
        _not_answered(exercise)
        return
    try:
        ok = bool(passes(answer))
    except (TypeError, ValueError, ArithmeticError) as err:
        print(f"{exercise}: the answer could not be checked ({type(err).__name__}: {err}).")
        return
    print(f"{exercise}: correct!" if ok else f"{exercise}: not yet - try again.")
