"""The command line's wall time from the shell, pair by pair, and what each run made.

For each pair this runs ``python -m helpers PHOTO PAINTING --size SIZE -o FILE [your options]`` in a
fresh process and times it as a user's shell would: Python's and torch's start-up, loading the network,
reading the images and the run, all included. Then, untimed and after the process has ended, it judges
the picture: the paper's loss at the final size (on the same backbone, fp32), the independent style
distance of the recipe study (helpers/course/measure.py; needs the optional extra) and the layout correlation.

    ONEDNN_MAX_CPU_ISA=AVX2 python research/shell_time.py --pairs eight --label default -- --precision fp32
    ONEDNN_MAX_CPU_ISA=AVX2 python research/shell_time.py --pairs eight --label slow -- --precision fp32 --steps 60,45
    python research/shell_time.py --table

Everything after ``--`` goes to the command line unchanged. One JSON line per run goes to
``shell_time.jsonl`` (with the CPU's name and flags and the ISA cap); the pictures go to
``outputs/shell_time/LABEL/PHOTO__PAINTING.png``. ``ONEDNN_MAX_CPU_ISA=AVX2`` limits oneDNN's kernels to
AVX2 on a CPU that has more, which approximates a laptop without AVX-512 or bfloat16 units.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from recipe_study import PANEL, SUBSET  # noqa: E402

import helpers  # noqa: E402
from helpers import settings  # noqa: E402
from helpers.course import measure  # noqa: E402
from helpers.io.images import load_image  # noqa: E402

RESULTS = HERE / "shell_time.jsonl"
PAIRS = {"panel": PANEL, "eight": PANEL[:8], "subset": SUBSET, "one": PANEL[:1]}


def picture_file(label: str, photo: str, painting: str) -> Path:
    return helpers.output_dir() / "shell_time" / label / f"{photo}__{painting}.png"


def run_one(photo: str, painting: str, size: int, options: list[str], out: Path) -> tuple[float, str]:
    """Wall seconds of one command-line run and its last lines of output."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "helpers", photo, painting, "--size", str(size), "-o", str(out), *options]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stderr.strip().splitlines()[-3:] if done.stderr.strip() else []


def judge(out: Path, photo: str, painting: str, judge_transfer) -> dict:
    image = load_image(str(out))
    size = tuple(image.shape[-2:])
    targets = measure.paper_targets(photo, painting, size, judge_transfer)
    scores = dict(paper_loss=round(measure.paper_loss(image, photo, painting, judge_transfer, targets), 4),
                  layout=round(measure.layout_correlation(image, photo), 4))
    if helpers.feedforward.available():
        scores["style_distance"] = round(measure.style_distance(image, painting, photo), 4)
    return scores


def table(records: list[dict]) -> str:
    latest = {}
    for r in records:
        latest[(r["label"], r["cpu"], r["isa"], r["size"], r["photo"], r["painting"])] = r
    groups: dict[tuple, list[dict]] = {}
    for key, r in latest.items():
        groups.setdefault(key[:4], []).append(r)
    lines = ["| label | cpu | ISA cap | size | options | pairs | wall s (median; max) | paper loss | style distance "
             "| layout |", "|---|---|---|---|---|---|---|---|---|---|"]
    def med(runs, key):
        values = [r[key] for r in runs if key in r]
        return f"{statistics.median(values):.3f}" if values else "-"

    for (label, cpu, isa, size), runs in sorted(groups.items()):
        lines.append(f"| {label} | {cpu} | {isa} | {size} | `{' '.join(runs[-1]['options'])}` | {len(runs)} | "
                     f"{statistics.median(r['seconds'] for r in runs):.1f}; {max(r['seconds'] for r in runs):.1f} | "
                     f"{med(runs, 'paper_loss')} | {med(runs, 'style_distance')} | {med(runs, 'layout')} |")
    return "\n".join(lines)


def load() -> list[dict]:
    return [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()] if RESULTS.exists() else []


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="eight", help=f"one of {', '.join(PAIRS)}, or photo:painting,...")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--label", help="the name these runs are filed under (required to run)")
    parser.add_argument("--backbone", default="vgg16-imagenet", help="the network the pictures are judged on")
    parser.add_argument("--table", action="store_true", help="print the medians so far and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table(load()))
        return 0
    if not args.label:
        parser.error("give --label NAME for these runs")
    pairs = PAIRS.get(args.pairs) or [tuple(p.split(":")) for p in args.pairs.split(",")]
    judge_transfer = helpers.StyleTransfer(args.backbone, device="cpu", verbose=False, precision="fp32")
    for photo, painting in pairs:
        out = picture_file(args.label, photo, painting)
        seconds, said = run_one(photo, painting, args.size, options, out)
        record = dict(label=args.label, photo=photo, painting=painting, size=args.size, options=options,
                      seconds=round(seconds, 1), **judge(out, photo, painting, judge_transfer),
                      cpu=settings.cpu_description(), isa=os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
                      date=time.strftime("%Y-%m-%d"), said=said)
        with open(RESULTS, "a") as file:
            file.write(json.dumps(record) + "\n")
        print(json.dumps({k: record[k] for k in ("label", "photo", "painting", "seconds", "paper_loss")}), flush=True)
    print(table(load()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
