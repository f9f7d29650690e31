"""Downloads against a local server that misbehaves (127.0.0.1 only, every test bounded in seconds):
deadlines, size caps, a body cut short, nonsense headers, retries, and the VGG weight download."""

import re
import time

import pytest
import torch
from PIL import Image
from torch import nn

from helpers import backbones
from helpers.backbones import BackboneError
from helpers.io import download
from helpers.io.download import DownloadError, download_file
from helpers.io.images import ImageLoadError, load_image, load_pil, read_url


@pytest.fixture
def served(tmp_path, file_server, monkeypatch):
    """A small PNG served locally; retries wait 10 ms instead of half a second."""
    monkeypatch.setattr(download, "BACKOFF", 0.01)
    folder = tmp_path / "served"
    folder.mkdir()
    Image.new("RGB", (24, 16), "teal").save(folder / "g.png")
    (folder / "slow.bin").write_bytes(bytes(1000))  # trickled at 10 bytes/s it would take 100 s
    base, server = file_server(folder)
    return base, server, folder


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_trickling_server_is_given_up_at_the_deadline(served):
    base, _, _ = served
    start = time.monotonic()
    with pytest.raises(ImageLoadError) as info:
        read_url(f"{base}/trickle/slow.bin", deadline=1.0)
    waited = time.monotonic() - start
    assert waited < 6  # the per-read timeout (15 s) never comes into it: each byte arrives in time
    message = _one_line(info)
    assert f"{base}/trickle/slow.bin" in message and re.search(r"gave up after \d+\.\d s", message)
    assert "the deadline is 1 s" in message


def test_a_server_that_never_answers_is_given_up_at_the_deadline(served):
    base, _, _ = served
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"gave up after \d+\.\d s \(no answer from the server"):
        download_file(f"{base}/silent/g.png", served[2] / "out.png", max_bytes=10**6, deadline=1.0)
    assert time.monotonic() - start < 6  # the server stays silent for 20 s
    assert not (served[2] / "out.png").exists()


def test_a_socket_timeout_at_the_deadline_reads_as_the_deadline(served, monkeypatch):
    """The socket's timeout is the time left, so it can fire a moment before the deadline's own check:
    both mean the server did not answer in time, and both must say so (CI once saw the other message)."""
    import urllib.error
    import urllib.request

    def times_out(request, timeout):
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(urllib.request, "urlopen", times_out)
    with pytest.raises(DownloadError, match=r"gave up after \d+\.\d s \(no answer from the server"):
        download_file(f"{served[0]}/g.png", served[2] / "out.png", max_bytes=10**6, deadline=1.0)
    assert not (served[2] / "out.png").exists()


def test_a_stalled_download_is_given_up(served, monkeypatch):
    base, _, folder = served
    monkeypatch.setattr(download, "STALL_SECONDS", 0.5)
    with pytest.raises(DownloadError, match="stalled"):
        download_file(f"{base}/trickle/slow.bin", folder / "out.png", max_bytes=10**6, deadline=10.0)
    assert sorted(p.name for p in folder.iterdir()) == ["g.png", "slow.bin"]  # no partial file left behind


def test_an_announced_size_above_the_cap_is_refused_before_reading(served):
    base, _, _ = served
    start = time.monotonic()
    with pytest.raises(ImageLoadError) as info:
        load_pil(f"{base}/huge/")  # a URL input: the cap is 4 bytes per pixel of MAX_PIXELS (400 MB)
    assert "announces 10.0 GB, more than the limit of 400.0 MB" in _one_line(info)
    assert time.monotonic() - start < 5


def test_a_downloaded_file_is_whole_with_the_usual_permissions(served, tmp_path):
    """The file appears only when complete, and with the mode any program's file gets (0666 minus the
    umask), not the temporary file's private 0600."""
    import os
    import stat

    base, _, folder = served
    target = tmp_path / "cache" / "g.png"
    download_file(f"{base}/g.png", target, max_bytes=1_000_000, deadline=10.0)
    assert target.read_bytes() == (folder / "g.png").read_bytes()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["g.png"]  # no temporary file left beside it


def test_a_body_without_a_size_is_cut_off_at_the_cap(served, tmp_path):
    base, _, _ = served
    with pytest.raises(ImageLoadError) as info:
        read_url(f"{base}/endless/", max_bytes=1_000_000, deadline=10.0)
    assert "more than the limit of 1.0 MB arrived" in _one_line(info)


def test_a_body_cut_short_is_retried_then_one_clean_line(served):
    base, server, _ = served
    with pytest.raises(ImageLoadError) as info:
        load_image(f"{base}/cut/g.png")
    message = _one_line(info)
    assert "cut short" in message and "4 tries" in message and "IncompleteRead" not in message
    assert server.requests.count("/cut/g.png") == 1 + download.RETRIES


def test_a_nonsense_content_length_is_one_clean_line(served):
    base, server, _ = served
    with pytest.raises(ImageLoadError) as info:
        load_image(f"{base}/badlength/g.png")
    assert "nonsense Content-Length header ('lots')" in _one_line(info)
    assert server.requests.count("/badlength/g.png") == 1  # not a transient failure: no retries


def test_an_address_without_a_scheme(served):
    base, _, _ = served
    address = base.removeprefix("http://") + "/g.png"
    with pytest.raises(ImageLoadError) as info:
        load_pil(address)  # not a file here: the message suggests the scheme
    assert f"write http://{address}" in _one_line(info)
    with pytest.raises(DownloadError, match=f"not an http:// or https:// address; did you mean http://{address}"):
        download_file(address, served[2] / "out.png", max_bytes=10**6, deadline=5)
    with pytest.raises(DownloadError, match="not an http:// or https:// address"):
        download_file("ftp://example.org/x.png", served[2] / "out.png", max_bytes=10**6, deadline=5)


@pytest.mark.parametrize("route, requests", [("flaky", 3), ("reset", 2)])
def test_transient_failures_are_retried_with_back_off(served, route, requests):
    base, server, _ = served
    assert load_image(f"{base}/{route}/g.png").shape == (1, 3, 16, 24)
    assert server.requests.count(f"/{route}/g.png") == requests


def test_a_redirect_loop_is_one_line(served):
    base, server, _ = served
    with pytest.raises(ImageLoadError) as info:
        load_image(f"{base}/loop/")
    assert "redirect error that would lead to an infinite loop" in _one_line(info)


def test_a_missing_file_is_not_retried(served):
    base, server, _ = served
    with pytest.raises(ImageLoadError) as info:
        load_image(f"{base}/missing.png")
    assert "could not download" in _one_line(info) and "404" in str(info.value)
    assert server.requests.count("/missing.png") == 1


def test_retries_stop_at_the_deadline(served, monkeypatch):
    base, server, _ = served
    monkeypatch.setattr(download, "BACKOFF", 5.0)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="no time left to retry within the deadline of 2 s"):
        download_file(f"{base}/cut/g.png", served[2] / "out.png", max_bytes=10**6, deadline=2.0)
    assert time.monotonic() - start < 4.5 and server.requests.count("/cut/g.png") == 1  # no 5 s wait


# ------------------------------------------------------------------------------------------ VGG weights
def _tiny_vgg(name="vgg16"):
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())


@pytest.fixture
def weights(served, monkeypatch, tmp_path):
    """A tiny 'VGG' weight file served locally under a torchvision-style name (sha256 prefix in it)."""
    import hashlib

    base, server, folder = served
    source = _tiny_vgg()
    state = {f"features.{k}": v for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored: style transfer never uses it
    torch.save(state, folder / "weights.pth")
    digest = hashlib.sha256((folder / "weights.pth").read_bytes()).hexdigest()[:8]
    (folder / "weights.pth").rename(folder / f"vgg16-{digest}.pth")
    monkeypatch.setattr(backbones, "make_vgg_features", _tiny_vgg)
    monkeypatch.setitem(backbones.TORCHVISION_WEIGHTS, "vgg16", f"{base}/vgg16-{digest}.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return source, digest, base


def test_weights_are_downloaded_checked_and_mapped(weights):
    source, digest, _ = weights
    features = backbones.load_torchvision_vgg("vgg16", progress=False)
    for ours, theirs in zip(features.parameters(), source.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs)
    cached = backbones.torchvision_weights_path("vgg16")
    assert cached.name == f"vgg16-{digest}.pth" and cached.exists()
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary file left


def test_weights_whose_hash_does_not_match_are_not_kept(weights, served, monkeypatch):
    base, _, folder = served
    _, digest, _ = weights
    (folder / f"vgg16-{digest}.pth").rename(folder / "vgg16-00000000.pth")
    monkeypatch.setitem(backbones.TORCHVISION_WEIGHTS, "vgg16", f"{base}/vgg16-00000000.pth")
    with pytest.raises(BackboneError, match="sha256 .* does not start with 00000000"):
        backbones.load_torchvision_vgg("vgg16", progress=False)
    assert not list(backbones.torchvision_weights_path("vgg16").parent.iterdir())


def test_a_stalled_weight_download_never_hangs(weights, monkeypatch):
    _, digest, base = weights
    monkeypatch.setattr(backbones, "WEIGHTS_DEADLINE", 1.0)
    monkeypatch.setitem(backbones.TORCHVISION_WEIGHTS, "vgg16", f"{base}/trickle/vgg16-{digest}.pth")
    start = time.monotonic()
    with pytest.raises(BackboneError) as info:
        backbones.load_torchvision_vgg("vgg16", progress=False)
    assert time.monotonic() - start < 6  # trickled at 10 bytes/s, the file would take minutes
    message = _one_line(info)
    assert re.search(r"gave up after \d+\.\d s", message) and f"trickle/vgg16-{digest}.pth" in message
    assert f"--backbone {backbones.OFFLINE_DEFAULT}" in message  # the fix is named (the offline network)


def test_a_cache_folder_that_cannot_be_written_is_its_own_error(weights, tmp_path, monkeypatch):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "blocked"))
    with pytest.raises(BackboneError) as info:
        backbones.load_torchvision_vgg("vgg16", progress=False)
    message = _one_line(info)
    assert "cannot write the vgg16 weights into" in message and "TORCH_HOME" in message
    assert "could not download" not in message
