#!/usr/bin/env bash
# Issue 15's whole before/after table in one command, for a quiet machine with the stack up
# (`bash deploy/stack.sh up`): the checkout of BEFORE (default bcf4dfe, before issue 15) and
# this one, measured one after the other by bench/cpu_per_op.py, then docs/benchmarks.md
# rendered from the results (cpu_per_op_before.json, cpu_per_op.json).
#
#   bash bench/issue15.sh [BEFORE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
before=${1:-bcf4dfe}
tree="$root/.state/issue15-before-$before"
uv=$(command -v uv || echo "$HOME/.local/bin/uv")
if [ ! -d "$tree" ]; then
    git -C "$root" worktree add --detach "$tree" "$before"
fi
(cd "$tree" && UV_LINK_MODE=copy "$uv" sync --frozen --compile-bytecode --quiet && make web >/dev/null)
cd "$root"
.venv/bin/python -m bench.cpu_per_op --checkout "$tree" --name cpu_per_op_before
.venv/bin/python -m bench.cpu_per_op --name cpu_per_op
.venv/bin/python bench/run_all.py --render
