"""An interactive panel for notebooks: choose images, move sliders, press Run, watch it paint.

    from helpers.studio import Studio
    Studio()          # shows the panel in Jupyter

Works without a GPU at small sizes. Everything the panel does is one call to ``StyleTransfer.run``;
``Studio.run()`` can also be called from code (the notebook does, so its output shows a result).
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets
from IPython.display import clear_output, display

from . import gallery, settings
from .backbones import Backbone, load_backbone
from .color import PRESERVE_COLORS
from .images import tensor_to_pil
from .transfer import DEFAULT_STYLE_WEIGHT, PAPER_STYLE_LAYERS, StyleTransfer, TransferResult

ALL_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu1_2", "relu2_2", "relu3_2",
                    "relu4_2", "relu5_2")
# The style weight slider's stops (a slider only takes values on its grid: a browser moves any other
# value to the nearest stop, so the panel offers exactly these and refuses others).
STYLE_WEIGHTS = (0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)
SIZE_STEP = 16  # sizes 32, 48, 64, ... 1024 px


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


class Studio:
    """The panel: image pickers, sliders for the style weight, layers, size and steps, and a Run button."""

    def __init__(self, backbone: Backbone | str | None = None, device="auto"):
        self.backbone = backbone if isinstance(backbone, Backbone) else load_backbone(backbone)
        self.device = settings.choose_device(device)
        self.result: TransferResult | None = None
        self._transfers: dict[tuple, StyleTransfer] = {}
        wide = {"description_width": "90px"}
        self.content = widgets.Dropdown(options=gallery.names("content"), value="chelsea", description="content",
                                        style=wide)
        self.style = widgets.Dropdown(options=gallery.names("style"), value="starry_night", description="style",
                                      style=wide)
        weights = sorted({*STYLE_WEIGHTS, DEFAULT_STYLE_WEIGHT})
        self.style_weight = _ExactSelectionSlider(options=weights, value=DEFAULT_STYLE_WEIGHT,
                                                  description="style weight", style=wide)
        self.layers = widgets.SelectMultiple(options=ALL_STYLE_LAYERS, value=PAPER_STYLE_LAYERS, rows=5,
                                             description="style layers", style=wide)
        size = max(32, settings.default_size(self.device) // 2 // SIZE_STEP * SIZE_STEP)
        self.size = _ExactIntSlider(value=size, min=32, max=1024, step=SIZE_STEP, description="size (px)",
                                    style=wide)
        self.steps = _ExactIntSlider(value=settings.default_steps(self.device) // 2, min=1, max=1000,
                                     description="steps", style=wide)
        self.colors = widgets.Dropdown(options=PRESERVE_COLORS, value="none", description="keep colours", style=wide)
        self.button = widgets.Button(description="Run", button_style="primary", icon="paint-brush")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress", style=wide)
        self.status = widgets.Label(value="choose images and press Run")
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.run())
        controls = widgets.VBox([self.content, self.style, self.style_weight, self.layers, self.size, self.steps,
                                 self.colors, widgets.HBox([self.button, self.progress]), self.status])
        self.panel = widgets.HBox([controls, self.output])

    def _ipython_display_(self):
        display(self.panel)

    def run(self) -> TransferResult:
        """Run with the panel's current settings; shows and returns the result."""
        layers = tuple(self.layers.value) or PAPER_STYLE_LAYERS
        if layers not in self._transfers:  # one network copy per layer set, reused across runs
            self._transfers[layers] = StyleTransfer(self.backbone, style_layers=layers, device=self.device,
                                                    verbose=False)
        steps = self.steps.value
        self.progress.max, self.progress.value = steps, 0
        self.button.disabled = True
        self.status.value = "running..."

        def report(step, image, losses):
            self.progress.value = step
            self.status.value = f"step {step}/{steps}: loss {losses['total']:.3g}"

        try:
            with self.output:
                clear_output(wait=True)
                self.result = self._transfers[layers].run(
                    self.content.value, self.style.value, size=self.size.value, steps=steps,
                    style_weight=self.style_weight.value, preserve_colors=self.colors.value, callback=report,
                    # ~50 updates per run: enough to watch, and few widget messages (a flood of them can
                    # stall non-interactive notebook runners, nbconvert issue 1921)
                    callback_every=max(1, steps // 50), progress=False)
                display(tensor_to_pil(self.result.image))
            self.status.value = (f"done: {len(self.result.history)} steps in {self.result.seconds:.1f} s, "
                                 f"loss {self.result.losses['total']:.3g} ({self.result.stopped})")
        finally:
            self.button.disabled = False
        return self.result
