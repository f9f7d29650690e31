"""Sheets for a blind judge: each row a photo, a painting and two results labelled only X and Y, in an order
drawn at random per row; the key (which result is which) goes to a separate file the judge never sees.

    python research/judge_sheets.py --name imagenet_vs_hed_256 --size 256 --pairs panel \\
        --a vgg16-imagenet:painterly@bf16 --b vgg16-hed-rerun:painterly@bf16
    python research/judge_sheets.py --score research/judgements/imagenet_vs_hed_256

A result is named BACKBONE:VARIANT: the recipe study's picture of that variant on that backbone
(``vgg16-hed-rerun``: the pictures re-made for judging in ``outputs/recipe_study_hed_rerun``; ``shell:LABEL``:
the pictures of ``shell_time.py`` filed under LABEL).
The sheets, the key and, once judged, the judgements (``judgements.jsonl``, one line per row: sheet, row, pick
X or Y, the judge's reason) are kept in research/judgements/NAME/; ``--score`` turns them into counts.

Judges favour a side: on close pairs they picked X, the left picture, in about three judgements of four
(62 of 80 in research/judgements/fp32_*, 2026-12-07). Where the two results are close, judge each pair
both ways round and decide per pair over both:

    python research/judge_sheets.py --name NAME_mirror --size 512 --pairs eight --a A --b B \
        --mirror-of research/judgements/NAME
    python research/judge_sheets.py --both-ways research/judgements/NAME research/judgements/NAME_mirror
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

import helpers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe_study  # noqa: E402  (beside this file)

HERE = Path(__file__).resolve().parent / "judgements"


def result_file(spec: str, photo: str, painting: str, size: int) -> Path:
    backbone, _, variant = spec.partition(":")
    if backbone == "shell":  # a picture of research/shell_time.py, filed under its label
        return helpers.output_dir() / "shell_time" / variant / f"{photo}__{painting}.png"
    if backbone == "vgg16-hed-rerun":
        return helpers.output_dir() / "recipe_study_hed_rerun" / f"{variant}__{photo}__{painting}__{size}.jpg"
    recipe_study.use_backbone(backbone)
    return recipe_study.image_file(variant, photo, painting, size)


def _fit(image: Image.Image, box: int) -> Image.Image:
    image = image.copy()
    image.thumbnail((box, box), Image.LANCZOS)
    return image


def make_sheets(name: str, a: str, b: str, pairs, size: int, per_sheet: int, seed: int = 0,
                mirror: dict | None = None) -> Path:
    """``mirror``: {(photo, painting): the result shown as X} of an earlier folder; each row then shows its
    two results the other way round (a judge's preference for a side shows as a pick that follows the side)."""
    folder = HERE / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    side, small = max(size, 384), 256  # results at least 384 px wide on the sheet; the inputs smaller
    key, rows = [], []
    for photo, painting in pairs:
        files = {"a": result_file(a, photo, painting, size), "b": result_file(b, photo, painting, size)}
        if all(f.exists() for f in files.values()):
            rows.append((photo, painting, files))
    def shown(path: Path) -> Image.Image:  # a result at ``side`` px on its long side
        picture = Image.open(path).convert("RGB")
        scale = side / max(picture.size)
        return picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)

    for start in range(0, len(rows), per_sheet):
        chunk = rows[start:start + per_sheet]
        sheet_no = start // per_sheet + 1
        pictures = [{which: shown(path) for which, path in files.items()} for _, _, files in chunk]
        heights = [max(p.height for p in row.values()) + 30 for row in pictures]
        canvas = Image.new("RGB", (2 * small + 2 * side + 50, sum(heights) + 10), "white")
        draw = ImageDraw.Draw(canvas)
        top = 10
        for r, ((photo, painting, _), row, height) in enumerate(zip(chunk, pictures, heights), start=1):
            order = ["a", "b"] if rng.random() < 0.5 else ["b", "a"]
            if mirror is not None:
                order = ["b", "a"] if mirror[(photo, painting)] == a else ["a", "b"]
            key.append(dict(sheet=sheet_no, row=r, photo=photo, painting=painting, X=(a, b)[order[0] == "b"],
                            Y=(a, b)[order[1] == "b"]))
            draw.text((5, top), f"row {r}: photo", fill="black")
            draw.text((small + 15, top), "painting", fill="black")
            draw.text((2 * small + 30, top), "X", fill="black")
            draw.text((2 * small + side + 45, top), "Y", fill="black")
            canvas.paste(_fit(helpers.load_pil(photo), small), (5, top + 15))
            canvas.paste(_fit(helpers.load_pil(painting), small), (small + 15, top + 15))
            for c, which in enumerate(order):
                canvas.paste(row[which], (2 * small + 30 + c * (side + 15), top + 15))
            top += height
        canvas.save(folder / f"sheet_{sheet_no:02d}.jpg", quality=85, optimize=True)
    (folder / "key.json").write_text(json.dumps(dict(a=a, b=b, size=size, rows=key), indent=1) + "\n")
    return folder


def score(folder: Path) -> str:
    key = json.loads((folder / "key.json").read_text())
    wins = {key["a"]: 0, key["b"]: 0}
    for *_, result, _ in _picks(folder):
        # "same": the judge could not tell the two apart (allowed where the question was "better or the same")
        result = "cannot tell" if result == "same" else result
        wins[result] = wins.get(result, 0) + 1
    total = sum(wins.values())
    return (f"{folder.name}: {total} judgements ({len(key['rows'])} rows) at {key['size']} px: "
            + ", ".join(f"{spec} {count} ({count / total:.0%})" for spec, count in wins.items()))


def _picks(folder: Path) -> list[tuple[str, str, str, str]]:
    """[(photo, painting, the result picked or "same", the side picked: X, Y or same)] of a judged folder."""
    key = json.loads((folder / "key.json").read_text())
    rows = {(r["sheet"], r["row"]): r for r in key["rows"]}
    picks = []
    for line in (folder / "judgements.jsonl").read_text().splitlines():
        if line.strip():
            judgement = json.loads(line)
            row, side = rows[(judgement["sheet"], judgement["row"])], judgement["pick"]
            picks.append((row["photo"], row["painting"], row[side] if side in ("X", "Y") else "same", side))
    return picks


def both_ways(folder: Path, mirrored: Path) -> str:
    """The verdict per pair over a folder and its mirror (each pair seen with each result on each side): a
    result wins a pair when it got more of the pair's picks; as many picks each is "cannot tell". A judge who
    picks by side, not by picture, gives each result the same number of picks."""
    picks = _picks(folder) + _picks(mirrored)
    sides = [side for *_, side in picks]
    pairs: dict[tuple[str, str], dict[str, int]] = {}
    for photo, painting, result, _ in picks:
        counts = pairs.setdefault((photo, painting), {})
        counts[result] = counts.get(result, 0) + 1
    verdicts: dict[str, int] = {}
    lines = []
    for (photo, painting), counts in pairs.items():
        ranked = sorted(((n, r) for r, n in counts.items() if r != "same"), reverse=True)
        verdict = ranked[0][1] if ranked and (len(ranked) == 1 or ranked[0][0] > ranked[1][0]) else "cannot tell"
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        lines.append(f"  {photo} x {painting}: {verdict} ({', '.join(f'{r} {n}' for r, n in sorted(counts.items()))})")
    return (f"{folder.name} and its mirror {mirrored.name}: {len(picks)} judgements, X picked "
            f"{sides.count('X')}, Y {sides.count('Y')}, same {sides.count('same')}; pairs won: "
            + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) + "\n" + "\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name")
    parser.add_argument("--a")
    parser.add_argument("--b")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pairs", choices=("panel", "eight"), default="panel")
    parser.add_argument("--per-sheet", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", type=Path, help="a judged folder: print the counts and exit")
    parser.add_argument("--mirror-of", type=Path, metavar="FOLDER",
                        help="the pairs of FOLDER's sheets, each row with X and Y the other way round")
    parser.add_argument("--both-ways", type=Path, nargs=2, metavar="FOLDER",
                        help="a judged folder and its judged mirror: the verdict per pair over both, and how "
                             "often the judges picked each side")
    parser.add_argument("--rest-of", type=Path, metavar="FOLDER",
                        help="only the pairs that FOLDER's sheets do not hold (to judge the rest of a panel)")
    args = parser.parse_args(argv)
    if args.score:
        print(score(args.score))
        return 0
    if args.both_ways:
        print(both_ways(*args.both_ways))
        return 0
    if not (args.name and args.a and args.b):
        parser.error("give --name, --a and --b (or --score FOLDER)")
    pairs = {"panel": recipe_study.PANEL, "eight": recipe_study.PANEL[:8]}[args.pairs]
    if args.rest_of:
        key = json.loads((args.rest_of / "key.json").read_text())
        judged = {(row["photo"], row["painting"]) for row in key["rows"]}
        pairs = [pair for pair in pairs if pair not in judged]
    mirror = None
    if args.mirror_of:
        key = json.loads((args.mirror_of / "key.json").read_text())
        mirror = {(row["photo"], row["painting"]): row["X"] for row in key["rows"]}
        pairs = [pair for pair in pairs if pair in mirror]
    print(make_sheets(args.name, args.a, args.b, pairs, args.size, args.per_sheet, args.seed, mirror))
    return 0


if __name__ == "__main__":
    sys.exit(main())
