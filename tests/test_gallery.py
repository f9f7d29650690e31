"""Named images: every bundled file exists, is credited, is listed in images/SOURCES.md with its sha256,
and the paintings are the real ones (the same bytes as the shared reference copies)."""

import hashlib

import pytest
from PIL import Image

from helpers import load_image
from helpers.io import gallery
from helpers.io.gallery import image_path


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundled_images_exist_and_are_credited():
    sources = (gallery.IMAGES_DIR / "SOURCES.md").read_text()
    for name, entry in gallery.BUNDLED.items():
        assert image_path(name).is_file()
        assert load_image(name, 32).shape[1] == 3
        assert entry.file in sources, f"{entry.file} is not recorded in images/SOURCES.md"
        assert gallery.credit(name) and gallery.title(name) != name


def test_every_shipped_painting_is_listed_with_its_sha256_and_is_small():
    sources = (gallery.IMAGES_DIR / "SOURCES.md").read_text()
    for name in gallery.PAINTINGS + ("tubingen",):
        path = image_path(name)
        row = next(line for line in sources.splitlines() if line.startswith(f"| {path.name} |"))
        assert _sha256(path) in row, f"{path.name}: the sha256 in images/SOURCES.md is not the shipped file's"
        assert "http" in row and ("public domain" in row or "CC BY" in row)
        with Image.open(path) as image:
            assert max(image.size) <= 1024, f"{path.name} is {image.size}: keep files at most 1024 px"
    assert "Praefcke" in gallery.credit("tubingen") and "CC BY 3.0" in gallery.credit("tubingen")


def test_paintings_are_the_real_ones(paintings_dir):
    """The shipped files are the reference copies' bytes (The Scream is a resized copy of its file)."""
    for name in gallery.PAINTINGS + ("tubingen",):
        shipped = image_path(name)
        reference = paintings_dir / ("woman-with-hat-matisse.jpg" if name == "woman_with_hat" else shipped.name)
        if name == "the_scream":
            with Image.open(shipped) as small, Image.open(reference) as big:
                assert small.size == (804, 1024) and big.size == (1200, 1528)
                a = load_image(shipped, 64)
                b = load_image(reference, 64)
                assert (a - b).abs().mean() < 0.02
        else:
            assert _sha256(shipped) == _sha256(reference)


def test_the_registry_lists_photos_and_paintings_by_kind():
    assert set(gallery.PHOTOS) <= set(gallery.names("content"))
    assert set(gallery.PAINTINGS) <= set(gallery.names("style"))
    assert gallery.title("starry_night") == "The Starry Night (van Gogh)"
    assert gallery.title("photo.jpg") == "photo.jpg"


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(KeyError, match="chelsea"):
        image_path("mona_lisa")
