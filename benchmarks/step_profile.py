"""Where the time of one step goes: convolutions, Gram matrices, L-BFGS's own work, Python.

A step of the loop is one evaluation of the objective (a forward pass to the deepest layer in use and
the backward pass to the image) plus whatever L-BFGS does between evaluations (its two-loop recursion
over the stored gradients, the line search's bookkeeping). This runs the method's own loop on
Tübingen x The Starry Night at ``--size`` and reports, per step:

- ``step``: wall time of the whole L-BFGS loop over the evaluations it made;
- ``L-BFGS``: that wall time minus the evaluations' own (timed around each evaluation);
- within an evaluation, from PyTorch's profiler over the same number of plain evaluations: the
  convolutions (forward and backward), pooling and ReLUs, the Gram matrices (their products), the loss's
  other arithmetic, and what no operator accounts for (Python, the autograd engine, the profiler's own
  cost).

    python benchmarks/step_profile.py --size 512 --precision fp32 --threads 2
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/step_profile.py --size 512   # AVX2 kernels only
    python benchmarks/step_profile.py --size 512 --channels-last           # fp32, channels-last tensors
    python benchmarks/step_profile.py --size 512 --compile                 # torch.compile the network

One JSON line per configuration goes to ``step_profile.jsonl`` with the CPU's name and flags.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

import helpers
from helpers import method, settings
from helpers.io.images import load_image
from helpers.objective import LossWeights

RESULTS = Path(__file__).resolve().parent / "step_profile.jsonl"

# Operators by what they do, matched on the start of PyTorch's operator names (self time, so nothing
# is counted twice).
CATEGORIES = {
    "convolutions": ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution",
                     "aten::convolution", "aten::conv2d", "aten::_slow_conv2d", "aten::thnn_conv2d"),
    "pooling and ReLU": ("aten::avg_pool2d", "aten::max_pool2d", "aten::relu", "aten::threshold_backward",
                         "aten::avg_pool2d_backward", "aten::max_pool2d_with_indices"),
    "Gram matrices": ("aten::bmm", "aten::mm", "aten::matmul"),
}


def category(name: str) -> str:
    for label, prefixes in CATEGORIES.items():
        if name.startswith(prefixes):
            return label
    return "other operators (losses, copies)"


class TimedBudget(method.Budget):
    """The method's step counter, also summing the wall time spent inside the evaluations."""

    def __init__(self, steps: int):
        super().__init__(steps)
        self.inside, self.started = 0.0, 0.0

    def before_evaluation(self) -> None:
        super().before_evaluation()
        self.started = time.perf_counter()

    def after_evaluation(self, image, terms) -> None:
        super().after_evaluation(image, terms)
        self.inside += time.perf_counter() - self.started


def build(args):
    transfer = helpers.StyleTransfer(args.backbone, device="cpu", verbose=False, precision=args.precision)
    if args.channels_last:  # in fp32 the library keeps the default layout: this measures the other one
        transfer.extractor = transfer.extractor.to(memory_format=torch.channels_last)
        network = transfer.extractor
        transfer.speed.features = lambda extractor, image, float32=True: network(
            image.contiguous(memory_format=torch.channels_last))
    if args.compile:
        transfer.extractor = torch.compile(transfer.extractor)
    content = load_image("tubingen", args.size)
    style = load_image("starry_night", args.size)
    objective = transfer.objective(content, [style], LossWeights(1.0, 10.0, 0.0))
    return objective, content


def profile(args) -> dict:
    objective, content = build(args)
    # Warm-up (oneDNN picks and caches its kernels on the first calls; torch.compile compiles).
    compile_seconds = time.perf_counter()
    warm = TimedBudget(args.warmup)
    method.optimise(content.clone().requires_grad_(True), objective, warm, method.lbfgs,
                    lbfgs_history=args.history)
    compile_seconds = time.perf_counter() - compile_seconds
    record = TimedBudget(args.steps)
    image = content.clone().requires_grad_(True)
    started = time.perf_counter()
    method.optimise(image, objective, record, method.lbfgs, lbfgs_history=args.history)
    loop = time.perf_counter() - started
    steps = record.step
    # The evaluation alone, under the profiler.
    image = content.clone().requires_grad_(True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        for _ in range(args.profiled):
            image.grad = None
            objective(image)["total"].backward()
        profiled_wall = time.perf_counter() - started
    shares: dict[str, float] = {}
    for event in prof.key_averages():
        label = category(event.key)
        shares[label] = shares.get(label, 0.0) + event.self_cpu_time_total / 1e6
    per_eval = {label: seconds / args.profiled for label, seconds in shares.items()}
    per_eval["Python and autograd (no operator)"] = max(0.0, profiled_wall / args.profiled - sum(per_eval.values()))
    evaluation = record.inside / steps
    # The profiler slows the evaluation a little: scale its parts to the unprofiled evaluation time.
    scale = evaluation / (profiled_wall / args.profiled)
    parts = {label: round(seconds * scale, 4) for label, seconds in per_eval.items()}
    parts["L-BFGS's own work"] = round((loop - record.inside) / steps, 4)
    return dict(size=args.size, backbone=args.backbone, precision=args.precision, threads=torch.get_num_threads(),
                isa=os.environ.get("ONEDNN_MAX_CPU_ISA", "default"), channels_last=args.channels_last,
                compile=args.compile, history=args.history, steps=steps, step_seconds=round(loop / steps, 4),
                evaluation_seconds=round(evaluation, 4), warmup_seconds=round(compile_seconds, 2), parts=parts,
                cpu=settings.cpu_description(), torch=torch.__version__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--backbone", default="vgg16-imagenet")
    parser.add_argument("--precision", choices=settings.PRECISIONS, default="fp32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="timed L-BFGS evaluations")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profiled", type=int, default=3, help="evaluations under the profiler")
    parser.add_argument("--history", type=int, default=20, help="L-BFGS history")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = profile(args)
    with open(RESULTS, "a") as out:
        out.write(json.dumps(result) + "\n")
    print(f"{result['cpu']}, ISA {result['isa']}, {result['precision']}, "
          f"{args.size} px, channels-last {args.channels_last}, compile {args.compile}")
    print(f"step {result['step_seconds']:.3f} s (evaluation {result['evaluation_seconds']:.3f} s); "
          f"warm-up {result['warmup_seconds']:.1f} s")
    for label, seconds in sorted(result["parts"].items(), key=lambda kv: -kv[1]):
        print(f"  {label:40s} {seconds:7.3f} s  {100 * seconds / result['step_seconds']:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
