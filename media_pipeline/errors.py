"""The pipeline's one user-facing failure."""

from __future__ import annotations


class Unacceptable(Exception):
    """The file can never be processed; the message is shown to the uploader as it is."""
