"""A diagram of the Gatys method, drawn with matplotlib: ``draw_method_diagram()``.

Three copies of one frozen network (the same weights): the photo gives the content target at
``relu4_2``, the painting the Gram matrices at ``relu1_1`` ... ``relu5_1``, and the generated image is
compared with both. The weighted sum of the two losses is differentiated back to the generated
image's pixels, the only thing the optimiser changes.
"""

from __future__ import annotations

from ..transfer import PAPER_CONTENT_LAYERS, PAPER_STYLE_LAYERS

# Lanes (y of each image's path through the network) and the network's five blocks.
_LANES = {"photo": 7.6, "generated": 4.5, "painting": 1.4}
_BLOCK_X, _BLOCK_STEP, _BLOCK_W = 3.1, 1.55, 1.15
_BLOCK_H = (1.5, 1.32, 1.14, 0.96, 0.78)  # each pooling halves the map: drawn smaller with depth
_CONTENT_Y, _STYLE_Y = 6.05, 2.95  # the rows of the per-layer comparisons
_COLORS = {"photo": "#cfe3f5", "painting": "#f7dcc0", "generated": "#d9efd3", "net": "#e6e6e6",
           "content": "#2f6db5", "style": "#c46a12", "grad": "#c8102e"}


def _box(ax, x, y, w, h, text, face, size=10, weight="normal", edge="#444444"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=face, edgecolor=edge, linewidth=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, weight=weight, zorder=4)


def _arrow(ax, start, end, color="#333333", style="-|>", width=1.3, dashed=False, rad=0.0, zorder=2):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color, linewidth=width,
                                 linestyle=(0, (4, 3)) if dashed else "-", zorder=zorder,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))


def _layer_x(layer: str) -> float:
    """Where a layer sits along the network: relu{b}_{i} inside block b."""
    block, index = (int(part) for part in layer.removeprefix("relu").split("_"))
    return _BLOCK_X + (block - 1) * _BLOCK_STEP - _BLOCK_W / 2 + (0.3 if index == 1 else 0.7) * _BLOCK_W


def draw_method_diagram(figsize=(13, 7.2)):
    """Draw the method (images, network, losses at their layers, the gradient); returns the Figure."""
    import matplotlib.pyplot as plt  # here, not at the top: ``import helpers`` stays light for the CLI
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(-0.2, 16.4)
    ax.set_ylim(-0.35, 9.1)
    ax.axis("off")

    # The three images, and each one's path through the same frozen network.
    images = {"photo": "photo\n(content image)", "painting": "painting\n(style image)",
              "generated": "generated image x\n(its pixels are the\nonly parameters)"}
    network_end = _BLOCK_X + 4 * _BLOCK_STEP + _BLOCK_W / 2
    for lane, y in _LANES.items():
        _box(ax, 1.05, y, 2.0, 1.35 if lane == "generated" else 1.1, images[lane], _COLORS[lane], size=10,
             weight="bold" if lane == "generated" else "normal")
        _arrow(ax, (2.05, y), (network_end + 0.25, y), color="#777777", style="-", width=1.0, zorder=1)
        for block, height in enumerate(_BLOCK_H):
            x = _BLOCK_X + block * _BLOCK_STEP
            ax.add_patch(Rectangle((x - _BLOCK_W / 2, y - height / 2), _BLOCK_W, height, facecolor=_COLORS["net"],
                                   edgecolor="#666666", linewidth=1.0, zorder=2))
            if lane == "photo":
                ax.text(x, y + height / 2 + 0.12, f"block {block + 1}", ha="center", va="bottom", fontsize=9)
    ax.text(_BLOCK_X + 2 * _BLOCK_STEP, 8.95, "the same frozen VGG three times: 3x3 convolutions + ReLU, "
            "average pooling between blocks", ha="center", va="top", fontsize=10, style="italic")

    # Content: relu4_2 of the photo (P) against relu4_2 of the generated image (F).
    for layer in PAPER_CONTENT_LAYERS:
        x = _layer_x(layer)
        _box(ax, x, _CONTENT_Y, 1.15, 0.42, layer, "white", size=9, edge=_COLORS["content"])
        _arrow(ax, (x, _LANES["photo"]), (x, _CONTENT_Y + 0.21), color=_COLORS["content"])
        _arrow(ax, (x, _LANES["generated"]), (x, _CONTENT_Y - 0.21), color=_COLORS["content"])
        ax.text(x - 0.1, (_LANES["photo"] + _CONTENT_Y) / 2 + 0.1, "P", ha="right", fontsize=10,
                color=_COLORS["content"], weight="bold")
        ax.text(x - 0.1, (_LANES["generated"] + _CONTENT_Y) / 2 - 0.15, "F", ha="right", fontsize=10,
                color=_COLORS["content"], weight="bold")
        _arrow(ax, (x + 0.58, _CONTENT_Y), (11.4, _CONTENT_Y), color=_COLORS["content"])
    _box(ax, 12.55, _CONTENT_Y, 2.3, 1.0, "content loss\n‖F − P‖² / ‖P‖²", "white", size=10,
         edge=_COLORS["content"])

    # Style: Gram matrices of the painting (A) against the generated image's (G) at five layers.
    for layer in PAPER_STYLE_LAYERS:
        x = _layer_x(layer)
        _box(ax, x, _STYLE_Y, 1.15, 0.42, layer, "white", size=9, edge=_COLORS["style"])
        _arrow(ax, (x, _LANES["generated"]), (x, _STYLE_Y + 0.21), color=_COLORS["style"])
        _arrow(ax, (x, _LANES["painting"]), (x, _STYLE_Y - 0.21), color=_COLORS["style"])
    first = _layer_x(PAPER_STYLE_LAYERS[0])
    ax.text(first - 0.12, (_LANES["generated"] + _STYLE_Y) / 2 - 0.2, "G", ha="right", fontsize=10,
            color=_COLORS["style"], weight="bold")
    ax.text(first - 0.12, _STYLE_Y - 0.6, "A", ha="right", fontsize=10,
            color=_COLORS["style"], weight="bold")
    _arrow(ax, (_layer_x(PAPER_STYLE_LAYERS[-1]) + 0.58, _STYLE_Y), (11.4, _STYLE_Y), color=_COLORS["style"])
    _box(ax, 12.55, _STYLE_Y, 2.3, 1.25, "style loss\nmean over 5 layers of\n‖G − A‖² / ‖A‖²", "white", size=10,
         edge=_COLORS["style"])
    ax.text(_BLOCK_X + 2 * _BLOCK_STEP, 0.25, "G, A: Gram matrices (channel x channel products, divided by H·W)",
            ha="center", va="center", fontsize=9.5, color=_COLORS["style"])

    # The weighted sum, and its gradient back to the pixels.
    _box(ax, 15.3, _LANES["generated"], 2.0, 1.2, "total loss\ncontent\n+ β · style", "#fff6bf", size=10,
         weight="bold")
    _arrow(ax, (13.7, _CONTENT_Y), (14.75, _LANES["generated"] + 0.62), color=_COLORS["content"], rad=-0.25)
    _arrow(ax, (13.7, _STYLE_Y), (14.75, _LANES["generated"] - 0.62), color=_COLORS["style"], rad=0.25)
    ax.text(14.2, 5.8, "× 1", fontsize=10, color=_COLORS["content"], ha="left")
    ax.text(14.2, 3.0, "× β", fontsize=10, color=_COLORS["style"], ha="left")
    ax.text(15.6, _LANES["generated"] - 0.75, "β: the style weight", fontsize=9, ha="center", va="top")
    grad_y = _LANES["generated"] - 0.28
    _arrow(ax, (14.3, grad_y), (2.1, grad_y), color=_COLORS["grad"], width=2.2, dashed=True, zorder=5)
    ax.text(12.55, grad_y + 0.08, "gradient ∂L/∂x", fontsize=10, color=_COLORS["grad"], ha="center",
            va="bottom", weight="bold", zorder=6)
    ax.text(1.05, (_LANES["photo"] + _LANES["generated"]) / 2 + 0.05,
            "L-BFGS changes\nthe pixels; the\nnetwork never\nchanges",
            fontsize=9.5, color=_COLORS["grad"], ha="center", va="center")
    fig.tight_layout()
    return fig
