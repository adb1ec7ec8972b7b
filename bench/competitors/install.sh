#!/usr/bin/env bash
# The competitors bench/competitors.py measures Intake beside, installed once into the state folder.
# Benchmark tools only: nothing of theirs enters the product.
#   bench/competitors/install.sh        install what is missing, print "tusd=<path> companion=<dir>"
set -euo pipefail
TUSD_VERSION=v2.9.1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=$(realpath -m "${INTAKE_STATE_DIR:-$ROOT/.state}")
TUSD=$STATE/tools/tusd-$TUSD_VERSION/tusd
COMPANION=$STATE/tools/companion-$(sha256sum "$HERE/package-lock.json" | cut -c1-12)

if [[ ! -x $TUSD ]]; then
    command -v go >/dev/null 2>&1 || { echo "install.sh: Go is needed to build tusd" >&2; exit 1; }
    echo "install.sh: building tusd $TUSD_VERSION into $(dirname "$TUSD") (once)" >&2
    GOBIN=$(dirname "$TUSD") GOFLAGS=-buildvcs=false nice -n 10 \
        go install "github.com/tus/tusd/v2/cmd/tusd@$TUSD_VERSION" >&2
fi
if [[ ! -f $COMPANION/node_modules/.package-lock.json ]]; then
    command -v npm >/dev/null 2>&1 || { echo "install.sh: npm is needed for Companion" >&2; exit 1; }
    echo "install.sh: installing @uppy/companion (bench/competitors/package-lock.json) into $COMPANION" >&2
    mkdir -p "$COMPANION"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$COMPANION/"
    (cd "$COMPANION" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)
fi
echo "tusd=$TUSD companion=$COMPANION"
