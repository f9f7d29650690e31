"""The method diagram names every part of the method: the layers, the two losses, the sum, the gradient."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from helpers import PAPER_CONTENT_LAYERS, PAPER_STYLE_LAYERS  # noqa: E402
from helpers.course import diagram


def test_diagram_has_the_method_labels():
    fig = diagram.draw_method_diagram()
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
        text = "\n".join(texts)
        for layer in (*PAPER_CONTENT_LAYERS, *PAPER_STYLE_LAYERS):
            assert texts.count(layer) == 1, f"{layer} should be drawn once"
        for label in ("photo", "painting", "generated image x", "content loss", "style loss", "total loss",
                      "gradient", "Gram matrices"):
            assert label in text, label
        assert "relu4_1" in texts and "relu4_2" in texts  # a style layer and the content layer, both in block 4
        assert sum(t.startswith("block ") for t in texts) == 5
        assert len(fig.axes[0].patches) > 30  # boxes, blocks and arrows were drawn
    finally:
        plt.close(fig)
