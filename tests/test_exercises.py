"""The exercise checker: right answers pass, wrong or unanswered ones say so, and nothing raises."""

import numpy as np
import torch

from helpers import check_answer, receptive_fields
from helpers.layers import make_vgg_features


def test_check_answer_messages(capsys):
    check_answer(None, 3, "E1")
    check_answer(3.0, 3, "E2")
    check_answer(torch.ones(2, 2), np.ones((2, 2)), "E3")
    check_answer([1, 2], [1, 3], "E4")
    check_answer(torch.ones(3), torch.ones(2), "E5")
    check_answer("three", 3, "E6")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("E1: not answered yet")
    assert out[1] == "E2: correct!" and out[2] == "E3: correct!"
    assert out[3].startswith("E4: not yet - differs") and out[4].startswith("E5: not yet - the shape")
    assert out[5].startswith("E6: the answer should be a number")


def test_receptive_fields_of_vgg19():
    fields = receptive_fields(make_vgg_features("vgg19"))
    assert fields["conv1_1"] == (3, 1) and fields["pool1"] == (6, 2) and fields["relu3_1"] == (24, 4)
    assert fields["conv4_2"] == (84, 8) and fields["pool5"] == (268, 32)
