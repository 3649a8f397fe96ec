"""core.lessons.digits: drawings and uploads of every common kind become centred 28x28 MNIST-style digits."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.lessons.digits import EMPTY, NOT_IMAGE, DigitError, to_mnist
from tests.lab_helpers import REPO

MNIST_TEST_IMAGES = REPO / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"


def draw(shape="one", size=(400, 300), mode="L", ink=0, paper=255):
    """A thick '1' (a bar) or '0' (a ring), drawn off-centre so centring has work to do."""
    img = Image.new(mode, size, paper)
    pen = ImageDraw.Draw(img)
    w, h = size[0] / 400, size[1] / 300  # coordinates below are for 400x300; scale to the asked size
    if shape == "one":
        pen.rectangle((100 * w, 60 * h, 124 * w, 250 * h), fill=ink)
    else:
        pen.ellipse((60 * w, 40 * h, 180 * w, 230 * h), outline=ink, width=max(1, round(22 * w)))
    return img


def encode(img, fmt, **options):
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def assert_mnist_like(digit):
    img = digit.image
    assert img.shape == (28, 28) and img.dtype == np.uint8
    assert img.max() >= 200  # a white digit ...
    assert (img[0] == 0).all() and (img[-1] == 0).all() and (img[:, 0] == 0).all() and (img[:, -1] == 0).all()
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20  # ... fitted into the 20x20 box
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 19  # and filling it along the longer side
    w = img.astype(np.float64)
    com = (w.sum(axis=1) @ np.arange(28) / w.sum(), w.sum(axis=0) @ np.arange(28) / w.sum())
    assert com == pytest.approx((14, 14), abs=1.0)
    assert digit.original.ndim == 2 and digit.original.dtype == np.uint8


@pytest.mark.parametrize("shape", ["one", "zero"])
def test_black_on_white(shape):
    digit = to_mnist(draw(shape))
    assert_mnist_like(digit)
    assert digit.inverted
    assert digit.original.shape == (300, 400)


@pytest.mark.parametrize("shape", ["one", "zero"])
def test_white_on_black(shape):
    digit = to_mnist(draw(shape, ink=255, paper=0))
    assert_mnist_like(digit)
    assert not digit.inverted
    # The same drawing in either polarity gives the same digit.
    assert np.array_equal(digit.image, to_mnist(draw(shape)).image)


@pytest.mark.parametrize("stroke", [(255, 255, 255, 255), (0, 0, 0, 255), (200, 30, 30, 255)])
def test_transparent_canvas(stroke):
    # What a drawable canvas returns: RGBA uint8, transparent background, opaque strokes of any colour.
    canvas = draw("zero", mode="RGBA", ink=stroke, paper=(0, 0, 0, 0))
    digit = to_mnist(np.asarray(canvas))
    assert_mnist_like(digit)
    assert np.array_equal(digit.image, to_mnist(draw("zero")).image)


def test_opaque_rgba_and_rgb_arrays():
    rgba = np.asarray(draw("one", mode="RGBA", ink=(0, 0, 0, 255), paper=(255, 255, 255, 255)))
    assert_mnist_like(to_mnist(rgba))
    assert_mnist_like(to_mnist(rgba[:, :, :3]))
    assert_mnist_like(to_mnist(np.asarray(draw("one")) / 255.0))  # floats on a 0-1 scale


def test_uploaded_files():
    paper = draw("zero", mode="RGB", ink=(20, 20, 20), paper=(235, 235, 230))
    assert_mnist_like(to_mnist(encode(paper, "JPEG", quality=70)))
    assert_mnist_like(to_mnist(encode(draw("zero").convert("P"), "PNG")))
    assert_mnist_like(to_mnist(encode(draw("one").convert("1"), "PNG")))
    assert_mnist_like(to_mnist(io.BytesIO(encode(draw("one"), "PNG"))))  # like Streamlit's UploadedFile
    assert_mnist_like(to_mnist(encode(draw("zero", size=(40, 30)), "PNG")))  # tiny: enlarged to the box


def test_exif_rotation_is_applied():
    # A '1' lying on its side, stored with "rotate 90 degrees" in EXIF, as phones do.
    lying = draw("one").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 clockwise to display
    digit = to_mnist(encode(lying, "JPEG", exif=exif))
    rows, cols = np.flatnonzero(digit.image.any(axis=1)), np.flatnonzero(digit.image.any(axis=0))
    assert rows.size > 2 * cols.size  # upright again: tall and thin


def test_big_pictures_are_accepted():
    digit = to_mnist(encode(draw("zero", size=(4000, 3000)), "PNG"))
    assert_mnist_like(digit)
    assert max(digit.original.shape) <= 1024  # shrunk first, to keep the work small


@pytest.mark.parametrize("size", [(1500, 1500), (4096, 1024)])
def test_big_pictures_with_wide_grey_levels_read_like_8_bit_ones(size):
    # Pillow shrinks 16-bit greyscale ("I;16") only at some sizes (Pillow 13: not 4096 px wide).
    eight = draw("zero", size=size)
    sixteen = Image.fromarray(np.asarray(eight).astype(np.uint16) * 257)
    assert sixteen.mode == "I;16"
    expected = to_mnist(eight).image.astype(int)
    for picture in (encode(sixteen, "PNG"), eight.convert("I"), eight.convert("F")):
        digit = to_mnist(picture)
        assert_mnist_like(digit)
        assert np.abs(digit.image - expected).max() <= 1  # rounding apart, the same digit


def png_header_only(width, height):
    """A tiny PNG that claims huge dimensions (what a decompression bomb looks like from outside)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty (0 bytes)"),
        (b"digit,label\n1,7\nJust some notes, not a picture.\n", NOT_IMAGE),
        (b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024), "the limit is 5 MB"),
        (png_header_only(5000, 5000), "limit is 4,096×4,096"),
        (png_header_only(10000, 10000), "limit is 4,096×4,096"),  # PIL warns: turned into an error
        (png_header_only(60000, 60000), "limit is 4,096×4,096"),  # PIL's own bomb guard fires first
        (encode(Image.new("L", (400, 300), 255), "PNG"), EMPTY),
        (encode(draw("one"), "PNG")[:300], "damaged"),
    ],
    ids=[
        "empty",
        "text",
        "too-many-bytes",
        "too-many-pixels",
        "bomb-warning",
        "bomb",
        "blank-white",
        "truncated",
    ],
)
def test_bad_uploads(data, message):
    with pytest.raises(DigitError) as err:
        to_mnist(data)
    assert message in str(err.value)


def png_of_black(width, height):
    """A whole, valid 8-bit greyscale PNG of black pixels: a long thin one is tiny once compressed."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\0" + bytes(width)) * height  # each row: filter type 0, then its pixels
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


@pytest.fixture
def decoded(monkeypatch):
    """The sizes of the pictures Pillow decodes (Image.load) while a test runs."""
    sizes = []
    load = Image.Image.load

    def counting_load(self):
        sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(Image.Image, "load", counting_load)
    return sizes


@pytest.mark.parametrize("size", [(1, 16_777_216), (16_777_216, 1), (5000, 10)])
def test_each_side_is_limited_and_checked_from_the_header_before_decoding(size, decoded):
    # The probe's picture: 1×16,777,216 pixels is no more than 4,096×4,096 in area, 32 KB as a PNG, and it raised the
    # server's memory by 286 MB while it was read.
    data = png_of_black(*size)
    assert len(data) < 64 * 1024
    with pytest.raises(DigitError, match="each side at most 4,096 pixels"):
        to_mnist(data)
    assert decoded == []


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "BMP", "WEBP"])
def test_only_png_and_jpeg_are_read_as_the_label_promises(fmt, decoded):
    data = encode(draw("one").convert("F") if fmt == "TIFF" else draw("one"), fmt)  # the probe's was a float TIFF
    decoded.clear()  # saving it decoded the drawing
    with pytest.raises(DigitError, match="not a PNG or JPEG picture"):
        to_mnist(data)
    assert decoded == []
    assert_mnist_like(to_mnist(encode(draw("one"), "PNG")))  # the two promised kinds are read, of course
    assert_mnist_like(to_mnist(encode(draw("one"), "JPEG")))


def test_blank_drawings():
    with pytest.raises(DigitError, match=EMPTY):
        to_mnist(np.zeros((280, 280, 4), dtype=np.uint8))  # untouched transparent canvas
    with pytest.raises(DigitError, match=EMPTY):
        to_mnist(Image.new("L", (400, 300), 255))
    assert issubclass(DigitError, ValueError)


@pytest.mark.skipif(not MNIST_TEST_IMAGES.exists(), reason="MNIST IDX files not built (make data)")
def test_real_mnist_digits_survive_the_round_trip():
    raw = MNIST_TEST_IMAGES.read_bytes()
    magic, n, h, w = struct.unpack(">IIII", raw[:16])
    assert (magic, h, w) == (2051, 28, 28)
    images = np.frombuffer(raw, dtype=np.uint8, count=20 * 784, offset=16).reshape(20, 28, 28)
    for original in images:
        # As a student would upload it: black ink on white paper, ten times larger.
        scan = np.kron(255 - original, np.ones((10, 10), dtype=np.uint8))
        got = to_mnist(scan).image.astype(np.float64)
        # Whole-pixel centring may land one pixel away from MNIST's choice: compare the best alignment.
        best = max(
            np.corrcoef(np.roll(got, (dy, dx), axis=(0, 1)).ravel(), original.ravel())[0, 1]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        assert best > 0.9
