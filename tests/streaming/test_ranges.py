"""The Range parser and clamp (RFC 9110 §14), as tables."""

from __future__ import annotations

import time

import pytest

from streaming.ranges import (
    ByteRange,
    RangeNotSatisfiable,
    RangeSpec,
    parse_range_header,
    ranges_for,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", [ByteRange(0, 0)]),
        ("bytes=0-1", [ByteRange(0, 1)]),
        ("bytes=0-", [ByteRange(0, 999)]),
        ("bytes=10-19", [ByteRange(10, 19)]),
        ("bytes=990-2000", [ByteRange(990, 999)]),
        ("bytes=-1", [ByteRange(999, 999)]),
        ("bytes=-100", [ByteRange(900, 999)]),
        ("bytes=-5000", [ByteRange(0, 999)]),
        ("bytes=999-", [ByteRange(999, 999)]),
        ("Bytes=0-9", [ByteRange(0, 9)]),
        ("BYTES=0-9", [ByteRange(0, 9)]),
        ("bytes=0-9 , 20-29", [ByteRange(0, 9), ByteRange(20, 29)]),
        ("bytes=0-9,\t20-29", [ByteRange(0, 9), ByteRange(20, 29)]),
        ("bytes=0-9,,20-29,", [ByteRange(0, 9), ByteRange(20, 29)]),
        ("bytes=0-9,5-14", [ByteRange(0, 14)]),
        ("bytes=0-9,10-19", [ByteRange(0, 19)]),
        ("bytes=50-59,0-9", [ByteRange(50, 59), ByteRange(0, 9)]),
        ("bytes=50-59,0-9,5-52", [ByteRange(0, 59)]),
        ("bytes=0-9,2000-3000", [ByteRange(0, 9)]),
        ("bytes=0-99999999999999999999999", [ByteRange(0, 999)]),
    ],
)
def test_satisfiable_ranges_are_clamped_and_coalesced(header: str, expected: list[ByteRange]) -> None:
    assert ranges_for(header, SIZE, max_ranges=16) == expected


@pytest.mark.parametrize(
    "header",
    [
        None, "", "items=0-5", "bytes", "bytes=", "bytes=,", "bytes=5-4", "bytes=a-b", "bytes=1-2-3",
        "bytes=-", "bytes=0x10-20", "bytes=+1-2", "bytes=0-9;20-29", "bytes=0 - 9", "0-9",
        "bytes=0-,0-",  # adds up to more than the file: no amplification
        "bytes=0-599,400-999",
    ],
)
def test_ignored_headers_give_the_whole_file(header: str | None) -> None:
    assert ranges_for(header, SIZE, max_ranges=16) is None


@pytest.mark.parametrize(
    "header", ["bytes=-0", "bytes=1000-", "bytes=1000-1000", "bytes=5000-6000,1000-", "bytes=-0,-0",
               "bytes=99999999999999999999999-"],
)
def test_unsatisfiable_ranges_raise_with_the_size(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        ranges_for(header, SIZE, max_ranges=16)
    assert caught.value.size == SIZE


def test_more_ranges_than_the_cap_are_ignored() -> None:
    header = "bytes=" + ",".join(f"{i * 10}-{i * 10}" for i in range(17))
    assert ranges_for(header, SIZE, max_ranges=16) is None
    assert len(ranges_for(header, SIZE, max_ranges=17) or []) == 17


def test_parser_keeps_missing_positions_as_none() -> None:
    assert parse_range_header("bytes=-5, 7-", 16) == [RangeSpec(None, 5), RangeSpec(7, None)]


def test_empty_file_answers_a_suffix_with_the_whole_empty_file() -> None:
    assert ranges_for("bytes=-5", 0, max_ranges=16) is None


def test_empty_file_cannot_satisfy_a_first_position() -> None:
    with pytest.raises(RangeNotSatisfiable):
        ranges_for("bytes=0-", 0, max_ranges=16)


def test_hostile_headers_are_parsed_in_linear_time() -> None:
    headers = ["bytes=" + "0-0," * 200_000, "bytes=" + ",".join(["1-2"] * 16) + "9" * 100_000]
    started = time.perf_counter()
    for header in headers:
        ranges_for(header, SIZE, max_ranges=16)
    assert time.perf_counter() - started < 0.5


def test_content_range_has_inclusive_end() -> None:
    assert ByteRange(0, 0).content_range(10) == "bytes 0-0/10"
    assert ByteRange(0, 0).length == 1
