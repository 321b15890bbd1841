"""The embedded setup's SECRET_KEY: random, made once under var/ and kept there.

No key written in the repository ever signs anything. Production (DJANGO_DEBUG=false) names its
key in the environment instead, because every web host of one site must share it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def local_secret_key(path: Path) -> str:
    """The key kept in `path`, made there on the first call (readable by its owner only).

    The web server, the worker and `manage.py` may all start at once: the key is written to a
    draft file of its own and linked into place, which fails for all but the first, so
    every process reads the one key that won.
    """
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        os.write(fd, (secrets.token_urlsafe(50) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        os.unlink(draft)
    return path.read_text().strip()
