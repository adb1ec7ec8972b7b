#!/usr/bin/env bash
# The pinned kustomize, built once from the Go module proxy into the state folder.
#   deploy/k8s/kustomize.sh                      install if missing, print its path
#   deploy/k8s/kustomize.sh build <overlay>      run it (any kustomize arguments)
# A versioned folder: changing VERSION builds the new one beside the old.
set -euo pipefail
VERSION=v5.8.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=$(realpath -m "${INTAKE_STATE_DIR:-$ROOT/.state}")
BIN=$STATE/tools/kustomize-$VERSION/kustomize

if [[ ! -x $BIN ]]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "kustomize.sh: Go is needed to build kustomize $VERSION (apt-get install golang)" >&2
        exit 1
    fi
    echo "kustomize.sh: building kustomize $VERSION into $(dirname "$BIN") (once, a few minutes)" >&2
    GOBIN=$(dirname "$BIN") GOFLAGS=-buildvcs=false nice -n 10 \
        go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION" >&2
fi
if [[ $# -eq 0 ]]; then
    echo "$BIN"
else
    exec "$BIN" "$@"
fi
