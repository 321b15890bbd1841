"""Preconditions in RFC 9110 §13.2.2 order, and If-Range (§13.1.5), as tables."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.utils.http import http_date

from streaming.conditional import (
    Validators,
    evaluate_preconditions,
    if_range_allows,
    strong_match,
    weak_match,
)

MODIFIED = 1_714_564_800  # 2024-05-01 12:00:00 UTC
V = Validators(etag='"abc"', last_modified=MODIFIED)
AT = http_date(MODIFIED)
BEFORE = http_date(MODIFIED - 60)
AFTER = http_date(MODIFIED + 60)
OK = None
PRECONDITION = HTTPStatus.PRECONDITION_FAILED
NOT_MODIFIED = HTTPStatus.NOT_MODIFIED


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, OK),
        ("GET", {"If-Match": '"abc"'}, OK),
        ("GET", {"If-Match": '"x", "abc"'}, OK),
        ("GET", {"If-Match": "*"}, OK),
        ("GET", {"If-Match": '"x"'}, PRECONDITION),
        ("GET", {"If-Match": 'W/"abc"'}, PRECONDITION),  # If-Match compares strongly
        ("GET", {"If-Unmodified-Since": AT}, OK),
        ("GET", {"If-Unmodified-Since": AFTER}, OK),
        ("GET", {"If-Unmodified-Since": BEFORE}, PRECONDITION),
        ("GET", {"If-Unmodified-Since": "garbage"}, OK),
        ("GET", {"If-Match": '"abc"', "If-Unmodified-Since": BEFORE}, OK),  # If-Match wins
        ("GET", {"If-None-Match": '"abc"'}, NOT_MODIFIED),
        ("HEAD", {"If-None-Match": '"abc"'}, NOT_MODIFIED),
        ("GET", {"If-None-Match": 'W/"abc"'}, NOT_MODIFIED),  # weak comparison
        ("GET", {"If-None-Match": '"x", W/"abc"'}, NOT_MODIFIED),
        ("GET", {"If-None-Match": "*"}, NOT_MODIFIED),
        ("GET", {"If-None-Match": '"x"'}, OK),
        ("POST", {"If-None-Match": '"abc"'}, PRECONDITION),
        ("GET", {"If-Modified-Since": AT}, NOT_MODIFIED),
        ("GET", {"If-Modified-Since": AFTER}, NOT_MODIFIED),
        ("GET", {"If-Modified-Since": BEFORE}, OK),
        ("GET", {"If-Modified-Since": "not a date"}, OK),
        ("GET", {"If-None-Match": '"x"', "If-Modified-Since": AT}, OK),  # INM present: IMS ignored
        ("GET", {"If-Match": '"x"', "If-None-Match": '"abc"'}, PRECONDITION),  # 412 before 304
        ("GET", {"If-Unmodified-Since": BEFORE, "If-Modified-Since": AT}, PRECONDITION),
    ],
)
def test_preconditions_follow_rfc_order(method: str, headers: dict[str, str],
                                        expected: HTTPStatus | None) -> None:
    assert evaluate_preconditions(method, headers, V) == expected


@pytest.mark.parametrize(
    ("header", "allows"),
    [
        (None, True),
        ('"abc"', True),
        ('W/"abc"', False),  # weak tags never match If-Range (Chrome sends them)
        ('"other"', False),
        (AT, True),
        (BEFORE, False),
        (AFTER, False),  # a date must be exactly Last-Modified
        ("garbage", False),
        ("", False),
    ],
)
def test_if_range_uses_strong_comparison_and_exact_dates(header: str | None, allows: bool) -> None:
    assert if_range_allows(header, V) is allows


def test_if_range_date_never_matches_without_last_modified() -> None:
    assert not if_range_allows(AT, Validators('"abc"', None))


@pytest.mark.parametrize(
    ("left", "right", "strong", "weak"),
    [('"1"', '"1"', True, True), ('W/"1"', '"1"', False, True), ('W/"1"', 'W/"1"', False, True),
     ('"1"', '"2"', False, False)],
)
def test_etag_comparison_functions_follow_rfc_table(left: str, right: str, strong: bool, weak: bool) -> None:
    assert strong_match(left, right) is strong
    assert weak_match(left, right) is weak
