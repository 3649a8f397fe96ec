"""CSV text that a spreadsheet opens safely: the one way the lab writes a CSV (CSV formula injection, CWE-1236).

A spreadsheet runs a cell that begins with =, +, -, @ (or a tab or carriage return before one) as a formula, so a
display name such as `=HYPERLINK("x")` would run on the instructor's machine. As OWASP advises, such a text cell
is written with a single quote in front: the spreadsheet shows it as text, quote hidden.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """`value` as a CSV cell: a finite number as it is, anything else as text, quoted with ' when it could start a
    formula."""
    # A real number is read as a number, never as a formula, whatever its sign: -0.5 stays a number the spreadsheet
    # can plot. Only text is escaped, so a caller gives numbers as numbers (a number already formatted as text that
    # starts with "-" is escaped too). Not finite ("-inf") is text to a spreadsheet, so it is escaped like text.
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A header and rows as CSV text, every cell through spreadsheet_cell."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_cell(cell) for cell in header])
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
