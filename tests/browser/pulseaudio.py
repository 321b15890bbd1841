"""A sound card that plays into nothing, in real time: a private PulseAudio with one null sink.

Headless Firefox with no sound output fails every <audio> with MEDIA_ERR_DECODE (a plain MP3
too) and never starts an AudioContext. ALSA's `null` device needs no daemon but is no way out:
it has no clock, so it takes samples as fast as they come (playback races to the end while the
audio thread spins), and it offers 2^30 channels, which Firefox's Web Audio graph tries to
open and never does. PulseAudio's null sink keeps time like a real card.

One daemon per Firefox, with a directory of its own for its socket, cookie and state: no
D-Bus, no default script, no other client, nothing written to $HOME.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import spawn, stop_process, wait_for

PULSEAUDIO = "/usr/bin/pulseaudio"


@contextmanager
def null_sink() -> Iterator[dict[str, str]]:
    """Start the daemon; yield the environment that sends a client's sound to it."""
    home = Path(tempfile.mkdtemp(prefix="pulseaudio-"))
    socket = home / "native"
    daemon_env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
                  "PULSE_RUNTIME_PATH": str(home), "PULSE_STATE_PATH": str(home)}
    proc = spawn([PULSEAUDIO, "-n", "--daemonize=no", "--use-pid-file=no", "--exit-idle-time=-1",
                  "--realtime=no", "--high-priority=no", "--log-target=stderr",
                  "-L", "module-null-sink sink_name=nowhere",
                  "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1"],
                 home / "pulseaudio.log", env=daemon_env, cwd=home)
    try:
        wait_for(socket.exists, 20, "PulseAudio's socket")
        yield {"PULSE_SERVER": f"unix:{socket}", "PULSE_COOKIE": str(home / "cookie")}
    finally:
        stop_process(proc)
        shutil.rmtree(home, ignore_errors=True)
