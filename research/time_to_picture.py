"""Time to a good picture: quality against wall-clock seconds for coarse-to-fine schedules and warm starts.

A user waits for a good picture, not for a step. For each schedule and pair this runs the transfer at
``--size`` (512 px by default) and keeps a copy of the image every few steps with the wall time since
the run was asked for (loading the images, the targets and the feed-forward pass included; loading the
backbone not). After the run, untimed, each copy is judged at the final size with
- ``paper_loss``: the loss of the paper's objective (content relu4_2, style relu1_1..relu5_1, style
  weight 10) on the same backbone, with the photo and the painting at the final size;
- ``style_distance``: the independent measure of the recipe study (helpers/course/measure.py): the distance
  to the painting in Ghiasi et al.'s style space over the photo's (needs the optional extra);
- ``layout``: the coarse-layout correlation with the photo.
One JSON line per run goes to RESULTS; ``--table`` prints the medians, ``--plot`` draws the curves.

References in the same run: ``single`` (the paper: one scale, 150 L-BFGS steps from the photo),
``c2f3x50`` (three levels, 50 steps each: issue 16's best 512 px run), ``palette_256x150`` (the
painterly preset before this study) and ``tutorial`` (the PyTorch tutorial's loop, rebuilt from its
text: see ``tutorial_loop``).

    python research/time_to_picture.py --schedules single,c2f3x50,fast_256x20_512x6 --threads 2
    python research/time_to_picture.py --table
    python research/time_to_picture.py --plot research/time_to_picture.png --schedules single,c2f3x50
    python research/time_to_picture.py --schedules preset_painterly,single --pairs panel --precision bf16 \
        --every 1000 --run mine   # all 24 pairs, only the final pictures judged, filed under "mine"
    python research/time_to_picture.py --table --run mine
    python research/time_to_picture.py --grid grid.jpg --schedules single,preset_painterly --pairs subset
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from recipe_study import PANEL, SUBSET, grid  # noqa: E402  (the recipe study's pairs and grids)

import helpers  # noqa: E402
from helpers import presets  # noqa: E402
from helpers.course import measure  # noqa: E402
from helpers.io.images import load_image, resize_tensor, save_image  # noqa: E402

RESULTS = HERE / "time_to_picture.jsonl"
BACKBONE = "vgg16-imagenet"  # the offline default (``--backbone``; the runs before 2026-12-07: vgg16-hed)

# Run options per schedule (the objective is the paper's in every one: only the start and the schedule
# differ). Steps are per level, coarse to fine; levels halve the size, so a 256 px step costs about a
# quarter of a 512 px one.
SCHEDULES = {
    "single": dict(steps=150),
    "c2f3x50": dict(scales=3, steps=50),
    "palette_256x150": dict(init="palette", scales=2, steps=[150, 50]),
    "palette_128x80_256x25_512x5": dict(init="palette", scales=3, steps=[80, 25, 5]),
    "palette_128x100_256x30_512x8": dict(init="palette", scales=3, steps=[100, 30, 8]),
    "fast_512x10": dict(init="fast", steps=10),
    "fast_512x150": dict(init="fast", steps=150),
    "fast_256x20_512x6": dict(init="fast", scales=2, steps=[20, 6]),
    "fast_256x30_512x8": dict(init="fast", scales=2, steps=[30, 8]),
    "fast_128x40_256x15_512x5": dict(init="fast", scales=3, steps=[40, 15, 5]),
    "noise_single": dict(init="noise", steps=150),
    # Shorter schedules for CPUs with fast bf16 (AMX): the painterly start with fewer steps per level, a
    # smaller L-BFGS history, and the warm start with more steps at 512 px.
    "painterly_256x60_512x45": dict(init="palette_shading", scales=2, steps=[60, 45]),
    "painterly_256x40_512x50": dict(init="palette_shading", scales=2, steps=[40, 50]),
    "painterly_256x60_512x45_h20": dict(init="palette_shading", scales=2, steps=[60, 45], lbfgs_history=20),
    # What `--steps 100,45` and `--steps 150,50` cost once steps got cheaper (bf16 Gram matrices on a CPU).
    "painterly_256x100_512x45_h20": dict(init="palette_shading", scales=2, steps=[100, 45], lbfgs_history=20),
    "painterly_256x150_512x50_h20": dict(init="palette_shading", scales=2, steps=[150, 50], lbfgs_history=20),
    "fast_512x45": dict(init="fast", steps=45),
    "painterly_128x100_256x30_512x45_h20": dict(init="palette_shading", scales=3, steps=[100, 30, 45],
                                                lbfgs_history=20),
    "painterly_128x60_256x40_512x45_h20": dict(init="palette_shading", scales=3, steps=[60, 40, 45],
                                               lbfgs_history=20),
    # A minute on a CPU without bf16 units (issue 33): most steps at 256 px, few at 512 px.
    "painterly_256x100_512x12_h20": dict(init="palette_shading", scales=2, steps=[100, 12], lbfgs_history=20),
    "painterly_256x80_512x12_h20": dict(init="palette_shading", scales=2, steps=[80, 12], lbfgs_history=20),
    "painterly_256x120_512x8_h20": dict(init="palette_shading", scales=2, steps=[120, 8], lbfgs_history=20),
    "painterly_128x80_256x60_512x12_h20": dict(init="palette_shading", scales=3, steps=[80, 60, 12],
                                               lbfgs_history=20),
    "painterly_256x80_512x8_h20": dict(init="palette_shading", scales=2, steps=[80, 8], lbfgs_history=20),
    "painterly_256x60_512x15_h20": dict(init="palette_shading", scales=2, steps=[60, 15], lbfgs_history=20),
    "painterly_256x100_512x8_h20": dict(init="palette_shading", scales=2, steps=[100, 8], lbfgs_history=20),
    "painterly_128x100_256x40_512x12_h20": dict(init="palette_shading", scales=3, steps=[100, 40, 12],
                                                lbfgs_history=20),
    "painterly_256x60_512x10_h20": dict(init="palette_shading", scales=2, steps=[60, 10], lbfgs_history=20),
    "painterly_256x100_512x6_h20": dict(init="palette_shading", scales=2, steps=[100, 6], lbfgs_history=20),
    "painterly_128x100_256x40_512x10_h20": dict(init="palette_shading", scales=3, steps=[100, 40, 10],
                                                lbfgs_history=20),
}
SPECIAL = ("tutorial",)


def preset_schedule(name: str, size: int, precision: str = "fp32") -> dict:
    """The run options of a preset (helpers/presets.py) at ``size`` on the CPU in ``precision``, as the CLI
    uses them."""
    options = presets.split_options(presets.PRESETS[name].merge({"size": size}, torch.device("cpu"), precision))[1]
    return {k: v for k, v in options.items() if k != "size"}


# The presets as schedules, under their own names: what stylize and the CLI run.
SCHEDULES.update({f"preset_{name}": name for name in presets.PRESETS})


TUTORIAL_STEPS = 300  # the tutorial's num_steps


def tutorial_loop(backbone, photo, painting, size, snapshot, style_weight=1e6, content_weight=1.0):
    """The PyTorch tutorial's loop ("Neural Transfer Using PyTorch"), rebuilt from its text.

    Its choices, kept: content and style resized to the same size (it requires it); content from
    ``conv_4`` and style from ``conv_1``..``conv_5``, the fourth and first five convolutions before
    their ReLU (conv2_2; conv1_1 to conv3_1); Gram matrices divided by a*b*c*d; mean squared errors;
    style weight 1e6 against content 1; ``LBFGS([input_img])`` with its defaults (lr 1, 20 iterations a
    step, no line search), pixels clamped to [0, 1] inside the closure, 300 closure calls (the loop
    checks the count between steps, so a few more run); the network's weights left trainable as
    written in its text, so each backward also computes their gradients. What differs: the network is
    this course's backbone with its own preprocessing (the weights need it), so the activations' scale,
    and with it the balance the 1e6 strikes, is not torchvision's VGG19's.
    """
    content = load_image(photo, size)
    style = resize_tensor(load_image(painting), tuple(content.shape[-2:]))  # same size, as it requires
    names = backbone.layer_names
    convs = [n for n in names if n.startswith("conv")]
    content_layer, style_layers = convs[3], convs[:5]
    last = max(names.index(n) for n in style_layers + [content_layer])
    model = torch.nn.Sequential(backbone.preprocess, *[
        torch.nn.ReLU(inplace=False) if isinstance(m, torch.nn.ReLU) else m for m in backbone.features[:last + 1]])
    model.requires_grad_(True)  # "weights trainable as written"
    wanted = {names.index(n) + 1: n for n in style_layers + [content_layer]}  # +1: the preprocessing first

    def features(x):
        out = {}
        for i, module in enumerate(model):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
        return out

    def gram(f):
        a, b, c, d = f.shape
        flat = f.view(a * b, c * d)
        return flat @ flat.t() / (a * b * c * d)

    with torch.no_grad():
        content_target = features(content)[content_layer].detach()
        style_targets = {n: gram(f).detach() for n, f in features(style).items() if n in style_layers}
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image])
    run = [0]
    while run[0] <= TUTORIAL_STEPS:
        def closure():
            with torch.no_grad():
                image.clamp_(0, 1)
            optimizer.zero_grad()
            out = features(image)
            style_score = sum(torch.nn.functional.mse_loss(gram(out[n]), style_targets[n]) for n in style_layers)
            content_score = torch.nn.functional.mse_loss(out[content_layer], content_target)
            loss = style_weight * style_score + content_weight * content_score
            loss.backward()
            run[0] += 1
            snapshot(run[0], image.detach().clamp(0, 1))
            return loss
        optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0, 1)
    return image.detach()


def run_schedule(schedule, transfer, photo, painting, size, every, cap):
    """Run one schedule; returns [(step, seconds, image)] snapshots, the last one the result."""
    snapshots = []
    start = time.perf_counter()

    def snapshot(step, image):
        seconds = time.perf_counter() - start
        if step % every == 0:
            snapshots.append((step, seconds, image.clone()))
        if cap and seconds > cap:
            raise KeyboardInterrupt  # the run returns its best image so far

    if schedule == "tutorial":
        try:
            image = tutorial_loop(transfer.backbone, photo, painting, size, snapshot)
        except KeyboardInterrupt:
            image = snapshots[-1][2] if snapshots else load_image(photo, size)
        step = snapshots[-1][0] if snapshots else 0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            options = SCHEDULES[schedule]
            options = preset_schedule(options, size, transfer.precision) if isinstance(options, str) else options
            result = transfer.run(photo, painting, size=size, seed=0, progress=False, callback_every=1,
                                  callback=lambda step, image, _: snapshot(step, image), **options)
        image, step = result.image, len(result.history)
    snapshots.append((step, time.perf_counter() - start, image))
    return snapshots


def judge(judge_transfer, snapshots, photo, painting):
    """The measures of each snapshot at the final size (untimed)."""
    final = snapshots[-1][2]
    targets = measure.paper_targets(photo, painting, tuple(final.shape[-2:]), judge_transfer)
    points = []
    for step, seconds, image in snapshots:
        image = resize_tensor(image, tuple(final.shape[-2:])) if image.shape != final.shape else image
        point = dict(step=step, seconds=round(seconds, 2),
                     paper_loss=round(measure.paper_loss(image, photo, painting, judge_transfer, targets), 4),
                     layout=round(measure.layout_correlation(image, photo), 4))
        if helpers.feedforward.available():
            point["style_distance"] = round(measure.style_distance(image, painting, photo), 4)
        points.append(point)
    return points


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return dict(cpu=cpu, bf16_units=any(f in flags for f in ("avx512_bf16", "amx_bf16")),
                threads=torch.get_num_threads(), torch=torch.__version__, cpu_flags=helpers.settings.cpu_description(),
                isa=os.environ.get("ONEDNN_MAX_CPU_ISA", "default"))


def image_file(schedule, photo, painting, size) -> Path:
    folder = helpers.output_dir() / "time_to_picture"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{schedule}__{photo}__{painting}__{size}.jpg"


def run_all(schedules, pairs, size, every, cap, precision, label, backbone=BACKBONE) -> None:
    net = helpers.load_backbone(backbone)
    judge_transfer = helpers.StyleTransfer(net, device="cpu", verbose=False)
    transfer = helpers.StyleTransfer(net, device="cpu", verbose=False, precision=precision)
    info = machine()
    # Pair by pair, every schedule in turn: a machine whose speed drifts (a shared VM) then slows the
    # schedules alike, which keeps their times comparable within one run.
    for photo, painting in pairs:
        for schedule in schedules:
            snapshots = run_schedule(schedule, transfer, photo, painting, size, every, cap)
            points = judge(judge_transfer, snapshots, photo, painting)
            save_image(snapshots[-1][2], image_file(schedule, photo, painting, size), quality=90)
            options = SCHEDULES.get(schedule, schedule)
            options = preset_schedule(options, size, precision) if schedule.startswith("preset_") else options
            record = dict(schedule=schedule, photo=photo, painting=painting, size=size, precision=precision,
                          cap=cap, options=options, final=points[-1], curve=points[:-1], run=label,
                          backbone=backbone, **info)
            with open(RESULTS, "a") as out:
                out.write(json.dumps(record) + "\n")
            print(json.dumps({k: record[k] for k in ("schedule", "photo", "painting", "final")}), flush=True)


def load(path=RESULTS) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def of_run(records, label=None) -> list[dict]:
    """The records of one run (``--run LABEL``: the schedules measured side by side), or all of them."""
    return records if label is None else [r for r in records if r.get("run") == label]


def table(records, threads=None) -> str:
    """Medians of the final points per schedule (the latest run of each schedule and pair), apart for each
    machine, precision, size and thread count (older records, from before precision was kept, are fp32)."""
    latest = {}
    for r in records:
        if threads is None or r["threads"] == threads:
            # The ISA cap (ONEDNN_MAX_CPU_ISA=AVX2) goes with the precision: it changes the kernels.
            isa = r.get("isa", "default")
            precision = r.get("precision", "fp32") + ("" if isa == "default" else f" ({isa})")
            setting = (f'{r.get("cpu", "")}, {r.get("backbone", "vgg16-hed")}', precision, r["size"], r["threads"],
                       r["schedule"])
            latest[setting + (r["photo"], r["painting"])] = r
    groups: dict[tuple, list[dict]] = {}
    for key, r in latest.items():
        groups.setdefault(key[:5], []).append(r["final"])
    lines = ["| cpu, backbone | precision | size | threads | schedule | pairs | seconds | paper loss | style distance "
             "| layout (median; min) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (cpu, precision, size, threads_used, schedule), finals in sorted(groups.items(), key=lambda kv: (
            kv[0][:4], statistics.median(f["seconds"] for f in kv[1]))):
        med = {k: statistics.median(f[k] for f in finals) if all(k in f for f in finals) else float("nan")
               for k in ("seconds", "paper_loss", "style_distance", "layout")}
        lines.append(f"| {cpu} | {precision} | {size} | {threads_used} | {schedule} | {len(finals)} | "
                     f"{med['seconds']:.1f} | {med['paper_loss']:.3f} | {med['style_distance']:.3f} | "
                     f"{med['layout']:.3f}; {min(f['layout'] for f in finals):.3f} |")
    return "\n".join(lines)


def plot(records, out: Path, photo="tubingen", painting="starry_night", schedules=None, threads=None,
         precision="fp32") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {r["schedule"]: r for r in records if r["photo"] == photo and r["painting"] == painting
            and (schedules is None or r["schedule"] in schedules) and (threads is None or r["threads"] == threads)
            and (r.get("precision", "fp32") == precision or r["schedule"] in SPECIAL)}  # the tutorial: its own fp32
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, r in runs.items():
        points = r["curve"] + [r["final"]]
        # A preset's schedule can change between runs: its steps, as recorded, say which one this was.
        steps = r.get("options", {}).get("steps") if isinstance(r.get("options"), dict) else None
        label = f"{name} (steps {steps})" if name.startswith("preset_") and steps else name
        if r.get("precision", "fp32") != precision:
            label += f" ({r.get('precision', 'fp32')})"
        for ax, key in zip(axes, ("paper_loss", "style_distance")):
            if all(key in p for p in points):
                ax.plot([p["seconds"] for p in points], [p[key] for p in points], marker=".", label=label)
    first = next(iter(runs.values()))
    threads = f"{first['threads']} thread{'s' if first['threads'] > 1 else ''}"
    for ax, label in zip(axes, ("paper's loss at the final size (lower is better)",
                                "style distance (independent; lower is closer)")):
        ax.set_xlabel(f"wall-clock seconds to the picture ({threads})")
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Time to a picture: {photo} x {painting} at {first['size']} px, "
                 f"{first.get('backbone', 'vgg16-hed')}, {first['cpu']}, {precision}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", help=f"comma-separated, from: {', '.join(list(SCHEDULES) + list(SPECIAL))} "
                        "(default: single,c2f3x50,preset_quick; with --plot: the curves to draw, default all)")
    parser.add_argument("--pairs", default="tubingen:starry_night",
                        help="photo:painting,... or 'subset' (the recipe study's six pairs, one per painting) or "
                             "'panel' (its 24: four photos x six paintings) or 'eight' (the panel's first eight)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--every", type=int, default=5, help="keep a copy of the image every N steps")
    parser.add_argument("--cap", type=float, default=0, help="stop a run after this many seconds (0: no cap)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--backbone", default=BACKBONE, help=f"the network (default {BACKBONE})")
    parser.add_argument("--run", dest="label", help="a label stored with each record; with --table or --plot: only "
                        "the records with this label (default when running: the date and time it starts)")
    parser.add_argument("--table", action="store_true", help="print the medians so far and exit")
    parser.add_argument("--plot", type=Path, help="draw the curves of tubingen x starry_night into this file")
    parser.add_argument("--grid", type=Path, help="write a grid of the --schedules' latest pictures of the --pairs "
                        "(photo | painting | one column per schedule) into this file")
    args = parser.parse_args(argv)
    if args.threads and not (args.plot or args.table):  # with --plot: only the runs with this many threads
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if args.table:
        print(table(of_run(load(), args.label)))
        return 0
    if args.plot and args.label and not of_run(load(), args.label):
        parser.error(f"no records with --run {args.label!r} in {RESULTS.name}")
    if args.plot:
        schedules = args.schedules.split(",") if args.schedules else None
        print(plot(of_run(load(), args.label), args.plot, schedules=schedules, threads=args.threads,
                   precision=args.precision))
        return 0
    named = {"subset": SUBSET, "panel": PANEL, "eight": PANEL[:8]}
    pairs = named.get(args.pairs) or [tuple(p.split(":")) for p in args.pairs.split(",")]
    schedules = (args.schedules or "single,c2f3x50,preset_quick").split(",")
    if args.grid:
        if not any(all(image_file(s, *pair, args.size).exists() for s in schedules) for pair in pairs):
            parser.error(f"no pictures of {', '.join(schedules)} for these pairs at {args.size} px yet: run them first")
        note = f"{BACKBONE}, {args.size} px, {args.precision}"
        print(grid(schedules, args.size, pairs, args.grid, files=image_file, note=note))
        return 0
    unknown = [s for s in schedules if s not in SCHEDULES and s not in SPECIAL]
    if unknown:
        parser.error(f"unknown schedules {unknown}: choose from {', '.join(list(SCHEDULES) + list(SPECIAL))}")
    label = args.label or time.strftime("%Y-%m-%dT%H:%M")
    run_all(schedules, pairs, args.size, args.every, args.cap, args.precision, label, args.backbone)
    return 0


if __name__ == "__main__":
    sys.exit(main())
