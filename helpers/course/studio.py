"""An interactive panel for notebooks: choose images, move sliders, press Run, watch it paint.

    from helpers.course.studio import Studio
    Studio()          # shows the panel in Jupyter

The panel shows the photo and the painting, the image as it is being painted (every few steps, at
least 320 px wide whatever the working size) and the loss curve as it falls. Run paints in a
background thread, so Stop can end a run (keeping the best image so far) and the notebook stays
usable; Save writes the result as a PNG with its recipe. Everything a run does is one call to
``StyleTransfer.run``; ``Studio.run()`` does the same from code and waits for the result (the
notebook uses it, so its output shows a result), and ``Studio.picture()`` draws the panel's state as
a figure (photo | painting | result | loss curve) for readers who do not run the notebook.
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
import warnings
from pathlib import Path

import ipywidgets as widgets
import traitlets
from PIL import Image

from .. import settings
from ..backbones import Backbone, load_backbone
from ..color import PRESERVE_COLORS
from ..io import gallery
from ..io.images import load_pil, tensor_to_pil
from ..transfer import DEFAULT_STYLE_WEIGHT, PAPER_STYLE_LAYERS, StyleTransfer, TransferResult

ALL_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu1_2", "relu2_2", "relu3_2",
                    "relu4_2", "relu5_2")
# The style weight slider's stops (a slider only takes values on its grid: a browser moves any other
# value to the nearest stop, so the panel offers exactly these and refuses others).
STYLE_WEIGHTS = (0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)
SIZE_STEP = 16  # sizes 32, 48, 64, ...
# Slider ranges per device, (min, max, start): a start near the middle, and a maximum that still
# finishes within minutes (on a CPU, VGG19 in fp32 takes about 0.6 s a step at 256 px and 2.7 s at
# 512 px: benchmarks/RESULTS.md).
SIZE_RANGES = {"cpu": (32, 256, 128), "mps": (32, 768, 384), "cuda": (32, 1024, 512)}
STEP_RANGES = {"cpu": (1, 300, 150), "mps": (1, 600, 300), "cuda": (1, 1000, 500)}
# init= of StyleTransfer.run ("fast" needs an extra)
STARTS = ("content", "palette", "palette_shading", "noise", "style")
DISPLAY_WIDTH = 320  # px: the live image is shown this wide whatever the working size
THUMBNAIL_WIDTH = 160
UPDATES_PER_RUN = 50  # live updates (image and curve) per run: enough to watch, few widget messages
UPLOAD_LABEL = "upload: "  # the prefix of an uploaded image in the pickers


class _ExactIntSlider(widgets.IntSlider):
    """An IntSlider that refuses a value off its grid (min + k * step) or out of its range, loudly,
    instead of moving it (ipywidgets clamps to the range; a browser snaps to the grid)."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if not self.min <= value <= self.max or (value - self.min) % self.step:
            raise traitlets.TraitError(f"{self.description} {value} is not on the slider: it takes {self.min} to "
                                       f"{self.max} in steps of {self.step}")
        return value


class _ExactSelectionSlider(widgets.SelectionSlider):
    """A SelectionSlider whose error for a value it does not offer lists the ones it does."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        if proposal["value"] not in self.options:
            raise traitlets.TraitError(f"{self.description} {proposal['value']} is not on the slider: choose one of "
                                       f"{', '.join(f'{v:g}' for v in self.options)}")
        return super()._validate_value(proposal)


def _jpeg(image: Image.Image) -> bytes:
    """JPEG: far fewer bytes than a PNG for a photo, so live updates (and a saved notebook) stay light."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _at_width(image: Image.Image, width: int) -> Image.Image:
    """The image scaled to ``width`` px wide (up or down), keeping its aspect."""
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.LANCZOS)


CURVE_COLOURS = {"total": "#1f77b4", "content": "#2ca02c", "style": "#ff7f0e"}
# Each curve is a term of the total as the loop adds it up: the style term is already times the style weight.
CURVE_LABELS = {"total": "total", "content": "content", "style": "style \u00d7 weight"}


def loss_curve_svg(history: list[dict], best_step: int = 0, width: int = DISPLAY_WIDTH, height: int = 200) -> bytes:
    """The losses against the step (log scale), the best step marked, as a small SVG drawn by hand: a
    matplotlib figure costs about a quarter of a second of CPU to draw, a CPU step at 128 px about as much."""
    left, right, top, bottom = 46, 8, 18, 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="10"><rect width="{width}" height="{height}" fill="white"/>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
             'fill="none" stroke="#999"/>']
    values = [h[t] for h in history for t in CURVE_COLOURS if h.get(t, 0) > 0]
    if not values:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">the loss appears here while it '
                     'paints</text></svg>')
        return "".join(parts).encode()
    low, high = math.log10(min(values)), math.log10(max(values))
    high = high if high > low else low + 1
    last = max(history[-1]["step"], 2)

    def x(step):
        return left + (step - 1) / (last - 1) * (width - left - right)

    def y(value):
        return top + (high - math.log10(value)) / (high - low) * (height - top - bottom)

    for term, colour in CURVE_COLOURS.items():
        points = " ".join(f"{x(h['step']):.1f},{y(h[term]):.1f}" for h in history if h.get(term, 0) > 0)
        if points:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    if best_step and history[best_step - 1]["total"] > 0:
        best = history[best_step - 1]
        parts.append(f'<circle cx="{x(best["step"]):.1f}" cy="{y(best["total"]):.1f}" r="3.5" fill="#d62728"/>')
    legend = "".join(f'<tspan fill="{colour}">{CURVE_LABELS[term]} </tspan>' for term, colour in CURVE_COLOURS.items())
    parts += [f'<text x="{left}" y="12">{legend}<tspan fill="#d62728">\u25cf best</tspan></text>',
              f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{10 ** high:.2g}</text>',
              f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">{10 ** low:.2g}</text>',
              f'<text x="{left}" y="{height - 6}">1</text>',
              f'<text x="{width - right}" y="{height - 6}" text-anchor="end">step {last}</text>', "</svg>"]
    return "".join(parts).encode()


class Studio:
    """The panel: image pickers (or uploads), sliders for the style weight, size and steps, the style
    layers, the start and colour options; Run, Stop and Save; the photo, the painting, the live image
    and the loss curve."""

    def __init__(self, backbone: Backbone | str | None = None, device="auto"):
        self.backbone = backbone if isinstance(backbone, Backbone) else load_backbone(backbone)
        self.device = settings.choose_device(device)
        self.result: TransferResult | None = None
        self.history: list[dict] = []  # the current (or last) run's losses, step by step
        self.saved: Path | None = None
        self.live_updates = 0  # how many times the live image was redrawn during runs (tests read it)
        self._transfers: dict[tuple, StyleTransfer] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        wide = {"description_width": "100px"}
        photos = gallery.names("content")
        contents = [*photos, *[name for name in gallery.names("style") if name not in photos]]  # a painting too
        self.content = widgets.Dropdown(options=contents, value="chelsea", description="photo", style=wide)
        self.style = widgets.Dropdown(options=gallery.names("style"), value="starry_night", description="painting",
                                      style=wide)
        self.upload_content = widgets.FileUpload(accept="image/*", description="your photo", multiple=False)
        self.upload_style = widgets.FileUpload(accept="image/*", description="your painting", multiple=False)
        weights = sorted({*STYLE_WEIGHTS, DEFAULT_STYLE_WEIGHT})
        self.style_weight = _ExactSelectionSlider(options=weights, value=DEFAULT_STYLE_WEIGHT,
                                                  description="style weight", style=wide)
        self.layers = widgets.SelectMultiple(options=ALL_STYLE_LAYERS, value=PAPER_STYLE_LAYERS, rows=5,
                                             description="style layers", style=wide)
        size_min, size_max, size_start = SIZE_RANGES.get(self.device.type, SIZE_RANGES["cpu"])
        steps_min, steps_max, steps_start = STEP_RANGES.get(self.device.type, STEP_RANGES["cpu"])
        self.size = _ExactIntSlider(value=size_start, min=size_min, max=size_max, step=SIZE_STEP,
                                    description="size (px)", style=wide)
        self.steps = _ExactIntSlider(value=steps_start, min=steps_min, max=steps_max, description="steps",
                                     style=wide)
        self.start = widgets.Dropdown(options=STARTS, value="content", description="start from", style=wide)
        self.colors = widgets.Dropdown(options=PRESERVE_COLORS, value="none", description="keep colours", style=wide)
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="paint-brush")
        self.stop_button = widgets.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.save_button = widgets.Button(description="Save", icon="save", disabled=True,
                                          tooltip="write the result as a PNG with its recipe to the outputs folder")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress", style=wide)
        self.status = widgets.Label(value="choose images and press Run")
        self.photo_view = widgets.Image(format="jpeg", width=THUMBNAIL_WIDTH)
        self.painting_view = widgets.Image(format="jpeg", width=THUMBNAIL_WIDTH)
        self.live_view = widgets.Image(format="jpeg", width=DISPLAY_WIDTH)
        self.curve_view = widgets.Image(format="svg+xml", width=DISPLAY_WIDTH)
        # Class names a browser test (or a stylesheet) can find the parts by.
        for name, widget in (("run", self.run_button), ("stop", self.stop_button), ("save", self.save_button),
                             ("status", self.status), ("live", self.live_view), ("curve", self.curve_view),
                             ("progress", self.progress)):
            widget.add_class(f"nst-studio-{name}")
        self.run_button.on_click(lambda _: self.start_run())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save())
        self.content.observe(lambda _: self._show_inputs(), "value")
        self.style.observe(lambda _: self._show_inputs(), "value")
        self.upload_content.observe(lambda change: self._take_upload(change, self.content), "value")
        self.upload_style.observe(lambda change: self._take_upload(change, self.style), "value")
        self._show_inputs()
        self.curve_view.value = loss_curve_svg([])

        controls = widgets.VBox([self.content, self.upload_content, self.style, self.upload_style, self.style_weight,
                                 self.layers, self.size, self.steps, self.start, self.colors,
                                 widgets.HBox([self.run_button, self.stop_button, self.save_button]), self.progress,
                                 self.status])
        inputs = widgets.VBox([widgets.Label("photo"), self.photo_view, widgets.Label("painting"), self.painting_view])
        painting = widgets.VBox([widgets.Label("result (live)"), self.live_view, self.curve_view])
        self.panel = widgets.HBox([controls, inputs, painting], layout=widgets.Layout(flex_flow="row wrap"))

    def _repr_mimebundle_(self, **kwargs):
        # Where widgets cannot be shown (a static view, a rendered page), say so instead of printing the
        # widget tree ("HBox(children=(VBox(...").
        bundle = self.panel._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = ("[the studio panel: run this notebook in JupyterLab to use it; "
                                "studio.picture() draws its state]")
        return bundle

    # Inputs ----------------------------------------------------------------------------------------

    def _show_inputs(self):
        for picker, view in ((self.content, self.photo_view), (self.style, self.painting_view)):
            try:
                view.value = _jpeg(_at_width(load_pil(picker.value), THUMBNAIL_WIDTH))
            except Exception as err:  # an unreadable upload: say so, keep the panel working
                self.status.value = f"cannot show {picker.value}: {err}"

    def _take_upload(self, change, picker: widgets.Dropdown):
        """Save an uploaded image to the outputs folder and select it in ``picker``."""
        files = change["new"]
        if not files:
            return
        upload = files[0]
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload["name"]).name) or "upload"
        folder = settings.output_dir() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(bytes(upload["content"]))
        try:
            load_pil(path)  # refuse a file that is not an image now, with the loader's message
        except Exception as err:
            self.status.value = f"{upload['name']}: {err}"
            return
        self.add_image(picker, path)

    def add_image(self, picker: widgets.Dropdown, path) -> None:
        """Offer an image file in ``picker`` (``studio.content`` or ``studio.style``) and select it."""
        label = UPLOAD_LABEL + Path(path).name
        # All options as (label, value) pairs: ipywidgets takes a mixed list's pairs for values.
        pairs = [option if isinstance(option, tuple) else (option, option) for option in picker.options]
        picker.options = [*[pair for pair in pairs if pair[1] != str(path)], (label, str(path))]
        picker.value = str(path)

    # Running -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_run(self) -> None:
        """What the Run button does: paint in a background thread (the panel stays live; Stop works)."""
        if self.running:
            return
        self._stop.clear()
        self._error = None
        self._thread = threading.Thread(target=self._paint, name="studio-run", daemon=True)
        self._set_running(True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> TransferResult | None:
        """Wait for a run started by the button (or ``start_run``) to end; returns its result."""
        if self._thread is not None:
            try:
                self._thread.join(timeout)
            except KeyboardInterrupt:  # Ctrl-C (Interrupt the kernel) while waiting: stop the run, keep the best
                self.stop()
                self._thread.join()
        if self._error is not None:
            raise self._error
        return self.result

    def stop(self) -> None:
        """What the Stop button does: end the run after the current step; the best image so far is kept."""
        if self.running:
            self._stop.set()
            self.status.value = "stopping after this step..."

    def run(self) -> TransferResult:
        """Run with the panel's current settings and wait for the result (what Run does, from code)."""
        self.start_run()
        return self.wait()

    def _set_running(self, running: bool):
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.save_button.disabled = running or self.result is None

    def _paint(self):
        try:
            self._paint_unguarded()
        except BaseException as err:  # shown in the panel (a thread's exception is otherwise lost)
            self._error = err
            self.status.value = f"error: {type(err).__name__}: {err}"
        finally:
            self._set_running(False)

    def _paint_unguarded(self):
        layers = tuple(self.layers.value) or PAPER_STYLE_LAYERS
        if layers not in self._transfers:  # one network copy per layer set, reused across runs
            self._transfers[layers] = StyleTransfer(self.backbone, style_layers=layers, device=self.device,
                                                    verbose=False)
        steps, size = self.steps.value, self.size.value
        every = max(1, steps // UPDATES_PER_RUN)
        self.progress.max, self.progress.value = steps, 0
        self.history = []
        self.live_view.value = _jpeg(_at_width(load_pil(self.content.value), DISPLAY_WIDTH))
        self.curve_view.value = loss_curve_svg([])
        self.status.value = "running..."

        def report(step, image, losses):
            self.history.append({"step": step, **losses})
            if self._stop.is_set():
                raise KeyboardInterrupt  # StyleTransfer.run stops and returns the best image so far
            if step % every == 0 or step == steps:
                self.progress.value = step
                self.status.value = f"step {step}/{steps}: loss {losses['total']:.3g}"
                self.live_view.value = _jpeg(_at_width(tensor_to_pil(image), DISPLAY_WIDTH))
                best = min(range(len(self.history)), key=lambda i: self.history[i]["total"]) + 1
                self.curve_view.value = loss_curve_svg(self.history, best)
                self.live_updates += 1

        with warnings.catch_warnings(record=True):  # a stopped run warns; the status line says it instead
            warnings.simplefilter("always")
            result = self._transfers[layers].run(
                self.content.value, self.style.value, size=size, steps=steps, style_weight=self.style_weight.value,
                init=self.start.value, preserve_colors=self.colors.value, callback=report, callback_every=1,
                progress=False)
        self.result, self.saved = result, None
        self.history = list(result.history)
        self.live_view.value = _jpeg(_at_width(tensor_to_pil(result.image), DISPLAY_WIDTH))
        self.curve_view.value = loss_curve_svg(result.history, result.best_step)
        self.progress.value = len(result.history)
        seconds = f"{len(result.history)} steps in {result.seconds:.1f} s"
        if result.stopped == "interrupted":
            self.status.value = f"stopped: {seconds}; kept the best image (step {result.best_step})"
        elif result.stopped in ("finished", "converged"):
            self.status.value = f"done: {seconds}, loss {result.losses['total']:.3g} ({result.stopped})"
        else:
            self.status.value = f"{result.stopped}: {result.message}"

    # Saving and showing -------------------------------------------------------------------------------

    def save(self, path=None) -> Path:
        """What the Save button does: write the result as a PNG with its recipe (re-run it with
        ``python -m helpers --recipe FILE``); by default into the outputs folder."""
        if self.result is None:
            raise RuntimeError("nothing to save yet: press Run first")
        if path is None:
            stem = "studio_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "-", Path(str(v)).stem)
                                        for v in (self.content.value, self.style.value))
            path = settings.output_dir() / f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}.png"
        self.saved = Path(self.result.save(path))
        # Not the full path in the default folder: a saved notebook keeps the status line (widget state).
        where = "the outputs folder" if self.saved.parent == settings.output_dir() else str(self.saved.parent)
        self.status.value = f"saved {self.saved.name} in {where} (the recipe is inside)"
        return self.saved

    def picture(self):
        """The panel's state as one figure: photo | painting | result | loss curve, with the settings
        as its title. A matplotlib Figure (not registered with pyplot): display it, or ``savefig`` it."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(15, 3.9), dpi=72)
        axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 1.15]})
        shown = [(load_pil(self.content.value), f"photo: {gallery.title(self.content.value)}"),
                 (load_pil(self.style.value), f"painting: {gallery.title(self.style.value)}")]
        if self.result is not None:
            shown.append((tensor_to_pil(self.result.image), f"result ({self.result.stopped}, best step "
                                                            f"{self.result.best_step})"))
        for ax, (image, title) in zip(axes, shown):
            ax.imshow(image)
            ax.set_title(title if len(title) < 40 else title[:38] + "...", fontsize=10)
        for ax in axes[:3]:
            ax.axis("off")
        curve = axes[3]
        if self.history:
            steps = [h["step"] for h in self.history]
            for term, colour in CURVE_COLOURS.items():
                curve.plot(steps, [h[term] for h in self.history], color=colour, linewidth=1.5,
                           label=CURVE_LABELS[term])
            totals = [h["total"] for h in self.history]
            if min(totals) > 0:
                # Log scale, down to a thousandth of the lowest total (a start from the photo has a content
                # loss of 0 at step 1 and tiny ones after, which would squash the rest of the curve).
                curve.set_yscale("log")
                curve.set_ylim(bottom=min(totals) / 1e3)
            best = self.result.best_step if self.result is not None else 0
            if best:
                curve.plot([best], [self.history[best - 1]["total"]], "o", color="#d62728", label="best")
            curve.legend(fontsize=8)
        curve.set_xlabel("step")
        curve.set_title("loss", fontsize=10)
        fig.suptitle(f"style weight {self.style_weight.value:g} | layers {', '.join(self.layers.value)} | "
                     f"{self.size.value} px | {self.steps.value} steps | start: {self.start.value} | "
                     f"keep colours: {self.colors.value}", fontsize=10)
        fig.tight_layout()
        return fig
