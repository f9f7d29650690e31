"""How much the style distance moves when a result is only post-processed, not repainted.

The recipe study scores each result as the optimisation leaves it (a tensor). This script re-scores
the JPEGs the study saved (``outputs/recipe_study/``, made by running the panel first) four ways:
as saved, blurred slightly (a Gaussian of radius 0.8 px), recoloured to the painting's palette
keeping the result's light and shade (the colour transfer of ``init="palette_shading"``, applied
after the run instead of before it), and, for 512 px results, downsampled to 256 px (what a user
asking for 256 px would get by painting at 512 px and shrinking). It prints one
line per pair and the medians over the pairs found, so a reader can see how large a difference in
style distance is needed before it means a different painting rather than different fine texture.

    python research/measure_sensitivity.py            # paper and painterly, the whole panel
    python research/measure_sensitivity.py --variants paper@bf16,painterly@bf16 --sizes 256
"""

from __future__ import annotations

import argparse
import statistics

import recipe_study
from PIL import Image, ImageFilter

from helpers import color
from helpers.course import measure
from helpers.io.images import load_image, tensor_to_pil

BLUR_RADIUS = 0.8  # px at 256 px: below what the eye calls a blurred picture, above the finest texture


def rescore(variant: str, photo: str, painting: str, size: int) -> dict[str, float] | None:
    """Style distance of the saved result: as saved, blurred, recoloured, and (512 px) shrunk to 256 px."""
    path = recipe_study.image_file(variant, photo, painting, size)
    if not path.exists():
        return None
    image = Image.open(path).convert("RGB")
    scores = {"saved": measure.style_distance(image, painting, photo),
              "blurred": measure.style_distance(image.filter(ImageFilter.GaussianBlur(BLUR_RADIUS)), painting, photo)}
    recoloured = color.match_palette_keep_shading(load_image(image), load_image(painting, size))
    scores["recoloured"] = measure.style_distance(tensor_to_pil(recoloured), painting, photo)
    if size == 512:
        half = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
        scores["shrunk to 256 px"] = measure.style_distance(half, painting, photo)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="paper,painterly")
    parser.add_argument("--sizes", default="256,512")
    args = parser.parse_args()
    recorded = {recipe_study._key(r): r["style_distance"] for r in recipe_study.load_results()}
    for size in map(int, args.sizes.split(",")):
        for variant in args.variants.split(","):
            rows = []
            for photo, painting in recipe_study.PANEL:
                key = (variant, photo, painting, size)
                scores = rescore(variant, photo, painting, size) if key in recorded else None
                if scores is None:
                    continue
                scores = {"recorded": recorded[key], **scores}
                rows.append(scores)
                print(variant, size, photo, painting, " ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            if rows:
                medians = ", ".join(f"{k} {statistics.median(r[k] for r in rows):.3f}" for k in rows[0])
                print(f"== {variant} at {size} px, {len(rows)} pairs, medians: {medians}")


if __name__ == "__main__":
    main()
