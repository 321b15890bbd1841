"""The storage backends' errors, translated once for every reader and writer of stored bytes
(streaming's sources, media_pipeline's storage and worker) into the two exception types the
rest of the code knows: `TransientStorageError` (retry later) and `FileNotFoundError` (the
object is gone)."""

from __future__ import annotations

import boto3.exceptions
import botocore.exceptions


class TransientStorageError(Exception):
    """The backend is briefly unavailable (S3 5xx, a connection reset): worth a retry."""


def is_transient_s3_error(exc: BaseException) -> bool:
    """S3 5xx, throttling and connection-level failures clear up on their own; 4xx do not."""
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout")
    return False


S3_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
             boto3.exceptions.Boto3Error)


def translate_s3_error(exc: Exception) -> Exception:
    """Map a boto3/botocore error to FileNotFoundError, TransientStorageError, or itself."""
    if isinstance(exc, boto3.exceptions.Boto3Error):
        # The transfer manager wraps the part's ClientError; the cause tells what it was.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, Exception) and cause is not exc:
            return translate_s3_error(cause)
        return TransientStorageError(str(exc))
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload"):
            return FileNotFoundError(str(exc))
    if is_transient_s3_error(exc):
        return TransientStorageError(str(exc))
    return exc
