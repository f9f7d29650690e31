"""The code-writing exercises (one per core notebook): a right function passes, each typical wrong one fails with
the words its checker promises, an unanswered one says so, and nothing raises or shows a traceback."""

import pytest
import torch
import torch.nn.functional as F

from helpers.backbones import CAFFE_MEAN_BGR, KERAS_CAFFE_MEAN_BGR
from helpers.course import exercises
from helpers.losses import gram_matrix


def _verdict(capsys, checker, answer, **kwargs) -> str:
    checker(answer, "E", **kwargs)
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "Traceback" not in out, out  # one line, never a traceback
    return out


def _assert_refused(capsys, checker, answer, phrase: str, **kwargs) -> None:
    out = _verdict(capsys, checker, answer, **kwargs)
    assert out.startswith("E: not yet - "), out
    assert phrase in out, out


# 01 - receptive field ------------------------------------------------------------------------------------------


def receptive_field(layers):
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


def field_without_jump(layers):
    field = 1
    for kernel, _ in layers:
        field += kernel - 1
    return field


def field_adds_k(layers):
    field, jump = 1, 1
    for kernel, stride in layers:
        field += kernel * jump
        jump *= stride
    return field


def field_stride_first(layers):
    field, jump = 1, 1
    for kernel, stride in layers:
        jump *= stride
        field += (kernel - 1) * jump
    return field


def field_from_zero(layers):
    return receptive_field(layers) - 1


def test_receptive_field_check(capsys):
    assert _verdict(capsys, exercises.check_receptive_field, receptive_field) == "E: correct!"
    assert _verdict(capsys, exercises.check_receptive_field, lambda layers: torch.tensor(receptive_field(layers))) \
        == "E: correct!"
    check = exercises.check_receptive_field
    _assert_refused(capsys, check, field_without_jump, "forgot to multiply the jump by the stride")
    _assert_refused(capsys, check, field_adds_k, "not k * jump")
    _assert_refused(capsys, check, field_stride_first, "update the jump before widening")
    _assert_refused(capsys, check, field_from_zero, "not 0")
    _assert_refused(capsys, check, lambda layers: (receptive_field(layers), 1), "return one number")
    _assert_refused(capsys, check, lambda layers: 268, "wrong for the layers")  # VGG19's pool5 for every input
    _assert_refused(capsys, check, lambda layers: layers[-1][0], "raised IndexError")  # fails on the empty list


# 02 - Caffe preprocessing --------------------------------------------------------------------------------------

MEAN = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)


def caffe_preprocess(rgb):
    return rgb[:, [2, 1, 0]] * 255 - MEAN


def test_caffe_preprocess_check(capsys):
    check = exercises.check_caffe_preprocess
    assert _verdict(capsys, check, caffe_preprocess) == "E: correct!"
    keras = torch.tensor(KERAS_CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    assert _verdict(capsys, check, lambda rgb: rgb.flip(1) * 255 - keras, mean_bgr=KERAS_CAFFE_MEAN_BGR) \
        == "E: correct!"
    _assert_refused(capsys, check, lambda rgb: rgb * 255 - MEAN, "still in R, G, B order")
    _assert_refused(capsys, check, lambda rgb: rgb.flip(1) - MEAN, "not scaled to 0-255")
    _assert_refused(capsys, check, lambda rgb: rgb.flip(1) * 255 - MEAN.flip(1), "subtracted in R, G, B order")
    _assert_refused(capsys, check, lambda rgb: rgb.flip(1) * 255, "mean pixel is not subtracted")
    _assert_refused(capsys, check, lambda rgb: rgb.flip(1) * 255 - keras, "another network's mean")
    _assert_refused(capsys, check, lambda rgb: rgb.flip(-1) * 255 - MEAN, "reversed the width")
    _assert_refused(capsys, check, lambda rgb: (rgb.flip(1) * 255 - MEAN)[0], "never the shape")
    _assert_refused(capsys, check, lambda rgb: rgb.mul_(255).flip(1) - MEAN, "changes its input in place")
    _assert_refused(capsys, check, lambda rgb: torch.tensor(caffe_preprocess(rgb).tolist()), "no gradient")
    _assert_refused(capsys, check, lambda rgb: caffe_preprocess(rgb).numpy(), "NumPy array")
    _assert_refused(capsys, check, lambda rgb: rgb.flip(1) * 255 - torch.tensor(CAFFE_MEAN_BGR), "raised RuntimeError")


# 03 - Gram matrix ----------------------------------------------------------------------------------------------


def gram(features):
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def gram_einsum(features):
    return torch.einsum("nchw,ndhw->ncd", features, features) / (features.shape[2] * features.shape[3])


def test_gram_matrix_check(capsys):
    check = exercises.check_gram_matrix
    assert _verdict(capsys, check, gram) == "E: correct!"
    assert _verdict(capsys, check, gram_einsum) == "E: correct!"
    _assert_refused(capsys, check, gram_matrix, "helpers.losses.gram_matrix itself")

    def unnormalised(x):
        return gram(x) * x.shape[2] * x.shape[3]

    def positions(x):
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        return flat.transpose(1, 2) @ flat / flat.shape[-1]

    def not_symmetric(x):
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        return flat @ flat.roll(1, dims=2).transpose(1, 2) / flat.shape[-1]

    _assert_refused(capsys, check, unnormalised, "not divided by H*W")
    _assert_refused(capsys, check, lambda x: gram(x) / x.shape[1], "divided by C*H*W")
    _assert_refused(capsys, check, positions, "positions x positions")
    _assert_refused(capsys, check, lambda x: gram(x)[0], "batch dimension is gone")
    _assert_refused(capsys, check, lambda x: gram(x).unsqueeze(0), "extra dimension")
    _assert_refused(capsys, check, lambda x: gram(x - x.mean(dim=(2, 3), keepdim=True)), "covariance")
    _assert_refused(capsys, check, not_symmetric, "not symmetric")
    _assert_refused(capsys, check, lambda x: gram(x.detach()), "no gradient")
    _assert_refused(capsys, check, lambda x: 2 * gram(x) - gram(x).detach(),
                    "gradient through your Gram matrix is not")  # right values, a doubled gradient
    fixed_sizes = lambda x: (lambda f: f @ f.transpose(1, 2) / 15)(x.view(1, 4, 15))  # right for the first shape only
    _assert_refused(capsys, check, fixed_sizes, "raised RuntimeError")
    _assert_refused(capsys, check, fixed_sizes, "from features.shape")


# 04 - style loss -----------------------------------------------------------------------------------------------


def style(features, target_grams):
    terms = [(gram_matrix(features[name]) - target).pow(2).sum() / target.pow(2).sum()
             for name, target in target_grams.items()]
    return sum(terms) / len(terms)


def test_style_loss_check(capsys):
    check = exercises.check_style_loss
    assert _verdict(capsys, check, style) == "E: correct!"

    def summed(features, targets):
        return style(features, targets) * len(targets)

    def absolute(features, targets):
        return sum((gram_matrix(features[n]) - a).pow(2).sum() for n, a in targets.items()) / len(targets)

    def tutorial(features, targets):
        return sum(F.mse_loss(gram_matrix(features[n]), a) for n, a in targets.items()) / len(targets)

    def over_all_features(features, targets):
        return style(features, targets) * len(targets) / len(features)

    def by_current(features, targets):
        return sum((gram_matrix(features[n]) - a).pow(2).sum() / gram_matrix(features[n]).pow(2).sum()
                   for n, a in targets.items()) / len(targets)

    def loops_over_features(features, targets):
        return sum((gram_matrix(f) - targets[n]).pow(2).sum() for n, f in features.items())

    _assert_refused(capsys, check, summed, "the layers are summed")
    _assert_refused(capsys, check, absolute, "must be relative")
    _assert_refused(capsys, check, tutorial, "mean squared error")
    _assert_refused(capsys, check, over_all_features, "includes the content layer")
    _assert_refused(capsys, check, by_current, "current image's ||G||^2")
    _assert_refused(capsys, check, lambda f, t: style(f, t) * len(t) / 5, "fixed 5")
    _assert_refused(capsys, check, lambda f, t: {n: style(f, {n: a}) for n, a in t.items()}, "returned a dict")
    _assert_refused(capsys, check, lambda f, t: style(f, t).item(), "Python number")
    _assert_refused(capsys, check, lambda f, t: style({n: x.detach() for n, x in f.items()}, t), "no gradient")
    _assert_refused(capsys, check, loops_over_features, "loop over the style layers")


# 05 - the L-BFGS closure ---------------------------------------------------------------------------------------


def make_closure(optimizer, image, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(image)
        loss.backward()
        return loss
    return closure


def closure_maker(body):
    """make_closure with ``body(optimizer, image, loss_fn)`` as its closure's code."""
    return lambda optimizer, image, loss_fn: (lambda: body(optimizer, image, loss_fn))


def no_zero_grad(optimizer, image, loss_fn):
    loss = loss_fn(image)
    loss.backward()
    return loss


def no_backward(optimizer, image, loss_fn):
    optimizer.zero_grad()
    return loss_fn(image)


def returns_nothing(optimizer, image, loss_fn):
    optimizer.zero_grad()
    loss_fn(image).backward()


def returns_float(optimizer, image, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    return loss.item()


def steps_inside(optimizer, image, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step(lambda: loss)
    return loss


def clamps_inside(optimizer, image, loss_fn):
    with torch.no_grad():
        image.clamp_(0, 1)
    return make_closure(optimizer, image, loss_fn)()


def test_closure_check(capsys):
    check = exercises.check_closure
    assert _verdict(capsys, check, make_closure) == "E: correct!"
    _assert_refused(capsys, check, closure_maker(no_zero_grad), "forgot optimizer.zero_grad()")
    _assert_refused(capsys, check, closure_maker(no_backward), "call loss.backward()")
    _assert_refused(capsys, check, closure_maker(returns_nothing), "returns nothing")
    _assert_refused(capsys, check, closure_maker(returns_float), "returns a float")
    _assert_refused(capsys, check, closure_maker(steps_inside), "calls optimizer.step")
    _assert_refused(capsys, check, closure_maker(clamps_inside), "changes the image")
    _assert_refused(capsys, check, lambda optimizer, image, loss_fn: make_closure(optimizer, image, loss_fn)(),
                    "not a function")
    _assert_refused(capsys, check, lambda optimizer, image, loss_fn: undefined_name, "raised NameError")  # noqa: F821


# 09 - total variation ------------------------------------------------------------------------------------------


def tv(image):
    vertical = image[..., 1:, :] - image[..., :-1, :]
    horizontal = image[..., :, 1:] - image[..., :, :-1]
    return vertical.pow(2).mean() + horizontal.pow(2).mean()


def test_tv_loss_check(capsys):
    check = exercises.check_tv_loss
    assert _verdict(capsys, check, tv) == "E: correct!"
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]
    _assert_refused(capsys, check, lambda x: dy(x).pow(2).sum() + dx(x).pow(2).sum(), "summed the squared")
    _assert_refused(capsys, check, lambda x: dy(x).abs().mean() + dx(x).abs().mean(), "absolute differences")
    _assert_refused(capsys, check, lambda x: dy(x).pow(2).mean(), "only vertical neighbours")
    _assert_refused(capsys, check, lambda x: (x[:, 1:] - x[:, :-1]).pow(2).mean() + dx(x).pow(2).mean(),
                    "along the channels")
    _assert_refused(capsys, check, lambda x: (x - x.roll(1, -2)).pow(2).mean() + (x - x.roll(1, -1)).pow(2).mean(),
                    "wraps around")
    _assert_refused(capsys, check, lambda x: dy(x).pow(2).mean(dim=(2, 3)) + dx(x).pow(2).mean(), "one number")
    _assert_refused(capsys, check, lambda x: tv(x.detach()), "no gradient")


# All checkers --------------------------------------------------------------------------------------------------

CHECKERS = [exercises.check_receptive_field, exercises.check_caffe_preprocess, exercises.check_gram_matrix,
            exercises.check_style_loss, exercises.check_closure, exercises.check_tv_loss]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda checker: checker.__name__)
def test_unanswered_stub_and_non_functions_do_not_fail(capsys, checker):
    assert _verdict(capsys, checker, None).startswith("E: not answered yet")

    def stub(*args):
        return None  # your code

    assert _verdict(capsys, checker, stub).startswith("E: not answered yet")
    assert _verdict(capsys, checker, 3.0).startswith("E: not yet - pass your function itself")
    _assert_refused(capsys, checker, lambda *args: 1 / 0, "raised ZeroDivisionError: division by zero")


def test_checks_do_not_disturb_the_notebooks_random_numbers(capsys):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    exercises.check_gram_matrix(gram, "E")
    exercises.check_closure(make_closure, "E")
    assert torch.equal(torch.rand(3), expected)
    capsys.readouterr()


# the course's own answer, called from the learner's function, is refused ----------------------------------------


def test_a_one_line_call_to_the_courses_own_answer_is_refused(capsys):
    """Without this, helpers.gram_matrix(f) passed the Gram matrix exercise (found by a teacher's review)."""
    import helpers
    from helpers import backbones

    refused = [
        (exercises.check_receptive_field, lambda layers: helpers.receptive_fields(layers)),
        (exercises.check_caffe_preprocess,
         lambda rgb: backbones.CaffeNormalize(CAFFE_MEAN_BGR)(rgb)),
        (exercises.check_gram_matrix, lambda f: helpers.gram_matrix(f)),
        (exercises.check_gram_matrix, lambda f: helpers.method.gram_matrix(f)),
        (exercises.check_style_loss, lambda f, t: helpers.style_loss(f, t)),
        (exercises.check_tv_loss, lambda image: helpers.total_variation_loss(image)),
    ]
    for check, answer in refused:
        out = _verdict(capsys, check, answer)
        assert out.startswith("E: not yet - your function calls helpers."), out
        assert "the course's own answer" in out, out
    assert helpers.gram_matrix is gram_matrix  # put back afterwards
    assert _verdict(capsys, exercises.check_gram_matrix, lambda f: gram(f)) == "E: correct!"


def test_the_style_loss_exercise_may_use_the_gram_matrix_built_in_notebook_03(capsys):
    import helpers

    def style_loss_with_helpers_gram(features, targets):
        return sum((helpers.gram_matrix(features[name]) - target).pow(2).sum() / target.pow(2).sum()
                   for name, target in targets.items()) / len(targets)

    assert _verdict(capsys, exercises.check_style_loss, style_loss_with_helpers_gram) == "E: correct!"
