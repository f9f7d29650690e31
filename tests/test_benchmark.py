"""The benchmark's FLOP count, checked against PyTorch's own counter (the GFLOP/s column depends on it)."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers.layers import FeatureExtractor

spec = importlib.util.spec_from_file_location("benchmark", Path(__file__).resolve().parent.parent / "benchmarks" /
                                              "benchmark.py")
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)


@pytest.mark.parametrize("deepest, height, width", [("relu5_1", 64, 48), ("relu3_1", 40, 40)])
def test_forward_flops_match_torchs_counter(hed, deepest, height, width):
    extractor = FeatureExtractor(hed, [deepest], pooling="avg")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        extractor(torch.rand(1, 3, height, width))
    ours = benchmark.conv_flops(hed.features, hed.layer_names, deepest, height, width)
    assert ours == pytest.approx(counter.get_total_flops(), rel=1e-6)


def test_step_counts_forward_backward_and_gram(hed):
    from helpers.losses import gram_matrix

    layers = ["relu1_1", "relu5_1"]
    features = FeatureExtractor(hed, layers, pooling="avg")(torch.rand(1, 3, 64, 64))
    with FlopCounterMode(display=False) as counter:
        for name in layers:
            gram_matrix(features[name].detach())
    forward = benchmark.conv_flops(hed.features, hed.layer_names, "relu5_1", 64, 64)
    # forward + input-gradient backward of the convolutions, and each Gram's product plus its two in the backward
    expected = 2 * forward + 3 * counter.get_total_flops()
    assert benchmark.step_flops(hed, ["relu5_1"], layers, 64, 64) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("extra", [
    {"flags": {"cudnn_benchmark": False, "tf32": True, "channels_last": True}, "transfer": {"precision": "bf16"}},
    {"lean": {"graph": True}},  # the CUDA graph is CUDA-only: on a CPU the same lean step runs uncaptured
    {"baseline": True, "baseline_options": {"frozen": True, "targets_once": True}},
])
def test_the_gpu_switches_also_run_on_a_cpu(extra):
    import warnings

    config = dict(backbone="vgg16-hed", optimizer="adam", size=32, device="cpu", warmup=1, repeats=2, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = benchmark.measure_step(config)
    assert row["seconds_per_step"] > 0 and row["gflops"] > 0
    torch.backends.cudnn.benchmark = False  # leave global switches as they were
    torch.backends.cuda.matmul.allow_tf32 = False
