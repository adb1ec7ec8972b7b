"""`make bench`: every benchmark bench/benchmarks.toml lists for it, then docs/benchmarks.md.

python -m bench.run_all [name ...]   (the system up: `make up`; names pick a subset)
"""

import shlex
import subprocess
import sys

from bench import render


def main() -> None:
    only = set(sys.argv[1:])
    chosen = [b for b in render.specs() if b.make_bench and (not only or b.name in only)]
    for benchmark in chosen:
        print(f"== {benchmark.name}: {benchmark.run}", flush=True)
        program, *arguments = shlex.split(benchmark.run)
        command = [sys.executable if program == "python" else program, *arguments]
        subprocess.run(command, cwd=render.ROOT, check=True)
    render.main()


if __name__ == "__main__":
    main()
