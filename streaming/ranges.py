"""Byte ranges (RFC 9110 §14): parse the Range header, then clamp it to the representation.

Two pure steps, as on the wire: `parse_range_header` turns the header into `RangeSpec`s (or
`None`: ignore the header and send 200), `resolve_ranges` clamps them to the size and coalesces
them into `ByteRange`s (or raises `RangeNotSatisfiable`: send 416). Ends are inclusive everywhere.

Policy for odd input, with the reason:

- An unknown unit is ignored (§14.2: "MUST ignore"); the unit is case-insensitive (§14.1).
- A syntactically invalid range-set (`bytes=5-4`, `bytes=a-b`, `bytes=`) is ignored: §14.2 lets a
  server ignore Range, and a full 200 is always a correct answer, where a 416 would stop a
  player that sent something odd.
- More than `max_ranges` specs: ignored (200), like nginx's `max_ranges`. Counting happens
  before any number is parsed, so a hostile header costs linear time.
- Ranges whose lengths add up to more than the file (before coalescing): ignored (200), as nginx
  does; otherwise `bytes=0-,0-,0-...` would amplify one file into many (§15.5.17 allows refusing
  "an excessive request of small or overlapping ranges").
- Overlapping or adjacent ranges are coalesced (§14.2 allows it); the survivors keep the order in
  which they were requested (§15.3.7.2 SHOULD).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# int-range = first-pos "-" [ last-pos ] / suffix-range = "-" suffix-length (§14.1.1).
_SPEC = re.compile(r"(\d*)-(\d*)")
# Python's int() refuses strings of more than 4300 digits; anything above 18 digits is larger
# than any file, so it is clamped here instead of being converted.
_MAX_DIGITS = 18
_HUGE = 10**_MAX_DIGITS


class RangeNotSatisfiable(Exception):
    """No requested range overlaps the representation (RFC 9110 §15.5.17): answer 416."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no satisfiable range in a representation of {size} bytes")
        self.size = size


@dataclass(frozen=True)
class RangeSpec:
    """One range-spec as sent: `first`/`last` are None where the client left them out."""

    first: int | None
    last: int | None


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable range of the representation: `start` and `end` both inclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """The Content-Range value for this range (RFC 9110 §14.4)."""
        return f"bytes {self.start}-{self.end}/{size}"


def _position(digits: str) -> int | None:
    if not digits:
        return None
    return int(digits) if len(digits) <= _MAX_DIGITS else _HUGE


def parse_range_header(header: str | None, max_ranges: int) -> list[RangeSpec] | None:
    """Parse a Range header (RFC 9110 §14.2); None means "ignore it and send the whole file"."""
    if not header:
        return None
    unit, sep, range_set = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    # §5.6.1: a list may carry empty elements and OWS around the commas.
    elements = [element.strip(" \t") for element in range_set.split(",")]
    elements = [element for element in elements if element]
    if not elements or len(elements) > max_ranges:
        return None
    specs = []
    for element in elements:
        match = _SPEC.fullmatch(element)
        if match is None:
            return None
        first, last = _position(match[1]), _position(match[2])
        if first is None and last is None:
            return None
        if first is not None and last is not None and last < first:
            return None
        specs.append(RangeSpec(first, last))
    return specs


def _clamp(spec: RangeSpec, size: int) -> ByteRange | None:
    """One spec against the size (§14.1.1); None if it is unsatisfiable."""
    if spec.first is None:
        # A suffix: the last N bytes; longer than the file means the whole file; -0 is nothing.
        if not spec.last or size == 0:
            return None
        return ByteRange(max(size - spec.last, 0), size - 1)
    if spec.first >= size:
        return None
    end = size - 1 if spec.last is None else min(spec.last, size - 1)
    return ByteRange(spec.first, end)


def _coalesce(ranges: list[ByteRange]) -> list[ByteRange]:
    """Merge overlapping and adjacent ranges; keep each group at its earliest requested place."""
    if len(ranges) == 1:  # nearly every request: a player's seek
        return ranges
    order = sorted(range(len(ranges)), key=lambda index: ranges[index].start)
    groups: list[tuple[int, ByteRange]] = []
    for index in order:
        current = ranges[index]
        if groups and current.start <= groups[-1][1].end + 1:
            first_index, merged = groups[-1]
            end = max(merged.end, current.end)
            groups[-1] = (min(first_index, index), ByteRange(merged.start, end))
        else:
            groups.append((index, current))
    groups.sort(key=lambda group: group[0])
    return [merged for _, merged in groups]


def resolve_ranges(specs: list[RangeSpec], size: int) -> list[ByteRange] | None:
    """Clamp parsed specs to `size` and coalesce them (§14.2).

    Returns None when the ranges should be ignored (they add up to more than the file), and
    raises RangeNotSatisfiable when none of them overlaps the representation.
    """
    clamped = [byte_range for spec in specs if (byte_range := _clamp(spec, size)) is not None]
    if not clamped:
        if size == 0 and any(spec.first is None and spec.last for spec in specs):
            # §14.1.1: on an empty file a non-zero suffix is satisfiable yet selects nothing.
            return None
        raise RangeNotSatisfiable(size)
    if sum(byte_range.length for byte_range in clamped) > size:
        return None
    return _coalesce(clamped)


def ranges_for(header: str | None, size: int, max_ranges: int) -> list[ByteRange] | None:
    """Parse and resolve in one step: ranges to send, None for a 200, or RangeNotSatisfiable."""
    specs = parse_range_header(header, max_ranges)
    return None if specs is None else resolve_ranges(specs, size)
