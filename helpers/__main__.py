"""Command line: ``python -m helpers CONTENT STYLE -o OUT [options]``.

CONTENT and STYLE are image files, URLs or registered names (``--list-images`` shows them).
Errors are one line on stderr and a non-zero exit code; an interrupted run still saves its best image.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import gallery, settings
from .backbones import BACKBONES, BackboneError
from .images import SAVE_FORMATS, ImageLoadError, load_pil, read_metadata
from .transfer import (
    DEFAULT_STYLE_WEIGHT,
    INITS,
    OPTIMIZERS,
    PAPER_CONTENT_LAYERS,
    PAPER_STYLE_LAYERS,
    PRECISIONS,
    stylize,
)

EXIT_ERROR, EXIT_STOPPED_EARLY = 2, 3


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _weights(text: str) -> list[float]:
    return [_non_negative_float(part) for part in text.split(",") if part.strip()]


def _layers(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the whole usage block
        self.exit(EXIT_ERROR, f"error: {message} (see python -m helpers --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m helpers",
        description="Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016): repaint CONTENT in the "
                    "manner of STYLE by optimising the image's pixels.",
        epilog="Examples:\n"
               "  python -m helpers chelsea swirls -o cat.png --size 128\n"
               "  python -m helpers photo.jpg starry_night -o out.jpg --steps 300 --style-weight 30\n"
               "  python -m helpers photo.jpg swirls --style mosaic --mask left.png --mask right.png -o out.png\n"
               "  python -m helpers photo.jpg strokes --preserve-colors luminance --multiscale 3 -o out.png\n"
               "  python -m helpers --recipe out.png -o again.png   (re-run the recipe stored in a PNG)\n\n"
               "Environment: NST_BACKBONE (default backbone), NST_DEVICE, NST_QUICK=1 (tiny sizes).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("content", nargs="?", help="content image: file, URL or registered name")
    parser.add_argument("style", nargs="?", help="style image: file, URL or registered name")
    parser.add_argument("-o", "--output",
                        help="where to write the result (.png, .jpg, .webp or .tif; a PNG also stores the recipe)")
    parser.add_argument("--size", type=_positive_int,
                        help="long side of the result in pixels (default: 512 on a GPU, 256 on a CPU)")
    parser.add_argument("--steps", type=_positive_int,
                        help="network evaluations (default: 500 on a GPU, 150 on a CPU)")
    parser.add_argument("--style-weight", type=_non_negative_float, default=DEFAULT_STYLE_WEIGHT,
                        help="style weight, relative to the content weight (default: %(default)s)")
    parser.add_argument("--content-weight", type=_non_negative_float, default=1.0,
                        help="content weight (default: %(default)s)")
    parser.add_argument("--tv-weight", type=_non_negative_float, default=0.0,
                        help="total-variation weight, smooths high-frequency noise (default: %(default)s)")
    parser.add_argument("--style-scale", type=_positive_float, default=1.0,
                        help="resize the style image to this times the result's size: above 1 gives larger "
                             "strokes, below 1 finer texture (default: %(default)s)")
    parser.add_argument("--style", dest="extra_styles", action="append", default=[], metavar="IMAGE",
                        help="another style image to blend in (repeat for more)")
    parser.add_argument("--style-blend", type=_weights, metavar="W1,W2,...",
                        help="blend weights of the styles, in order (default: equal)")
    parser.add_argument("--mask", dest="masks", action="append", metavar="IMAGE",
                        help="one mask per style, in order (white: that style goes here); spatial control")
    parser.add_argument("--preserve-colors", choices=("none", "luminance", "histogram"), default="none",
                        help="keep the photo's colours: stylise luminance only, or recolour the style to the "
                             "photo's palette first (default: %(default)s)")
    parser.add_argument("--multiscale", type=_positive_int, default=1, metavar="LEVELS", dest="scales",
                        help="coarse-to-fine levels, each half the size of the next; --steps is per level "
                             "(default: %(default)s, single scale)")
    parser.add_argument("--content-layers", type=_layers, default=",".join(PAPER_CONTENT_LAYERS),
                        help="comma-separated layer names (default: %(default)s)")
    parser.add_argument("--style-layers", type=_layers, default=",".join(PAPER_STYLE_LAYERS),
                        help="comma-separated layer names (default: %(default)s)")
    parser.add_argument("--pooling", choices=("avg", "max"), default="avg",
                        help="average pooling as in the paper, or max pooling (default: %(default)s)")
    parser.add_argument("--backbone", choices=BACKBONES,
                        help="network (default: vgg19 when its weights are cached or downloadable, "
                             "else the offline stand-in vgg16-hed)")
    parser.add_argument("--init", choices=INITS, default="content", help="starting image (default: %(default)s)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="lbfgs", help="(default: %(default)s)")
    parser.add_argument("--lr", type=float, help="learning rate (default: 1 for L-BFGS, 0.02 for Adam)")
    parser.add_argument("--precision", choices=("auto",) + PRECISIONS, default="auto",
                        help="bf16: convolutions in bfloat16, Gram matrices and losses still fp32; auto: bf16 on a "
                             "CPU with bfloat16 units (AVX512_BF16 or AMX), where it is about 1.6x faster, else fp32 "
                             "(default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--recipe", metavar="PNG",
                        help="take every setting from the recipe stored in a PNG this tool wrote; "
                             "options given explicitly still win")
    parser.add_argument("--list-images", action="store_true", help="list the registered image names and exit")
    return parser


def _list_images() -> None:
    for kind in ("content", "style"):
        print(f"{kind} images:")
        for name in gallery.names(kind):
            print(f"  {name:16s} {gallery.credit(name)}")


# Recipe keys whose command-line option has another name.
_RECIPE_OPTIONS = {"scales": "--multiscale", "masks": "--mask", "extra_styles": "--style"}


def _apply_recipe(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> None:
    try:
        recipe = json.loads(read_metadata(args.recipe)["style-transfer-recipe"])
    except (OSError, KeyError, ValueError) as err:
        raise ImageLoadError(f"{args.recipe}: holds no style-transfer recipe ({type(err).__name__}); give a PNG "
                             "written by this tool") from err
    given = {arg.split("=")[0] for arg in argv if arg.startswith("--")}
    for key, value in recipe.items():
        if key in ("content", "style"):
            if getattr(args, key) is None:
                setattr(args, key, value)
        elif hasattr(args, key) and value is not None and _RECIPE_OPTIONS.get(key, "--" + key.replace("_", "-")) \
                not in given:
            if key != "init" or value in INITS:
                setattr(args, key, value)


def _check_writable(output: Path) -> None:
    """Fail before the optimisation, not after it, when the output cannot be written."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output.parent):
            pass
    except OSError as err:
        raise OSError(f"cannot write to {output.parent} ({err.strerror or err}); choose another -o path") from None


def _check_not_an_input(output: Path, args: argparse.Namespace) -> None:
    """Refuse an output that is one of the inputs: writing it would destroy the user's original."""
    inputs = [args.content, args.style, *(args.extra_styles or []), *(args.masks or []), args.recipe]
    for source in filter(None, inputs):
        path = Path(source).expanduser()
        if source in gallery.BUNDLED and not path.exists():  # a name for one of the course's own images
            path = gallery.IMAGES_DIR / gallery.BUNDLED[source].file
        if output.exists() and path.exists() and os.path.samefile(output, path):
            raise ValueError(f"the output {output} is also an input ({source}) and would be overwritten; "
                             "choose another -o name")


def _choose_precision(args: argparse.Namespace, device) -> None:
    """Resolve ``--precision auto`` and say so whenever the result is not plain fp32."""
    if args.precision == "auto":
        args.precision = settings.default_precision(device)
        if args.precision == "bf16":
            print("precision: bf16 convolutions (this CPU has bfloat16 units: about 1.6x faster at the same loss; "
                  "--precision fp32 for full precision)")
    elif args.precision == "bf16" and settings.bf16_is_emulated(device):
        print("note: this CPU has no bfloat16 units (or it cannot be told): bf16 can be several times slower "
              "than fp32 here", file=sys.stderr)


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings while reading the inputs, as one plain line (not Python's file:line format)."""
    print(f"warning: {message}", file=sys.stderr)


def _save_somewhere(result, output: Path) -> Path:
    """Save the result; if that fails now (disk full, folder gone), save it in the temp folder instead
    so that minutes of optimisation are not lost, and say where it went."""
    try:
        return Path(result.save(output))
    except OSError as err:
        rescue = Path(tempfile.gettempdir()) / f"style-transfer-{int(time.time())}{output.suffix}"
        result.save(rescue)
        raise OSError(f"could not write {output} ({err.strerror or err}); the result was saved to {rescue} "
                      "instead") from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_images:
        _list_images()
        return 0
    try:
        if args.recipe:
            _apply_recipe(parser, args, argv)
        if not args.content or not args.style or not args.output:
            parser.error("give CONTENT, STYLE and -o OUTPUT (or --recipe PNG -o OUTPUT)")
        output = Path(args.output)
        if output.suffix.lower() not in SAVE_FORMATS:
            parser.error(f"output {args.output!r} must end in {', '.join(SAVE_FORMATS)}")
        if output.is_dir():
            parser.error(f"output {args.output!r} is a folder; give a file name")
        _check_not_an_input(output, args)
        _check_writable(output)
        device = settings.choose_device(args.device)
        # Read every image before loading the network, so a bad file fails in a second, not a minute.
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            content = load_pil(args.content)
            styles = [load_pil(name) for name in [args.style] + list(args.extra_styles or [])]
            masks = [load_pil(mask) for mask in args.masks] if args.masks else None
        _choose_precision(args, device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the result's message is printed below instead
            style = styles if len(styles) > 1 else styles[0]
            result = stylize(content, style, backbone=args.backbone, content_layers=args.content_layers,
                             style_layers=args.style_layers, pooling=args.pooling, device=device,
                             precision=args.precision,
                             size=args.size, steps=args.steps, style_scale=args.style_scale,
                             content_weight=args.content_weight, style_weight=args.style_weight,
                             tv_weight=args.tv_weight, init=args.init, optimizer=args.optimizer, lr=args.lr,
                             seed=args.seed, progress=not args.quiet, scales=args.scales,
                             preserve_colors=args.preserve_colors, style_blend=args.style_blend, masks=masks)
        result.recipe.update(content=args.content, style=args.style, extra_styles=args.extra_styles,
                             style_blend=args.style_blend, masks=args.masks)
        path = _save_somewhere(result, output)
    except KeyboardInterrupt:
        print("interrupted before the optimisation started; nothing was written", file=sys.stderr)
        return 130
    except (ImageLoadError, BackboneError, ValueError, KeyError, OSError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
    last = result.history[-1] if result.history else {}
    steps = len(result.history)
    print(f"wrote {path} ({result.image.shape[-1]}x{result.image.shape[-2]} px, {steps} step{'s' * (steps != 1)}, "
          f"{result.seconds:.1f} s, final loss {last.get('total', float('nan')):.4g})")
    if result.stopped in ("interrupted", "not finite", "out of memory"):
        print(f"warning: {result.message}", file=sys.stderr)
        return EXIT_STOPPED_EARLY
    return 0


if __name__ == "__main__":
    sys.exit(main())
