"""Students' display names on the Class page: 1 to 30 plain characters, checked wherever a name arrives.

A name is shown as text, never rendered, so markup in it is harmless; what is refused are characters that
change how text around them looks (control characters, right-to-left and zero-width marks).
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 30
# Unicode categories a name may not contain: controls, format marks (bidi, zero-width), surrogates, private
# use and unassigned code points, and line or paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_name(text: str) -> str:
    """The name as it will be kept: composed (NFC), with spaces at either end removed."""
    return unicodedata.normalize("NFC", text).strip()


def name_problem(text: object) -> str | None:
    """Why `text` cannot be a display name, in words for the student; None when it can (after clean_name)."""
    if not isinstance(text, str):
        return "A display name must be text."
    name = clean_name(text)
    if not name:
        return "Type a display name: at least one character that is not a space."
    if len(name) > MAX_NAME_CHARS:
        return f"A display name has at most {MAX_NAME_CHARS} characters; this one has {len(name)}."
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in name):
        return ("A display name may not contain control characters or invisible marks "
                "(such as right-to-left or zero-width marks). Letters, digits, spaces and punctuation are fine.")
    return None


def is_display_name(text: object) -> bool:
    """True when `text` is already a clean, valid display name (as saved in run.json)."""
    return isinstance(text, str) and name_problem(text) is None and clean_name(text) == text
