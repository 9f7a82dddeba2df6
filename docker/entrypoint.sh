#!/bin/sh
# Container entry point of `cvm-attest serve`. Secrets arrive as environment variables (Azure
# Container Apps secret references to Key Vault); they are written once to 0600 files in a private
# folder, never echoed, and the service is exec'd (it gets SIGTERM directly and drains).
#   CVM_ATTEST_SIGNING_KEY_PEM  token signing key(s), PEM          (or CVM_ATTEST_SIGNING_KEY_FILE)
#   CVM_ATTEST_TLS_CERT_PEM / CVM_ATTEST_TLS_KEY_PEM  TLS chain and key (or ..._FILE)
#   CVM_ATTEST_ISSUER, CVM_ATTEST_REPLAY_STORE, CVM_ATTEST_SINKS_JSON, CVM_ATTEST_POLICY_JSON: optional
#   CVM_ATTEST_LISTEN (default 0.0.0.0:8443), CVM_ATTEST_PORT_FILE: optional
set -eu
umask 077
dir=$(mktemp -d "${TMPDIR:-/tmp}/cvm-attest.XXXXXX")
put() { # name value -> path of a 0600 file holding value
  printf '%s\n' "$2" > "$dir/$1"
  printf '%s' "$dir/$1"
}
key=${CVM_ATTEST_SIGNING_KEY_FILE:-}
[ -n "${CVM_ATTEST_SIGNING_KEY_PEM:-}" ] && key=$(put signing-key.pem "$CVM_ATTEST_SIGNING_KEY_PEM")
if [ -z "$key" ]; then echo "cvm-attest: set CVM_ATTEST_SIGNING_KEY_PEM (or CVM_ATTEST_SIGNING_KEY_FILE) [E_SIGNING_KEY]" >&2; exit 2; fi
cert=${CVM_ATTEST_TLS_CERT_FILE:-}
tlskey=${CVM_ATTEST_TLS_KEY_FILE:-}
[ -n "${CVM_ATTEST_TLS_CERT_PEM:-}" ] && cert=$(put tls-cert.pem "$CVM_ATTEST_TLS_CERT_PEM")
[ -n "${CVM_ATTEST_TLS_KEY_PEM:-}" ] && tlskey=$(put tls-key.pem "$CVM_ATTEST_TLS_KEY_PEM")
unset CVM_ATTEST_SIGNING_KEY_PEM CVM_ATTEST_TLS_KEY_PEM CVM_ATTEST_TLS_CERT_PEM
set -- serve --listen "${CVM_ATTEST_LISTEN:-0.0.0.0:8443}" --signing-key "$key"
[ -n "$cert" ] && set -- "$@" --tls-cert "$cert" --tls-key "$tlskey"
[ -n "${CVM_ATTEST_PORT_FILE:-}" ] && set -- "$@" --port-file "$CVM_ATTEST_PORT_FILE"
[ -n "${CVM_ATTEST_ISSUER:-}" ] && set -- "$@" --issuer "$CVM_ATTEST_ISSUER"
if [ -n "${CVM_ATTEST_REPLAY_STORE:-}" ]; then set -- "$@" --replay-store "$CVM_ATTEST_REPLAY_STORE"; unset CVM_ATTEST_REPLAY_STORE; fi
if [ -n "${CVM_ATTEST_SINKS_JSON:-}" ] && [ "$CVM_ATTEST_SINKS_JSON" != "{}" ]; then set -- "$@" --sinks "$(put sinks.json "$CVM_ATTEST_SINKS_JSON")"; fi
[ -n "${CVM_ATTEST_POLICY_JSON:-}" ] && set -- "$@" --policy "$(put policy.json "$CVM_ATTEST_POLICY_JSON")"
[ -n "${CVM_ATTEST_TOKEN_LIFETIME:-}" ] && set -- "$@" --token-lifetime "$CVM_ATTEST_TOKEN_LIFETIME"
exec node "$(dirname "$0")/../bin/cvm-attest.js" "$@"
