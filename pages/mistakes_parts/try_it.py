"""Try it yourself: draw or upload a digit, see it made MNIST-like, and what the chosen run's network answers."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from core.engine.trainer import predict
from core.lessons.digits import MAX_BYTES, MAX_SIDE, DigitError, DigitInput, to_mnist
from core.lessons.mistakes import enlarge, top_k
from core.views.mistakes_charts import probability_chart
from pages.mistakes_parts import keys

CANVAS_SIDE = 280  # 10 canvas pixels per MNIST pixel


def _drawn() -> DigitInput | None:
    # Imported here: the component registers itself on import, which only works inside a running app.
    from streamlit_drawable_canvas import st_canvas

    st.space(40)  # room for the toolbar that the canvas shows above itself, so it covers nothing
    # White ink on black: how MNIST stores digits (a transparent background would hide white ink).
    result = st_canvas(stroke_width=20, stroke_color="#ffffff", background_color="#000000", width=CANVAS_SIDE,
                       height=CANVAS_SIDE, key=keys.CANVAS, return_image_data=True)
    st.caption("Draw one digit, large, with the mouse (or a finger). The toolbar that appears over the square "
               "undoes a stroke or clears the drawing (bin icon).")
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


def show(run, model) -> None:
    """The input choice, then original, 28x28 input and the network's probabilities side by side."""
    source = st.segmented_control("Your digit", ["draw", "upload"], default="draw", required=True, key=keys.SOURCE,
                                  format_func={"draw": "Draw it", "upload": "Upload a picture"}.get)
    digit = _drawn() if source == "draw" else _uploaded()
    if digit is None:
        return
    st.session_state[keys.MY_DIGIT] = digit.image  # the Inside tab can show this digit's activations
    probs = predict(model, torch.from_numpy(digit.image), run.config.normalize)[0].numpy()
    original, prepared, answer = st.columns([1, 1, 2], vertical_alignment="top")
    original.image(_preview(digit.original), caption="Your digit (light ink on dark)", output_format="PNG")
    prepared.image(enlarge(digit.image, 8), caption="What the network reads: 28×28, like MNIST", output_format="PNG")
    with answer:
        guess, confidence = top_k(probs, 1)[0]
        st.markdown(f"### The network says **{guess}** ({100 * confidence:.1f} %)")
        st.altair_chart(probability_chart(probs), key="mk_try_probs")
        ranking = " · ".join(f"**{d}**: {100 * q:.1f} %" for d, q in top_k(probs, 3))
        st.markdown(f"Top three: {ranking}")
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
