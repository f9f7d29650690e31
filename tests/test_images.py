"""Images: every odd mode and format becomes RGB in [0, 1]; broken files give clear errors; saving is atomic."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.io import images
from helpers.io.images import ImageLoadError, load_image, load_pil, read_metadata, save_image


def _gradient(mode_size=(24, 16)):
    w, h = mode_size
    array = np.zeros((h, w, 3), np.uint8)
    array[..., 0] = np.linspace(0, 255, w)[None, :]
    array[..., 1] = np.linspace(0, 255, h)[:, None]
    array[..., 2] = 77
    return Image.fromarray(array)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "PA", "RGBA", "CMYK", "I;16", "I", "F", "1", "RGB"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    base = _gradient()
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257)
    elif mode in ("I", "F"):
        image = base.convert("L").convert(mode)
    elif mode == "PA":
        image = base.convert("P").convert("PA")
    else:
        image = base.convert(mode)
    if mode == "PA":  # no file format stores PA: load the PIL image itself
        tensor = load_image(image)
    else:
        suffix = ".jpg" if mode == "CMYK" else ".tiff" if mode in ("I", "F") else ".png"
        image.save(tmp_path / f"img{suffix}")
        tensor = load_image(tmp_path / f"img{suffix}")
    assert tensor.shape == (1, 3, 16, 24) and tensor.dtype == torch.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    if mode in ("L", "I;16", "I", "F", "LA"):
        # Greyscale must keep its range (16-bit scaled down, not clipped to white).
        grey = np.asarray(base.convert("L"), np.float32) / 255
        np.testing.assert_allclose(tensor[0, 0].numpy(), grey, atol=2 / 255)


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_a_float_image_keeps_its_range_whatever_scale_it_uses(tmp_path, top):
    # Float images usually hold 0..1 (scientific and HDR tools); some hold 0..255.
    grey = np.asarray(_gradient().convert("L"), np.float32) / 255
    Image.fromarray(grey * top, mode="F").save(tmp_path / "float.tiff")
    tensor = load_image(tmp_path / "float.tiff")
    np.testing.assert_allclose(tensor[0, 0].numpy(), grey, atol=2 / 255)
    assert tensor.max() > 0.9  # not read as a black picture


def _matrix_profile(red, green, blue, gamma):
    """A minimal ICC v2 RGB display profile: colorants (XYZ, D50-adapted) and one gamma curve.

    Built by hand so the test needs no profile files; the layout follows ICC.1:2001-04.
    """
    import struct

    def s15(value):
        return struct.pack(">i", round(value * 65536))

    def xyz(x, y, z):
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    text = b"test profile\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0" * 2
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(*red)), (b"gXYZ", xyz(*green)),
            (b"bXYZ", xyz(*blue)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"cprt", b"text" + b"\0" * 4 + b"none\0\0\0\0")]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp"
              + b"\0" * 24 + b"\0" * 4 + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + body


# Display P3 (as iPhones tag their photos), colorants adapted to D50, with a plain 2.2 gamma.
_P3 = _matrix_profile((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841), 2.2)
_SRGB_D50 = np.array([[0.4361, 0.3851, 0.1431], [0.2225, 0.7169, 0.0606], [0.0139, 0.0971, 0.7141]])


def test_a_colour_profile_is_converted_to_srgb(tmp_path):
    colour = (200, 90, 40)
    Image.new("RGB", (8, 6), colour).save(tmp_path / "p3.jpg", icc_profile=_P3, quality=100)
    Image.new("RGB", (8, 6), colour).save(tmp_path / "p3.png", icc_profile=_P3)
    # The same colour by hand: decode with the profile's gamma, P3 -> XYZ -> linear sRGB, encode sRGB.
    linear = (np.array(colour) / 255.0) ** 2.2
    p3_matrix = np.array([[0.5151, 0.2920, 0.1571], [0.2412, 0.6922, 0.0666], [-0.0011, 0.0419, 0.7841]])
    srgb = np.clip(np.linalg.solve(_SRGB_D50, p3_matrix @ linear), 0, 1)
    encoded = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055) * 255
    for name in ("p3.png", "p3.jpg"):
        pixel = np.asarray(load_pil(tmp_path / name))[3, 4].astype(float)
        np.testing.assert_allclose(pixel, encoded, atol=3)
        assert pixel[0] > colour[0] + 10  # a P3 orange is more saturated than the same numbers in sRGB


def test_an_srgb_profile_or_none_changes_nothing_and_a_broken_one_is_ignored(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    base = _gradient()
    base.save(tmp_path / "srgb.png", icc_profile=srgb)
    base.save(tmp_path / "broken.png", icc_profile=b"not a profile at all" * 10)
    expected = np.asarray(base, dtype=float)
    np.testing.assert_allclose(np.asarray(load_pil(tmp_path / "srgb.png"), dtype=float), expected, atol=1)
    with pytest.warns(UserWarning, match="broken.png: its colour profile could not be used"):
        broken = load_pil(tmp_path / "broken.png")
    np.testing.assert_array_equal(np.asarray(broken), expected)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").min().item() == pytest.approx(1.0)


def test_exif_orientation_is_honoured(tmp_path):
    image = _gradient((30, 10))  # landscape pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    assert load_pil(tmp_path / "rotated.jpg").size == (10, 30)


def test_resize_by_long_side():
    assert load_image("chelsea", 100).shape == (1, 3, 67, 100)
    assert load_image(_gradient((16, 40)), 20).shape == (1, 3, 20, 8)


def test_arrays_tensors_and_pil_are_accepted():
    array = np.asarray(_gradient())
    from_array = load_image(array)
    torch.testing.assert_close(from_array, load_image(_gradient()))
    torch.testing.assert_close(load_image(array.astype(np.float32) / 255), from_array, atol=1 / 255, rtol=0)
    torch.testing.assert_close(load_image(from_array), from_array, atol=1 / 255, rtol=0)
    assert load_image(array[..., 0]).shape == (1, 3, 16, 24)
    with pytest.raises(ImageLoadError):
        load_image(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ImageLoadError, match="cannot load an image from a dict"):
        load_image({})


def test_uint8_tensors_are_scaled_and_float_images_outside_0_1_refused():
    array = np.asarray(_gradient())
    expected = load_image(_gradient())
    as_read_image = torch.from_numpy(array.copy()).permute(2, 0, 1)  # what torchvision.io.read_image returns
    torch.testing.assert_close(load_image(as_read_image), expected)
    torch.testing.assert_close(load_image(as_read_image[None]), expected)
    for wrong in (as_read_image.float(), array.astype(np.float32)):  # 0-255 floats: all white before
        with pytest.raises(ImageLoadError, match="must be in \\[0, 1\\]: divide it by 255"):
            load_image(wrong)
    with pytest.raises(ImageLoadError, match="from -2.* rescale it"):
        load_image((expected - 0.45) / 0.22)  # a normalised network input
    with pytest.raises(ImageLoadError, match="NaN"):
        load_image(torch.full((3, 4, 4), float("nan")))
    # A little overshoot, as resampling or an optimiser's step leaves, is clamped as before.
    torch.testing.assert_close(load_image(expected * 1.02), load_image(expected * 1.02).clamp(0, 1))
    torch.testing.assert_close(load_image(array.astype(np.int64)), expected)
    with pytest.raises(ImageLoadError, match="int64 array has values from 0 to 1000"):
        load_image(np.linspace(0, 1000, 64).reshape(8, 8).astype(np.int64))
    assert load_image(np.ones((4, 4), bool)).min() == 1.0


def test_metadata_of_hostile_files_is_one_clean_error(tmp_path):
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        read_metadata(tmp_path / "bomb.png")
    Image.new("1", (11000, 10000)).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="11000 x 10000"):
        read_metadata(tmp_path / "big.png")
    (tmp_path / "notes.png").write_text("<html>not an image</html>")
    with pytest.raises(ImageLoadError, match="not an image file PIL can read"):
        read_metadata(tmp_path / "notes.png")
    with pytest.raises(ImageLoadError, match="no such file"):
        read_metadata(tmp_path / "missing.png")


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(tmp_path / "empty.jpg")


def test_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    _gradient((200, 200)).save(buffer, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match="damaged or truncated"):
        load_image(tmp_path / "cut.jpg")


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("this is not an image")
    with pytest.raises(ImageLoadError, match="not an image file"):
        load_image(tmp_path / "notes.png")


@pytest.mark.parametrize("name, head, advice", [
    ("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC/HEIF photo"),
    ("drawing.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG drawing"),
    ("scan.jpg", b"%PDF-1.7\n%\xe2\xe3", "it is a PDF"),
    ("download.jpg", b"<!DOCTYPE html><html><body>Not found</body></html>", "text (HTML or JSON?)"),
    ("mystery.png", b"\x01\x02\x03 random bytes", "Open it in an image viewer"),
])
def test_unreadable_formats_are_named_with_what_to_do(tmp_path, name, head, advice):
    if name.endswith(".HEIC") and images.__dict__.get("register_heif_opener"):
        pytest.skip("pillow-heif is installed: HEIC files are read, and this fake one would be called damaged")
    (tmp_path / name).write_bytes(head + b"\x00" * 64)
    with pytest.raises(ImageLoadError, match=f"{name}: not an image file PIL can read") as info:
        load_pil(tmp_path / name)
    assert advice in str(info.value)
    with pytest.raises(ImageLoadError) as info:
        images._open(head + b"\x00" * 64, "a download")  # downloads are decoded from bytes
    assert advice in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused(tmp_path):
    # A tiny file that declares 20000 x 20000 pixels (400 MP): refused before decoding.
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    with pytest.raises(ImageLoadError, match="decompression bomb.*shrink it"):
        load_image(tmp_path / "bomb.png")
    # Below PIL's own limit but above ours (100 MP): our check names the size.
    Image.new("1", (11000, 10000)).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="11000 x 10000"):
        load_image(tmp_path / "big.png")


def test_save_png_and_jpeg_round_trip(tmp_path):
    image = load_image("chelsea", 64)
    png = save_image(image, tmp_path / "sub" / "out.png", metadata={"recipe": "{\"steps\": 3}"})
    torch.testing.assert_close(load_image(png), image, atol=1 / 255, rtol=0)
    assert read_metadata(png) == {"recipe": "{\"steps\": 3}"}
    jpg = save_image(image, tmp_path / "out.JPG")
    assert Image.open(jpg).format == "JPEG"
    with pytest.raises(ValueError, match=".png, .jpg"):
        save_image(image, tmp_path / "out.gif")


def test_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"the previous result")

    def broken_save(self, fp, format=None, **params):
        fp.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(torch.rand(1, 3, 8, 8), target)
    assert target.read_bytes() == b"the previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_url_loading(tmp_path, file_server):
    _gradient().save(tmp_path / "g.png")
    base, _ = file_server(tmp_path)
    assert load_image(f"{base}/g.png").shape == (1, 3, 16, 24)
    with pytest.raises(ImageLoadError, match="could not download"):
        load_image(f"{base}/missing.png")


def test_show_images_labels_every_panel():
    import matplotlib

    matplotlib.use("Agg")
    fig = images.show_images(["chelsea", torch.rand(1, 3, 8, 8), _gradient()], ["a", "b", "c"], ncols=2)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert len(fig.axes) == 4


def test_show_images_fits_rows_to_the_images():
    import matplotlib

    matplotlib.use("Agg")
    wide, tall = torch.rand(1, 3, 10, 30), torch.rand(1, 3, 40, 20)
    # Panels are 3 inches wide: a 3:1 row is about 1 inch tall plus its title, a 1:2 row about 6.
    width, height = images.show_images([wide, wide], ["a", "b"], size=3).get_size_inches()
    assert width == 6 and 1.0 < height < 1.6
    _, height = images.show_images([wide, tall, wide], ncols=2, size=3).get_size_inches()
    assert 6.0 + 1.0 < height < 6.0 + 1.6


def test_show_images_keeps_the_suptitle_clear_of_two_line_panel_titles():
    import matplotlib

    matplotlib.use("Agg")
    # The shapes of notebook 07's comparison: a wide painting beside two square results whose titles take two lines.
    panels = [torch.rand(1, 3, 30, 40), torch.rand(1, 3, 38, 38), torch.rand(1, 3, 38, 38)]
    fig = images.show_images(panels, ["painting", "paper: levels\nstyle distance", "painterly:\nlayout"], ncols=3,
                             size=4.2, suptitle="a title over the grid, with descenders: gjpqy")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    highest_panel_title = max(ax.title.get_window_extent(renderer).y1 for ax in fig.axes if ax.get_title())
    assert fig._suptitle.get_window_extent(renderer).y0 > highest_panel_title


def test_composited_transparency_is_noted_and_a_png_colour_key_counts_as_transparent(tmp_path):
    from helpers.io.images import TRANSPARENCY_NOTE, to_rgb

    partly = Image.new("RGBA", (4, 4), (0, 0, 0, 255))
    partly.putpixel((0, 0), (0, 0, 0, 0))
    assert to_rgb(partly).info.get(TRANSPARENCY_NOTE) and to_rgb(partly).getpixel((0, 0)) == (255, 255, 255)
    assert not to_rgb(Image.new("RGBA", (4, 4), (0, 0, 0, 255))).info.get(TRANSPARENCY_NOTE)  # opaque alpha
    assert not to_rgb(Image.new("RGB", (4, 4))).info.get(TRANSPARENCY_NOTE)
    keyed = Image.new("RGB", (4, 4), (0, 0, 0))
    keyed.putpixel((1, 1), (0, 255, 0))
    keyed.save(tmp_path / "keyed.png", transparency=(0, 255, 0))  # a tRNS colour key: green is transparent
    loaded = load_pil(tmp_path / "keyed.png")
    assert loaded.info.get(TRANSPARENCY_NOTE) and loaded.getpixel((1, 1)) == (255, 255, 255)
    assert loaded.getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P"])
def test_pil_to_tensor_gives_torchvisions_numbers(mode):
    """The conversion written out (to keep torchvision out of the start-up) is torchvision's to_tensor."""
    from torchvision.transforms.functional import to_tensor

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)).convert(mode)
    ours = images.pil_to_tensor(image)
    assert ours.shape == (1, 3, 7, 5) and ours.dtype == torch.float32 and ours.is_contiguous()
    assert torch.equal(ours, to_tensor(images.to_rgb(image)).unsqueeze(0))


def test_the_command_line_starts_without_torchvision():
    """``python -m helpers`` imports no torchvision (about 1.2 s of start-up) unless asked for VGG19."""
    import subprocess
    import sys

    code = "import sys, helpers.__main__; print('torchvision' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
