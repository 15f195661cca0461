#!/bin/sh
# Install the Debian packages smsgw needs, or say exactly how to.
# Usage: tools/deps.sh PKG...   (called by `make deps`)
set -u
missing=""
for p in "$@"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || exit 1
        apt-get install -y -qq --no-install-recommends $missing || exit 1
    else
        echo "deps: missing Debian packages. Run as root:"
        echo "  apt-get install -y$missing"
        exit 1
    fi
fi
# The independent SMPP peer used by the interop tests (node-smpp), pinned by
# tests/interop/package-lock.json.
if [ -f tests/interop/package.json ] && [ ! -d tests/interop/node_modules/smpp ]; then
    if command -v npm >/dev/null 2>&1; then
        (cd tests/interop && npm ci --silent --no-audit --no-fund) || exit 1
    else
        echo "deps: npm not found; the interop tests need node and npm"
        exit 1
    fi
fi
exit 0
