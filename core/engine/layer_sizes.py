"""Layer sizes as a setting's kind: the hidden layers' widths, or the conv layers' channels.

Each context spells them in one method: a link "128-64", a text field "128, 64", the CLI "128 64", people
"784 → 128 → 64 → 10", a script (128, 64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.engine.kinds import ConfigError, Kind, read_whole

INPUTS, OUTPUTS = 784, 10  # MNIST's pixels and digits: the network's first and last widths


@dataclass(frozen=True)
class Hidden(Kind):
    """Layer sizes: `shortest` to `longest` layers of low to high units each, between the widths `first` and
    `last` (None: nothing follows). The hidden layers by default, where () is none; also the conv layers' channels."""

    name: ClassVar[str] = "hidden"
    low: int = 1
    high: int = 1
    longest: int = 1
    shortest: int = 0
    first: int = INPUTS
    last: int | None = OUTPUTS
    layer: str = "hidden layer"  # what one size belongs to, for messages
    unit: str = "units"
    example: str = "128, 64"

    def check(self, setting: str, value) -> None:
        if not isinstance(value, tuple) or not self.shortest <= len(value) <= self.longest:
            count = (f"at most {self.longest}" if not self.shortest
                     else f"{self.shortest} to {self.longest}")
            raise ConfigError(setting, value, f"a list of {count} layer sizes")
        for units in value:
            if isinstance(units, bool) or not isinstance(units, int) or not self.low <= units <= self.high:
                raise ConfigError(setting, value, f"each {self.layer} must have {self.low} to {self.high} {self.unit}")

    def fits(self, value) -> bool:
        try:
            self.check(self.layer, value)
        except ConfigError:
            return False
        return True

    @property
    def allowed(self) -> str:
        count = f"at most {self.longest}" if not self.shortest else f"{self.shortest} to {self.longest}"
        return f"{count} layer sizes of {self.low} to {self.high} {self.unit}"

    def parse(self, text: str) -> tuple[int, ...]:
        """ "256-128", "256, 128", "256 128" or "784 → 256 → 10"'s middle → (256, 128); "none" or "" → ()."""
        cleaned = text.strip().lower()
        if cleaned in {"", "none", "-"}:
            return ()
        parts = cleaned.replace(",", " ").replace("-", " ").replace("→", " ").split()
        # isdecimal, not isdigit: isdigit also passes "²", which int() then refuses with a message for programmers.
        if not all(p.isdecimal() for p in parts):
            raise ValueError(f"{self.layer} sizes must be whole numbers separated by commas, such as {self.example}")
        return tuple(read_whole(p) for p in parts)

    def to_url(self, value) -> str:
        return "-".join(str(n) for n in value) or "none"

    short = to_url

    def words(self, value) -> str:
        return " → ".join(str(n) for n in self.layers(value))

    history = words

    def layers(self, value) -> tuple[int, ...]:
        """Every width in order, the first and last included: (784, 128, 64, 10)."""
        return (self.first, *value) if self.last is None else (self.first, *value, self.last)

    def to_json(self, value) -> list[int]:
        return list(value)

    def widget_value(self, value) -> str:
        return ", ".join(str(n) for n in value) or "none"

    def from_widget(self, shown) -> tuple[int, ...]:
        return self.parse(shown)

    def cli_words(self) -> dict:
        return {"type": int, "nargs": "*"}

    def cli_text(self, value) -> str:
        return " ".join(str(n) for n in value)

    def script(self, value) -> str:
        return repr(tuple(value))
