"""Checks for the notebooks' exercises: compare a learner's answer with the reference, kindly.

Three kinds of check, so that an exercise cell never shows its own answer:

- ``check_answer``: the learner writes code (a Gram matrix, a preprocessing) and the check compares its
  result with the course's own function on the same input; the answer is the code, not a number.
- ``check_hashed``: the learner predicts a number, a word or a list; the cell holds only a digest of
  the rounded answer (``answer_digest``), so reading the cell does not give it away.
- ``check_that``: the answer depends on this run (the machine, the backbone, quick mode); the cell
  holds a test that only the right answer passes (for example "works, and a tenth of it does not").
- ``check_receptive_field``, ``check_caffe_preprocess``, ``check_gram_matrix``, ``check_style_loss``,
  ``check_closure``, ``check_tv_loss``: the learner writes a piece of the method as a *function*, before
  the notebook builds it (one per core notebook: 01, 02, 03, 04, 05, 09). The check runs it on inputs it
  makes itself (several shapes, a batch of one), compares with the course's own function, gradient
  included, and names the usual mistake in words ("not divided by H*W", "forgot zero_grad"). It never
  prints the reference's values; an error inside the learner's function is one line, not a traceback.
  While the learner's function runs, the course's own answer (``helpers.gram_matrix`` for the Gram matrix)
  refuses to run: a one-line call to it is not the exercise.

An answer left as None prints "not answered yet" instead of failing, so the notebook runs top to bottom.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import math
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..backbones import CAFFE_MEAN_BGR, KERAS_CAFFE_MEAN_BGR, ImageNetNormalize
from ..layers import VGG_CONFIGS, receptive_fields
from ..losses import gram_matrix, style_loss, total_variation_loss

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


# ---------------------------------------------------------------------------------------------------------------
# Exercises whose answer is a function: the check runs it on inputs of its own and explains what is wrong.
# ---------------------------------------------------------------------------------------------------------------


class _Problem(Exception):
    """What is wrong with the learner's function, in words a learner understands."""


class _Unanswered(Exception):
    """The learner's function still returns None: the stub has not been filled in."""


class _Raised(Exception):
    """The learner's function raised ``error``."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class _Borrowed(BaseException):  # not an Exception: a learner's "except Exception" does not swallow it
    """The learner's function called the course's own answer to the exercise."""


@contextmanager
def _answers_refused(answers: tuple[str, ...]):
    """While inside, each of ``answers`` ("helpers.losses.gram_matrix") raises ``_Borrowed`` when called."""
    saved = []
    for answer in answers:
        module_name, name = answer.rsplit(".", 1)
        module = importlib.import_module(module_name)
        saved.append((module, name, getattr(module, name)))

        def refuse(*args, _shown=f"helpers.{name}" if module_name != "helpers.backbones" else answer, **kwargs):
            raise _Borrowed(_shown)
        setattr(module, name, refuse)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _own_work(fn, answers: tuple[str, ...]):
    """``fn`` with the course's answers refused while it runs (see ``_answers_refused``)."""
    @functools.wraps(fn)
    def learners(*args):
        with _answers_refused(answers):
            return fn(*args)
    return learners if answers else fn


def _call(fn, *args):
    """``fn(*args)``, with any error in the learner's code turned into a ``_Raised`` (no traceback)."""
    try:
        return fn(*args)
    except _Borrowed as borrowed:
        raise _Problem(f"your function calls {borrowed}, the course's own answer: write it yourself with torch "
                       "operations (that is the exercise).") from None
    except Exception as error:  # the learner's code: every error is reported in one line
        raise _Raised(error) from None


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _run_check(fn, exercise: str, check: Callable, hint: Callable[[BaseException], str] | None = None,
               answers: tuple[str, ...] = ()) -> None:
    """Print the verdict of ``check(fn)``: correct, not answered, not yet (why), or the error fn raised.
    answers: the course's own functions that answer the exercise, refused while ``fn`` runs."""
    if fn is None:
        _not_answered(exercise)
        return
    if not callable(fn):
        print(f"{exercise}: not yet - pass your function itself (its name, without brackets), "
              f"not {type(fn).__name__}.")
        return
    given = [answer for answer in answers if getattr(importlib.import_module(answer.rsplit(".", 1)[0]),
                                                     answer.rsplit(".", 1)[1]) is fn]
    if given:
        print(f"{exercise}: not yet - that is {given[0]} itself, the course's own answer: write your own function "
              "(that is the exercise).")
        return
    try:
        check(_own_work(fn, answers))
    except _Unanswered as unanswered:
        what = str(unanswered) or "write its code (ending with return ...)"
        print(f"{exercise}: not answered yet - your function returns None: {what} and run this cell again.")
    except _Raised as raised:
        error = raised.error
        extra = hint(error) if hint else ""
        if not extra and isinstance(error, RuntimeError) and "device" in str(error):
            extra = ("the check runs your function on CPU tensors: make any constant on the input's device, "
                     "torch.tensor(..., device=x.device)")
        print(f"{exercise}: not yet - your function raised {type(error).__name__}: {_one_line(error)}"
              + (f" ({extra})" if extra else "") + ".")
    except _Problem as problem:
        print(f"{exercise}: not yet - {problem}")
    else:
        print(f"{exercise}: correct!")


def _as_tensor(value, what: str = "your function") -> torch.Tensor:
    """The learner's result as a tensor, or a ``_Problem`` that says what it is instead."""
    if value is None:
        raise _Unanswered()
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (int, float, np.floating, np.integer)):
        raise _Problem(f"{what} returned a Python number ({type(value).__name__}): return the torch tensor itself "
                       f"(no .item() or float(...)), so that gradients can flow back through it.")
    if isinstance(value, np.ndarray):
        raise _Problem(f"{what} returned a NumPy array: stay in torch (no .numpy()), so that gradients can flow "
                       f"back through it.")
    raise _Problem(f"{what} returned a {type(value).__name__}, not a torch tensor.")


def _same(got: torch.Tensor, want: torch.Tensor, rtol: float = 1e-4) -> bool:
    """Same shape and the same values up to float32 rounding (relative to the largest entry)."""
    if tuple(got.shape) != tuple(want.shape):
        return False
    got, want = got.detach().cpu().double(), want.detach().cpu().double()
    if not bool(torch.isfinite(got).all()):
        return False
    scale = want.abs().max().item() if want.numel() else 0.0
    return torch.allclose(got, want, rtol=rtol, atol=rtol * scale + 1e-12)


def _first_match(results: list, variants: list[tuple[str, Callable]], cases: list) -> str | None:
    """The message of the first typical mistake that gives exactly the learner's results on every case."""
    for message, variant in variants:
        if all(_same(got, variant(*case)) for got, case in zip(results, cases)):
            return message
    return None


def _shape(tensor_or_shape) -> str:
    shape = tensor_or_shape.shape if isinstance(tensor_or_shape, torch.Tensor) else tensor_or_shape
    return "(" + ", ".join(str(size) for size in shape) + ")"


def _generator(seed: int = 0) -> torch.Generator:
    """A private generator: the checks do not disturb the notebook's own random numbers."""
    return torch.Generator().manual_seed(seed)


def _gradient_problem(fn, make_inputs: Callable[[], tuple], reference: Callable, what: str) -> str | None:
    """Compare the gradient of a fixed random projection of ``fn``'s output with the reference's."""
    inputs = make_inputs()
    leaves = [leaf.requires_grad_(True) for leaf in _tensors_in(inputs[:1])]  # the first argument: image, features
    got = _as_tensor(_call(fn, *inputs))
    if not got.requires_grad:
        return (f"no gradient flows back through {what} (did you use .detach(), .item(), .numpy(), "
                f"torch.tensor(...) or torch.no_grad()?): the image is optimised through it, so keep it all in torch.")
    weights = torch.rand(got.shape, generator=_generator(7), dtype=torch.float64).to(got.dtype)
    try:
        got_grads = torch.autograd.grad((got * weights).sum(), leaves, allow_unused=True)
    except RuntimeError as error:
        return f"the gradient through {what} could not be computed ({_one_line(error, 120)})."
    reference_inputs = make_inputs()
    reference_leaves = [leaf.requires_grad_(True) for leaf in _tensors_in(reference_inputs[:1])]
    want = reference(*reference_inputs)
    want_grads = torch.autograd.grad((want * weights.to(want.dtype)).sum(), reference_leaves, allow_unused=True)
    for got_grad, want_grad in zip(got_grads, want_grads):
        if got_grad is None and want_grad is None:
            continue
        if got_grad is None or want_grad is None or not _same(got_grad, want_grad, rtol=1e-3):
            return (f"the values are right but the gradient through {what} is not: part of the computation is "
                    f"cut off from the graph (.detach(), .data or a copy made with torch.tensor(...)).")
    return None


def _tensors_in(inputs) -> list[torch.Tensor]:
    found = []
    for item in inputs:
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, dict):
            found += [value for value in item.values() if isinstance(value, torch.Tensor)]
    return found


# 01 - receptive fields -----------------------------------------------------------------------------------------


def _vgg19_specs(upto_layers: int) -> list[tuple[int, int]]:
    """VGG19's first ``upto_layers`` convolutions and poolings as (kernel, stride): 3x3 stride 1, 2x2 stride 2."""
    return [(2, 2) if width == "M" else (3, 1) for width in VGG_CONFIGS["vgg19"][:upto_layers]]


def _reference_field(specs: list[tuple[int, int]]) -> int:
    """The receptive field of the last layer, by ``helpers.receptive_fields`` on layers of those sizes."""
    if not specs:
        return 1
    layers = nn.Sequential(*[nn.MaxPool2d(kernel, stride) if (kernel, stride) == (2, 2)
                             else nn.Conv2d(1, 1, kernel, stride=stride) for kernel, stride in specs])
    return list(receptive_fields(layers).values())[-1][0]


def _field_variant(start: int = 1, widen=lambda k, jump: (k - 1) * jump, stride_first: bool = False,
                   update=lambda jump, s: jump * s) -> Callable:
    def field_of(specs):
        field, jump = start, 1
        for kernel, stride in specs:
            if stride_first:
                jump = update(jump, stride)
            field += widen(kernel, jump)
            if not stride_first:
                jump = update(jump, stride)
        return torch.tensor(float(field))
    return field_of


def check_receptive_field(fn, exercise: str = "exercise") -> None:
    """Check ``fn(layers) -> receptive field in input pixels`` of the last of ``layers``.

    ``layers`` is a list of (kernel, stride) pairs, first layer first: VGG19 up to several depths (3x3
    convolutions with stride 1, 2x2 poolings with stride 2) and other networks' (7x7 stride 2, 11x11
    stride 4...). Compared with ``helpers.receptive_fields``; diagnoses the jump that is never multiplied
    by the stride, k instead of k - 1, the stride applied too early and a field that starts at 0.
    """
    cases = [(_vgg19_specs(depth),) for depth in (1, 3, 7, 13, 21)]  # conv1_1, pool1, conv3_1, conv4_2, pool5
    cases += [([(7, 2), (3, 2), (3, 1), (3, 1)],), ([(11, 4), (3, 2), (5, 1), (3, 2)],), ([(1, 1), (3, 3)],), ([],)]
    variants = [
        ("the field never grows faster than k - 1 per layer: you forgot to multiply the jump by the stride. After a "
         "stride-2 pooling, neighbouring outputs are 2 input pixels apart, so each later 3x3 layer adds (3 - 1) * 2 "
         "pixels, then * 4 after the next pooling, and so on.", _field_variant(update=lambda jump, s: jump)),
        ("a k x k layer widens the field by (k - 1) * jump, not k * jump: a 1x1 layer does not widen it at all, and a "
         "3x3 one adds one output on each side.", _field_variant(widen=lambda k, jump: k * jump)),
        ("you update the jump before widening the field: a layer's own stride only spaces out the outputs of the "
         "layers after it, so widen with the old jump first, then multiply the jump by the stride.",
         _field_variant(stride_first=True)),
        ("the jump is multiplied by the stride, not added to it (two stride-2 layers make a jump of 4 = 2 x 2).",
         _field_variant(update=lambda jump, s: jump + s)),
        ("the field starts at 1 pixel (the input pixel itself), not 0: you are off by one everywhere.",
         _field_variant(start=0)),
    ]

    def check(fn):
        results = []
        for (specs,) in cases:
            value = _call(fn, [tuple(spec) for spec in specs])
            if value is None:
                raise _Unanswered()
            if isinstance(value, (tuple, list, dict)):
                raise _Problem(f"return one number (the receptive field of the last layer, in pixels), not a "
                               f"{type(value).__name__}.")
            try:
                results.append(torch.tensor(float(value)))
            except (TypeError, ValueError):
                raise _Problem(f"return a number of pixels, not a {type(value).__name__}.") from None
        if all(_same(got, torch.tensor(float(_reference_field(specs)))) for got, (specs,) in zip(results, cases)):
            return
        message = _first_match(results, variants, cases)
        if message:
            raise _Problem(message)
        wrong = next(specs for got, (specs,) in zip(results, cases)
                     if not _same(got, torch.tensor(float(_reference_field(specs)))))
        raise _Problem(f"wrong for the layers {wrong if len(wrong) <= 4 else str(wrong[:4])[:-1] + ', ...]'} "
                       f"(kernel, stride): work that list out by hand, keeping track of two numbers after each "
                       f"layer: the field, and the jump (how many input pixels apart neighbouring outputs are).")

    _run_check(fn, exercise, check,
               answers=("helpers.layers.receptive_fields", "helpers.receptive_fields"))


# 02 - Caffe preprocessing --------------------------------------------------------------------------------------


def check_caffe_preprocess(fn, exercise: str = "exercise", mean_bgr=CAFFE_MEAN_BGR) -> None:
    """Check ``fn(rgb) -> Caffe input``: RGB in [0, 1], shape (1, 3, H, W), to BGR 0-255 minus ``mean_bgr``.

    The reference is ``helpers.backbones.CaffeNormalize(mean_bgr)``. Diagnoses channels not swapped, the
    wrong dimension flipped, no 0-255 scaling, the mean subtracted in RGB order, at the wrong time or not
    at all, another mean pixel, torchvision's ImageNet normalisation instead, a changed shape, an input
    modified in place and a result with no gradient.
    """
    mean = torch.tensor(mean_bgr, dtype=torch.float32).view(1, 3, 1, 1)
    other = CAFFE_MEAN_BGR if tuple(mean_bgr) != tuple(CAFFE_MEAN_BGR) else KERAS_CAFFE_MEAN_BGR
    other_mean = torch.tensor(other, dtype=torch.float32).view(1, 3, 1, 1)
    shapes = [(1, 3, 5, 7), (1, 3, 4, 4), (1, 3, 6, 3)]

    def make(shape):
        return torch.rand(shape, generator=_generator(sum(shape)))

    def reference(rgb):
        return rgb.flip(1) * 255.0 - mean

    imagenet = ImageNetNormalize()
    mean_text = "(" + ", ".join(f"{value:g}" for value in mean_bgr) + ")"
    variants = [
        ("the channels are still in R, G, B order: Caffe networks take B, G, R, so reverse the channel dimension "
         "(rgb.flip(1) or rgb[:, [2, 1, 0]]).", lambda rgb: rgb * 255.0 - mean),
        ("the values are not scaled to 0-255: multiply by 255 before subtracting the mean (the mean pixel is in "
         "0-255 units).", lambda rgb: rgb.flip(1) - mean),
        ("you subtracted the mean before scaling to 0-255: scale first (x 255), then subtract the mean pixel.",
         lambda rgb: (rgb.flip(1) - mean) * 255.0),
        ("the mean pixel is subtracted in R, G, B order: it is given as (B, G, R), the order of the swapped "
         "channels, so subtract it after reversing the channels.", lambda rgb: rgb.flip(1) * 255.0 - mean.flip(1)),
        ("the mean pixel is not subtracted: after swapping to BGR and scaling to 0-255, subtract the mean "
         f"{mean_text} channel by channel.", lambda rgb: rgb.flip(1) * 255.0),
        (f"you subtracted another network's mean pixel: this exercise's network was trained with {mean_text}.",
         lambda rgb: rgb.flip(1) * 255.0 - other_mean),
        ("that is torchvision's ImageNet normalisation ((x - mean) / std, in RGB and 0-1): this network was trained "
         "the Caffe way, BGR, 0-255, minus the mean pixel, no division.", lambda rgb: imagenet(rgb)),
        ("you reversed the width (the last dimension), which mirrors the image left to right: reverse the channels, "
         "dimension 1 of (N, C, H, W).", lambda rgb: rgb.flip(-1) * 255.0 - mean),
        ("you reversed the height (dimension 2), which turns the image upside down: reverse the channels, "
         "dimension 1 of (N, C, H, W).", lambda rgb: rgb.flip(2) * 255.0 - mean),
    ]

    def check(fn):
        results = []
        for shape in shapes:
            rgb = make(shape)
            before = rgb.clone()
            got = _as_tensor(_call(fn, rgb))
            if not torch.equal(rgb, before):
                raise _Problem("your function changes its input in place (an operation ending in _, or an "
                               "assignment into rgb[...]): the image being optimised would be overwritten. Build a new "
                               "tensor instead (rgb.flip(1) * 255 makes one).")
            if tuple(got.shape) != shape:
                raise _Problem(f"for an input of shape {_shape(shape)} your result has shape {_shape(got)}: "
                               f"preprocessing changes the values, never the shape (keep the batch dimension).")
            results.append(got)
        cases = [(make(shape),) for shape in shapes]
        if not all(_same(got, reference(*case)) for got, case in zip(results, cases)):
            message = _first_match(results, variants, cases)
            raise _Problem(message or "the values differ from Caffe's input: reverse the channels (RGB to BGR), "
                                      "multiply by 255, then subtract the mean pixel (B, G, R).")
        problem = _gradient_problem(fn, lambda: (make(shapes[0]),), reference, "your preprocessing")
        if problem:
            raise _Problem(problem)

    _run_check(fn, exercise, check,
               answers=("helpers.backbones.CaffeNormalize",))


# 03 - Gram matrix ----------------------------------------------------------------------------------------------


def check_gram_matrix(fn, exercise: str = "exercise") -> None:
    """Check ``fn(features) -> Gram matrix``: features (1, C, H, W), result (1, C, C) divided by H*W.

    The reference is ``helpers.gram_matrix`` (its default ``norm="hw"``). Diagnoses the positions x
    positions product, a dropped or extra batch dimension, no division by H*W, division by C*H*W or
    twice by H*W, a covariance (means subtracted), a reshape that mixes channels and positions, a
    result that is not symmetric, and a result with no gradient.
    """
    shapes = [(1, 4, 3, 5), (1, 6, 4, 4), (1, 3, 2, 7)]

    def make(shape):
        return torch.randn(shape, generator=_generator(sum(shape))).relu()  # like a ReLU layer's responses

    def raw(x):
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        return flat @ flat.transpose(1, 2)

    def positions(x):
        return x.shape[-2] * x.shape[-1]

    def mixed(x):
        n, c, h, w = x.shape
        flat = x.reshape(n, h * w, c)
        return flat.transpose(1, 2) @ flat / (h * w)

    variants = [
        ("the sum over positions is not divided by H*W: each entry should be the average product of two channels "
         "over the H*W positions, so that images of different sizes give comparable matrices.", raw),
        ("divided by C*H*W (the PyTorch tutorial's convention): the course divides by the number of positions H*W "
         "only.", lambda x: raw(x) / (x.shape[1] * positions(x))),
        ("divided by H*W twice: once is enough.", lambda x: raw(x) / positions(x) ** 2),
        ("you subtracted each channel's mean first, which gives a covariance matrix: the Gram matrix uses the raw "
         "responses.", lambda x: raw(x - x.mean(dim=(2, 3), keepdim=True)) / positions(x)),
        ("reshaping (1, C, H, W) straight to (1, H*W, C) mixes channels and positions: flatten to (1, C, H*W) "
         "(features.reshape(n, c, h * w)), one row per channel, then multiply by its transpose.", mixed),
    ]

    def check(fn):
        results = []
        for shape in shapes:
            n, c, h, w = shape
            got = _as_tensor(_call(fn, make(shape)))
            if tuple(got.shape) != (n, c, c):
                found = tuple(got.shape)
                if found[-2:] == (h * w, h * w):
                    why = ("that is positions x positions: you multiplied F^T F. The Gram matrix is channels x "
                           "channels, F F^T with F of shape (1, C, H*W).")
                elif found == (c, c):
                    why = ("the batch dimension is gone: return (1, C, C) for (1, C, H, W) features, as "
                           "helpers.gram_matrix does (torch.bmm or @ on (1, C, H*W) keeps it).")
                elif len(found) > 3 and found[-2:] == (c, c):
                    why = "it has an extra dimension: return (1, C, C), one C x C matrix per image of the batch."
                else:
                    why = "expected (1, C, C): one C x C matrix, channels by channels, per image of the batch."
                raise _Problem(f"for features of shape {_shape(shape)} your result has shape {_shape(got)}: {why}")
            results.append(got)
        cases = [(make(shape),) for shape in shapes]
        if all(_same(got, gram_matrix(*case)) for got, case in zip(results, cases)):
            problem = _gradient_problem(fn, lambda: (make(shapes[0]),), gram_matrix, "your Gram matrix")
            if problem:
                raise _Problem(problem)
            return
        message = _first_match(results, variants, cases)
        if message:
            raise _Problem(message)
        if not all(_same(got, got.transpose(-1, -2)) for got in results):
            raise _Problem("your matrix is not symmetric: entry (i, j), the sum over positions of channel i times "
                           "channel j, must equal entry (j, i). Multiply the flattened features by their own "
                           "transpose.")
        raise _Problem("the values differ from helpers.gram_matrix: flatten to F of shape (1, C, H*W), compute "
                       "F @ F.transpose(1, 2) and divide by H*W.")

    _run_check(fn, exercise, check, hint=lambda error: "does your function take C, H and W from features.shape, "
               "rather than fixed numbers?" if isinstance(error, RuntimeError) else "",
               answers=("helpers.losses.gram_matrix", "helpers.gram_matrix", "helpers.method.gram_matrix"))


# 04 - style loss -----------------------------------------------------------------------------------------------

_STYLE_CASES = {  # per case: style layers (channels, side, scale of the activations), and a content layer
    "three": [("relu1_1", 4, 6, 1.0), ("relu2_1", 6, 4, 8.0), ("relu3_1", 5, 3, 0.3)],
    "two": [("relu1_1", 3, 5, 2.0), ("relu2_1", 7, 3, 0.5)],
}


def _style_inputs(case: str) -> tuple[dict, dict]:
    """Features (style layers at different scales, plus a content layer that is not a style layer) and targets."""
    generator = _generator(len(case))
    features, targets = {}, {}
    for name, channels, side, scale in _STYLE_CASES[case]:
        features[name] = scale * torch.randn(1, channels, side, side + 1, generator=generator).relu()
        style = 1.5 * scale * torch.randn(1, channels, side + 1, side, generator=generator).relu()
        targets[name] = gram_matrix(style)
    features["conv4_2"] = torch.randn(1, 5, 2, 2, generator=generator).relu()
    return features, targets


def _style_variant(per_layer: Callable, gram=gram_matrix, divide_by=None) -> Callable:
    def loss(features, targets):
        terms = [per_layer(gram(features[name]), target) for name, target in targets.items()]
        return sum(terms) / (divide_by(features, targets) if divide_by else len(terms))
    return loss


def check_style_loss(fn, exercise: str = "exercise") -> None:
    """Check ``fn(features, target_grams) -> style loss``, one number (a 0-d tensor).

    ``features``: {layer name: (1, C, H, W)}, the current image's activations; it also holds a content
    layer that is not a style layer. ``target_grams``: {style layer name: (1, C, C)}, the style image's
    Gram matrices (``helpers.gram_matrix``). The reference is ``helpers.style_loss`` with its default
    weights: the mean over the style layers of ||G - A||^2 / ||A||^2. Diagnoses: layers summed, not
    averaged, or averaged over the wrong count; absolute errors (sum or mean, the tutorial's MSE)
    instead of relative ones; norms instead of squared norms; division by the current image's Gram;
    Gram matrices normalised unlike the targets; a result that is not one number or has no gradient.
    """
    def relative(gram, target):
        return (gram - target).pow(2).sum() / target.pow(2).sum()

    variants = [
        ("the layers are summed: the course averages them (weight 1/L for each of the L style layers, as in the "
         "paper), so that adding a layer does not change the loss's scale.",
         _style_variant(relative, divide_by=lambda features, targets: 1)),
        ("you divided by the number of all feature maps, which includes the content layer: average over the style "
         "layers only (len(target_grams)).",
         _style_variant(relative, divide_by=lambda features, targets: len(features))),
        ("each layer's term must be relative: divide ||G - A||^2 by the target's ||A||^2, so that layers whose "
         "activations are larger do not dominate.", _style_variant(lambda g, a: (g - a).pow(2).sum())),
        ("that is a mean squared error (as in the PyTorch tutorial): the course's term is relative, "
         "||G - A||^2 / ||A||^2, with sums on both sides.", _style_variant(lambda g, a: (g - a).pow(2).mean())),
        ("you took the mean of the squared difference but the sum of the target's squares: use sums on both sides "
         "(or means on both), ||G - A||^2 / ||A||^2.",
         _style_variant(lambda g, a: (g - a).pow(2).mean() / a.pow(2).sum())),
        ("you used norms, ||G - A|| / ||A||: the course squares both, ||G - A||^2 / ||A||^2.",
         _style_variant(lambda g, a: (g - a).norm() / a.norm())),
        ("you divided by ||A||, not its square ||A||^2.",
         _style_variant(lambda g, a: (g - a).pow(2).sum() / a.norm())),
        ("you divided by the current image's ||G||^2: divide by the target's ||A||^2, which does not move during the "
         "optimisation.", _style_variant(lambda g, a: (g - a).pow(2).sum() / g.pow(2).sum())),
        ("the current image's Gram matrices are not divided by H*W, but the targets are: compute them the same way "
         "(helpers.gram_matrix(features[name]), or your function from notebook 03).",
         _style_variant(relative, gram=lambda x: gram_matrix(x, norm="none"))),
        ("the current image's Gram matrices are divided by C*H*W, but the targets only by H*W: compute them the same "
         "way (helpers.gram_matrix(features[name])).", _style_variant(relative, gram=lambda x: gram_matrix(x, "chw"))),
    ]

    def check(fn):
        cases, results = [], []
        for case in _STYLE_CASES:
            features, targets = _style_inputs(case)
            copies = {name: target.clone() for name, target in targets.items()}
            got = _as_tensor(_call(fn, features, targets), "your style loss")
            if any(not torch.equal(targets[name], copies[name]) for name in targets):
                raise _Problem("your function changes the target Gram matrices: they must stay as they are.")
            if got.numel() != 1:
                raise _Problem(f"return one number, the weighted sum over the style layers, not a tensor of shape "
                               f"{_shape(got)}.")
            cases.append(_style_inputs(case))
            results.append(got.reshape(()))
        if not all(_same(got, style_loss(*case)) for got, case in zip(results, cases)):
            ratios = [(got.double() / style_loss(*case).double()).item() for got, case in zip(results, cases)]
            message = _first_match(results, variants, cases)
            if message:
                raise _Problem(message)
            if all(math.isclose(ratio, len(_STYLE_CASES[case]) / 5, rel_tol=1e-4)
                   for ratio, case in zip(ratios, _STYLE_CASES)):
                raise _Problem("you divided by a fixed 5: use the number of style layers given, len(target_grams).")
            raise _Problem("the value differs from helpers.style_loss: for each style layer, compute "
                           "G = gram_matrix(features[name]) and ||G - A||^2 / ||A||^2, then average over the style "
                           "layers.")

        def reference(features, targets):
            return style_loss(features, targets)

        problem = _gradient_problem(fn, lambda: _style_inputs("three"), reference, "your style loss")
        if problem:
            raise _Problem(problem)

    _run_check(fn, exercise, check, hint=lambda error: "features also holds the content layer, which has no target "
               "Gram matrix: loop over the style layers, the keys of target_grams" if isinstance(error, KeyError)
               else "",
               answers=("helpers.losses.style_loss", "helpers.style_loss", "helpers.method.StyleLoss"))


# 05 - the L-BFGS closure ---------------------------------------------------------------------------------------


def _quadratic_problem() -> tuple[torch.Tensor, Callable]:
    """A small, badly conditioned least-squares problem: a start image and loss_fn(image) -> 0-d tensor."""
    generator = _generator(5)
    target = torch.rand(1, 3, 4, 4, generator=generator, dtype=torch.float64)
    weights = torch.logspace(-1, 1, 48, dtype=torch.float64).view(1, 3, 4, 4)
    start = 3 * torch.rand(1, 3, 4, 4, generator=generator, dtype=torch.float64) - 1  # some pixels outside [0, 1]

    def loss_fn(image):
        return (weights * (image - target).pow(2)).sum() + 0.05 * (image - target).pow(4).sum()

    return start, loss_fn


def _lbfgs(image: torch.Tensor) -> torch.optim.LBFGS:
    return torch.optim.LBFGS([image], max_iter=5, history_size=3, tolerance_grad=0, tolerance_change=0,
                             line_search_fn="strong_wolfe")


def check_closure(make_closure, exercise: str = "exercise") -> None:
    """Check ``make_closure(optimizer, image, loss_fn) -> closure`` for ``torch.optim.LBFGS``.

    The closure L-BFGS calls (as often as it likes) must zero the gradients, evaluate
    ``loss_fn(image)``, call ``backward`` and return the loss tensor. The check calls it once by hand
    (with stale gradients left in ``image.grad``), then runs L-BFGS with it on a small problem of its own
    and compares where it ends with a reference closure. Diagnoses: a closure that is not returned
    (or is called), gradients not zeroed (they pile up), no backward, nothing or a Python number
    returned, ``optimizer.step`` called inside, the image changed inside (clamping), ``loss_fn`` not used.
    """
    def check(make_closure):
        start, loss_fn = _quadratic_problem()
        image = start.clone().requires_grad_(True)
        optimizer = _lbfgs(image)
        evaluations = []

        def counted_loss(x):
            evaluations.append(1)
            return loss_fn(x)

        closure = _call(make_closure, optimizer, image, counted_loss)
        if closure is None:
            raise _Unanswered("write the closure inside make_closure, end make_closure with return closure (no "
                              "brackets),")
        if not callable(closure):
            raise _Problem(f"make_closure returned a {type(closure).__name__}, not a function: define the closure "
                           f"inside it and return the function itself (return closure, without brackets).")
        steps = []
        optimizer.step = lambda *args, **kwargs: steps.append(1)  # a spy, on this optimizer only
        stale = torch.full_like(image, 7.0)
        image.grad = stale.clone()
        before = image.detach().clone()
        try:
            value = _call(closure)
        finally:
            del optimizer.step
        if steps:
            raise _Problem("your closure calls optimizer.step: the closure only evaluates (zero_grad, loss, backward, "
                           "return loss). You call optimizer.step(closure) outside it, and L-BFGS calls the closure "
                           "itself as often as its line search needs.")
        if not torch.equal(image.detach(), before):
            raise _Problem("your closure changes the image (clamping it, for example): L-BFGS must only evaluate "
                           "points it chose. Keep the pixels in range outside the optimiser (notebook 09).")
        if not evaluations:
            raise _Problem("your closure never calls loss_fn(image): it must compute the loss afresh each time L-BFGS "
                           "calls it, at the image's current values.")
        true_grad = torch.autograd.grad(loss_fn(image), image)[0]
        grad = image.grad
        if grad is None or torch.equal(grad, stale):
            raise _Problem("after your closure ran, the image has no new gradient: call loss.backward() inside the "
                           "closure, after optimizer.zero_grad(), so that L-BFGS gets the gradient with the loss.")
        if _same(grad, stale + true_grad, rtol=1e-6):
            raise _Problem("you forgot optimizer.zero_grad(): PyTorch adds each backward's gradient to the one already "
                           "in image.grad, so without zeroing, every evaluation adds up the gradients of all the "
                           "earlier ones. Call it first in the closure.")
        if not _same(grad, true_grad, rtol=1e-6):
            raise _Problem("after your closure ran, image.grad is not the gradient of loss_fn(image): zero the "
                           "gradients, compute loss = loss_fn(image), then call loss.backward(), in that order.")
        if value is None:
            raise _Problem("your closure returns nothing: L-BFGS needs the loss back, so end it with return loss.")
        if not isinstance(value, torch.Tensor):
            raise _Problem(f"your closure returns a {type(value).__name__}: return the loss tensor itself (not "
                           f"loss.item()), as PyTorch's optimisers expect.")
        if value.numel() != 1 or not _same(value.reshape(()), loss_fn(image).reshape(()), rtol=1e-9):
            raise _Problem("your closure returns something other than the loss it computed: return loss_fn(image).")

        image = start.clone().requires_grad_(True)
        optimizer = _lbfgs(image)
        optimizer.step(_call(make_closure, optimizer, image, loss_fn))
        reference_image = start.clone().requires_grad_(True)
        reference_optimizer = _lbfgs(reference_image)

        def reference_closure():
            reference_optimizer.zero_grad()
            loss = loss_fn(reference_image)
            loss.backward()
            return loss

        reference_optimizer.step(reference_closure)
        if not _same(image.detach(), reference_image.detach(), rtol=1e-6):
            raise _Problem("one call of your closure looks right, but L-BFGS ends somewhere else with it than with "
                           "the reference closure: each call must use the optimizer, image and loss_fn given to "
                           "make_closure (not global variables) and do the same thing every time.")

    _run_check(make_closure, exercise, check)


# 09 - total variation ------------------------------------------------------------------------------------------


def check_tv_loss(fn, exercise: str = "exercise") -> None:
    """Check ``fn(image) -> total-variation loss``, one number, for an image (1, 3, H, W).

    The reference is ``helpers.total_variation_loss``: the mean squared difference between vertical
    neighbours plus the mean squared difference between horizontal neighbours. Diagnoses sums instead
    of means, absolute instead of squared differences, one direction only, the channel dimension taken
    for a spatial one, differences that wrap around the border (torch.roll), both directions averaged
    together, and a result that is not one number or has no gradient.
    """
    shapes = [(1, 3, 5, 7), (1, 3, 6, 4), (1, 3, 3, 3)]

    def make(shape):
        return torch.rand(shape, generator=_generator(sum(shape)))

    def dy(x):
        return x[..., 1:, :] - x[..., :-1, :]

    def dx(x):
        return x[..., :, 1:] - x[..., :, :-1]

    def dc(x):
        return x[:, 1:] - x[:, :-1]

    def rolled(x, dim):
        return x - torch.roll(x, 1, dims=dim)

    variants = [
        ("you summed the squared differences: the course averages them (.mean() in each direction), so that the "
         "same tv_weight works at every image size.", lambda x: dy(x).pow(2).sum() + dx(x).pow(2).sum()),
        ("you used absolute differences (an L1 total variation): the course squares them, which lets soft edges "
         "through and punishes pixel-level noise hardest.", lambda x: dy(x).abs().mean() + dx(x).abs().mean()),
        ("only vertical neighbours (along the height) are compared: checkerboards and noise run both ways, so add "
         "the horizontal term too.", lambda x: dy(x).pow(2).mean()),
        ("only horizontal neighbours (along the width) are compared: checkerboards and noise run both ways, so add "
         "the vertical term too.", lambda x: dx(x).pow(2).mean()),
        ("one of your differences is along the channels (dimension 1): neighbouring pixels are along the height "
         "(dimension 2) and the width (dimension 3); use image[..., 1:, :] and image[..., :, 1:].",
         lambda x: dc(x).pow(2).mean() + dx(x).pow(2).mean()),
        ("one of your differences is along the channels (dimension 1): neighbouring pixels are along the height "
         "(dimension 2) and the width (dimension 3); use image[..., 1:, :] and image[..., :, 1:].",
         lambda x: dc(x).pow(2).mean() + dy(x).pow(2).mean()),
        ("torch.roll wraps around, so your differences also compare the last row with the first (and the last "
         "column with the first): only neighbours inside the image count. Use slices, image[..., 1:, :] - "
         "image[..., :-1, :].", lambda x: rolled(x, -2).pow(2).mean() + rolled(x, -1).pow(2).mean()),
        ("you averaged both directions together: average the vertical differences, average the horizontal ones, "
         "then add the two means.",
         lambda x: (dy(x).pow(2).sum() + dx(x).pow(2).sum()) / (dy(x).numel() + dx(x).numel())),
    ]

    def check(fn):
        results = []
        for shape in shapes:
            image = make(shape)
            before = image.clone()
            got = _as_tensor(_call(fn, image), "your total variation")
            if not torch.equal(image, before):
                raise _Problem("your function changes the image in place: compute the differences into new tensors.")
            if got.numel() != 1:
                raise _Problem(f"return one number for the whole image, not a tensor of shape {_shape(got)}.")
            results.append(got.reshape(()))
        cases = [(make(shape),) for shape in shapes]
        if not all(_same(got, total_variation_loss(*case)) for got, case in zip(results, cases)):
            message = _first_match(results, variants, cases)
            raise _Problem(message or "the value differs from helpers.total_variation_loss: the mean of the squared "
                                      "differences between vertical neighbours plus the same for horizontal ones.")
        problem = _gradient_problem(fn, lambda: (make(shapes[0]),), total_variation_loss, "your total variation")
        if problem:
            raise _Problem(problem)

    _run_check(fn, exercise, check,
               answers=("helpers.losses.total_variation_loss", "helpers.total_variation_loss",
                        "helpers.method.total_variation_loss", "helpers.method.TVLoss"))
