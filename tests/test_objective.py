"""The objective apart from the loop: targets computed once, one class per loss term; colour
preservation as one strategy with a before and an after."""

import pytest
import torch

from helpers import color, color_preservation, method
from helpers.objective import LossWeights


def test_the_objective_is_the_sum_of_its_terms_and_matches_losses(transfer, tiny_pair):
    content, style = tiny_pair
    goal = transfer.objective(content, [style], LossWeights(content=2.0, style=30.0, tv=0.5))
    image = torch.rand_like(content)
    terms = goal(image)
    assert list(terms) == ["content", "style", "tv", "total"]
    torch.testing.assert_close(terms["total"], terms["content"] + terms["style"] + terms["tv"])
    content_targets, style_targets = transfer.targets(content, style)
    expected = transfer.losses(image, content_targets, style_targets, 2.0, 30.0, 0.5)
    assert all(torch.equal(terms[name], expected[name]) for name in expected)
    assert "tv" not in transfer.objective(content, [style], LossWeights(tv=0.0))(image)  # off at weight 0


def test_targets_are_computed_once_not_at_every_evaluation(transfer, tiny_pair, monkeypatch):
    content, style = tiny_pair
    goal = transfer.objective(content, [style], LossWeights())
    calls = []
    monkeypatch.setattr(transfer, "style_target", lambda image: calls.append(image))
    goal(torch.rand_like(content))
    goal(torch.rand_like(content))
    assert calls == []


def test_a_loss_term_is_one_class(transfer, tiny_pair):
    content, style = tiny_pair

    class Brightness:  # a new term: keep the image's mean brightness at 0.5
        def __call__(self, image, features):
            return (image.mean() - 0.5) ** 2

    goal = transfer.objective(content, [style], LossWeights())
    goal.terms["brightness"] = (2.0, Brightness())
    image = torch.full_like(content, 0.75)
    terms = goal(image)
    assert terms["brightness"].item() == pytest.approx(2.0 * 0.25**2)
    torch.testing.assert_close(terms["total"], terms["content"] + terms["style"] + terms["brightness"])


class ChannelMeans(method.StyleLoss):
    """A style loss that matches each channel's mean only (first moments, not the Gram matrices)."""

    @classmethod
    def target(cls, style_features, layers):
        return {name: style_features[name].mean(dim=(2, 3)) for name in layers}

    def __call__(self, image, features):
        return sum(share * sum(method.relative_squared_error(features[name].mean(dim=(2, 3)), target[name])
                               for name in target) for share, target in zip(self.blend, self.targets))


def test_a_new_style_loss_is_one_class_and_runs_in_the_loop(hed, tiny_pair):
    from helpers.transfer import StyleTransfer

    content, style = tiny_pair
    means = StyleTransfer(hed, device="cpu", verbose=False, style_loss=ChannelMeans)
    gram = StyleTransfer(hed, device="cpu", verbose=False)
    with torch.no_grad():
        at_style = means.objective(style, [style], LossWeights(content=0.0, style=1.0))(style)
        at_photo = means.objective(content, [style], LossWeights(content=0.0, style=1.0))(content)
        gram_at_photo = gram.objective(content, [style], LossWeights(content=0.0, style=1.0))(content)
    assert at_style["style"].item() < 1e-6 < at_photo["style"].item()
    assert at_photo["style"].item() != pytest.approx(gram_at_photo["style"].item(), rel=1e-2)  # another loss
    result = means.run(content, style, steps=4, style_weight=100.0, progress=False)
    assert result.history[-1]["style"] < result.history[0]["style"] and result.history[0]["style"] == pytest.approx(
        100.0 * at_photo["style"].item(), rel=1e-4)


def test_each_colour_strategy_changes_only_its_side(tiny_pair):
    photo, style = tiny_pair
    keep = color_preservation.strategy("none")
    content, styles = keep.before(photo, [style])
    assert content is photo and styles[0] is style and keep.after(style, photo) is style
    luminance = color_preservation.strategy("luminance")
    content, styles = luminance.before(photo, [style])
    torch.testing.assert_close(content, color.luminance(photo))
    result = luminance.after(styles[0][..., :photo.shape[-2], :photo.shape[-1]], photo)  # the photo's colours
    torch.testing.assert_close(color.rgb_to_yiq(result)[:, 1:], color.rgb_to_yiq(photo)[:, 1:], atol=5e-3, rtol=0)
    palette = color_preservation.strategy("histogram")
    content, styles = palette.before(photo, [style])
    assert content is photo and torch.allclose(styles[0].mean(dim=(2, 3)), photo.mean(dim=(2, 3)), atol=0.02)
    assert palette.after(style, photo) is style
    with pytest.raises(ValueError, match="preserve_colors must be one of"):
        color_preservation.strategy("sepia")


def test_a_network_shared_by_several_transfers_is_never_moved_under_them(hed):
    import copy

    from helpers.transfer import StyleTransfer

    shared = copy.deepcopy(hed)  # not the session's backbone: a failure here must not break other tests
    on_cpu = StyleTransfer(shared, device="cpu", verbose=False)
    elsewhere = StyleTransfer(shared, device="meta", verbose=False)  # any other device, even on a CPU-only machine
    assert next(elsewhere.extractor.parameters()).device.type == "meta"
    assert next(shared.features.parameters()).device.type == "cpu"
    assert next(on_cpu.extractor.parameters()).device.type == "cpu"
    assert on_cpu.features(torch.rand(1, 3, 32, 32))["relu4_2"].device.type == "cpu"  # still works
