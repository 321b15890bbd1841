"""Debian's Firefox ESR, headless, driven through Marionette (PyPI `marionette-driver`).

Playwright drives only its own Firefox build, which cannot be downloaded here; Marionette is
Firefox's own remote protocol, built into every release. One browser per test session, with a
profile of its own: autoplay allowed (the tests press play from script), no updates, no
telemetry, nothing fetched but loopback, and its sound played into a null sink of its own
(tests/browser/pulseaudio.py), without which it plays no <audio> at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marionette_driver.marionette import Marionette

from tests.browser.pulseaudio import null_sink
from tests.services import free_port, port_open, stop_process, wait_for

FIREFOX = "/usr/bin/firefox-esr"
PREFERENCES = {
    "media.autoplay.default": 0,  # allowed
    "media.autoplay.blocking_policy": 0,
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
    "network.proxy.type": 0,
}


def _user_js(port: int) -> str:
    prefs = {**PREFERENCES, "marionette.port": port}
    return "".join(f"user_pref({name!r}, {str(value).lower() if isinstance(value, bool) else repr(value)});\n"
                   .replace("'", '"') for name, value in prefs.items())


@contextmanager
def firefox() -> Iterator[Marionette]:
    """A headless Firefox ESR and a Marionette session on it; both end on exit."""
    with null_sink() as sound_env:
        profile = Path(tempfile.mkdtemp(prefix="firefox-profile-"))
        port = free_port()
        (profile / "user.js").write_text(_user_js(port))
        proc = subprocess.Popen([FIREFOX, "--headless", "--marionette", "--no-remote",
                                 "--profile", str(profile)], env={**os.environ, **sound_env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            wait_for(lambda: port_open(port), 60, "Firefox's Marionette port")
            client = Marionette(host="127.0.0.1", port=port)
            client.start_session()
            try:
                yield client
            finally:
                client.delete_session()
        finally:
            stop_process(proc)
            shutil.rmtree(profile, ignore_errors=True)
