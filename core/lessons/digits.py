"""Turn a student's drawing or uploaded picture into an MNIST-like 28x28 digit, the way MNIST was made.

MNIST recipe (LeCun et al.): white digit on black, fitted into a 20x20 box keeping its aspect ratio with
anti-aliasing, then placed in a 28x28 field so that its centre of mass sits at the centre (14, 14).
Plain numpy + Pillow, no Streamlit.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
# Each side, not only the area: a 1×16,777,216 PNG of 32 KB has a modest area and still cost 286 MB to decode.
MAX_SIDE = 4096
UPLOAD_FORMATS = ("PNG", "JPEG")  # what the upload's label promises; Pillow reads only their headers to say so
# Larger pictures are shrunk before processing: a digit needs far fewer pixels, and it keeps the work small.
WORK_SIDE = 1024
BOX = 20
SIZE = 28
CENTRE = 14.0  # row/column index of the centre of mass in MNIST (its test set averages 13.99, 14.01)
MIN_CONTRAST = 32  # ink must differ from the background by this many grey levels to count as a drawing
INK_FLOOR = 0.2  # after stretching, fainter than 20 % of full ink is paper grain or JPEG noise
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # greyscale with more than 8 bits per pixel

EMPTY = "The drawing is empty — draw a digit first."
NOT_IMAGE = "This file is not a PNG or JPEG picture, the two kinds the lab reads. Save it as PNG or JPEG and try again."


class DigitError(ValueError):
    """An input that cannot become a digit; the message is meant for the student."""


@dataclass(frozen=True)
class DigitInput:
    image: np.ndarray  # uint8 [28, 28], white digit on black, MNIST-style
    original: np.ndarray  # uint8 [H, W] grayscale before cropping, white ink on black like `image`
    inverted: bool  # True when the input was dark-on-light and had to be inverted


def to_mnist(image: Image.Image | np.ndarray | bytes) -> DigitInput:
    """Convert a PIL image, a numpy array ([H,W], [H,W,3], [H,W,4]) or an uploaded file's bytes."""
    if isinstance(image, Image.Image):
        _check_pixels(image.size)
        arr = _pil_to_array(image)
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        arr = _pil_to_array(_open(_as_bytes(image)))
    _check_pixels(arr.shape[1::-1])
    gray, alpha = _gray_and_alpha(arr)
    ink, inverted = _ink(gray, alpha)
    return DigitInput(image=_centre(_fit_box(ink)), original=ink, inverted=inverted)


# --- reading ---------------------------------------------------------------------------------------


def _as_bytes(data: object) -> bytes:
    # Streamlit's UploadedFile is a BytesIO: take its whole content, wherever its read position is.
    if hasattr(data, "getvalue"):
        data = data.getvalue()
    elif hasattr(data, "read"):
        data = data.read()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected a PIL image, a numpy array or bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise DigitError("This file is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise DigitError(
            f"This file is {len(data) / 1024 / 1024:.1f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB. "
            "Please upload a smaller picture."
        )
    return data


def _open(data: bytes) -> Image.Image:
    try:
        # PIL only warns between its two bomb thresholds; make that an error too. Our own cap is far
        # lower anyway, so this only matters for pictures we would reject a moment later.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the two formats' own readers try the file (a TIFF, a GIF is refused), and Image.open reads the
            # header alone: the size is checked before anything is decoded.
            img = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)
            _check_pixels(img.size)
            img.load()
    except DigitError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DigitError(_too_big_message()) from exc
    except UnidentifiedImageError as exc:
        raise DigitError(NOT_IMAGE) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for truncated or corrupt data
        raise DigitError("This image file seems damaged or incomplete. Try saving it again.") from exc
    # Phones store "rotate me" in EXIF instead of rotating the pixels.
    return ImageOps.exif_transpose(img)


def _too_big_message(size: tuple[int, int] | None = None) -> str:
    got = f"This picture is {size[0]:,}×{size[1]:,} pixels" if size else "This picture is too large"
    return f"{got}; the limit is {MAX_SIDE:,}×{MAX_SIDE:,} (each side at most {MAX_SIDE:,} pixels). Please shrink it."


def _check_pixels(size: tuple[int, int]) -> None:
    w, h = int(size[0]), int(size[1])
    if w > MAX_SIDE or h > MAX_SIDE:
        raise DigitError(_too_big_message((w, h)))
    if w == 0 or h == 0:
        raise DigitError(EMPTY)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    wide = img.mode in WIDE_MODES
    if max(img.size) > WORK_SIDE:
        # Pillow cannot shrink 16- and 32-bit integer images at every size, but floats it can, keeping
        # every grey level.
        img = img.convert("F") if wide else img.copy()
        # BOX averages whole blocks: a cheap, alias-free shrink.
        img.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    if wide:
        return np.asarray(img)  # wide grey levels: scaled in _gray_and_alpha
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    return np.asarray(img.convert("RGBA" if has_alpha else "L"))


def _to_255(arr: np.ndarray) -> np.ndarray:
    """float32 on a 0-255 scale from bool, 8/16-bit integer or 0-1 float data."""
    if arr.dtype == bool:
        return arr.astype(np.float32) * 255
    out = arr.astype(np.float32)
    top = float(out.max()) if out.size else 0.0
    if np.issubdtype(arr.dtype, np.floating) and top <= 1.0:
        return out * 255
    if top > 255:  # 16-bit scans and the like
        return out * (255.0 / top)
    return out


def _gray_and_alpha(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return _to_255(arr), None
    if arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise ValueError(f"image array must be [H, W], [H, W, 3] or [H, W, 4], got shape {arr.shape}")
    c = arr.shape[2]
    colour = _to_255(arr[:, :, : (1 if c == 2 else 3)])
    # ITU-R 601 luma, the weights Pillow's convert("L") uses.
    gray = colour[:, :, 0] if c == 2 else colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = _to_255(arr[:, :, -1]) if c in (2, 4) else None
    return gray, alpha


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


# --- processing ------------------------------------------------------------------------------------


def _ink(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """uint8 image with the digit white (255) on black (0), background noise removed."""
    if alpha is not None and alpha.min() < 255:
        if np.median(_border(alpha)) < 128:
            # A canvas drawing on a transparent background: whatever the stroke colour, ink is opacity.
            gray = alpha
        else:
            # An opaque picture with some see-through parts: look at it as it shows on a white page.
            a = alpha / 255.0
            gray = gray * a + 255.0 * (1.0 - a)
    background = float(np.median(_border(gray)))
    inverted = background > 127  # dark ink on light paper: MNIST wants light ink on dark
    if inverted:
        gray = 255.0 - gray
        background = 255.0 - background
    top = float(gray.max())
    if top - background < MIN_CONTRAST:
        raise DigitError(EMPTY)
    # Stretch so the background is 0 and the strongest ink 255, like MNIST's full-contrast strokes.
    ink = np.clip((gray - background) / (top - background), 0.0, 1.0)
    ink[ink < INK_FLOOR] = 0.0
    return np.rint(ink * 255).astype(np.uint8), inverted


def _fit_box(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink's bounding box and scale so the longer side is 20 px, keeping the aspect ratio."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise DigitError(EMPTY)
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Shrinking averages whole blocks (BOX: anti-aliased, no ringing halo such as LANCZOS leaves around
    # strokes); the rare tiny drawing that must grow is interpolated smoothly instead of blockily.
    resample = Image.Resampling.BOX if max(h, w) >= BOX else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(crop).resize(size, resample))


def _centre(small: np.ndarray) -> np.ndarray:
    """Paste into a black 28x28 field so the centre of mass lands on (14, 14)."""
    h, w = small.shape
    weights = small.astype(np.float64)
    total = weights.sum()
    if total > 0:
        com_r = (weights.sum(axis=1) @ np.arange(h)) / total
        com_c = (weights.sum(axis=0) @ np.arange(w)) / total
    else:  # a sliver that resampling faded out entirely: centre the box instead
        com_r, com_c = (h - 1) / 2, (w - 1) / 2
    # Whole-pixel shifts keep strokes crisp; clamping keeps lopsided digits (a '7') entirely in view.
    top = min(max(math.floor(CENTRE - com_r + 0.5), 0), SIZE - h)
    left = min(max(math.floor(CENTRE - com_c + 0.5), 0), SIZE - w)
    out = np.zeros((SIZE, SIZE), dtype=np.uint8)
    out[top : top + h, left : left + w] = small
    return out
