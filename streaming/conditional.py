"""Conditional requests (RFC 9110 §13): validators, 304/412 in the spec's order, and If-Range.

Django's own parsers are reused (`parse_etags`, `parse_http_date_safe`); what Django lacks is
the If-Range evaluation and a strong/weak comparison that can be used outside a response, so
those are written here as small pure predicates over a `Validators` pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

from django.utils.http import parse_etags, parse_http_date_safe

_SAFE_METHODS = frozenset({"GET", "HEAD"})


class RequestHeaders(Protocol):
    """Request headers by HTTP name ("If-Match"), None when absent: Django's `request.headers`,
    or a plain dict in tests."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True)
class Validators:
    """The representation's strong ETag (quoted, e.g. '"ab12"') and Last-Modified (epoch s)."""

    etag: str
    last_modified: int | None


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def strong_match(tag: str, current: str) -> bool:
    """Strong comparison (§8.8.3.2): both tags strong and byte-for-byte equal."""
    return not tag.startswith("W/") and not current.startswith("W/") and tag == current


def weak_match(tag: str, current: str) -> bool:
    """Weak comparison (§8.8.3.2): the opaque tags are equal, whatever the W/ prefixes."""
    return _opaque(tag) == _opaque(current)


def _if_match_passes(header: str, validators: Validators) -> bool:
    """If-Match (§13.1.1): `*` or any listed tag strongly matching."""
    tags = parse_etags(header)
    return tags == ["*"] or any(strong_match(tag, validators.etag) for tag in tags)


def _if_unmodified_since_passes(header: str, validators: Validators) -> bool:
    """If-Unmodified-Since (§13.1.4); an unparsable date is ignored, as the RFC requires."""
    since = parse_http_date_safe(header)
    if since is None:
        return True
    return validators.last_modified is not None and validators.last_modified <= since


def _if_none_match_passes(header: str, validators: Validators) -> bool:
    """If-None-Match (§13.1.2): false when `*` or any listed tag weakly matches."""
    tags = parse_etags(header)
    return tags != ["*"] and not any(weak_match(tag, validators.etag) for tag in tags)


def _if_modified_since_passes(header: str, validators: Validators) -> bool:
    """If-Modified-Since (§13.1.3): false when the representation is not newer than the date."""
    since = parse_http_date_safe(header)
    if since is None or validators.last_modified is None:
        return True
    return validators.last_modified > since


def evaluate_preconditions(
    method: str, headers: RequestHeaders, validators: Validators
) -> HTTPStatus | None:
    """The precondition outcome in RFC 9110 §13.2.2 order: 412, 304, or None to carry on.

    Steps 1-4 of §13.2.2; step 5 (If-Range) decides only whether Range applies, so it is
    `if_range_allows` below.
    """
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not _if_match_passes(if_match, validators):
            return HTTPStatus.PRECONDITION_FAILED
    else:
        if_unmodified_since = headers.get("If-Unmodified-Since")
        if if_unmodified_since and not _if_unmodified_since_passes(if_unmodified_since, validators):
            return HTTPStatus.PRECONDITION_FAILED
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if not _if_none_match_passes(if_none_match, validators):
            safe = method in _SAFE_METHODS
            return HTTPStatus.NOT_MODIFIED if safe else HTTPStatus.PRECONDITION_FAILED
    elif method in _SAFE_METHODS:
        if_modified_since = headers.get("If-Modified-Since")
        if if_modified_since and not _if_modified_since_passes(if_modified_since, validators):
            return HTTPStatus.NOT_MODIFIED
    return None


def if_range_allows(header: str | None, validators: Validators) -> bool:
    """If-Range (§13.1.5): whether a Range header may be honoured.

    An entity-tag must match strongly (a weak tag, as Chrome sends, never does); a date must
    equal Last-Modified exactly. Anything else, unparsable values included, means "send the
    whole representation", which is always safe.
    """
    if header is None:
        return True
    value = header.strip()
    if value.startswith(('"', "W/")):
        return strong_match(value, validators.etag)
    date = parse_http_date_safe(value)
    return date is not None and date == validators.last_modified
