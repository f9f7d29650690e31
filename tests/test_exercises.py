"""The exercise checks: right answers pass, trivial or wrong ones do not, unanswered ones say so without raising;
and every digest stored in a notebook is the digest of the answer the course's code gives today."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

import helpers
from helpers import check_answer, receptive_fields
from helpers.course.exercises import answer_digest, check_hashed, check_that
from helpers.layers import make_vgg_features
from helpers.run_options import RunOptions

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TRIVIAL_ANSWERS = [0, 1, 5, 0.5, 0.99, -1, 100, [0], [], "", "anything"]


def test_check_answer_messages(capsys):
    check_answer(None, 3, "E1")
    check_answer(3.0, 3, "E2")
    check_answer(torch.ones(2, 2), np.ones((2, 2)), "E3")
    check_answer([1, 2], [1, 3], "E4")
    check_answer(torch.ones(3), torch.ones(2), "E5")
    check_answer("three", 3, "E6")
    check_answer(2.5, 3, "E7")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("E1: not answered yet")
    assert out[1] == "E2: correct!" and out[2] == "E3: correct!"
    assert out[3].startswith("E4: not yet - differs") and out[4].startswith("E5: not yet - the shape")
    assert out[5].startswith("E6: the answer should be a number")
    assert out[6] == "E7: not yet - try again."  # a single number: how far off would give the answer away


def test_receptive_fields_of_vgg19():
    fields = receptive_fields(make_vgg_features("vgg19"))
    assert fields["conv1_1"] == (3, 1) and fields["pool1"] == (6, 2) and fields["relu3_1"] == (24, 4)
    assert fields["conv4_2"] == (84, 8) and fields["pool5"] == (268, 32)


def _verdict(capsys, answer, digest, decimals=0):
    check_hashed(answer, digest, "E", decimals=decimals)
    return capsys.readouterr().out.strip()


def test_check_hashed_accepts_the_answer_and_refuses_others(capsys):
    digest = answer_digest(24)
    assert _verdict(capsys, 24, digest) == "E: correct!"
    assert _verdict(capsys, torch.tensor(24), digest) == "E: correct!"
    assert _verdict(capsys, np.int64(24), digest) == "E: correct!"
    for wrong in [23, 25, 0, 5, 240, "24 px"]:
        assert _verdict(capsys, wrong, digest).startswith("E: not yet"), wrong
    assert "24" not in _verdict(capsys, 23, digest)  # the refusal does not leak the answer


def test_check_hashed_rounds_with_a_tolerance_of_about_one_unit(capsys):
    digest = answer_digest(1 / 3, decimals=2)  # "0.33"
    for close in [1 / 3, 0.33, 0.3337, 0.3351, 0.3249]:  # 0.3351 rounds to 0.34: it must not fail on a boundary
        assert _verdict(capsys, close, digest, decimals=2) == "E: correct!", close
    for far in [0.3, 0.35, 0.5, 0.0, 1.0, 0.25]:
        assert _verdict(capsys, far, digest, decimals=2).startswith("E: not yet"), far


def test_check_hashed_words_and_lists(capsys):
    assert _verdict(capsys, "  VGG19-random ", answer_digest("vgg19-random")) == "E: correct!"
    assert _verdict(capsys, "vgg19", answer_digest("vgg19-random")).startswith("E: not yet")
    levels = answer_digest([32, 48, 96])
    assert _verdict(capsys, (32, 48, 96), levels) == "E: correct!"
    assert _verdict(capsys, torch.tensor([32, 48, 96]), levels) == "E: correct!"
    for wrong in [[96, 48, 32], [24, 48, 96], [32, 48], 96]:  # order matters; the floor at 32 is the point
        assert _verdict(capsys, wrong, levels).startswith("E: not yet"), wrong


def test_unanswered_and_unreadable_answers_do_not_raise(capsys):
    assert _verdict(capsys, None, answer_digest(1)).startswith("E: not answered yet")
    assert _verdict(capsys, object(), answer_digest(1)).startswith("E: the answer should be")
    check_that(None, lambda a: 1 / 0, "E")
    assert capsys.readouterr().out.startswith("E: not answered yet")
    check_that(0, lambda a: 1 / a > 0, "E")  # a check that fails on the answer reports, does not raise
    assert capsys.readouterr().out.startswith("E: the answer could not be checked")


def test_check_that_uses_the_property(capsys):
    def smallest_power_that_works(scale):  # works from 1e-4 up, as in notebook 09
        return scale >= 1e-4 and not scale / 10 >= 1e-4

    for answer, verdict in [(1e-4, "E: correct!"), (1e-3, "E: not yet - try again."), (1.0, "E: not yet - try again."),
                            (1e-5, "E: not yet - try again.")]:
        check_that(answer, smallest_power_that_works, "E")
        assert capsys.readouterr().out.strip() == verdict, answer


def _stored_checks():
    """(notebook, exercise, digest, decimals) for every check_hashed call in the committed notebooks."""
    pattern = re.compile(r'check_hashed\(\s*\w+,\s*"([0-9a-f]+)",\s*"([^"]+)"(?:,\s*decimals=(\d+))?\s*\)')
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for digest, exercise, decimals in pattern.findall("".join(cell["source"])):
                found.append((path.name[:2], exercise, digest, int(decimals or 0)))
    return found


def _final_level_share(size=384, scales=3):
    """Notebook 07: the final level's share of a coarse-to-fine run's time, if a step cost its pixels."""
    sides = RunOptions(size=size, scales=scales).level_sizes()
    return sides[-1] ** 2 / sum(side**2 for side in sides)


def _blend_share(transfer, tiny_pair):
    content, style = tiny_pair
    result = transfer.run(content, [style, style.flip(-1)], style_blend=[2, 6], size=40, steps=1, progress=False)
    return result.recipe["style_blend"][0]


def _tiling_factors():
    a, b = torch.rand(1, 5, 4, 3), torch.rand(1, 5, 4, 3)
    raw = lambda f: helpers.gram_matrix(f, "none")  # noqa: E731
    squared = lambda x, y: ((raw(x) - raw(y)) ** 2).sum()  # noqa: E731
    paper = lambda x, y: squared(x, y) / (4 * x.shape[1] ** 2 * (x.shape[2] * x.shape[3]) ** 2)  # noqa: E731
    tile = lambda f: f.repeat(1, 1, 2, 2)  # noqa: E731
    return [(squared(tile(a), tile(b)) / squared(a, b)).item(), (paper(tile(a), tile(b)) / paper(a, b)).item()]


@pytest.fixture
def true_answers(transfer, tiny_pair, hed):
    """Each hashed exercise's answer, computed with the course's code (a change there must update the notebook)."""
    vgg19 = make_vgg_features("vgg19")
    mid_grey = helpers.backbones.CaffeNormalize()(torch.full((1, 3, 1, 1), 0.5)).flatten().tolist()
    relu5_1 = helpers.FeatureExtractor(hed, ["relu5_1"])(torch.rand(1, 3, 100, 100))["relu5_1"]  # odd sides floor
    noise_seed = torch.Generator().manual_seed(0)
    left_column = torch.tensor([[2.0, 0.0], [2.0, 0.0]]).view(1, 1, 2, 2)  # notebook 06: a mask keeps it
    return {
        ("01", "Exercise 2"): helpers.layer_names(torchvision.models.vgg16(weights=None).features).index("conv5_1"),
        ("02", "Exercise 2"): relu5_1.shape[-2] * relu5_1.shape[-1],
        ("03", "Exercise 2"): _tiling_factors(),
        ("05", "Exercise 2"): helpers.total_variation_loss(torch.rand(1, 3, 512, 512, generator=noise_seed)).item(),
        ("06", "Exercise 1"): helpers.gram_matrix(left_column, mask=(left_column > 0).float()).item(),
        ("06", "Exercise 2"): _blend_share(transfer, tiny_pair),
        ("07", "Exercise 1"): (768 / 192) ** 2,
        ("07", "Exercise 2"): _final_level_share(),
        ("08", "Exercise 2"): helpers.layer_names(vgg19).index("relu5_1") + 1,
        ("09", "Exercise 2"): mid_grey,
    }


def _later_answers():
    """Each hashed exercise's answer in notebooks 10 and 11 (optional), computed with the course's code."""
    wave_width, wave_height = helpers.load_pil("wave").size
    return {
        ("10", "Exercise 1"): receptive_fields(make_vgg_features("vgg16"))["relu3_1"][0],
        ("11", "Exercise 1"): (1536 / helpers.feedforward.CONTENT_SIDE) ** 2,
        ("11", "Exercise 2"): min(wave_width, wave_height) / wave_width,
    }


def test_later_notebook_digests_match_the_course_code(capsys):
    stored = [check for check in _stored_checks() if check[0] > "09"]
    answers = _later_answers()
    assert {(nb, ex) for nb, ex, _, _ in stored} == set(answers)
    for notebook, exercise, digest, decimals in stored:
        check_hashed(answers[notebook, exercise], digest, exercise, decimals=decimals)
        assert capsys.readouterr().out.strip() == f"{exercise}: correct!", (notebook, exercise)
        for trivial in TRIVIAL_ANSWERS:
            check_hashed(trivial, digest, exercise, decimals=decimals)
            assert "correct!" not in capsys.readouterr().out, (notebook, exercise, trivial)


# Answers that come from a full run rather than from the code: checked by reading the committed outputs instead.
FROM_A_RUN = {("08", "Exercise 1")}


def test_notebook_digests_match_the_course_code(true_answers, capsys):
    stored = [check for check in _stored_checks() if check[0] <= "09"]  # later notebooks test their own
    assert {(nb, ex) for nb, ex, _, _ in stored} == set(true_answers) | FROM_A_RUN
    for notebook, exercise, digest, decimals in stored:
        if (notebook, exercise) in FROM_A_RUN:
            continue
        check_hashed(true_answers[notebook, exercise], digest, exercise, decimals=decimals)
        assert capsys.readouterr().out.strip() == f"{exercise}: correct!", (notebook, exercise)
        for trivial in TRIVIAL_ANSWERS:
            check_hashed(trivial, digest, exercise, decimals=decimals)
            assert "correct!" not in capsys.readouterr().out, (notebook, exercise, trivial)


def test_lowest_loss_digest_matches_notebook_08s_committed_table():
    cells = json.loads((NOTEBOOKS / "08_backbones_and_pooling.ipynb").read_text(encoding="utf-8"))["cells"]
    digest = next(d for nb, ex, d, _ in _stored_checks() if (nb, ex) == ("08", "Exercise 1"))
    row = re.compile(r"^(?:backbone|pooling|style layers)\s+(.+?)\s+[0-9.]+\s+[0-9.]+\s+([0-9.]+)\s+[0-9.]+\s*$", re.M)
    totals = {}
    for cell in cells:
        for output in cell.get("outputs", []):
            totals.update({variant: float(total) for variant, total in row.findall("".join(output.get("text", "")))})
    assert len(totals) >= 5, "notebook 08's table of losses was not found in its committed outputs"
    assert answer_digest(min(totals, key=totals.get)) == digest


def test_committed_exercise_cells_are_unanswered():
    for path in sorted(NOTEBOOKS.glob("0[1-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or not re.search(r"check_(answer|hashed|that)\(", source):
                continue
            text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
            assert "correct!" not in text and "not answered yet" in text, (path.name, source[:60])
