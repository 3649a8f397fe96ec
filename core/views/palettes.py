"""The lab's colours, in one place: every chart and picture takes its colours from here.

Chosen so that students who see colours differently can still tell them apart, on the white page:
- categories (lines, bars): Okabe and Ito's colour-blind safe set, only those with a contrast of 3:1 or more
  against white (WCAG 2.1, 1.4.11 non-text contrast): its orange, sky blue and yellow are too light for a thin line;
- right and wrong: blue and vermillion, never green and red (the pair red-green colour blindness merges), and
  always with a mark or a word as well (a ✓, a ✗), so colour never carries the meaning alone;
- quantities (heatmaps, a colour scale): viridis, whose lightness rises steadily, so its order survives any
  colour vision, and grey print;
- signed values (weights, gradients): blue through white to red (ColorBrewer's RdBu ends, core.lessons.inside),
  which colour-blind eyes still see as two sides, dark to light to dark.
tests/test_palettes.py checks these claims under simulated deuteranopia, protanopia and tritanopia; Streamlit's
theme (.streamlit/config.toml, chartCategoricalColors and chartSequentialColors) holds the same colours for any
chart that names none.
"""

from __future__ import annotations

from collections.abc import Sequence

from plotly.colors import sequential

BACKGROUND = "#ffffff"  # the theme's backgroundColor
WHITE = "#ffffff"
MARK_CONTRAST = 3.0  # WCAG 2.1 1.4.11: chart marks against what is around them
TEXT_CONTRAST = 4.5  # WCAG 2.1 1.4.3: text of ordinary size

# Okabe & Ito (2008), "Color Universal Design": the colours a line or bar may take.
BLUE, VERMILLION, BLUISH_GREEN, REDDISH_PURPLE, BLACK = "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#000000"
CATEGORICAL = (BLUE, VERMILLION, BLUISH_GREEN, REDDISH_PURPLE, BLACK)
RIGHT, WRONG = BLUE, VERMILLION  # a right and a wrong answer (with ✓ and ✗ beside the colour)
RIGHT_MARK, WRONG_MARK = "✓", "✗"
NEUTRAL = "#767676"  # grey marks and notes (the other digits' bars, reference lines): 4.5:1 on white

# Viridis, dark to light: a colour scale of ten stops (as Streamlit's theme takes it).
SEQUENTIAL = tuple(sequential.Viridis)
# Signed values, negative to positive: ColorBrewer's RdBu ends around white. core.lessons.inside draws them (lessons
# never import views, and this module must not import torch: the Home page's diagram uses it before its first paint);
# tests/test_palettes.py holds the two equal.
SIGNED = ("#2166ac", "#ffffff", "#b2182b")


def rgb(colour: str) -> tuple[int, int, int]:
    """'#0072b2' → (0, 114, 178)."""
    text = colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"a colour is written #rrggbb, not {colour!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def hex_colour(values: Sequence[float]) -> str:
    """(0, 114, 178) → '#0072b2' (rounded, clipped to 0-255)."""
    return "#" + "".join(f"{min(255, max(0, round(v))):02x}" for v in values)


def relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of an sRGB colour: 0 for black, 1 for white."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb(colour))]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str = BACKGROUND) -> float:
    """WCAG 2.1's contrast ratio of two colours, 1 to 21."""
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink_on(fill: str) -> str:
    """The text colour to write on `fill`: black or white, whichever stands out more (on any fill one of them
    reaches 4.58:1, above TEXT_CONTRAST)."""
    return BLACK if contrast(BLACK, fill) >= contrast(WHITE, fill) else WHITE


def tint(colour: str, amount: float) -> str:
    """`colour` laid over white at `amount` (0: white, 1: the colour itself)."""
    return hex_colour([255 + (c - 255) * amount for c in rgb(colour)])


def for_marks(scale: Sequence[str], background: str = BACKGROUND) -> tuple[str, ...]:
    """The dark part of a scale whose every colour keeps MARK_CONTRAST against the background, for lines."""
    kept = []
    for colour in scale:
        if contrast(colour, background) < MARK_CONTRAST:
            break
        kept.append(colour)
    return tuple(kept)


def colorscale(colours: Sequence[str], reverse: bool = False) -> list[list]:
    """A Plotly colorscale ([[0, c0], ..., [1, cn]]) through the colours, evenly spaced."""
    colours = list(reversed(colours)) if reverse else list(colours)
    last = max(len(colours) - 1, 1)
    return [[i / last, colour] for i, colour in enumerate(colours)]


# Confusion-matrix cells: a scale from almost white to the full colour, one for right answers, one for mistakes.
RIGHT_SCALE = [[0.0, tint(RIGHT, 0.06)], [1.0, RIGHT]]
WRONG_SCALE = [[0.0, tint(WRONG, 0.06)], [1.0, WRONG]]
