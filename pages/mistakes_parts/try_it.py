"""Try it yourself: draw or upload a digit (or, by keyboard, pick a test digit), see it made MNIST-like, and what
the chosen run's network answers."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from core.engine.trainer import predict
from core.lessons.digits import MAX_BYTES, MAX_SIDE, DigitError, DigitInput, to_mnist
from core.lessons.mistakes import enlarge, top_k
from core.views.mistakes_charts import probability_chart, probability_words
from core.views.mistakes_view import digit_alt, original_alt
from pages.mistakes_parts import keys
from pages.ui.charts import chart

CANVAS_SIDE = 280  # 10 canvas pixels per MNIST pixel
# The canvas needs a mouse or a finger; uploading a picture and picking a test digit work by keyboard alone.
SOURCES = {"draw": "Draw it", "upload": "Upload a picture", "test": "A test digit"}


def _drawn() -> DigitInput | None:
    # Imported here: the component registers itself on import, which only works inside a running app.
    from streamlit_drawable_canvas import st_canvas

    st.space(40)  # room for the toolbar that the canvas shows above itself, so it covers nothing
    # White ink on black: how MNIST stores digits (a transparent background would hide white ink).
    result = st_canvas(stroke_width=20, stroke_color="#ffffff", background_color="#000000", width=CANVAS_SIDE,
                       height=CANVAS_SIDE, key=keys.CANVAS, return_image_data=True)
    st.caption("Draw one digit, large, with the mouse (or a finger). The toolbar that appears over the square "
               "undoes a stroke or clears the drawing (bin icon). Without a mouse, use one of the other two ways "
               "above, a picture file or a test digit: both work with the keyboard.")
    objects = (result.json_data or {}).get("objects") or []
    if not objects or result.image_data is None:
        st.info("The square is empty: draw a digit in it.")
        return None
    return _convert(result.image_data)


def _uploaded() -> DigitInput | None:
    upload = st.file_uploader(
        f"A picture of one handwritten digit: PNG or JPEG, up to {MAX_BYTES // 1024 // 1024} MB and "
        f"{MAX_SIDE:,} pixels a side",
        key=keys.UPLOAD,
    )
    if upload is None:
        st.info("Upload a photo or scan of one digit, for example a digit written with a thick pen on paper.")
        return None
    return _convert(upload)


def _convert(source) -> DigitInput | None:
    try:
        return to_mnist(source)
    except DigitError as error:
        st.error(str(error))
    except Exception:  # whatever else a strange file triggers in Pillow or numpy: a message, never a traceback
        st.error("This file could not be read as a picture of a digit. Try a PNG or JPEG photo of one digit.")
    return None


def _tested(images: np.ndarray) -> tuple[np.ndarray, str]:
    index = int(st.number_input("Test image number", min_value=0, max_value=len(images) - 1, step=1,
                                key=keys.TRY_INDEX, help="Any of the test digits: the gallery shows their numbers."))
    return images[index], f"test image #{index}"


def show(run, model, images: np.ndarray) -> None:
    """The input choice, then the pictures (original and 28x28 input) and the network's probabilities."""
    source = st.segmented_control("Your digit", list(SOURCES), default="draw", required=True, key=keys.SOURCE,
                                  format_func=SOURCES.get,
                                  help="Without a mouse: upload a picture, or pick a test digit by its number.")
    if source == "test":
        image, title = _tested(images)
        pictures = [(enlarge(image, 8), f"What the network reads: {title}", digit_alt(title))]
        digit = None
    else:
        digit = _drawn() if source == "draw" else _uploaded()
        if digit is None:
            return
        image = digit.image
        st.session_state[keys.MY_DIGIT] = image  # the Inside tab can show this digit's activations
        pictures = [
            (_preview(digit.original), "Your digit (light ink on dark)",
             original_alt(source == "draw", digit.original.shape, digit.inverted)),
            (enlarge(image, 8), "What the network reads: 28×28, like MNIST", digit_alt("your digit, made MNIST-like,")),
        ]
    probs = predict(model, torch.from_numpy(image), run.config.normalize)[0].numpy()
    *columns, answer = st.columns([1] * len(pictures) + [2], vertical_alignment="top")
    for column, (picture, caption, alt) in zip(columns, pictures, strict=True):
        column.image(picture, caption=caption, output_format="PNG", alt=alt)
    with answer:
        guess, confidence = top_k(probs, 1)[0]
        st.markdown(f"### The network says **{guess}** ({100 * confidence:.1f} %)")
        chart(probability_chart(probs), probability_words(probs), key="mk_try_probs")
    if digit is None:
        return
    notes = ["cropped to the digit, scaled to fit 20×20 pixels and centred by its centre of mass, as MNIST was made"]
    if digit.inverted:
        notes.insert(0, "inverted (it was dark on light; MNIST digits are light on dark)")
    st.caption("Your picture was " + ", then ".join(notes) + ".")


def _preview(image: np.ndarray, side: int = 224) -> np.ndarray:
    """The original at a size that fits beside the 28x28 input (never enlarged by more than whole pixels)."""
    height, width = image.shape[:2]
    if max(height, width) > side:
        from PIL import Image

        scale = side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
    return enlarge(image, max(1, side // max(height, width)))
