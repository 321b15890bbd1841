"""Property: whatever Range header arrives, the answer is never 5xx and its bytes are the file's."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming.signing import stream_url
from tests.streaming.conftest import MakeAsset, payload
from tests.streaming.test_views import body_of, parse_multipart

SIZE = 3_000
DATA = payload(SIZE, seed=11)

position = st.one_of(st.integers(0, SIZE * 2).map(str), st.just(""), st.text("0123456789", max_size=25))
spec = st.one_of(
    st.tuples(position, position).map(lambda pair: f"{pair[0]}-{pair[1]}"),
    st.text(alphabet="0123456789-, \t=abxyz", max_size=12),
)
range_header = st.one_of(
    st.builds(lambda unit, ws, specs: f"{unit}{ws}={ws}" + ",".join(specs),
              st.sampled_from(["bytes", "BYTES", "Bytes", "items", "byte", ""]),
              st.sampled_from(["", " ", "\t"]), st.lists(spec, min_size=0, max_size=20)),
    st.text(max_size=40).filter(lambda text: "\n" not in text and "\r" not in text),
)


def check_body_matches_file(response) -> None:
    body = body_of(response)
    assert response["Content-Length"] == str(len(body))
    if response.status_code == HTTPStatus.OK:
        assert body == DATA
    elif response.status_code == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
        assert body == b"" and response["Content-Range"] == f"bytes */{SIZE}"
    elif response["Content-Type"].startswith("multipart/byteranges"):
        parts = parse_multipart(body, response["Content-Type"])
        assert len(parts) >= 2
        for headers, data in parts:
            start, end, size = map(int, re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers["Content-Range"]).groups())
            assert size == SIZE and data == DATA[start : end + 1]
    else:
        start, end, size = map(int, re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", response["Content-Range"]).groups())
        assert size == SIZE and body == DATA[start : end + 1]


@pytest.fixture
def asset_url(make_asset: MakeAsset) -> str:
    """Function-scoped, so one asset serves every example of a run."""
    return stream_url(make_asset(DATA))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=range_header, weak_if_range=st.booleans())
def test_random_range_headers_never_5xx_and_bodies_are_file_bytes(
        client: Client, asset_url: str, header: str, weak_if_range: bool) -> None:
    headers = {"Range": header}
    if weak_if_range:
        headers["If-Range"] = 'W/"anything"'
    response = client.get(asset_url, headers=headers)
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT,
                                     HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
    if weak_if_range:
        assert response.status_code == HTTPStatus.OK
    check_body_matches_file(response)
