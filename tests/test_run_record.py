"""The stop reason: a level that is done and a run that is stopped are different values."""

import json

import pytest
import torch

from helpers.run_record import BudgetSpent, RunRecord, StopReason


def test_stop_reasons_compare_print_and_save_as_their_plain_values():
    values = {"finished", "converged", "interrupted", "not finite", "out of memory"}
    assert {reason.value for reason in StopReason} == values
    for reason in StopReason:
        assert reason == reason.value and str(reason) == reason.value and f"{reason}" == reason.value
        assert json.loads(json.dumps({"stopped": reason})) == {"stopped": reason.value}
        assert StopReason(reason.value) is reason


def test_only_a_stopped_run_ends_the_coarse_to_fine_levels():
    assert not StopReason.FINISHED.ends_run and not StopReason.CONVERGED.ends_run  # this level only
    assert all(r.ends_run for r in (StopReason.INTERRUPTED, StopReason.NOT_FINITE, StopReason.OUT_OF_MEMORY))


def test_the_record_keeps_each_levels_best_image_and_its_budget():
    record = RunRecord(total_steps=3, progress=False)
    record.start_level(size=32, steps=2)
    for loss in (2.0, 1.0):
        record.before_evaluation()
        record.after_evaluation(torch.full((1, 3, 2, 2), loss), {"total": torch.tensor(loss)})
    assert record.best_step == 2 and record.best_image.max().item() == 1.0 and record.steps_left() == 0
    with pytest.raises(BudgetSpent):
        record.before_evaluation()
    record.stopped = StopReason.CONVERGED
    record.start_level(size=64, steps=1)  # a new level: a fresh best image, and the run goes on
    assert record.stopped is StopReason.FINISHED and record.best_image is None and record.steps_left() == 1
    assert [h["size"] for h in record.history] == [32, 32]


def test_an_optimiser_is_one_function_chosen_by_name(transfer, tiny_pair, monkeypatch):
    from helpers import optimizers

    assert set(optimizers.OPTIMIZERS) >= {"lbfgs", "adam"}
    assert optimizers.default_lr("lbfgs") == 1.0 and optimizers.default_lr("adam") == 0.02
    calls = []

    def plain_descent(image, evaluate, record, lr: float = 0.1) -> StopReason:
        while record.steps_left() > 0:
            image.grad = None
            evaluate()
            calls.append(lr)
            with torch.no_grad():
                image -= lr * image.grad.sign() / 255
        return StopReason.FINISHED

    monkeypatch.setitem(optimizers.OPTIMIZERS, "plain_descent", plain_descent)  # what @register does
    result = transfer.run(*tiny_pair, steps=3, optimizer="plain_descent", progress=False)
    assert calls == [0.1] * 3 and len(result.history) == 3 and result.recipe["optimizer"] == "plain_descent"
