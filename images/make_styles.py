"""Generate the course's own style images: swirls.png, strokes.png and mosaic.png.

This script is their source (the images are CC0, like the script). It is deterministic: running it
again gives the same pixels. Usage: ``python images/make_styles.py`` (writes next to this file).

- swirls: short thick strokes that follow the flow around a few vortices, night-blue and yellow,
  in the spirit of a starry sky painted with a loaded brush.
- strokes: broad, overlapping, slightly curved brush strokes in warm earth and sea colours.
- mosaic: a Voronoi mosaic of saturated colours with dark grout, like stained glass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
HERE = Path(__file__).resolve().parent


def _jitter(rng, colour, amount=18):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def _stroke(draw, points, colour, width):
    draw.line(points, fill=colour, width=width, joint="curve")
    r = width // 2  # round caps, so strokes look painted rather than cut
    for x, y in (points[0], points[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)


def swirls(rng) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (22, 38, 84))
    draw = ImageDraw.Draw(image)
    vortices = [(rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.choice([-1, 1]) * rng.uniform(0.6, 1.4))
                for _ in range(6)]

    def flow(x, y):
        vx, vy = 0.35, 0.05  # a gentle wind so that the space between vortices also flows
        for cx, cy, strength in vortices:
            dx, dy = x - cx, y - cy
            r2 = dx * dx + dy * dy + 400.0
            vx += -strength * dy * 900.0 / r2
            vy += strength * dx * 900.0 / r2
        norm = np.hypot(vx, vy) + 1e-9
        return vx / norm, vy / norm

    palette = [(27, 57, 140), (40, 90, 170), (70, 130, 200), (120, 170, 220), (235, 205, 80),
               (245, 230, 140), (20, 30, 70), (200, 170, 60)]
    probabilities = np.array([4, 4, 3, 2, 2, 1, 2, 1], dtype=float)
    probabilities /= probabilities.sum()
    for _ in range(5200):
        x, y = rng.uniform(-20, SIZE + 20), rng.uniform(-20, SIZE + 20)
        colour = _jitter(rng, palette[rng.choice(len(palette), p=probabilities)])
        points = [(x, y)]
        for _ in range(int(rng.integers(4, 9))):
            dx, dy = flow(x, y)
            x, y = x + 5.0 * dx, y + 5.0 * dy
            points.append((x, y))
        _stroke(draw, points, colour, int(rng.integers(4, 8)))
    return image.filter(ImageFilter.SMOOTH)


def strokes(rng) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (120, 90, 60))
    draw = ImageDraw.Draw(image)
    palette = [(222, 184, 120), (196, 120, 52), (120, 72, 40), (60, 48, 40), (238, 226, 200),
               (88, 110, 120), (150, 160, 150), (210, 150, 70)]
    for count, width in [(420, (22, 34)), (900, (12, 20)), (1300, (6, 10))]:
        for _ in range(count):
            x, y = rng.uniform(-30, SIZE + 30), rng.uniform(-30, SIZE + 30)
            # Strokes lean with a slow sweep across the canvas, with a little randomness each.
            angle = 0.5 * np.sin(x / 140.0) + 0.4 * np.cos(y / 160.0) + rng.normal(0, 0.12) - 0.4
            length, bend = rng.uniform(30, 70), rng.normal(0, 0.004)
            points = []
            for t in np.linspace(0, 1, 6):
                a = angle + bend * t * length
                points.append((x + t * length * np.cos(a), y + t * length * np.sin(a)))
            colour = _jitter(rng, palette[rng.integers(len(palette))], 24)
            _stroke(draw, points, colour, int(rng.integers(*width)))
    return image.filter(ImageFilter.SMOOTH_MORE)


def mosaic(rng) -> Image.Image:
    seeds = rng.uniform(0, SIZE, size=(260, 2))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    distances = np.stack([(xx - sx) ** 2 + (yy - sy) ** 2 for sx, sy in seeds])
    nearest = np.sort(distances, axis=0)[:2]
    owner = np.argmin(distances, axis=0)
    palette = np.array([(214, 40, 40), (247, 127, 0), (252, 191, 73), (42, 157, 143), (38, 70, 83),
                        (106, 76, 147), (25, 130, 196), (138, 201, 38), (233, 196, 106), (231, 111, 81)])
    colours = np.array([_jitter(rng, palette[rng.integers(len(palette))], 20) for _ in seeds])
    # Shade each tile from its centre outward so tiles look like glass, not flat paint.
    shade = 1.0 - 0.25 * np.sqrt(nearest[0]) / (np.sqrt(nearest[0]).max() + 1e-6)
    pixels = colours[owner] * shade[..., None]
    grout = (np.sqrt(nearest[1]) - np.sqrt(nearest[0])) < 3.0  # near the border of two tiles
    pixels[grout] = (30, 24, 20)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


STYLES = {"swirls": swirls, "strokes": strokes, "mosaic": mosaic}


def main() -> None:
    for i, (name, make) in enumerate(STYLES.items()):
        path = HERE / f"{name}.png"
        make(np.random.default_rng(1000 + i)).save(path, optimize=True)
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
