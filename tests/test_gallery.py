"""Named images: bundled files exist with credits; paintings download, verify, cache, and fall back offline.

The download tests serve ../shared/paintings from a local HTTP server on 127.0.0.1 (NST_PAINTINGS_URL),
so they exercise the real bytes and hashes without the internet.
"""

import hashlib
import socket
from pathlib import Path

import pytest

from helpers import gallery, load_image
from helpers.gallery import DownloadError, image_path


def test_bundled_images_exist_and_are_credited():
    sources = (gallery.IMAGES_DIR / "SOURCES.md").read_text()
    for name, entry in gallery.BUNDLED.items():
        assert image_path(name).is_file()
        assert load_image(name, 32).shape[1] == 3
        assert entry.file in sources, f"{entry.file} is not recorded in images/SOURCES.md"
        assert gallery.credit(name)


def test_painting_registry_matches_the_shared_sources(paintings_dir):
    table = (paintings_dir / "SOURCES.md").read_text()
    for painting in gallery.PAINTINGS.values():
        assert painting.sha256 in table and painting.url in table
        data = (paintings_dir / painting.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == painting.sha256 and len(data) == painting.size


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(KeyError, match="chelsea"):
        image_path("mona_lisa")


def test_download_then_cache_hit(paintings_dir, file_server, monkeypatch):
    base, server = file_server(paintings_dir)
    monkeypatch.setenv(gallery.MIRROR_ENV, base)
    path = image_path("starry_night")
    assert path == gallery.cache_dir() / "starry_night.jpg"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == gallery.PAINTINGS["starry_night"].sha256
    assert server.requests == ["/starry_night.jpg"]
    assert image_path("starry_night") == path
    assert server.requests == ["/starry_night.jpg"], "a cached painting must not be downloaded again"
    assert load_image("starry_night", 64).shape == (1, 3, 40, 64)


def test_wrong_hash_is_an_error_and_nothing_is_cached(paintings_dir, file_server, monkeypatch, tmp_path):
    impostor = tmp_path / "served"
    impostor.mkdir()
    (impostor / "wave.jpg").write_bytes((paintings_dir / "udnie.jpg").read_bytes())
    base, _ = file_server(impostor)
    monkeypatch.setenv(gallery.MIRROR_ENV, base)
    with pytest.raises(DownloadError, match="expected"):
        image_path("wave")
    assert not any(gallery.cache_dir().iterdir())


def test_damaged_cache_file_is_replaced(paintings_dir, file_server, monkeypatch):
    base, server = file_server(paintings_dir)
    monkeypatch.setenv(gallery.MIRROR_ENV, base)
    gallery.cache_dir().mkdir(parents=True)
    (gallery.cache_dir() / "udnie.jpg").write_bytes(b"garbage")
    path = image_path("udnie")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == gallery.PAINTINGS["udnie"].sha256
    assert server.requests == ["/udnie.jpg"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_falls_back_with_a_notice(monkeypatch, capsys):
    monkeypatch.setenv(gallery.MIRROR_ENV, f"http://127.0.0.1:{_closed_port()}")
    path = image_path("shipwreck")
    assert path == gallery.IMAGES_DIR / "strokes.png"
    notice = capsys.readouterr().out
    assert "could not download 'shipwreck'" in notice and "'strokes'" in notice
    assert gallery.resolve("shipwreck", verbose=False) == "strokes"
    assert not gallery.cache_dir().exists() or not any(gallery.cache_dir().iterdir())


def test_download_cut_midway_leaves_no_file(paintings_dir, file_server, monkeypatch, capsys):
    base, server = file_server(paintings_dir)
    monkeypatch.setenv(gallery.MIRROR_ENV, base + "/cut")
    path = image_path("the_scream")
    assert server.requests == ["/cut/the_scream.jpg"]
    assert path.parent == gallery.IMAGES_DIR  # fell back
    assert "could not download" in capsys.readouterr().out
    assert list(Path(gallery.cache_dir()).iterdir()) == []
