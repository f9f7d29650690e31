"""Hostile inputs and faults (issue 13): recipes treated as untrusted input, results never lost to
SIGTERM or a Ctrl-C during the save, and no silent replacement of what was asked for."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image, PngImagePlugin

from helpers import __main__ as cli_module
from helpers import run_inputs
from helpers.io.images import read_metadata
from helpers.transfer import StyleTransfer, TransferResult

ROOT = Path(__file__).resolve().parent.parent


def _recipe_png(path: Path, recipe, size=(32, 24)) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("style-transfer-recipe", recipe if isinstance(recipe, str) else json.dumps(recipe))
    Image.new("RGB", size, "teal").save(path, pnginfo=info)
    return path


@pytest.fixture
def fake_stylize(monkeypatch):
    """Replace the optimisation by a stub that records what the command line asked for."""
    calls = []

    def stylize(content, style, **options):
        calls.append(options)
        return TransferResult(torch.rand(1, 3, 8, 8), [{"step": 1, "total": 1.0, "seconds": 0.1}],
                              recipe={"seed": options.get("seed")})

    monkeypatch.setattr(cli_module, "stylize", stylize)
    return calls


def _main(*args):
    return cli_module.main([str(a) for a in args])


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    return lines[0]


BASE = {"content": "chelsea", "style": "swirls", "steps": 7, "style_weight": 20, "size": 32, "seed": 5}


# ------------------------------------------------------------------------------ recipes are untrusted
def test_a_recipe_cannot_choose_the_output(tmp_path, fake_stylize, capsys):
    elsewhere = tmp_path / "elsewhere.png"
    png = _recipe_png(tmp_path / "r.png", {**BASE, "output": str(elsewhere), "quiet": False, "device": "cuda:7"})
    assert _main("--recipe", png, "-o", tmp_path / "mine.png") == 0
    assert (tmp_path / "mine.png").exists() and not elsewhere.exists()
    assert "ignoring recipe entries that do not describe the method: device, output, quiet" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--steps", "2"], ["--step", "2"], ["--steps=2"], ["--ste=2"]])
def test_an_option_on_the_command_line_wins_however_it_is_spelled(tmp_path, fake_stylize, option):
    png = _recipe_png(tmp_path / "r.png", BASE)
    assert _main("--recipe", png, "-o", tmp_path / "o.png", *option, "--style-w", "3") == 0
    assert fake_stylize[0]["steps"] == 2 and fake_stylize[0]["style_weight"] == 3
    assert fake_stylize[0]["seed"] == 5 and fake_stylize[0]["size"] == 32  # the rest from the recipe


def test_recipe_lists_are_replaced_not_extended_by_the_command_line(tmp_path, fake_stylize):
    png = _recipe_png(tmp_path / "r.png", {**BASE, "extra_styles": ["mosaic"], "style_blend": [2, 1]})
    assert _main("--recipe", png, "-o", tmp_path / "o.png", "--style", "strokes") == 0
    assert fake_stylize[0]["style_blend"] == [2.0, 1.0]
    assert cli_module.read_recipe(png)["extra_styles"] == ["mosaic"]
    recipe = json.loads(read_metadata(tmp_path / "o.png")["style-transfer-recipe"])
    assert recipe["extra_styles"] == ["strokes"]


@pytest.mark.parametrize("entry, message", [
    ({"style_weight": -3}, "argument --style-weight: must be a finite number >= 0, got -3"),
    ({"style_weight": "lots"}, "expected a number, got 'lots'"),
    ({"style_weight": [1, 2]}, "expected a number, got '1,2'"),
    ({"style_weight": {"a": 1}}, "style_weight: expected a value, not {\"a\": 1}"),
    ({"steps": True}, "steps: expected a value, not true"),
    ({"seed": -1}, "must be between 0 and"),
    ({"lr": 0}, "argument --lr: must be greater than 0"),
    ({"pooling": "median"}, "invalid choice: 'median'"),
    ({"content": 3}, "content: expected an image name, path or URL, not 3"),
    ({"masks": "mask.png"}, "masks: expected a list of image names"),
    ({"style_weight": float("nan")}, "must be a finite number >= 0, got nan"),
])
def test_recipe_values_are_checked_as_the_options_are(tmp_path, fake_stylize, capsys, entry, message):
    png = _recipe_png(tmp_path / "r.png", {**BASE, **entry})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 2
    line = _error(capsys)
    assert str(png) in line and "the recipe holds a value the command line refuses" in line and message in line
    assert not fake_stylize and not (tmp_path / "o.png").exists()


def test_a_bad_recipe_value_given_again_on_the_command_line_is_still_checked(tmp_path, fake_stylize, capsys):
    png = _recipe_png(tmp_path / "r.png", {**BASE, "style_weight": -3})
    assert _main("--recipe", png, "-o", tmp_path / "o.png", "--style-weight", "4") == 2  # one code path
    assert "must be a finite number >= 0" in _error(capsys)


def test_errors_are_one_printable_line_whatever_the_recipe_holds(tmp_path, fake_stylize, capsys):
    png = _recipe_png(tmp_path / "r.png", {**BASE, "content": "\x1b[2J\x1b]0;owned\x07line\nbreak.png"})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 2
    note, line = capsys.readouterr().err.strip().splitlines()  # the recipe's images are named, then the error
    assert note.startswith("note: the recipe names the images: CONTENT ?[2J?]0;owned?line break.png")
    assert line.startswith("error:") and "?[2J?]0;owned?line break.png: no such file" in line
    assert not any(c in note + line for c in "\x1b\x07")


def test_null_entries_take_the_defaults(tmp_path, fake_stylize):
    png = _recipe_png(tmp_path / "r.png", {**BASE, "lr": None, "style_blend": None, "masks": None, "tv_weight": None})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 0
    assert fake_stylize[0]["lr"] is None and fake_stylize[0]["masks"] is None


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "its recipe is a JSON list, not an object of settings"),
    ("null", "its recipe is a JSON NoneType"),
    ("{not json", "its recipe is not valid JSON"),
    ("[" * 100_000, "its recipe is not valid JSON"),
])
def test_recipes_that_are_not_objects(tmp_path, fake_stylize, capsys, text, message):
    png = _recipe_png(tmp_path / "r.png", text)
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 2
    assert message in _error(capsys)


@pytest.mark.parametrize("entry, message, fix", [
    ({"style_layer_weights": {"relu1_1": 2.0, "relu2_1": 1.0}}, "weights its style layers individually", None),
    ({"init": "image"}, "started from an image passed from Python", ["--init", "noise"]),
    ({"masks": True}, "masks passed from Python, not files", "mask"),
])
def test_what_the_command_line_cannot_reproduce_is_refused(tmp_path, fake_stylize, capsys, entry, message, fix):
    png = _recipe_png(tmp_path / "r.png", {**BASE, **entry})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 2
    assert message in _error(capsys) and not fake_stylize
    if fix == "mask":
        Image.new("L", (32, 24), 255).save(tmp_path / "white.png")
        fix = ["--mask", tmp_path / "white.png"]
    if fix:  # given explicitly, the option replaces what could not be reproduced
        assert _main("--recipe", png, "-o", tmp_path / "o.png", *fix) == 0


def test_a_recipe_without_image_names_says_so(tmp_path, fake_stylize, capsys):
    png = _recipe_png(tmp_path / "r.png", {k: v for k, v in BASE.items() if k != "style"})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 2
    assert "the recipe names no STYLE image" in _error(capsys)
    assert _main("chelsea", "mosaic", "--recipe", png, "-o", tmp_path / "o.png") == 0


def test_a_recipe_png_that_declares_a_huge_image_is_one_line(tmp_path, fake_stylize, capsys):
    bomb = _recipe_png(tmp_path / "bomb.png", BASE, size=(20000, 20000))
    assert _main("--recipe", bomb, "-o", tmp_path / "o.png") == 2
    assert "decompression bomb" in _error(capsys)
    big = _recipe_png(tmp_path / "big.png", BASE, size=(11000, 10000))
    assert _main("--recipe", big, "-o", tmp_path / "o.png") == 2
    assert "declares 11000 x 10000 pixels" in _error(capsys)
    assert _main("--recipe", tmp_path / "missing.png", "-o", tmp_path / "o.png") == 2
    assert "no such file" in _error(capsys)


def test_every_option_is_either_part_of_a_recipe_or_not():
    dests = {action.dest for action in cli_module.build_parser()._actions}
    assert dests <= set(cli_module.RECIPE_OPTIONS) | set(cli_module.NOT_RECIPE_OPTIONS)
    assert "output" not in cli_module.RECIPE_OPTIONS


# ------------------------------------------------------------------------- no silent replacements
def test_lr_zero_and_a_bad_seed_are_errors_not_defaults(tmp_path, fake_stylize, capsys):
    with pytest.raises(SystemExit):
        _main("chelsea", "swirls", "-o", tmp_path / "o.png", "--lr", "0")
    assert "--lr: must be greater than 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _main("chelsea", "swirls", "-o", tmp_path / "o.png", "--seed", "-1")
    assert "--seed: must be between 0 and 4294967295" in capsys.readouterr().err


def test_lr_zero_from_python_is_an_error(transfer, tiny_pair):
    with pytest.raises(ValueError, match="must be a number above 0, not 0"):
        transfer.run(*tiny_pair, steps=1, lr=0, progress=False)


def test_blend_weights_near_the_float_limit_keep_their_ratio(transfer, tiny_pair):
    content, style = tiny_pair
    result = transfer.run(content, [style, "mosaic"], style_blend=[1e308, 1e308], steps=1, progress=False)
    assert result.recipe["style_blend"] == [0.5, 0.5]
    assert result.history[0]["style"] > 0
    with pytest.raises(ValueError, match="style_blend"):
        transfer.run(content, [style, "mosaic"], style_blend=[float("inf"), 1], steps=1, progress=False)


def test_black_masks_are_a_warning_or_an_error(transfer, tiny_pair):
    content, style = tiny_pair
    h, w = content.shape[-2:]
    with pytest.raises(ValueError, match="every mask is black"):
        transfer.run(content, [style, "mosaic"], masks=[torch.zeros(h, w), torch.zeros(h, w)], steps=1,
                     progress=False)
    with pytest.raises(ValueError, match="the mask is black"):
        transfer.run(content, style, masks=[torch.zeros(h, w)], steps=1, progress=False)
    with pytest.warns(UserWarning, match="mask 2 is black everywhere: style 2 is not used"):
        transfer.run(content, [style, "mosaic"], masks=[torch.ones(h, w), torch.zeros(h, w)], steps=1,
                     progress=False)


def test_a_mask_with_transparent_areas_says_they_count_as_white(transfer, tiny_pair, tmp_path):
    content, style = tiny_pair
    h, w = content.shape[-2:]
    painted = Image.new("RGBA", (w, h), (0, 0, 0, 255))
    painted.paste((0, 0, 0, 0), (0, 0, w // 2, h))  # the left half transparent: composited, it is white
    painted.save(tmp_path / "mask.png")
    Image.new("RGB", (w, h), (255, 255, 255)).save(tmp_path / "white.png")
    with pytest.warns(UserWarning, match="mask 2 has transparent areas: they count as white, so style 2") as seen:
        transfer.run(content, [style, "mosaic"], masks=[tmp_path / "white.png", tmp_path / "mask.png"], steps=1,
                     progress=False)
    assert [Path(w.filename).name for w in seen if "transparent" in str(w.message)] == ["test_hostile.py"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an opaque mask: no warning
        transfer.run(content, [style, "mosaic"], masks=[tmp_path / "white.png", tmp_path / "white.png"], steps=1,
                     progress=False)


def test_the_output_may_be_a_symbolic_link(tmp_path, fake_stylize, capsys):
    target = tmp_path / "kept" / "result.png"
    target.parent.mkdir()
    link = tmp_path / "latest.png"
    link.symlink_to(target)  # dangling until the first run
    assert _main("chelsea", "swirls", "-o", link, "--steps", 1) == 0
    assert link.is_symlink() and target.read_bytes()[:4] == b"\x89PNG"
    assert "appeared" not in capsys.readouterr().err
    with pytest.raises(SystemExit):  # taken now: --overwrite needed
        _main("chelsea", "swirls", "-o", link, "--steps", 1)
    assert "already exists" in capsys.readouterr().err
    before = target.read_bytes()
    assert _main("chelsea", "swirls", "-o", link, "--steps", 1, "--overwrite") == 0
    assert link.is_symlink() and target.read_bytes() != before  # written through the link, which stays
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    with pytest.raises(SystemExit):  # a loop leads nowhere: refused before the run, not saved beside
        _main("chelsea", "swirls", "-o", tmp_path / "a.png", "--steps", 1)
    assert "loops back on itself" in capsys.readouterr().err and not (tmp_path / "a-2.png").exists()


def test_uint8_mask_tensors_are_scaled():
    mask = run_inputs.mask_tensor(torch.full((4, 4), 128, dtype=torch.uint8))
    torch.testing.assert_close(mask, torch.full((1, 1, 4, 4), 128 / 255))


# --------------------------------------------------------------------------------- results never lost
def test_ctrl_c_during_the_save_does_not_lose_the_result(tmp_path, fake_stylize, monkeypatch, capsys):
    real_save = TransferResult.save

    def save_interrupted(self, path, **options):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the file is being written
        time.sleep(0.05)
        return real_save(self, path, **options)

    monkeypatch.setattr(TransferResult, "save", save_interrupted)
    before = signal.getsignal(signal.SIGINT)
    assert _main("chelsea", "swirls", "-o", tmp_path / "o.png") == 0
    captured = capsys.readouterr()
    assert (tmp_path / "o.png").exists() and "wrote" in captured.out
    assert "written completely first" in captured.err and "nothing was written" not in captured.err
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are put back


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])
def test_sigterm_saves_the_best_image_like_ctrl_c(tmp_path, stop):
    if not hasattr(signal, stop):
        pytest.skip(f"no {stop} here")
    out = tmp_path / "o.png"
    env = {**os.environ, "NST_BACKBONE": "vgg16-hed", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "helpers", "chelsea", "swirls", "-o", str(out), "--size", "48",
                                "--steps", "5000", "--device", "cpu", "--precision", "fp32"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        seen = b""
        deadline = time.monotonic() + 240
        # Wait until the progress bar shows a step done: the optimisation is under way.
        while not re.search(rb"\| *[1-9]\d*/5000", seen) and time.monotonic() < deadline:
            chunk = os.read(process.stderr.fileno(), 1024)
            if not chunk:
                break
            seen += chunk
        assert re.search(rb"\| *[1-9]\d*/5000", seen), seen.decode(errors="replace")
        process.send_signal(getattr(signal, stop))
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, (stdout, stderr)
    assert out.exists() and b"wrote" in stdout and b"interrupted after" in seen + stderr


def test_ctrl_c_while_the_command_line_starts_is_one_line(tmp_path):
    """Ctrl-C while `python -m helpers` still imports torch: one line and exit status 130, no traceback."""
    out = tmp_path / "o.png"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # -X importtime prints a line as each module is imported: a torch submodule's line means torch is loading.
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "helpers", "chelsea", "swirls", "-o",
                                str(out), "--size", "32", "--steps", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        seen = b""
        deadline = time.monotonic() + 120
        loading = re.compile(rb"\|\s+torch\.")
        while not loading.search(seen) and time.monotonic() < deadline:
            chunk = os.read(process.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        assert loading.search(seen), seen.decode(errors="replace")[-2000:]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    said = [line for line in stderr.decode(errors="replace").splitlines() if "import time:" not in line]
    assert process.returncode == 130, said
    assert said == ["interrupted while starting; nothing was written"]
    assert not out.exists()


def test_importing_helpers_leaves_ctrl_c_alone():
    """Only `python -m helpers` hands Ctrl-C to its start-up handler: a notebook or script keeps Python's."""
    code = "import signal, helpers; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.strip() == "True", result.stderr


def test_a_late_ctrl_c_does_not_replace_the_exit_status(monkeypatch, capsys):
    """A Ctrl-C that escapes main() (one more while the last line prints) exits with 130 and a word, not a
    traceback; after main() returns, Ctrl-C is ignored while Python shuts down, so main()'s status stands."""
    before = signal.getsignal(signal.SIGINT)

    def interrupted():
        raise KeyboardInterrupt

    try:
        monkeypatch.setattr(cli_module, "main", interrupted)
        with pytest.raises(SystemExit) as exit_:
            cli_module.run_and_exit()
        assert exit_.value.code == 130 and capsys.readouterr().err == "interrupted\n"
        monkeypatch.setattr(cli_module, "main", lambda: 3)
        with pytest.raises(SystemExit) as exit_:
            cli_module.run_and_exit()
        assert exit_.value.code == 3 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_output_made_during_the_run_is_kept(tmp_path, monkeypatch, capsys):
    """Another run (or anything) writes -o while this one paints: without --overwrite it is kept, and the
    result goes beside it, named in the error."""
    out = tmp_path / "o.png"
    real_stylize = cli_module.stylize

    def stylize_while_someone_writes_the_output(*args, **options):
        result = real_stylize(*args, **options)
        out.write_bytes(b"precious")
        return result

    monkeypatch.setattr(cli_module, "stylize", stylize_while_someone_writes_the_output)
    args = ("chelsea", "swirls", "-o", out, "--size", "32", "--steps", "1", "--quiet", "--backbone", "vgg16-hed")
    assert _main(*args) == 2
    error = capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    beside = tmp_path / "o-2.png"
    assert beside.is_file() and f"saved to {beside}" in error and "--overwrite" in error
    out.write_bytes(b"precious")  # with --overwrite it is replaced, as asked
    assert _main(*args, "--overwrite") == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_files_written_without_replace_never_replace(tmp_path):
    from helpers.io.files import atomic_file

    target = tmp_path / "t.bin"
    with atomic_file(target, replace=False) as f:
        f.write(b"first")
    with pytest.raises(FileExistsError), atomic_file(target, replace=False) as f:
        f.write(b"second")
    assert target.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["t.bin"]


def test_a_recipe_says_which_images_it_names(tmp_path, fake_stylize, capsys):
    png = _recipe_png(tmp_path / "r.png", {**BASE, "extra_styles": ["mosaic"]})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 0
    assert "note: the recipe names the images: CONTENT chelsea, STYLE swirls, --style mosaic" in capsys.readouterr().err
    assert _main("--recipe", png, "wave", "-o", tmp_path / "o2.png", "--style", "strokes") == 0  # given here
    assert "the recipe names the images: STYLE swirls\n" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--style-layers", "--content-layers"])
def test_a_run_without_layers_replays_from_its_recipe(tmp_path, fake_stylize, option):
    """What the command line wrote it reads back: a recipe with no style (or content) layers."""
    png = _recipe_png(tmp_path / "r.png", {**BASE, option[2:].replace("-", "_"): []})
    assert _main("--recipe", png, "-o", tmp_path / "o.png") == 0
    assert list(fake_stylize[0][option[2:].replace("-", "_")]) == []  # no layers (a tuple: the field's reader)


def test_a_file_named_like_a_registered_image_is_used_and_said(tmp_path, monkeypatch):
    from helpers.io import images

    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (40, 30), "red").save(tmp_path / "swirls", format="PNG")
    with pytest.warns(UserWarning, match="the file 'swirls' in the current folder is used, not the registered"):
        local = images.load_pil("swirls")
    assert local.size == (40, 30)
    (tmp_path / "chelsea").mkdir()  # a folder is no image: the registered photo is meant
    assert images.load_pil("chelsea").size == images.load_pil(images.gallery.image_path("chelsea")).size


@pytest.mark.parametrize("url, message", [("https://", "names no host"), ("http://[::1", "not a valid address"),
                                          ("http://x:abc/", "not a valid address")])
def test_malformed_addresses_are_named(url, message):
    from helpers.io.download import DownloadError, check_url

    with pytest.raises(DownloadError, match=message):
        check_url(url)


def test_a_broken_onnxruntime_is_a_clear_error(monkeypatch):
    """Installed but not importable (a wheel for another Python): the feed-forward network says what to do."""
    from helpers import feedforward

    if not feedforward.available():
        pytest.skip(feedforward.why_unavailable())
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` raise ImportError
    feedforward._session.cache_clear()
    try:
        with pytest.raises(feedforward.FeedForwardUnavailable, match="installed but cannot be imported"):
            feedforward._session("arbitrary_predict")
    finally:
        feedforward._session.cache_clear()


def test_odd_inputs_get_their_own_words(tmp_path, capsys):
    """A pipe is not an empty file; empty --steps entries are refused; a tiny style scale names itself."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert _main(fifo, "swirls", "-o", tmp_path / "o.png", "--size", "32", "--steps", "1") == 2
    assert "is not a regular file (a pipe or a device)" in _error(capsys)
    for steps in ("2,,2", ",2", "100,"):
        with pytest.raises(SystemExit):
            _main("chelsea", "swirls", "-o", tmp_path / "o.png", "--steps", steps)
        assert "an empty entry" in _error(capsys)
    assert _main("chelsea", "swirls", "-o", tmp_path / "o.png", "--size", "64", "--steps", "1", "--style-scale",
                 "0.01", "--backbone", "vgg16-hed", "--quiet") == 2
    message = "(style_scale 0.01 makes the painting 0.01 times the 64 px of this level: raise style_scale"
    assert message in _error(capsys)


def test_no_content_layers_is_said(tmp_path, fake_stylize, capsys):
    assert _main("chelsea", "swirls", "-o", tmp_path / "o.png", "--content-layers", "") == 0
    error = capsys.readouterr().err
    assert "note: no content layers (--content-layers is empty): nothing holds the photo's layout" in error


@pytest.mark.parametrize("device", ["xpu", "hpu", "meta"])
def test_devices_torch_names_but_the_tool_does_not_run_on_are_one_line(tmp_path, capsys, device):
    assert _main("chelsea", "swirls", "-o", tmp_path / "o.png", "--device", device) == 2
    assert f"device '{device}' is not one the command line runs on" in _error(capsys)


def test_an_animation_says_its_first_frame_is_used(tmp_path):
    from helpers.io import images

    frames = [Image.new("RGB", (24, 16), colour) for colour in ("red", "blue", "green")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    with pytest.warns(UserWarning, match="holds 3 frames or pages; the first is used"):
        first = images.load_pil(tmp_path / "a.gif")
    assert first.getpixel((0, 0))[0] > 200  # red: the first frame


def test_the_written_line_is_one_line_whatever_the_output_name(tmp_path, fake_stylize, capsys):
    out = tmp_path / "two\nlines.png"
    assert _main("chelsea", "swirls", "-o", out) == 0 and out.exists()
    written = [line for line in capsys.readouterr().out.splitlines() if line.startswith("wrote")]
    assert len(written) == 1 and "two lines.png" in written[0]  # the newline shown as a space


@pytest.mark.parametrize("weight", [{"tv_weight": -1.0}, {"style_weight": -10}, {"content_weight": float("nan")},
                                    {"style_weight": float("inf")}, {"style_weight": "10"}])
def test_a_negative_or_not_finite_weight_is_refused_before_the_run(transfer, tiny_pair, weight):
    content, style = tiny_pair
    name = next(iter(weight))
    with pytest.raises(ValueError, match=f"{name} must be a (finite )?number of at least 0"):
        transfer.run(content, style, steps=1, progress=False, **weight)


def test_negative_or_nan_style_layer_weights_are_refused():
    with pytest.raises(ValueError, match=r"style_layer_weights\['relu1_1'\] must be a finite number"):
        StyleTransfer("vgg16-hed", style_layer_weights=[-1, 1, 1, 1, 1], verbose=False)
    with pytest.raises(ValueError, match="must be a finite number"):
        StyleTransfer("vgg16-hed", style_layer_weights=[1, 1, float("nan"), 1, 1], verbose=False)


def test_integer_tensors_of_any_type_are_read_as_0_to_255():
    from helpers.io.images import ImageLoadError, load_image

    as_uint8 = load_image(torch.full((3, 6, 8), 200, dtype=torch.uint8))
    for dtype in (torch.int16, torch.int32, torch.int64):
        torch.testing.assert_close(load_image(torch.full((3, 6, 8), 200, dtype=dtype)), as_uint8)
    with pytest.raises(ImageLoadError, match="values from -3 to 1000: give uint8 values 0-255"):
        load_image(torch.tensor([[-3, 1000], [5, 6]]).expand(3, 2, 2))
