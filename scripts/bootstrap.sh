#!/usr/bin/env bash
# Install whatever is missing, and nothing that is already there:
#   Debian packages (apt-get, only the missing ones), then .venv from requirements.lock.
# Usage: scripts/bootstrap.sh run|test
# A second call with nothing missing takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
packages="redis-server libmagic1 ffmpeg"
if [ "$mode" = test ]; then
  # The integration tests run the real services: PostgreSQL, nginx (x-accel), Chromium and
  # Firefox ESR (playback in both), and PulseAudio for a null sound card Firefox can play into.
  packages="$packages postgresql nginx chromium firefox-esr fonts-dejavu-core pulseaudio"
fi

missing=""
for pkg in $packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "==> installing Debian packages:$missing"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends $missing
  # Debian starts these as system services on install; the project runs its own copies.
  for svc in redis-server postgresql nginx; do
    $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
  done
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python packages from requirements.lock"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  echo "$want" > "$stamp"
fi
mkdir -p var
