"""The loop lowers the loss, honours its options, survives Ctrl-C and NaN, and quick mode changes only numbers."""

import math

import pytest
import torch

import helpers
from helpers import settings
from helpers.objective import LossWeights, Objective
from helpers.transfer import StyleTransfer


def test_lbfgs_lowers_the_total_loss(transfer, tiny_pair):
    content, style = tiny_pair
    result = transfer.run(content, style, steps=12, progress=False)
    totals = [h["total"] for h in result.history]
    assert result.stopped == "finished" and len(totals) == 12
    assert min(totals) < 0.7 * totals[0]
    assert result.image.shape == content.shape and 0 <= result.image.min() and result.image.max() <= 1
    assert result.best_step == 1 + totals.index(min(totals))
    assert not torch.equal(result.image, content)


@pytest.mark.parametrize("init", ["content", "noise", "style"])
def test_adam_lowers_the_loss_from_every_init(transfer, tiny_pair, init):
    content, style = tiny_pair
    result = transfer.run(content, style, steps=15, optimizer="adam", init=init, lr=0.05, progress=False)
    totals = [h["total"] for h in result.history]
    assert len(totals) == 15 and min(totals[-3:]) < totals[0]


def test_tiny_losses_do_not_stop_lbfgs_early(transfer, tiny_pair):
    """With PyTorch's default tolerances L-BFGS quits after one evaluation when losses are tiny."""
    content, style = tiny_pair
    result = transfer.run(content, style, steps=10, content_weight=1e-9, style_weight=1e-8, progress=False)
    assert len(result.history) == 10


def test_callback_every_k_steps_and_ctrl_c(transfer, tiny_pair):
    content, style = tiny_pair
    seen = []

    def callback(step, image, losses):
        seen.append((step, image.shape, sorted(losses)))
        if step == 6:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a run

    with pytest.warns(UserWarning, match="interrupted after 6 steps"):
        result = transfer.run(content, style, steps=50, callback=callback, callback_every=3, progress=False)
    assert [s for s, _, _ in seen] == [3, 6]
    assert seen[0][1] == content.shape and seen[0][2] == ["content", "style", "total"]
    assert result.stopped == "interrupted" and len(result.history) == 6
    assert result.image.shape == content.shape


def test_ctrl_c_at_a_coarse_level_says_the_picture_is_smaller(transfer):
    def callback(step, image, losses):
        raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted after 2 steps.*32 px level's picture, smaller than the 64 px"):
        result = transfer.run("chelsea", "swirls", size=64, scales=2, steps=[4, 4], callback=callback,
                              callback_every=2, progress=False)
    assert result.stopped == "interrupted" and max(result.image.shape[-2:]) == 32


def test_ctrl_c_between_two_levels_keeps_the_coarse_levels_picture(transfer, monkeypatch):
    made = []
    objective = transfer.objective

    def objective_interrupted_at_the_second_level(*args, **kwargs):
        made.append(args[0].shape)
        if len(made) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the 64 px level's targets are computed
        return objective(*args, **kwargs)

    monkeypatch.setattr(transfer, "objective", objective_interrupted_at_the_second_level)
    with pytest.warns(UserWarning, match="interrupted while preparing the 64 px level: returning the 32 px level's"):
        result = transfer.run("chelsea", "swirls", size=64, scales=2, steps=[3, 3], progress=False)
    assert result.stopped == "interrupted" and max(result.image.shape[-2:]) == 32 and len(result.history) == 3


def test_ctrl_c_before_any_level_is_painted_reaches_the_caller(transfer, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(transfer, "objective", interrupted)
    with pytest.raises(KeyboardInterrupt):
        transfer.run("chelsea", "swirls", size=64, scales=2, steps=[3, 3], progress=False)


def test_levels_that_would_repeat_the_smallest_size_are_warned_about(transfer):
    with pytest.warns(UserWarning, match="first 2 all run at 32 px; at this size ask for at most 2 levels"):
        result = transfer.run("chelsea", "swirls", size=64, scales=3, steps=1, progress=False)
    assert [h["size"] for h in result.history] == [32, 32, 64]


def test_nan_stops_with_a_clear_message(transfer, tiny_pair, monkeypatch):
    from helpers.objective import Objective

    content, style = tiny_pair
    real = Objective.__call__

    def nan_loss(self, image):  # a loss that becomes NaN (a NaN weight itself is refused before the run)
        terms = real(self, image)
        return {**terms, "total": terms["total"] * math.nan}

    monkeypatch.setattr(Objective, "__call__", nan_loss)
    with pytest.warns(UserWarning, match="loss became nan.*before any step was done. Lower the weights"):
        result = transfer.run(content, style, steps=5, progress=False)
    assert result.stopped == "not finite" and result.history == []
    torch.testing.assert_close(result.image, content)  # nothing better was made: the start is returned


def test_total_variation_term_and_layer_weights(hed, tiny_pair):
    content, style = tiny_pair
    transfer = StyleTransfer(hed, style_layers=["relu1_1", "relu2_1"], style_layer_weights=[0.7, 0.3], device="cpu")
    result = transfer.run(content, style, steps=3, tv_weight=5.0, progress=False)
    assert "tv" in result.history[0] and result.history[0]["tv"] > 0
    assert transfer.style_layer_weights == {"relu1_1": 0.7, "relu2_1": 0.3}
    assert result.recipe["style_layers"] == ["relu1_1", "relu2_1"] and result.recipe["tv_weight"] == 5.0


def test_same_seed_same_result(transfer, tiny_pair):
    content, style = tiny_pair
    a = transfer.run(content, style, steps=4, init="noise", seed=3, progress=False).image
    b = transfer.run(content, style, steps=4, init="noise", seed=3, progress=False).image
    torch.testing.assert_close(a, b)


def test_style_scale_and_size(transfer):
    result = transfer.run("chelsea", "mosaic", size=48, steps=2, style_scale=0.5, progress=False)
    assert result.image.shape == (1, 3, 32, 48) and result.recipe["size"] == 48


def test_bad_options(transfer, tiny_pair):
    content, style = tiny_pair
    for bad in (dict(optimizer="sgd"), dict(init="zeros"), dict(steps=0)):
        with pytest.raises(ValueError):
            transfer.run(content, style, progress=False, **bad)


def test_save_stores_the_recipe(transfer, tiny_pair, tmp_path):
    import json

    result = transfer.run(*tiny_pair, steps=2, seed=7, progress=False)
    path = result.save(tmp_path / "out.png")
    recipe = json.loads(helpers.io.images.read_metadata(path)["style-transfer-recipe"])
    assert recipe["seed"] == 7 and recipe["backbone"] == "vgg16-hed" and recipe["steps"] == 2


def test_quick_mode_changes_only_numbers(monkeypatch):
    monkeypatch.delenv(settings.QUICK_ENV, raising=False)
    full = (settings.default_size("cpu"), settings.default_steps("cpu"), settings.pick(100, 5))
    monkeypatch.setenv(settings.QUICK_ENV, "1")
    quick = (settings.default_size("cpu"), settings.default_steps("cpu"), settings.pick(100, 5))
    assert full == (256, 150, 100) and quick == (settings.QUICK_SIZE, settings.QUICK_STEPS, 5)
    assert settings.quick_mode()


def test_default_size_and_steps_used_by_run(transfer, monkeypatch):
    monkeypatch.setenv(settings.QUICK_ENV, "1")
    result = transfer.run("chelsea", "swirls", progress=False)
    assert max(result.image.shape[-2:]) == settings.QUICK_SIZE and len(result.history) == settings.QUICK_STEPS


def test_device_choice(monkeypatch):
    monkeypatch.delenv(settings.DEVICE_ENV, raising=False)
    assert settings.choose_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None:
        assert settings.choose_device("auto").type in ("cpu", "mps")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            settings.choose_device("cuda")
    monkeypatch.setenv(settings.DEVICE_ENV, "cpu")
    assert settings.choose_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        settings.choose_device("gpu0")


def test_out_of_memory_keeps_the_best_image(transfer, tiny_pair):
    def exhaust(step, image, losses):
        if step == 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.warns(UserWarning, match="out of memory at 40 px after 3 steps.*smaller size"):
        result = transfer.run(*tiny_pair, steps=10, callback=exhaust, callback_every=1, progress=False)
    assert result.stopped == "out of memory" and len(result.history) == 3
    assert result.image.shape == tiny_pair[0].shape


def test_a_size_that_does_not_fit_in_memory_is_refused_before_running(transfer, tiny_pair, monkeypatch):
    assert settings.available_memory_mb("cpu") is None or settings.available_memory_mb("cpu") > 0
    monkeypatch.setattr(settings, "available_memory_mb", lambda device: 50.0)  # 50 MB free
    with pytest.raises(ValueError, match=r"needs about .* GB of memory.*at most \d+ px"):
        transfer.run(*tiny_pair, size=512, steps=1, progress=False)
    result = transfer.run(*tiny_pair, size=64, steps=1, progress=False)  # 64x51 px needs about 12 MB
    assert result.image.shape[-1] == 64
    # The style image goes forward alone at size x style_scale: a large scale is refused on its own.
    with pytest.raises(ValueError, match=r"the style image at \d+x\d+ px .* at most [\d.]+$"):
        transfer.run(*tiny_pair, size=64, style_scale=6, steps=1, progress=False)


def test_bf16_convolutions_follow_the_fp32_loss_curve(hed, tiny_pair):
    import warnings

    runs = {}
    for precision in ("fp32", "bf16"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the no-bf16-units warning, on CPUs without them
            transfer = StyleTransfer(hed, device="cpu", verbose=False, precision=precision)
        features = transfer.features(tiny_pair[0])
        assert all(f.dtype == torch.float32 for f in features.values()), "Gram and losses must see float32"
        runs[precision] = transfer.run(*tiny_pair, steps=8, optimizer="adam", progress=False)
    fp32, bf16 = ([h["total"] for h in runs[p].history] for p in ("fp32", "bf16"))
    assert bf16[-1] < 0.8 * bf16[0], "bf16 must still optimise"
    assert all(math.isclose(a, b, rel_tol=0.05) for a, b in zip(fp32, bf16)), (fp32, bf16)
    assert runs["bf16"].recipe["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision"):
        StyleTransfer(hed, device="cpu", verbose=False, precision="fp16")


def test_bf16_falls_back_to_fp32_for_images_too_large_for_it_on_a_cpu(hed, tiny_pair, monkeypatch):
    import warnings

    from helpers import speed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-bf16-units warning, on CPUs without them
        bf16 = StyleTransfer(hed, device="cpu", verbose=False, precision="bf16")
    fp32 = StyleTransfer(hed, device="cpu", verbose=False)
    image = tiny_pair[0]
    monkeypatch.setattr(speed, "BF16_CPU_MAX_PIXELS", image.shape[-2] * image.shape[-1] - 1)
    with pytest.warns(UserWarning, match="too large for bf16 convolutions.*runs in fp32"):
        large = bf16.features(image)
    expected = fp32.features(image)

    def largest_relative_difference(features):
        return max(float((features[name] - expected[name]).abs().max() / expected[name].abs().max())
                   for name in expected)

    # fp32 all the way (the channels-last kernels may round differently from the default layout's)...
    assert largest_relative_difference(large) < 1e-5
    monkeypatch.setattr(speed, "BF16_CPU_MAX_PIXELS", image.shape[-2] * image.shape[-1])
    small = bf16.features(image)  # ...where at the limit it is bf16, with 8-bit mantissas
    assert largest_relative_difference(small) > 1e-3


def test_container_memory_limits_are_read(tmp_path):
    cgroup = tmp_path / "sys" / "fs" / "cgroup"
    cgroup.mkdir(parents=True)
    assert settings.cgroup_room_mb(tmp_path) is None  # no cgroup files: no limit known
    (cgroup / "memory.max").write_text("max\n")
    (cgroup / "memory.current").write_text(str(2**30))
    assert settings.cgroup_room_mb(tmp_path) is None  # v2 without a limit
    (cgroup / "memory.max").write_text(str(4 * 2**30))
    assert settings.cgroup_room_mb(tmp_path) == 3 * 1024  # 4 GiB limit, 1 GiB used
    v1 = tmp_path / "v1" / "sys" / "fs" / "cgroup" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(str(2 * 2**30))
    (v1 / "memory.usage_in_bytes").write_text(str(2**29))
    assert settings.cgroup_room_mb(tmp_path / "v1") == 1536


def test_bf16_on_a_cpu_runs_a_channels_last_copy_of_the_network(hed, tiny_pair):
    """oneDNN's fast bf16 kernels need channels-last tensors; the shared backbone must stay as it was."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-bf16-units warning, on CPUs without them
        bf16 = StyleTransfer(hed, device="cpu", verbose=False, precision="bf16")
    fp32 = StyleTransfer(hed, device="cpu", verbose=False)
    convolutions = [m for m in bf16.extractor.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convolutions)
    assert all(m.weight.is_contiguous() for m in fp32.extractor.modules() if isinstance(m, torch.nn.Conv2d))
    assert all(m.weight.is_contiguous() for m in hed.features if isinstance(m, torch.nn.Conv2d))
    features = bf16.features(tiny_pair[0])
    assert all(f.dtype == torch.float32 for f in features.values())


def test_bf16_loop_on_a_cpu_reads_bf16_features_at_float32_loss(hed, tiny_pair):
    """On a CPU the objective reads the bf16 activations without float32 copies (the Gram matrices sum
    in float32, see test_losses); its loss must match the one computed from float32 copies."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-bf16-units warning, on CPUs without them
        bf16 = StyleTransfer(hed, device="cpu", verbose=False, precision="bf16")
    content, style = (image[..., :64, :64] for image in tiny_pair)
    assert all(f.dtype == torch.bfloat16 for f in bf16._loss_features(content).values())
    objective = bf16.objective(content, [style], LossWeights())
    image = (content + 0.1 * torch.rand_like(content)).clamp(0, 1)
    terms = objective(image)
    assert all(value.dtype == torch.float32 for value in terms.values())
    copies = Objective(bf16.features, objective.terms)(image)  # the same terms, read from float32 copies
    assert math.isclose(float(terms["total"]), float(copies["total"]), rel_tol=1e-2)
