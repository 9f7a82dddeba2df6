#!/bin/sh
# Fetches Debian's `waagent` package (the real Azure Linux agent) and unpacks it - WITHOUT installing
# it (its post-install would start a daemon that talks to the wire server). Idempotent: the .deb and
# the unpacked tree are cached under .cache/waagent/ (gitignored). Prints the agent's Python path
# (for PYTHONPATH) as its last line. Used by test/agent/.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
CACHE="$ROOT/.cache/waagent"
mkdir -p "$CACHE"
DEB=$(ls "$CACHE"/waagent_*_all.deb 2>/dev/null | head -n 1 || true)
if [ -z "$DEB" ]; then
  # A machine whose package lists are missing or stale cannot find the .deb: refresh them once.
  (cd "$CACHE" && apt-get download waagent >/dev/null 2>&1) ||
    { apt-get update -qq >/dev/null 2>&1 && (cd "$CACHE" && apt-get download waagent >/dev/null 2>&1); } || {
    echo "fetch-waagent: 'apt-get download waagent' failed, even after 'apt-get update' (run as root with Debian's repositories reachable)" >&2
    exit 1
  }
  DEB=$(ls "$CACHE"/waagent_*_all.deb | head -n 1)
fi
STAMP="$CACHE/root/.unpacked-$(basename "$DEB")"
if [ ! -f "$STAMP" ]; then
  rm -rf "$CACHE/root"
  mkdir -p "$CACHE/root"
  dpkg -x "$DEB" "$CACHE/root"
  touch "$STAMP"
fi
PYPATH="$CACHE/root/usr/lib/python3/dist-packages"
[ -f "$PYPATH/azurelinuxagent/ga/exthandlers.py" ] || { echo "fetch-waagent: unexpected package layout" >&2; exit 1; }
echo "$PYPATH"
