"""Command line: ``python -m helpers CONTENT STYLE [-o OUT] [options]``.

CONTENT and STYLE are image files, URLs or registered names (``--list-images`` shows them).
Errors are one line on stderr and a non-zero exit code; an interrupted run still saves its best image.
"""

from __future__ import annotations

import argparse
import errno
import functools
import itertools
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
import warnings
from contextlib import contextmanager
from pathlib import Path

from . import presets, run_inputs, run_options, settings
from ._startup import leave_quietly_on_ctrl_c
from .backbones import BACKBONES, BackboneError
from .io import gallery
from .io.images import SAVE_FORMATS, ImageLoadError, load_pil, read_metadata
from .run_record import StopReason
from .transfer import stylize

EXIT_ERROR, EXIT_STOPPED_EARLY = 2, 3


def _argparse_type(parse):
    """A setting's text parser (run_options: it raises ValueError with the reason) as argparse wants it:
    argparse shows an ArgumentTypeError's own words, but a ValueError only as "invalid value"."""
    if parse is None:
        return None

    @functools.wraps(parse)  # keeps parse as __wrapped__: tests/test_cli.py checks which one an option uses
    def read(text: str):
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return read


_non_negative_float = _argparse_type(run_options.non_negative_float)


def _weights(text: str) -> list[float]:
    return [_non_negative_float(part) for part in text.split(",") if part.strip()]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the whole usage block
        self.exit(EXIT_ERROR, f"error: {message} (see python -m helpers --help)\n")


class _RecipeError(ValueError):
    pass


class _RecipeParser(_Parser):
    """The same options, for a recipe's values: an error is raised, to be reported as the recipe's."""

    def error(self, message):
        raise _RecipeError(message)


class _Append(argparse.Action):
    """Like action="append", except that values given on the command line replace the default (a
    recipe's list) instead of being added to it."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_appended", set())
        items = list(getattr(namespace, self.dest) or []) if self.dest in given else []
        given.add(self.dest)
        setattr(namespace, self.dest, items + [values])


def build_parser(parser_class: type[argparse.ArgumentParser] = _Parser) -> argparse.ArgumentParser:
    """The command line's options. Their choices and defaults come from the library (RunOptions,
    settings, the optimisers' registry), so the two cannot drift apart (tests/test_cli.py checks it)."""
    parser = parser_class(
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
    _add_images(parser)
    _add_options(parser, "the method's settings (helpers.run_options.RunOptions)", run_options.RunOptions)
    _add_options(parser, "the network's layers (helpers.run_options.NetworkOptions)", run_options.NetworkOptions)
    _add_machine_options(parser)
    return parser


def _add_images(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", nargs="?", help="content image: file, URL or registered name")
    parser.add_argument("style", nargs="?", help="style image: file, URL or registered name")
    parser.add_argument("-o", "--output",
                        help="where to write the result (.png, .jpg, .webp or .tif; a PNG also stores the recipe); "
                             "an existing file is kept unless --overwrite is given (default: CONTENT_in_STYLE.png "
                             "in outputs/ beside the notebooks, or in NST_OUTPUT_DIR)")
    parser.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--preset", choices=presets.CHOICES, default="auto",
                        help="a named recipe that the options below adjust: paper (the paper's method as the notebooks "
                             "teach it: its layers and weights, L-BFGS from the photo), painterly (measured to "
                             "paint best on the offline backbone) or quick (seconds, from the feed-forward "
                             "network's picture); auto: painterly on the offline backbone, paper elsewhere "
                             "(default: %(default)s; see research/RECIPES.md)")
    parser.add_argument("--style", dest="extra_styles", action=_Append, default=[], metavar="IMAGE",
                        help="another style image to blend in (repeat for more)")
    parser.add_argument("--style-blend", type=_weights, metavar="W1,W2,...",
                        help="blend weights of the styles, in order (default: equal)")
    parser.add_argument("--mask", dest="masks", action=_Append, metavar="IMAGE",
                        help="one mask per style, in order (white: that style goes here); spatial control")
    parser.add_argument("--recipe", metavar="PNG",
                        help="take every setting from the recipe stored in a PNG this tool wrote; "
                             "options given explicitly still win")
    parser.add_argument("--list-images", action="store_true", help="list the registered image names and exit")


def _add_options(parser: argparse.ArgumentParser, title: str, options: type) -> None:
    """One option per field of ``options`` (run_options.RunOptions or NetworkOptions), with its name, type,
    choices, default and help from the field. A default the preset decides is None here (presets.merge
    fills it in), and the help says so."""
    group = parser.add_argument_group(title)
    for option in run_options.command_line_fields(options):
        meta = option.metadata
        flag = meta["flag"] or "--" + option.name.replace("_", "-")
        group.add_argument(flag, dest=option.name, type=_argparse_type(meta["parse"]), choices=meta["choices"],
                           metavar=meta["metavar"], default=None if meta["preset"] else option.default,
                           help=f"{meta['help']} (default: {run_options.describe_default(option)})")


def _add_machine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the network and the machine")
    group.add_argument("--backbone", choices=BACKBONES,
                       help="network (default: vgg19 when its weights are cached or downloadable, else the "
                            "offline ImageNet VGG16 vgg16-imagenet, else the edge-detection vgg16-hed)")
    # The command line's precision default differs from Python's on purpose (settings.py says why).
    group.add_argument("--precision", choices=("auto",) + settings.PRECISIONS, default=settings.CLI_PRECISION,
                       help="bf16: convolutions in bfloat16 (on a CPU the Gram products too, with float32 sums), "
                            "losses in fp32; auto: bf16 on a CPU with bfloat16 units, where a step is about 1.6x "
                            "(AVX512_BF16) to 3x (AMX) faster, else fp32 (default: %(default)s)")
    group.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N or mps")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def _list_images() -> None:
    for kind in ("content", "style"):
        print(f"{kind} images:")
        for name in gallery.names(kind):
            print(f"  {name:16s} {gallery.credit(name)}")


RECIPE_KEY = "style-transfer-recipe"
# The recipe entries that describe the method; each is read exactly as the command line reads its
# option, and an option given on the command line wins however it is spelled. Everything else in a
# recipe (an output path, a device, --quiet, ...) belongs to whoever runs it and is ignored: a recipe
# comes from whoever made the PNG. A new option that describes the method belongs here.
# The method's own settings come from RunOptions' fields (a field added there is read from recipes too).
RUN_OPTIONS = tuple(option.name for option in run_options.command_line_fields())
NETWORK_OPTIONS = ("backbone", "content_layers", "style_layers", "pooling", "precision")
RECIPE_OPTIONS = ("content", "style", "extra_styles", "masks", "style_blend", "preset", *NETWORK_OPTIONS, *RUN_OPTIONS)
# Options that never come from a recipe.
NOT_RECIPE_OPTIONS = ("help", "output", "overwrite", "recipe", "list_images", "quiet", "device")


class _Refused(str):
    """A recipe value the command line cannot reproduce: an error unless the option is given explicitly."""


def read_recipe(png: str) -> dict:
    """The recipe stored in a PNG this tool wrote, as a dict; ImageLoadError with a one-line message if none."""
    fields = read_metadata(png)  # refuses missing, non-image, damaged and oversized files itself
    if RECIPE_KEY not in fields:
        raise ImageLoadError(f"{png}: holds no style-transfer recipe; give a PNG written by this tool")
    try:
        recipe = json.loads(fields[RECIPE_KEY])
    except (ValueError, RecursionError) as err:
        raise ImageLoadError(f"{png}: its recipe is not valid JSON ({type(err).__name__}); give a PNG written by "
                             "this tool") from None
    if not isinstance(recipe, dict):
        raise ImageLoadError(f"{png}: its recipe is a JSON {type(recipe).__name__}, not an object of settings")
    return recipe


def _as_option_text(key: str, value) -> str:
    """A recipe value as the text the command line's option would take (the option's type checks it)."""
    if isinstance(value, list) and value and all(isinstance(v, (int, float, str)) and not isinstance(v, bool)
                                                 for v in value):
        return ",".join(str(v) for v in value)
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return str(value)
    if value == [] and key.endswith("layers"):  # no layers, as --style-layers '' asks and records
        return ""
    raise _RecipeError(f"{key}: expected {'a list of names' if key.endswith('layers') else 'a value'}, "
                       f"not {json.dumps(value)[:60]}")


def _unreproducible(key: str, value) -> str | None:
    """Why the command line cannot reproduce this recipe value, or None if it can."""
    if key == "init" and value == "image":
        return ("the recipe started from an image passed from Python, which the command line cannot do: "
                "give --init content, noise or style")
    if key == "masks" and value is True:
        return "the recipe used masks passed from Python, not files: give one --mask FILE per style"
    return None


def _recipe_as_options(recipe: dict, actions: dict) -> tuple[dict, list[str]]:
    """(defaults for CONTENT, STYLE and the refused entries, the other entries as command-line tokens)."""
    defaults, tokens = {}, []
    for key in RECIPE_OPTIONS:
        value = recipe.get(key)
        if key not in actions or value is None or value is False and key == "masks":
            continue
        action = actions[key]
        if _unreproducible(key, value):
            defaults[key] = _Refused(_unreproducible(key, value))
        elif not action.option_strings:  # CONTENT, STYLE
            if not isinstance(value, str) or not value.strip():
                raise _RecipeError(f"{key}: expected an image name, path or URL, not {json.dumps(value)[:60]}")
            defaults[key] = value
        elif isinstance(action, _Append):
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise _RecipeError(f"{key}: expected a list of image names, paths or URLs, "
                                   f"not {json.dumps(value)[:60]}")
            tokens += [f"{action.option_strings[-1]}={v}" for v in value]
        else:
            tokens.append(f"{action.option_strings[-1]}={_as_option_text(key, value)}")
    return defaults, tokens


def _apply_recipe(parser: argparse.ArgumentParser, png: str, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` again with the recipe's values as the defaults: every option given wins.

    The recipe's values go through the same option types and choices as the command line's (one code
    path), so a recipe can hold nothing the command line would refuse.
    """
    recipe = read_recipe(png)
    if recipe.get("style_layer_weights") is not None:
        raise ValueError(f"{png}: the recipe weights its style layers individually "
                         f"({json.dumps(recipe['style_layer_weights'])[:80]}), which the command line cannot "
                         "set; re-run it from Python: helpers.stylize(..., style_layer_weights=...)")
    actions = {action.dest: action for action in parser._actions}
    ignored = sorted(key for key in recipe if key not in RECIPE_OPTIONS or key not in actions)
    ignored = [key for key in ignored if key != "style_layer_weights"]
    if ignored:
        print(f"note: ignoring recipe entries that do not describe the method: {one_line(', '.join(ignored))[:200]}",
              file=sys.stderr)
    try:
        defaults, tokens = _recipe_as_options(recipe, actions)
        parsed = vars(build_parser(_RecipeParser).parse_args(tokens))
    except _RecipeError as err:
        raise ValueError(f"{png}: the recipe holds a value the command line refuses: {err}") from None
    defaults.update({key: parsed[key] for key in RECIPE_OPTIONS if key in recipe and key not in defaults
                     and key in parsed and recipe[key] is not None})
    parser.set_defaults(**defaults)
    args = parser.parse_args(argv)
    for value in vars(args).values():
        if isinstance(value, _Refused):
            raise ValueError(f"{png}: {value}")
    missing = [key.upper() for key in ("content", "style") if not getattr(args, key)]
    if missing and args.output:
        raise ValueError(f"{png}: the recipe names no {' or '.join(missing)} image (it was given from Python as "
                         f"an image, not a name or path): give {' and '.join(missing)} on the command line")
    _say_the_recipes_images(recipe, args)
    return args


def _say_the_recipes_images(recipe: dict, args: argparse.Namespace) -> None:
    """Name the images a recipe supplies (files or URLs, read as if given here): a recipe is untrusted, and
    a relative path in it is read from the current folder, not the recipe's."""
    named = [f"{label} {getattr(args, key)}" for key, label in (("content", "CONTENT"), ("style", "STYLE"))
             if getattr(args, key) and getattr(args, key) == recipe.get(key)]
    for key, option in (("extra_styles", "--style"), ("masks", "--mask")):
        if recipe.get(key) and list(getattr(args, key) or []) == recipe[key]:
            named += [f"{option} {value}" for value in recipe[key]]
    if named:
        print(f"note: the recipe names the images: {one_line(', '.join(named))[:300]}", file=sys.stderr)


def _check_writable(output: Path) -> None:
    """Fail before the optimisation, not after it, when the output cannot be written."""
    if output.is_symlink():  # the result is written through the link (files.atomic_file): check its target's folder
        output = Path(os.path.realpath(output))
    blocking = next((folder for folder in output.parents if folder.is_file()), None)
    if blocking is not None:
        raise OSError(f"cannot write to {output.parent}: {blocking} is a file, not a folder; choose another -o path")
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
    """Resolve ``--precision auto`` and say when it picks bf16. (Asking for bf16 where it would be slow is
    warned about by StyleTransfer itself, shown as one line like every warning.)"""
    if args.precision == "auto":
        args.precision = settings.default_precision(device)
        if args.precision == "bf16":
            print("precision: bf16 (this CPU has bfloat16 units: 1.6x to 3x faster at the same loss; "
                  "--precision fp32 for full precision)")


def one_line(message) -> str:
    """A message as one printable line: names in it come from files, URLs, servers and recipes, and a
    newline or a terminal escape sequence in one of them must not reach the terminal as such."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(str(message).split()))


@functools.cache
def _flags() -> dict[str, str]:
    """Each option's flag by the name the library uses for it (RunOptions' fields, stylize's arguments)."""
    return {action.dest: action.option_strings[-1] for action in build_parser()._actions if action.option_strings}


def in_flags(message) -> str:
    """A library message as the command line says it: the library names its options as Python does
    (``scales=1``, ``preset='paper'``); here they become the flags that set them (``--multiscale 1``,
    ``--preset paper``). Only the command line speaks in flags."""
    def flag(match: re.Match) -> str:
        return f"{_flags()[match['name']]} {match['value'].strip(chr(39))}"

    names = "|".join(sorted(_flags(), key=len, reverse=True))
    return re.sub(rf"\b(?P<name>{names})=(?P<value>'[^']*'|[^\s,;)]+)", flag, str(message))


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings while reading the inputs, as one plain line (not Python's file:line format)."""
    try:
        print(f"warning: {one_line(in_flags(message))}", file=sys.stderr)
    except (OSError, ValueError):  # no terminal any more (SIGHUP): the run and its result matter more
        pass


# Signals that stop a run as Ctrl-C does: SIGTERM (a stopped container, a job scheduler, kill) and, where
# there is one, SIGHUP (a closed terminal or SSH session).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _sigterm_as_ctrl_c() -> dict:
    """From now on SIGTERM and SIGHUP stop the run as Ctrl-C does, so the best image so far is saved.
    Returns the handlers to restore (none off the main thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def stop(signum, frame):
        raise KeyboardInterrupt

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    return {sig: handler if handler is not None else signal.SIG_DFL for sig, handler in previous.items()}


@contextmanager
def _interrupts_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP back while the result is written: a finished result is never lost.
    Yields a list that holds the signals that arrived."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *STOP_SIGNALS)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: held.append(signum))
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _show_warnings_live(shown: list[str]) -> None:
    """Inside ``warnings.catch_warnings()``: print each warning as one line as it happens, and note it."""
    def show(message, category, filename, lineno, file=None, line=None):
        shown.append(str(message))
        _print_warning(message, category, filename, lineno)

    warnings.showwarning = show
    warnings.simplefilter("always")


def _save_somewhere(result, output: Path, overwrite: bool = True) -> Path:
    """Save the result; if that fails now (disk full, folder gone), save it in the temp folder instead
    so that minutes of optimisation are not lost, and say where it went. Without ``overwrite``, a file
    that appeared at ``output`` during the run (another run with the same -o) is kept, and the result
    goes beside it."""
    try:
        return Path(result.save(output, replace=overwrite))
    except FileExistsError:
        for n in range(2, 100):  # name-2.png, name-3.png, ...: the first one free (the save itself checks)
            beside = output.with_name(f"{output.stem}-{n}{output.suffix}")
            if beside.exists() or beside.is_symlink():
                continue
            try:
                result.save(beside, replace=False)
            except FileExistsError:  # taken meanwhile by another process
                continue
            raise OSError(f"{output} appeared while the run went on (another run with the same -o?) and was "
                          f"kept: the result was saved to {beside} instead (pass --overwrite to replace)") from None
        reason = "it and the names beside it appeared while the run went on, and were kept"
    except OSError as err:
        reason = err.strerror or str(err)
    rescue = Path(tempfile.gettempdir()) / f"style-transfer-{int(time.time())}{output.suffix}"
    result.save(rescue)
    raise OSError(f"could not write {output} ({reason}); the result was saved to {rescue} instead")


# The options passed to stylize as they are (the images, the device and --quiet are read first).
STYLIZE_OPTIONS = (*NETWORK_OPTIONS, *RUN_OPTIONS, "style_blend")


def _checked_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]):
    """(the arguments with the recipe's applied, the output path), or a one-line error, before any work."""
    if args.recipe:
        args = _apply_recipe(parser, args.recipe, argv)
    if not args.content or not args.style:
        parser.error("give CONTENT and STYLE (and -o OUTPUT to choose the file), or --recipe PNG -o OUTPUT")
    if not args.output:
        args.output = str(default_output(args.content, args.style))
    output = Path(args.output)
    if output.suffix.lower() not in SAVE_FORMATS:
        parser.error(f"output {args.output!r} must end in {', '.join(SAVE_FORMATS)}")
    if output.is_dir():
        parser.error(f"output {args.output!r} is a folder; give a file name")
    if output.is_symlink() and _symlink_loops(output):  # the picture is written through a link: it must lead on
        parser.error(f"output {args.output!r} is a symbolic link that loops back on itself; choose another -o name")
    _check_style_blend(parser, args, argv)
    _check_not_an_input(output, args)
    if output.exists() and not args.overwrite:  # checked before the run: minutes of work are not wasted
        parser.error(f"{args.output} already exists: choose another -o name, or pass --overwrite to replace it")
    _check_writable(output)
    return args, output


def default_output(content: str, style: str) -> Path:
    """Where a result goes without -o: CONTENT_in_STYLE.png in the course's output folder (``outputs/`` beside the
    notebooks, or NST_OUTPUT_DIR), never the working directory; a name already taken gets -2, -3, ..."""
    def stem(source: str) -> str:  # a bundled name, a file path or a URL: its last part, without the suffix
        name = Path(urllib.parse.urlsplit(source).path if "://" in source else source).stem
        return re.sub(r"[^\w.-]+", "_", name).strip("._") or "image"

    first = settings.output_dir() / f"{stem(content)}_in_{stem(style)}.png"
    candidates = (first.with_name(f"{first.stem}-{n}{first.suffix}") for n in itertools.count(2))
    return first if not first.exists() else next(c for c in candidates if not c.exists())


def _symlink_loops(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def _check_style_blend(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> None:
    """--style-blend in the command line's own words, before any image is read; a value that came from
    a recipe is called the recipe's."""
    if args.style_blend is None:
        return
    given_here = any(arg.startswith("--style-blend") for arg in argv)
    option = "--style-blend" if given_here or not args.recipe else f"{args.recipe}: the recipe's --style-blend"
    styles = [args.style, *(args.extra_styles or [])]
    try:
        run_inputs.style_blend(styles, args.style_blend, None)  # the library's check decides; this says it
    except ValueError:
        if len(args.style_blend) != len(styles):
            given = "STYLE" + f" and {len(styles) - 1} --style" * (len(styles) > 1)
            parser.error(f"{option} needs one weight per style image, {len(styles)} here ({given}); got "
                         f"{len(args.style_blend)}: {','.join(f'{w:g}' for w in args.style_blend)}")
        parser.error(f"{option} weights are all 0: give at least one style a weight above 0")


def _stylize(args: argparse.Namespace, shown: list[str]):
    device = settings.choose_device(args.device)
    if device.type not in ("cpu", "cuda", "mps"):  # torch names more (xpu, hpu, meta): the tool runs on these
        raise ValueError(f"device {str(device)!r} is not one the command line runs on: use auto, cpu, cuda, cuda:N "
                         "or mps")
    # Read every image before loading the network, so a bad file fails in a second, not a minute.
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        content = load_pil(args.content)
        styles = [load_pil(name) for name in [args.style] + list(args.extra_styles or [])]
        masks = [load_pil(mask) for mask in args.masks] if args.masks else None
    _choose_precision(args, device)
    if args.style_layers is not None and not args.style_layers:
        print("note: no style layers (--style-layers is empty): nothing of the style is transferred", file=sys.stderr)
    if args.content_layers is not None and not args.content_layers:
        print("note: no content layers (--content-layers is empty): nothing holds the photo's layout, so the result "
              "is a texture in the style", file=sys.stderr)
    with warnings.catch_warnings():
        _show_warnings_live(shown)  # as they happen (a black mask, say), the result's message included
        options = {name: getattr(args, name) for name in STYLIZE_OPTIONS}
        result = stylize(content, styles if len(styles) > 1 else styles[0], preset=args.preset, device=device,
                         progress=not args.quiet, masks=masks, **options)
    result.recipe.update(content=args.content, style=args.style, extra_styles=args.extra_styles,
                         style_blend=args.style_blend, masks=args.masks)
    return result


def _save(result, output: Path, overwrite: bool) -> Path:
    with _interrupts_held() as held:
        path = _save_somewhere(result, output, overwrite)
    if held:
        print("note: interrupted while the result was being written: it was written completely first",
              file=sys.stderr)
    return path


def _report(result, path: Path, shown: list[str]) -> int:
    """Say what was written; a run that stopped early (Ctrl-C, NaN, out of memory) exits with 3."""
    last = result.history[-1] if result.history else {}
    steps = len(result.history)
    final = last.get("total", float("nan"))
    print(f"wrote {one_line(path)} ({result.image.shape[-1]}x{result.image.shape[-2]} px, "
          f"{steps} step{'s' * (steps != 1)}, {result.seconds:.1f} s, final loss {final:.4g})")
    if StopReason(result.stopped).ends_run:
        if result.message not in shown:
            print(f"warning: {result.message}", file=sys.stderr)
        return EXIT_STOPPED_EARLY
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_images:
        _list_images()
        return 0
    previous_handlers = _sigterm_as_ctrl_c()
    if signal.getsignal(signal.SIGINT) is leave_quietly_on_ctrl_c:  # start-up is over: Ctrl-C stops the run
        signal.signal(signal.SIGINT, signal.default_int_handler)
    shown: list[str] = []
    try:
        args, output = _checked_arguments(parser, args, argv)
        result = _stylize(args, shown)
        if not result.history and StopReason(result.stopped).ends_run:  # stopped before its first step
            if result.message not in shown:
                print(f"warning: {result.message}", file=sys.stderr)
            print(f"error: stopped ({result.stopped}) before the first step was done: nothing was painted, so "
                  "nothing was written", file=sys.stderr)
            return EXIT_STOPPED_EARLY
        path = _save(result, output, args.overwrite)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except (ImageLoadError, BackboneError, ValueError, KeyError, OSError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {one_line(in_flags(message))}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    return _report(result, path, shown)


def run_and_exit() -> None:
    """``python -m helpers``: main(), then an exit that a late Ctrl-C cannot turn into a kill. Once main()
    has returned, the result is saved or the error said; a Ctrl-C that escapes main() (one more while the
    last line is printed) or arrives while Python shuts down must not end the process by SIGINT (exit
    status -2, or 130 in a shell, with a traceback) instead of main()'s own status."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # shutting down (torch's teardown) takes a moment
    sys.exit(code)


if __name__ == "__main__":
    run_and_exit()
