"""Images in and out: load anything as an RGB tensor in [0, 1], save atomically, show grids.

Every function here speaks one format: float tensors of shape (1, 3, H, W), RGB, values in [0, 1].
Each backbone converts that to its own input format itself (see ``backbones.py``).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from . import gallery
from .download import DownloadError, download_file
from .files import atomic_file

# Refuse images that declare more pixels than this: a small file can declare a huge size
# (a "decompression bomb") and exhaust memory when decoded. 100 MP is a 10000 x 10000 photo.
MAX_PIXELS = 100_000_000
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}


class ImageLoadError(ValueError):
    """An image could not be read; the message names the file and what to do."""


def _open(data: bytes | str | Path, label: str) -> Image.Image:
    """Decode image bytes or a file fully, turning every failure into an ImageLoadError."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            web = _looks_like_a_web_address(str(data))
            raise ImageLoadError(f"{label}: no such file (check the path; registered names are listed by "
                                 "`python -m helpers --list-images`" +
                                 (f"; for a web address write http://{data} or https://{data}" if web else "") + ")")
        if path.is_dir():
            raise ImageLoadError(f"{label}: is a folder, not an image file")
        if not path.is_file():  # a pipe, a socket or a device: reading it could wait for ever
            raise ImageLoadError(f"{label}: is not a regular file (a pipe or a device); save the image to a file first")
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{label}: the file is empty (0 bytes); copy or download it again")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked below
            image = Image.open(source)
            if image.width * image.height > MAX_PIXELS:
                raise ImageLoadError(f"{label}: declares {image.width} x {image.height} pixels, more than "
                                     f"{MAX_PIXELS:,}; shrink it first (or raise helpers.io.images.MAX_PIXELS)")
            image.load()  # decode now, so a truncated file fails here and not later
        frames = getattr(image, "n_frames", 1)
        if frames > 1:  # an animated GIF or WebP, a multi-page TIFF: say which picture is meant
            warnings.warn(f"{label}: holds {frames} frames or pages; the first is used", stacklevel=3)
        return image
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageLoadError(f"{label}: refused as a possible decompression bomb ({err}); "
                             "if the image is genuine, shrink it first") from err
    except UnidentifiedImageError as err:
        if isinstance(data, bytes):
            head = data[:64]
        else:
            with open(data, "rb") as file:
                head = file.read(64)
        raise ImageLoadError(f"{label}: not an image file PIL can read ({_what_it_is(head)})") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{label}: the image is damaged or truncated ({err}); "
                             "download or export it again") from err


def _looks_like_a_web_address(text: str) -> bool:
    """``localhost:8000/a.png``, ``www.example.com/a.jpg``: an address someone forgot the http:// of."""
    host, slash, _ = text.partition("/")
    if not slash or Path(host).exists():
        return False
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and name:
        return True
    return host.startswith("www.") or host.rpartition(".")[2] in ("com", "org", "net", "edu", "io", "de", "uk")


try:  # HEIC photos (phones) open too when the optional pillow-heif package is installed
    from pillow_heif import register_heif_opener
except ImportError:
    pass
else:
    register_heif_opener()

# Formats people try that Pillow does not read, told by their first bytes, with what to do.
_UNREADABLE = [
    (lambda head: head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heim"),
     "it is a HEIC/HEIF photo, as phones save them: export it as JPEG, or `pip install pillow-heif`"),
    (lambda head: head[4:12] in (b"ftypavif", b"ftypavis"),
     "it is an AVIF image, which this Pillow cannot decode: convert it to PNG or JPEG"),
    (lambda head: head.startswith(b"%PDF"), "it is a PDF: export the page as PNG or JPEG"),
    (lambda head: b"<svg" in head.lower() or head.lstrip().startswith(b"<?xml"),
     "it is an SVG drawing: render it to PNG first"),
    (lambda head: head.lstrip()[:1] in (b"<", b"{"), "it is text (HTML or JSON?), not an image: check the address"),
]


def _what_it_is(head: bytes) -> str:
    for test, advice in _UNREADABLE:
        if test(head):
            return advice
    return "is it really a PNG, JPEG, WebP, TIFF, BMP or GIF? Open it in an image viewer and export it again"


def to_srgb(image: Image.Image, label: str = "the image") -> Image.Image:
    """Convert an RGB, RGBA or CMYK image that carries an ICC colour profile to sRGB.

    Phone photos are often Display P3, camera exports Adobe RGB and print files CMYK; read as if
    they were sRGB their colours come out dull or wrong, and the network was trained on sRGB.
    An image without a profile is taken to be sRGB already. A profile that cannot be read is
    ignored (with a warning): the pixels are still usable, only their colours are less exact.
    """
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if "srgb" in ImageCms.getProfileDescription(source).lower() and image.mode != "CMYK":
            converted = image.copy()  # already sRGB (most cameras): skip a transform of every pixel
        else:
            pixels = image.convert("RGB") if alpha is not None else image
            converted = ImageCms.profileToProfile(pixels, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as err:
        warnings.warn(f"{label}: its colour profile could not be used ({err}); its colours are read as sRGB",
                      stacklevel=3)
        converted = image.copy()
    # Drop the profile so that a second pass (to_rgb is idempotent) does not convert again.
    converted.info.pop("icc_profile", None)
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


_SRGB = ImageCms.createProfile("sRGB")


# The key to_rgb leaves in the image's info when it composited transparent areas onto white.
TRANSPARENCY_NOTE = "transparent areas"


def to_rgb(image: Image.Image, label: str = "the image") -> Image.Image:
    """Any PIL mode (L, LA, P, PA, RGBA, CMYK, I;16, I, F, ...) -> 8-bit sRGB, upright per EXIF.

    An embedded colour profile is honoured (see ``to_srgb``). Transparent areas are composited onto
    white, as most viewers show them.
    """
    image = to_srgb(ImageOps.exif_transpose(image), label)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit, 32-bit or float greyscale: scale to 8 bits by the range the values use. A float image
        # whose values stay within 0..1 uses the usual float convention (1 is white), not 0..255.
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        peak = float(array.max()) if array.size else 0.0
        if image.mode.startswith("I;16"):
            top = 65535.0
        elif image.mode == "F" and peak <= 1.0:
            top = 1.0
        else:
            top = 255.0 if peak <= 255 else 65535.0 if peak <= 65535 else peak
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        image = Image.fromarray(array, mode="L")
    if image.mode == "P" or (image.mode in ("L", "RGB") and "transparency" in image.info):  # a PNG colour key
        image = image.convert("RGBA")
    transparent = False
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        transparent = rgba.getchannel("A").getextrema()[0] < 255
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB")
    if transparent:  # noted, for the callers that give white a meaning (a mask: where the style goes)
        image.info[TRANSPARENCY_NOTE] = "composited onto white"
    return image


MIN_SIZE = 8  # the smallest long side an image is resized to (the network's layers may need more)


def long_side_size(width_height: tuple[int, int], size: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is ``size`` pixels, aspect ratio kept."""
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, not {size}")
    scale = size / max(width_height)
    return max(1, round(width_height[0] * scale)), max(1, round(width_height[1] * scale))


def resize_long_side(image: Image.Image, size: int | None) -> Image.Image:
    """Resize so that the longer side is ``size`` pixels (aspect ratio kept); None keeps the size."""
    if size is None:
        return image
    new = long_side_size(image.size, size)
    return image if new == image.size else image.resize(new, Image.Resampling.LANCZOS)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> float tensor (1, 3, H, W) in [0, 1], in RGB (``to_rgb``: transparency, CMYK, 16 bits).

    The same numbers as torchvision's ``to_tensor`` (tests/test_images.py checks it), written out because
    importing torchvision costs about 1.2 s of the command line's start-up (its ``models`` package), a
    second of every run's minute on a laptop (benchmarks/RESULTS.md)."""
    pixels = torch.from_numpy(np.array(to_rgb(image), dtype=np.uint8))  # (H, W, 3), 0-255
    return pixels.permute(2, 0, 1).contiguous().float().div(255).unsqueeze(0)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """Tensor (1, 3, H, W), (3, H, W) or (H, W), any device, -> PIL RGB image.

    Float values are clamped to [0, 1]; uint8 (what ``torchvision.io.read_image`` returns) and other integer
    types are read as 0-255 and scaled by 1/255 (values outside 0-255 are refused).
    """
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bool or tensor.is_floating_point():
        tensor = tensor.float()
    else:  # uint8 and every other integer type: 0-255, as NumPy integer arrays are read (array_to_pil)
        if tensor.numel() and not 0 <= int(tensor.min()) <= int(tensor.max()) <= 255:
            raise ImageLoadError(f"the {str(tensor.dtype).removeprefix('torch.')} tensor has values from "
                                 f"{int(tensor.min())} to {int(tensor.max())}: give uint8 values 0-255, or "
                                 "floats in [0, 1]")
        tensor = tensor.float() / 255.0
    if tensor.dim() == 2:  # a single channel (a mask, say): shown as grey
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {tensor.shape[0]}")
        tensor = tensor[0]
    if tensor.dim() != 3 or tensor.shape[0] not in (1, 3):
        raise ValueError(f"expected an image tensor (1 or 3, H, W), got shape {tuple(tensor.shape)}")
    array = (tensor.clamp(0, 1).expand(3, -1, -1).permute(1, 2, 0).numpy() * 255.0).round()
    return Image.fromarray(array.astype(np.uint8))


# Float images must be in [0, 1]; a little overshoot (resampling, an optimiser's step) is clamped.
RANGE_TOLERANCE = 0.05


def check_unit_range(values, label: str = "the image") -> None:
    """Refuse a float image outside [0, 1] (0-255 values, a normalised network input), saying how to scale it."""
    if values.size == 0 if isinstance(values, np.ndarray) else values.numel() == 0:
        return
    low, high = float(values.min()), float(values.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ImageLoadError(f"{label} holds NaN or infinite values; a float image must be in [0, 1]")
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        hint = ("divide it by 255 (or pass it as uint8)" if low >= -RANGE_TOLERANCE and high <= 255 + RANGE_TOLERANCE
                else "rescale it, e.g. (x - x.min()) / (x.max() - x.min()), or clamp it with .clamp(0, 1)")
        raise ImageLoadError(f"{label} has float values from {low:.3g} to {high:.3g}, but a float image must be "
                             f"in [0, 1]: {hint}")


def array_to_pil(array: np.ndarray) -> Image.Image:
    """NumPy image (H, W), (H, W, 3) or (H, W, 4); uint8 0-255, uint16 or float 0-1 -> PIL RGB.

    A float array outside [0, 1] is refused (see ``check_unit_range``), not clamped to white.
    """
    array = np.asarray(array)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageLoadError(f"array of shape {array.shape} is not an image (H, W[, 1|3|4])")
    if array.dtype.kind == "f":
        check_unit_range(array, "the array")
        array = np.clip(array, 0, 1) * 255.0
    elif array.dtype == np.uint16:
        array = array / 257.0
    elif array.dtype == np.bool_:
        array = array * 255.0
    elif array.dtype.kind in "iu" and array.dtype != np.uint8 and array.size and not 0 <= array.min() <= array.max() \
            <= 255:
        raise ImageLoadError(f"the {array.dtype} array has values from {array.min()} to {array.max()}: give uint8 "
                             "0-255, uint16, or float in [0, 1]")
    array = np.asarray(array).round().astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    return to_rgb(Image.fromarray(array))


# URL inputs: the most bytes accepted (an uncompressed RGBA image at the pixel limit, 400 MB), and the
# seconds allowed for the whole download. It is streamed to a temporary file, never held in memory.
BYTES_PER_PIXEL = 4
URL_DEADLINE = 60.0


def read_url(url: str, timeout: float = 15.0, deadline: float | None = None,
             max_bytes: int | None = None) -> Image.Image:
    """Download and decode an image from a URL; raises ImageLoadError naming the URL on any failure.

    The download (``download.py``) is streamed to a temporary file, capped at ``max_bytes``
    (default: ``BYTES_PER_PIXEL * MAX_PIXELS``), given up after ``deadline`` seconds (default
    ``URL_DEADLINE``) and retried a few times on transient failures; it never hangs.
    """
    max_bytes = BYTES_PER_PIXEL * MAX_PIXELS if max_bytes is None else max_bytes
    with tempfile.TemporaryDirectory(prefix="nst-url-") as folder:
        path = Path(folder) / "download"
        try:
            download_file(url, path, max_bytes=max_bytes, deadline=URL_DEADLINE if deadline is None else deadline,
                          timeout=timeout)
        except DownloadError as err:
            raise ImageLoadError(f"could not download {err}; check the address and your connection, or download "
                                 "the file yourself and pass its path") from None
        image = _open(path, url)
        image.load()
        if getattr(image, "fp", None) is not None and getattr(image, "_exclusive_fp", False):
            image = image.copy()  # multi-frame files keep their file open: detach from the temporary one
        return image


def load_pil(source) -> Image.Image:
    """Open ``source`` as an upright PIL RGB image at its original size.

    source: a path, an http(s) URL, a registered name (``chelsea``, ``starry_night``; see
    ``gallery.py``), a PIL image, a NumPy array or a tensor (3, H, W) / (1, 3, H, W): float in [0, 1],
    or uint8 0-255 (scaled by 1/255, as ``torchvision.io.read_image`` returns it).
    """
    if isinstance(source, Image.Image):
        return to_rgb(source)
    if isinstance(source, torch.Tensor):
        if source.is_floating_point():
            check_unit_range(source.detach(), "the tensor")
        return tensor_to_pil(source)
    if isinstance(source, np.ndarray):
        return array_to_pil(source)
    if isinstance(source, (str, Path)):
        text = str(source)
        if text.lower().startswith(("http://", "https://")):  # a scheme is case-insensitive (RFC 3986)
            return to_rgb(read_url(text), text)
        scheme = text.partition("://")[0]
        if "://" in text and scheme.isalpha() and not Path(text).exists():
            local = " (for a local file give its path)" if scheme.lower() == "file" else ""
            raise ImageLoadError(f"{text}: only http:// and https:// addresses can be downloaded, not {scheme}://"
                                 f"{local}")
        if gallery.is_registered(text):
            if not Path(text).is_file():  # a folder of that name is no image: the registered one is meant
                return to_rgb(_open(gallery.image_path(text), text), text)
            if "/" not in text and os.sep not in text:  # a bare name that is also a file here: say which is used
                warnings.warn(f"{text}: the file {text!r} in the current folder is used, not the registered image "
                              f"of that name: give its path (./{text}) to say so, or run elsewhere for the "
                              "registered image", stacklevel=2)
        return to_rgb(_open(Path(text).expanduser(), text), text)
    raise ImageLoadError(f"cannot load an image from a {type(source).__name__}: give a path, URL, "
                         "registered name, PIL image, NumPy array or tensor")


def load_image(source, size: int | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
    """Load ``source`` (see ``load_pil``) as a (1, 3, H, W) tensor in [0, 1], long side ``size``."""
    return pil_to_tensor(resize_long_side(load_pil(source), size)).to(device)


def resize_tensor(image: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize an image tensor to a long side ``size`` (int) or to exactly (H, W)."""
    h, w = image.shape[-2:]
    if isinstance(size, int):
        scale = size / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return torch.nn.functional.interpolate(image, size=size, mode="bilinear", align_corners=False,
                                           antialias=True)


def save_image(image, path: str | Path, metadata: dict[str, str] | None = None, quality: int = 95,
               replace: bool = True) -> Path:
    """Save a tensor or PIL image as PNG, JPEG, WebP or TIFF, atomically: a failure never leaves half a file.
    ``replace=False``: never replace a file at ``path`` (FileExistsError), even one made meanwhile.

    metadata: text fields stored in the PNG (used for each image's recipe); ignored for JPEG.
    """
    path = Path(path).expanduser()
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: save as one of {', '.join(SAVE_FORMATS)}")
    pil = load_pil(image) if not isinstance(image, Image.Image) else to_rgb(image)
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG" and metadata:
        info = PngImagePlugin.PngInfo()
        for key, value in metadata.items():
            info.add_text(str(key), str(value))
        options["pnginfo"] = info
    with atomic_file(path, replace=replace) as f:
        pil.save(f, format=fmt, **options)
    return path


def save_animation(frames, path: str | Path, seconds_per_frame: float = 0.25, size: int | None = None) -> Path:
    """Save images (tensors, PIL, ...) as an animated GIF that loops, atomically; returns the path."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".gif":
        raise ValueError(f"{path}: an animation is saved as .gif")
    pils = [resize_long_side(load_pil(frame), size) for frame in frames]
    if not pils:
        raise ValueError("no frames to save")
    with atomic_file(path) as f:
        pils[0].save(f, format="GIF", save_all=True, append_images=pils[1:], duration=int(seconds_per_frame * 1000),
                     loop=0)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The text fields stored in a PNG (``save_image``'s metadata); {} for formats without them.

    The file may come from anyone (a recipe PNG), so it is refused, with an ImageLoadError, when it
    is missing, not an image, damaged, or declares more than ``MAX_PIXELS`` (its text may only be
    reachable by decoding the pixels).
    """
    label = str(path)
    path = Path(path).expanduser()
    if not path.is_file():
        raise ImageLoadError(f"{label}: no such file" if not path.exists() else f"{label}: is not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageLoadError(f"{label}: declares {image.width} x {image.height} pixels, more than "
                                         f"{MAX_PIXELS:,}; refused")
                return {str(k): str(v) for k, v in (getattr(image, "text", None) or {}).items()}
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageLoadError(f"{label}: refused as a possible decompression bomb ({err})") from err
    except UnidentifiedImageError as err:
        with open(path, "rb") as file:
            head = file.read(64)
        raise ImageLoadError(f"{label}: not an image file PIL can read ({_what_it_is(head)})") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageLoadError(f"{label}: the image is damaged or truncated ({err})") from err


def show_images(images, titles=None, ncols: int | None = None, size: float = 3.0, suptitle: str | None = None):
    """Show images (tensors, PIL, arrays, paths or names) in a labelled grid; returns the figure.

    Each panel is ``size`` inches wide; each row is as tall as its tallest image plus its titles,
    so wide photos leave no empty bands between rows.
    """
    import matplotlib.pyplot as plt

    pictures = [load_pil(image) for image in images]
    titles = list(titles) if titles is not None else [None] * len(pictures)
    ncols = ncols or min(len(pictures), 4)
    nrows = -(-len(pictures) // ncols)
    heights = []
    for row in range(nrows):
        in_row = range(row * ncols, min((row + 1) * ncols, len(pictures)))
        aspect = max(pictures[i].height / pictures[i].width for i in in_row)
        title_lines = max((titles[i] or "").count("\n") + 1 if titles[i] else 0 for i in in_row)
        heights.append(size * aspect + 0.2 * title_lines + 0.1)  # about 0.2 inch per 10-pt title line
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax in axes.flat:
        ax.axis("off")
    for ax, picture, title in zip(axes.flat, pictures, titles):
        ax.imshow(picture)
        if title:
            ax.set_title(title, fontsize=10)
    fig.tight_layout()
    if suptitle:
        # Above the panels' own titles, never on them: a tenth of an inch over the top of the grid.
        fig.suptitle(suptitle, y=1.0 + 0.1 / fig.get_figheight(), va="bottom")
    return fig
