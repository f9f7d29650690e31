"""An interactive panel for notebooks: choose images, move sliders, press Run, watch it paint.

    from helpers.studio import Studio
    Studio()          # shows the panel in Jupyter

Works without a GPU at small sizes. Everything the panel does is one call to ``StyleTransfer.run``;
``Studio.run()`` can also be called from code (the notebook does, so its output shows a result).
"""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import clear_output, display

from . import gallery, settings
from .backbones import Backbone, load_backbone
from .color import PRESERVE_COLORS
from .images import tensor_to_pil
from .transfer import DEFAULT_STYLE_WEIGHT, PAPER_STYLE_LAYERS, StyleTransfer, TransferResult

ALL_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu1_2", "relu2_2", "relu3_2",
                    "relu4_2", "relu5_2")


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
        self.style_weight = widgets.FloatLogSlider(value=DEFAULT_STYLE_WEIGHT, base=10, min=-1, max=3, step=0.25,
                                                   description="style weight", style=wide)
        self.layers = widgets.SelectMultiple(options=ALL_STYLE_LAYERS, value=PAPER_STYLE_LAYERS, rows=5,
                                             description="style layers", style=wide)
        self.size = widgets.IntSlider(value=settings.default_size(self.device) // 2, min=32, max=1024, step=32,
                                      description="size (px)", style=wide)
        self.steps = widgets.IntSlider(value=settings.default_steps(self.device) // 2, min=1, max=1000,
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
