"""The command line end to end at a tiny size, and its one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.images import read_metadata

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
    if "vgg16-hed" in run.stdout:  # offline, as in CI
        assert "could not be downloaded" in run.stdout or "could not be loaded" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["missing.jpg", "swirls", "-o", "o.png"], "no such file"),
    (["chelsea", "swirls", "-o", "o.gif"], "must end in .png"),
    (["chelsea", "swirls", "-o", "o.png", "--size", "zero"], "--size"),
    (["chelsea", "swirls", "-o", "o.png", "--style-layers", "relu1_1,conv9_1"], "unknown layer name(s) conv9_1"),
    (["chelsea", "swirls", "-o", "o.png", "--backbone", "alexnet"], "invalid choice"),
    (["chelsea", "swirls"], "-o OUTPUT"),
    (["chelsea", "swirls", "-o", "o.png", "--device", "cuda:7"], "device"),
    (["--recipe", "images/chelsea.png", "-o", "o.png"], "holds no style-transfer recipe"),
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
