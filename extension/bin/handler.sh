#!/bin/sh
# cvm-attest Azure VM extension entry point: `bin/handler.sh <install|enable|disable|uninstall|update>`.
# Runs the bundled CLI on the Node.js runtime shipped in the package (Azure images have none), found
# relative to this script, never through PATH. The agent runs us with cwd = the extension folder.
set -u
BIN_DIR=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 4
EXT_DIR=$(dirname -- "$BIN_DIR")
NODE="$EXT_DIR/runtime/node"
[ -x "$NODE" ] || chmod u+x "$NODE" 2>/dev/null
# Nothing from the host's Node.js set-up may change how the bundle runs.
unset NODE_OPTIONS NODE_PATH
export CVM_ATTEST_EXTENSION_DIR="$EXT_DIR"
# glibc keeps freed heap above a trim threshold that grows to 32 MiB after large frees: the worker
# would idle on ~10 MB it no longer uses. A fixed threshold hands it back (measured 86 -> 75 MB RSS).
export MALLOC_TRIM_THRESHOLD_=131072
# Small V8 heaps: the worker idles between runs and must stay lean (see docs/extension.md).
exec "$NODE" --max-semi-space-size=1 --max-old-space-size=96 "$EXT_DIR/bin/cvm-attest.mjs" handler "$@"
