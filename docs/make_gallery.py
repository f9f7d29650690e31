"""Make the README's gallery: photos (rows) in the manner of paintings (columns), one command.

    python docs/make_gallery.py            # or: make gallery
    python docs/make_gallery.py --size 384 --photos tubingen,chelsea --paintings starry_night,wave

Each picture is ``helpers.stylize(photo, painting)`` with the default recipe for the backbone in use and the
command line's precision (``auto``: bf16 on a CPU with bfloat16 units), so the same picture and about the same
time as ``python -m helpers PHOTO PAINTING --size SIZE``. Writes docs/gallery.jpg, with each picture's time
under it, and prints the times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

import helpers
from helpers import settings
from helpers.io import gallery

HERE = Path(__file__).resolve().parent
TILE = 400  # pixels per cell of the sheet: a 512 px result is shown at 394 px, large enough to judge
LABEL = 30  # pixels for the caption under each column head and each picture


def _thumb(image, tile: int) -> Image.Image:
    picture = helpers.tensor_to_pil(image) if not isinstance(image, Image.Image) else image
    picture = picture.copy()
    picture.thumbnail((tile - 6, tile - 6), Image.LANCZOS)
    return picture


def make_gallery(photos, paintings, size: int, out: Path, backbone: str | None = None) -> tuple[Path, list[float]]:
    network = helpers.load_backbone(backbone)
    sheet = Image.new("RGB", (TILE * (len(paintings) + 1), (TILE + LABEL) * (len(photos) + 1)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, painting in enumerate(paintings, start=1):
        thumb = _thumb(helpers.load_pil(painting), TILE)
        sheet.paste(thumb, (c * TILE + (TILE - thumb.width) // 2, (TILE - thumb.height) // 2))
        draw.text((c * TILE + 6, TILE + 8), gallery.title(painting), fill="black")
    seconds = []
    for r, photo in enumerate(photos):
        top = (TILE + LABEL) * (r + 1)
        thumb = _thumb(helpers.load_pil(photo), TILE)
        sheet.paste(thumb, ((TILE - thumb.width) // 2, top + (TILE - thumb.height) // 2))
        for c, painting in enumerate(paintings, start=1):
            start = time.perf_counter()
            result = helpers.stylize(photo, painting, backbone=network, size=size, progress=False, verbose=False,
                                     precision=settings.CLI_PRECISION)
            seconds.append(time.perf_counter() - start)
            print(f"{photo} x {painting}: {seconds[-1]:.1f} s ({result.recipe['preset']} preset)", flush=True)
            thumb = _thumb(result.image, TILE)
            sheet.paste(thumb, (c * TILE + (TILE - thumb.width) // 2, top + (TILE - thumb.height) // 2))
            draw.text((c * TILE + 6, top + TILE + 6), f"{seconds[-1]:.0f} s", fill="black")
    precision = settings.resolve_precision(settings.CLI_PRECISION, helpers.choose_device())
    draw.text((6, TILE + 8), f"{network.name}, {size} px, {precision}", fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=82, optimize=True)
    return out, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="tubingen,chelsea")
    parser.add_argument("--paintings", default="starry_night,the_scream,wave")
    parser.add_argument("--size", type=int, default=512, help="long side in pixels (default: %(default)s)")
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--out", type=Path, default=HERE / "gallery.jpg")
    args = parser.parse_args(argv)
    size = args.size
    start = time.perf_counter()
    out, seconds = make_gallery(args.photos.split(","), args.paintings.split(","), size, args.out, args.backbone)
    print(f"wrote {out.relative_to(HERE.parent) if out.is_relative_to(HERE.parent) else out}: {len(seconds)} "
          f"pictures at {size} px in {time.perf_counter() - start:.0f} s (median {statistics.median(seconds):.1f} s "
          f"each, {helpers.choose_device().type}: {settings.cpu_description()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
