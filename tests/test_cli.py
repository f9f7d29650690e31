"""The command line end to end at a tiny size, and its one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.io.images import read_metadata

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, env=None):
    environment = {**os.environ, "NST_BACKBONE": "vgg16-hed", **(env or {})}
    return subprocess.run([sys.executable, "-m", "helpers", *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=300)


def test_stylize_end_to_end_and_rerun_the_recipe(tmp_path):
    out = tmp_path / "cat.png"
    run = cli("chelsea", "swirls", "-o", out, "--size", 48, "--steps", 4, "--style-weight", 20, "--seed", 5)
    assert run.returncode == 0, run.stderr
    assert "backbone: vgg16-hed" in run.stdout and "wrote" in run.stdout
    recipe = json.loads(read_metadata(out)["style-transfer-recipe"])
    assert recipe["content"] == "chelsea" and recipe["style"] == "swirls"
    assert recipe["style_weight"] == 20 and recipe["seed"] == 5 and recipe["size"] == 48

    again = tmp_path / "again.png"
    rerun = cli("--recipe", out, "-o", again, "--steps", 2, "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    recipe2 = json.loads(read_metadata(again)["style-transfer-recipe"])
    assert recipe2["steps"] == 2 and recipe2["style_weight"] == 20 and recipe2["seed"] == 5


def test_offline_automatic_choice_says_why(tmp_path):
    env = {"NST_BACKBONE": "", "TORCH_HOME": str(tmp_path / "torch")}
    run = cli("chelsea", "mosaic", "-o", tmp_path / "o.jpg", "--size", 32, "--steps", 1, "--quiet", env=env)
    assert run.returncode == 0, run.stderr
    if "vgg19" not in run.stdout:  # offline, as in CI: the ImageNet VGG16, saying why
        assert "backbone: vgg16-imagenet" in run.stdout, run.stdout
        assert "could not be downloaded" in run.stdout or "could not be loaded" in run.stdout


def test_without_o_the_result_goes_to_the_output_folder_and_never_replaces_one(tmp_path):
    env = {"NST_OUTPUT_DIR": str(tmp_path)}
    for expected in ("chelsea_in_swirls.png", "chelsea_in_swirls-2.png"):
        run = cli("chelsea", "swirls", "--size", 32, "--steps", 1, "--quiet", env=env)
        assert run.returncode == 0, run.stderr
        assert (tmp_path / expected).is_file() and expected in run.stdout


def test_default_output_names_files_and_urls_by_their_stem(tmp_path, monkeypatch):
    from helpers.__main__ import default_output

    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    assert default_output("photos/my cat.jpg", "https://example.org/art/The%20Wave.JPG?x=1").name == \
        "my_cat_in_The_20Wave.png"
    assert default_output("tubingen", "starry_night") == tmp_path / "tubingen_in_starry_night.png"


@pytest.mark.parametrize("args, message", [
    (["missing.jpg", "swirls", "-o", "o.png"], "no such file"),
    (["chelsea", "swirls", "-o", "o.gif"], "must end in .png"),
    (["chelsea", "swirls", "-o", "o.png", "--size", "zero"], "--size"),
    (["chelsea", "swirls", "-o", "o.png", "--style-layers", "relu1_1,conv9_1"], "unknown layer name(s) conv9_1"),
    (["chelsea", "swirls", "-o", "o.png", "--backbone", "alexnet"], "invalid choice"),
    (["chelsea"], "give CONTENT and STYLE"),
    (["chelsea", "swirls", "-o", "o.png", "--device", "cuda:7"], "device"),
    (["--recipe", "images/chelsea.png", "-o", "o.png"], "holds no style-transfer recipe"),
    (["file://photo.jpg", "swirls", "-o", "o.png"], "only http:// and https:// addresses"),
    (["chelsea", "swirls", "-o", "o.png", "--content-weight", "0", "--style-weight", "0"], "nothing to optimise"),
    (["chelsea", "swirls", "-o", "o.png", "--lr", "-1"], "above 0"),
    (["chelsea", "swirls", "-o", "o.png", "--size", "7"], "--size: must be at least 8 pixels, got 7"),
    (["chelsea", "swirls", "-o", "o.png", "--style-blend", "1,2"], "--style-blend needs one weight per style image, 1"),
    (["chelsea", "swirls", "-o", "o.png", "--style", "mosaic", "--style-blend", "0,0"],
     "--style-blend weights are all 0"),
])
def test_bad_input_gets_one_line_errors(tmp_path, args, message):
    args = [str(tmp_path / a) if a.startswith(("o.", "missing")) else a for a in args]
    run = cli(*args, "--steps", "1", "--size", "32")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not list(tmp_path.glob("o.*"))


def test_broken_image_file(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    run = cli(tmp_path / "broken.jpg", "swirls", "-o", tmp_path / "o.png")
    assert run.returncode == 2 and "broken.jpg" in run.stderr and "Traceback" not in run.stderr


def test_a_long_thin_photo_gets_a_clear_error(tmp_path):
    from PIL import Image

    Image.new("RGB", (400, 10), "orange").save(tmp_path / "strip.png")
    run = cli(tmp_path / "strip.png", "swirls", "-o", tmp_path / "o.png", "--size", 64, "--steps", 1)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "needs at least 16 px" in run.stderr and "larger size" in run.stderr
    assert not list(tmp_path.glob("o.*"))


def test_per_level_steps_for_another_number_of_levels_name_the_fix(tmp_path):
    run = cli("chelsea", "swirls", "-o", tmp_path / "o.png", "--size", 64, "--steps", "3,2,1")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "3 counts need 3 levels" in run.stderr and "--multiscale 3" in run.stderr


def test_a_thin_photo_too_small_only_at_a_coarse_level_names_the_way_out(tmp_path):
    from PIL import Image

    Image.new("RGB", (400, 8), "orange").save(tmp_path / "strip.png")
    # At 800 px the photo is 800 x 16, wide enough; the preset's first level (200 x 4 px) is not.
    run = cli(tmp_path / "strip.png", "swirls", "-o", tmp_path / "o.png", "--size", 800, "--steps", 1)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "coarse level" in run.stderr and "--multiscale 1" in run.stderr


def test_an_existing_output_is_kept_unless_overwrite_is_given(tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"an earlier result")
    run = cli("chelsea", "swirls", "-o", out, "--size", 32, "--steps", 1)
    assert run.returncode == 2 and "already exists" in run.stderr and "--overwrite" in run.stderr
    assert "backbone:" not in run.stdout  # refused before any work
    assert out.read_bytes() == b"an earlier result"
    run = cli("chelsea", "swirls", "-o", out, "--size", 32, "--steps", 1, "--overwrite", "--quiet")
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_an_unwritable_output_fails_before_the_work(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    run = cli("chelsea", "swirls", "-o", tmp_path / "a_file" / "o.png", "--size", 32, "--steps", 1)
    assert run.returncode == 2 and "cannot write to" in run.stderr and "a_file is a file, not a folder" in run.stderr
    assert "backbone:" not in run.stdout  # stopped before loading the network


@pytest.mark.parametrize("role", ["content", "style", "recipe"])
def test_the_output_may_not_overwrite_an_input(tmp_path, role):
    from PIL import Image, PngImagePlugin

    photo = tmp_path / "photo.png"
    recipe = PngImagePlugin.PngInfo()
    recipe.add_text("style-transfer-recipe", json.dumps({"content": "chelsea", "style": "swirls"}))
    Image.new("RGB", (64, 48), "teal").save(photo, pnginfo=recipe)
    before = photo.read_bytes()
    args = {"content": [photo, "swirls"], "style": ["chelsea", photo], "recipe": ["--recipe", photo]}[role]
    # The same file reached by another spelling of its path is caught too.
    run = cli(*args, "-o", tmp_path / "." / "photo.png", "--size", 32, "--steps", 1)
    assert run.returncode == 2 and "is also an input" in run.stderr and "Traceback" not in run.stderr
    assert photo.read_bytes() == before


def test_a_recipe_whose_style_blend_does_not_fit_is_named_as_the_recipes(tmp_path):
    from PIL import Image, PngImagePlugin

    recipe = PngImagePlugin.PngInfo()
    settings = {"content": "chelsea", "style": "swirls", "style_blend": [1, 2]}
    recipe.add_text("style-transfer-recipe", json.dumps(settings))
    Image.new("RGB", (8, 8)).save(tmp_path / "recipe.png", pnginfo=recipe)
    run = cli("--recipe", tmp_path / "recipe.png", "-o", tmp_path / "o.png", "--size", 32, "--steps", 1)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "recipe.png: the recipe's --style-blend needs one weight per style image, 1 here" in run.stderr
    assert not (tmp_path / "o.png").exists()


def test_the_output_may_not_overwrite_a_bundled_image():
    bundled = ROOT / "images" / "chelsea.png"
    before = bundled.read_bytes()
    try:
        run = cli("chelsea", "swirls", "-o", bundled, "--size", 32, "--steps", 1)
        assert run.returncode == 2 and "is also an input" in run.stderr
        assert bundled.read_bytes() == before
    finally:  # should the guard ever fail, put the course's image back
        if bundled.read_bytes() != before:
            bundled.write_bytes(before)


def test_a_failed_save_after_the_run_keeps_the_result(tmp_path, monkeypatch, capsys):
    from helpers import __main__ as cli_module
    from helpers.transfer import TransferResult

    monkeypatch.setattr(cli_module.tempfile, "gettempdir", lambda: str(tmp_path / "rescue"))
    (tmp_path / "rescue").mkdir()
    real_save = TransferResult.save

    def save_fails_for_the_output(self, path, **options):
        if Path(path).parent == tmp_path / "out":
            raise OSError(28, "No space left on device")
        return real_save(self, path, **options)

    monkeypatch.setattr(TransferResult, "save", save_fails_for_the_output)
    code = cli_module.main(["chelsea", "swirls", "-o", str(tmp_path / "out" / "o.webp"), "--size", "32",
                            "--steps", "1", "--quiet", "--backbone", "vgg16-hed"])
    error = capsys.readouterr().err
    assert code == 2 and "No space left on device" in error and "saved to" in error
    rescued = list((tmp_path / "rescue").glob("style-transfer-*.webp"))
    assert len(rescued) == 1 and rescued[0].stat().st_size > 0


@pytest.mark.parametrize("has_bf16", [True, False])
def test_auto_precision_uses_bf16_only_where_the_cpu_has_it_and_says_so(tmp_path, monkeypatch, capsys, has_bf16):
    from helpers import __main__ as cli_module
    from helpers import settings

    monkeypatch.setattr(settings, "cpu_has_bf16", lambda: has_bf16)
    out = tmp_path / "o.png"
    code = cli_module.main(["chelsea", "swirls", "-o", str(out), "--size", "32", "--steps", "1", "--quiet",
                            "--backbone", "vgg16-hed", "--device", "cpu"])
    printed = capsys.readouterr().out
    assert code == 0
    recipe = json.loads(read_metadata(out)["style-transfer-recipe"])
    assert recipe["precision"] == ("bf16" if has_bf16 else "fp32")
    assert ("precision: bf16" in printed) == has_bf16


def test_bf16_where_it_is_emulated_is_said_once(tmp_path, monkeypatch, capsys):
    from helpers import __main__ as cli_module
    from helpers import settings

    monkeypatch.setattr(settings, "cpu_has_bf16", lambda: False)
    code = cli_module.main(["chelsea", "swirls", "-o", str(tmp_path / "o.png"), "--size", "32", "--steps", "1",
                            "--quiet", "--backbone", "vgg16-hed", "--device", "cpu", "--precision", "bf16"])
    assert code == 0
    assert capsys.readouterr().err.count("bf16 is emulated") == 1


@pytest.mark.parametrize("suffix", [".webp", ".tif"])
def test_other_output_formats(tmp_path, suffix):
    from PIL import Image

    out = tmp_path / f"o{suffix}"
    run = cli("chelsea", "swirls", "-o", out, "--size", 32, "--steps", 1, "--quiet")
    assert run.returncode == 0, run.stderr
    with Image.open(out) as image:
        assert image.size == (32, 21)


def test_list_images():
    run = cli("--list-images")
    assert run.returncode == 0 and "chelsea" in run.stdout and "starry_night" in run.stdout


def test_control_options_end_to_end(tmp_path):
    from PIL import Image

    Image.new("L", (64, 43), 255).save(tmp_path / "all.png")
    Image.new("L", (64, 43), 0).save(tmp_path / "none.png")
    out = tmp_path / "multi.png"
    run = cli("chelsea", "swirls", "--style", "mosaic", "--style-blend", "2,1", "--mask", tmp_path / "all.png",
              "--mask", tmp_path / "none.png", "--preserve-colors", "histogram", "--multiscale", 2,
              "--size", 48, "--steps", 2, "--quiet", "-o", out)
    assert run.returncode == 0, run.stderr
    assert "4 steps" in run.stdout  # 2 levels x 2 steps
    recipe = json.loads(read_metadata(out)["style-transfer-recipe"])
    assert recipe["scales"] == 2 and recipe["preserve_colors"] == "histogram"
    assert recipe["extra_styles"] == ["mosaic"] and recipe["style_blend"] == [2.0, 1.0]
    bad = cli("chelsea", "swirls", "--mask", tmp_path / "all.png", "--mask", tmp_path / "none.png",
              "-o", tmp_path / "o.png", "--size", 32, "--steps", 1)
    assert bad.returncode == 2 and "one mask per style" in bad.stderr


def test_the_help_defaults_and_choices_are_the_librarys():
    import inspect

    from helpers import color, optimizers, run_options, settings
    from helpers.__main__ import build_parser
    from helpers.transfer import StyleTransfer

    library = run_options.defaults()
    run_signature = inspect.signature(StyleTransfer.run).parameters
    assert not set(library) & set(run_signature)  # run() takes RunOptions' fields as **options: no second default
    assert all(f"\n        {name}={default!r}: " in StyleTransfer.run.__doc__ for name, default in library.items())
    actions = {action.dest: action for action in build_parser()._actions}
    given = {dest: action.default for dest, action in actions.items() if dest in library}
    # Every method option the command line defaults is the library's default; the others default to
    # None: "the preset's" (presets.py), or the device's for the size.
    assert given == {name: library[name] if given[name] is not None else None for name in given}
    assert {name for name, value in given.items() if value is not None} == {
        "content_weight", "optimizer", "seed", "preserve_colors"}
    assert actions["precision"].default == settings.CLI_PRECISION
    assert inspect.signature(StyleTransfer).parameters["precision"].default == settings.PRECISION
    network = run_options.defaults(run_options.NetworkOptions)
    assert not set(network) & set(inspect.signature(StyleTransfer).parameters)  # taken as **network: no second default
    assert network["pooling"] == settings.POOLING
    assert all(f"\n    {name}={default!r}: " in StyleTransfer.__doc__ for name, default in network.items())
    assert all(actions[name].default is None for name in ("content_layers", "style_layers", "pooling"))  # the preset's
    choices = {"init": run_options.INITS, "optimizer": tuple(optimizers.OPTIMIZERS),
               "preserve_colors": color.PRESERVE_COLORS, "pooling": settings.POOLINGS,
               "precision": ("auto",) + settings.PRECISIONS}
    assert {name: tuple(actions[name].choices) for name in choices} == choices
    help_text = " ".join(build_parser().format_help().split())
    for name in optimizers.OPTIMIZERS:
        assert f"{optimizers.default_lr(name):g} for {name}" in help_text
    assert f"{settings.FULL_SIZE['cpu']} on a CPU" in help_text


def test_every_run_option_is_offered_with_the_fields_name_help_and_type():
    """The command line's method options are built from RunOptions' fields: a field added there (with
    its help) is an option here, and one marked Python-only is not."""
    from dataclasses import fields

    from helpers import run_options
    from helpers.__main__ import build_parser

    actions = {action.dest: action for action in build_parser()._actions}
    offered = run_options.command_line_fields()
    assert [f.name for f in fields(run_options.RunOptions) if f not in offered] == ["lbfgs_history"]
    network = run_options.command_line_fields(run_options.NetworkOptions)
    assert [f.name for f in fields(run_options.NetworkOptions) if f not in network] == ["style_layer_weights",
                                                                                          "style_loss"]
    for option in offered + network:
        action = actions[option.name]
        assert action.help.startswith(option.metadata["help"])
        assert getattr(action.type, "__wrapped__", None) is option.metadata["parse"]  # the field's own reader
        assert action.option_strings == [option.metadata["flag"] or "--" + option.name.replace("_", "-")]
        assert ("the preset's" in action.help) == option.metadata["preset"]
        assert (action.default is None) == (option.metadata["preset"] or option.default is None)
    assert actions["scales"].option_strings == ["--multiscale"]  # the one renamed for the command line
    with pytest.raises(SystemExit):
        build_parser().parse_args(["a", "b", "--style-weight", "-1"])  # the field's parse: non-negative


def test_a_coarse_level_that_converges_does_not_shrink_the_result(tmp_path, capsys):
    """Issue 14's bug: L-BFGS converging on the coarse level (no style: a zero gradient at the photo)
    ended the whole run, and the command line wrote a 32 px picture for --size 64 and exited 0."""
    from PIL import Image

    from helpers import __main__ as cli_module

    out = tmp_path / "o.png"
    code = cli_module.main(["chelsea", "wave", "-o", str(out), "--size", "64", "--multiscale", "2", "--steps", "10",
                            "--style-weight", "0", "--preset", "paper", "--quiet", "--backbone", "vgg16-hed",
                            "--device", "cpu", "--precision", "fp32"])
    assert code == 0, capsys.readouterr().err
    with Image.open(out) as image:
        assert max(image.size) == 64


def test_a_run_stopped_before_its_first_step_writes_nothing(tmp_path, monkeypatch, capsys):
    import torch

    from helpers import __main__ as cli_main
    from helpers.transfer import StopReason, TransferResult

    def stopped_at_once(*args, **kwargs):
        return TransferResult(torch.zeros(1, 3, 8, 8), [], StopReason.INTERRUPTED, "interrupted after 0 steps", 0, {})

    monkeypatch.setattr(cli_main, "stylize", stopped_at_once)
    out = tmp_path / "o.png"
    assert cli_main.main(["chelsea", "swirls", "-o", str(out), "--size", "32"]) == cli_main.EXIT_STOPPED_EARLY
    assert not out.exists()
    assert "nothing was written" in capsys.readouterr().err


def test_library_messages_name_python_options_and_the_command_line_names_its_flags():
    """Only the command line speaks in flags: the library says scales=1, the command line --multiscale 1."""
    from helpers.__main__ import in_flags
    from helpers.run_options import RunOptions

    with pytest.raises(ValueError) as info:
        RunOptions(steps=[3, 2, 1])
    assert "scales=3" in str(info.value) and "--" not in str(info.value)
    assert "3 counts need 3 levels: --multiscale 3" in in_flags(info.value)
    assert in_flags("raise style_scale; style_scale=1 paints it") == "raise style_scale; --style-scale 1 paints it"
    assert in_flags("(scales=1, or preset='paper')") == "(--multiscale 1, or --preset paper)"
    assert in_flags("a scales of 2 and tv_weight=0.5") == "a scales of 2 and --tv-weight 0.5"
