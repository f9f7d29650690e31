"""Named recipes: the paper's method as the notebooks teach it, the recipe measured to paint best on a
backbone, and a quick one.

A preset is ``RunOptions`` with some fields replaced (``Preset.run``), plus the step schedule it measured
best by device (a 512 px picture on a CPU paints most of its steps at 256 px). ``stylize`` and the
command line start from ``default_preset(backbone)``; every option given explicitly wins over it, and
``preset="paper"`` (``--preset paper``) gives the paper's method, which the notebooks teach;
``preset="quick"`` a picture in seconds from the feed-forward network's start (notebook 11). How the
presets were chosen, with the measurements: ``research/RECIPES.md`` (which paints best) and
``benchmarks/RESULTS.md`` (time to a picture).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import torch

from . import run_options, settings

# Options that belong to StyleTransfer (the network's: NetworkOptions); every other option goes to run().
TRANSFER_OPTIONS = tuple(run_options.defaults(run_options.NetworkOptions))


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    # RunOptions with the preset's fields replaced: RunOptions(init="fast")
    run: run_options.RunOptions = field(default_factory=run_options.RunOptions)
    # Steps per level, coarse to fine, by device type; missing: the device's default (settings.py).
    steps: dict = field(default_factory=dict)
    # Coarse to fine from about this long side: one level at or below it, one more per doubling above
    # it. The first level gets the device's default steps (or ``first_steps``), each finer level
    # ``refine_steps`` or a third of the first level's, whichever is more.
    coarsest: int | None = None
    refine_steps: int = 50
    # Steps at the first level by device type (missing: the device's default). A first level smaller
    # than ``coarsest`` gets as many more as cost the same time (a step costs in proportion to the
    # pixels), up to the device's default: a 256 px picture gets four times the steps of a 512 px one.
    first_steps: dict = field(default_factory=dict)
    # Steps and run options by device type for a schedule of more than one level, in place of the rules
    # above: {"cpu": {"steps": (first, each finer), "lbfgs_history": ...}}. A key "cpu-fp32" holds the
    # schedule for float32 on a CPU (no bfloat16 units, or precision="fp32"), whose steps cost 2-3 times
    # as much as bf16 ones: it gets its own schedule, not the same steps at 2-3 times the wait.
    multi_level: dict = field(default_factory=dict)

    @property
    def options(self) -> dict:
        """The fields this preset replaces in RunOptions, by name, with its values."""
        return {f.name: getattr(self.run, f.name) for f in fields(self.run) if getattr(self.run, f.name) != f.default}

    def schedule(self, size: int, device: torch.device, precision: str = "fp32") -> dict:
        """{"scales": ..., "steps": [...]} for a result of long side ``size`` (``coarsest`` presets only),
        computing in ``precision`` ("fp32" or "bf16")."""
        scales = max(1, min(6, round(math.log2(size / self.coarsest)) + 1)) if self.coarsest else 1
        default = settings.default_steps(device)
        multi_level = self.multi_level.get(f"{device.type}-{precision}", self.multi_level.get(device.type))
        if scales > 1 and multi_level and not settings.quick_mode():
            first, finer = multi_level["steps"]
            return {"scales": scales, "steps": [first] + [finer] * (scales - 1),
                    **{k: v for k, v in multi_level.items() if k != "steps"}}
        first = default
        if device.type in self.first_steps and not settings.quick_mode():
            first_side = size / 2 ** (scales - 1)
            equal_time = self.first_steps[device.type] * max(1.0, (self.coarsest / first_side) ** 2)
            first = min(default, math.ceil(equal_time))
        # Each finer level: a third of the first level's steps, at least refine_steps (a GPU, with more
        # steps at the first level, gets more at the finer ones too); quick mode: a few steps everywhere.
        refine = min(max(self.refine_steps, first // 3), first)
        return {"scales": scales, "steps": [first] + [refine] * (scales - 1)}

    def merge(self, options: dict, device: torch.device, precision: str = "fp32") -> dict:
        """The preset's options for ``device`` computing in ``precision``, with every option in ``options``
        winning."""
        merged = dict(self.options)
        steps = self.steps.get(device.type)
        if steps is not None and not settings.quick_mode():
            merged["steps"] = steps
        if self.coarsest:
            size = options.get("size") or settings.default_size(device)
            merged.update(self.schedule(size, device, precision))
        merged.update({k: v for k, v in options.items() if v is not None})
        # Keeping the photo's colours and starting from the painting's contradict each other: the
        # colours asked for win.
        if merged.get("preserve_colors", "none") != "none" and options.get("init") is None:
            merged.pop("init", None)
        # A schedule of per-level steps belongs to the preset's number of levels: asking for another
        # number of levels without saying how many steps each gets falls back to the default count.
        if "steps" not in options and isinstance(merged.get("steps"), Sequence) and \
                len(merged["steps"]) != merged.get("scales", 1):
            del merged["steps"]
        return merged


PRESETS = {p.name: p for p in [
    Preset("paper", "the paper's method: one scale, content relu4_2, style relu1_1..relu5_1 weighted equally, "
                    "style weight 10 (relative losses), L-BFGS from the photo (the paper starts from white noise)",
           run_options.RunOptions()),
    Preset("painterly", "the paper's objective, started from the photo recoloured to the painting's colours (keeping "
                        "the photo's light and shade) and painted coarse to fine from about 256 px (one level up "
                        "to about 362 px, with the device's default steps; above, on a CPU, 60 steps at the first "
                        "level and 45 at each doubling in bf16, 30 and 20 in fp32, with an L-BFGS history of 20; "
                        "on a GPU the default steps first and a third of them at each doubling)",
           run_options.RunOptions(init="palette_shading"), coarsest=256, refine_steps=50,
           # Measured at 512 px on 6 pairs (benchmarks/RESULTS.md, time to a picture; 2-core CPU, bf16): a
           # lower paper loss than three levels of 50 steps on all 6 and closer to the painting on 5, in a
           # median 27.5 s against 37 s (with bf16 Gram matrices since: 21.7 s against 23.4 s, a lower paper
           # loss and closer on 5 of 6); against 150 + 50 steps (the default before), 5% higher paper loss
           # and 12% further from the painting in 60% of the time. The finer level repaints the fine
           # texture, so the first level needs fewer steps than when it is the only one; a history of 20
           # makes each L-BFGS step cheaper (100 stored gradients cost about 65 ms a step at 512 px).
           multi_level={"cpu": {"steps": (60, 45), "lbfgs_history": 20},
                        # Float32 on a CPU (no bfloat16 units; issue 33, benchmarks/RESULTS.md): a 512 px step
                        # costs about 1.75 s on two AVX2 cores against 0.43 s at 256 px, so most of the
                        # painting is done at 256 px and 20 steps at 512 px clean up the fine texture: a median
                        # 51 s from the shell on 8 pairs against 102 s for 60 + 45, which blind judges (each
                        # pair seen both ways round) found more finished on 5 of the 8 and could not tell from
                        # it on 3 (--steps 60,45 gives it back); 20 + 24 steps, twice the style weight and the
                        # feed-forward start did no better.
                        "cpu-fp32": {"steps": (30, 20), "lbfgs_history": 20}}),
    Preset("quick", "a picture in seconds: the feed-forward network's painting (Ghiasi et al. 2017, the optional "
                    "extra) refined by the paper's objective for a few steps at full size (10 at 512 px on a CPU, "
                    "more at smaller sizes; a second level from about 725 px)",
           run_options.RunOptions(init="fast"), coarsest=512, refine_steps=10,
           first_steps={"cpu": 10, "mps": 40, "cuda": 150}),
]}
# The preset each backbone uses by default: measured in research/RECIPES.md. On VGG19 (the paper's
# network) the paper's method stays the default until a measurement says otherwise.
DEFAULTS = {"vgg16-hed": "painterly", "vgg16-imagenet": "painterly"}
CHOICES = ("auto",) + tuple(PRESETS)


def default_preset(backbone_name: str) -> str:
    return DEFAULTS.get(backbone_name, "paper")


def get(name: str | None, backbone_name: str) -> Preset:
    """The preset called ``name``; None or "auto" gives the backbone's default."""
    if name is None or name == "auto":
        name = default_preset(backbone_name)
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(CHOICES)}")
    return PRESETS[name]


def split_options(options: dict) -> tuple[dict, dict]:
    """(StyleTransfer options, run options) of a preset's or a user's options."""
    return ({k: v for k, v in options.items() if k in TRANSFER_OPTIONS},
            {k: v for k, v in options.items() if k not in TRANSFER_OPTIONS})
