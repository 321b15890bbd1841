"""The two hand-off delivery modes (STREAM_DELIVERY): nginx's X-Accel-Redirect and a presigned
S3 URL. Both run only after the view has authorised the request and evaluated preconditions.
"""

from __future__ import annotations

from urllib.parse import quote

from streaming.conf import StreamSettings
from streaming.objects import LocalFile, S3Object


def accel_redirect(where: LocalFile, headers: dict[str, str], conf: StreamSettings) -> dict[str, str]:
    """Let nginx send a local file (deploy/nginx/media.conf): the headers of an empty 200 naming
    the internal location. nginx keeps Content-Type, Content-Disposition, Cache-Control and
    Accept-Ranges from this answer; the example config re-adds ETag and Last-Modified."""
    headers = {name: value for name, value in headers.items()
               if name != "Accept-Ranges"}  # nginx adds its own; two would be sent
    headers["X-Accel-Redirect"] = conf.xaccel_prefix + quote(where.accel_name, safe="/")
    headers["Content-Length"] = "0"
    return headers


def presigned_redirect(where: S3Object, headers: dict[str, str], conf: StreamSettings) -> dict[str, str]:
    """The headers of a 302 to a short-lived presigned GetObject URL that sets our type and
    disposition, signed by the object's presigning client (for the host browsers use)."""
    url = (where.presign_client or where.client).generate_presigned_url(
        "get_object",
        Params={"Bucket": where.bucket, "Key": where.key,
                "ResponseContentType": headers["Content-Type"],
                "ResponseContentDisposition": headers["Content-Disposition"]},
        ExpiresIn=conf.presign_ttl,
    )
    # The target expires: a cached redirect would outlive it.
    return {"Location": url, "Cache-Control": "private, no-store", "Content-Length": "0"}
