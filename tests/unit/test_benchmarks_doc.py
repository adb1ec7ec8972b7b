"""docs/benchmarks.md is what bench/render.py makes of bench/results (`make bench-report`)."""

import json

import pytest
from bench import render

BENCHMARKS = render.specs()
RENDERED = [b for b in BENCHMARKS if b.result.exists()]


def test_checked_in_page_is_the_rendered_results() -> None:
    assert render.REPORT.read_text() == render.render(), (
        "docs/benchmarks.md is stale: run `make bench-report` and commit it"
    )


def test_page_stays_short() -> None:
    assert len(render.render().splitlines()) <= 300


def test_every_result_file_has_a_section() -> None:
    named = {b.result.name for b in BENCHMARKS}
    unrendered = sorted(p.name for p in render.RESULTS.glob("*.json") if p.name not in named)
    assert not unrendered, f"no section renders {unrendered}: add a spec or delete the file"


def test_each_benchmark_make_bench_runs_is_a_script() -> None:
    for benchmark in (b for b in BENCHMARKS if b.make_bench):
        module = benchmark.run.removeprefix("python -m ").split()[0]
        assert (render.ROOT / (module.replace(".", "/") + ".py")).exists(), benchmark.run


@pytest.mark.parametrize("benchmark", RENDERED, ids=[b.name for b in RENDERED])
def test_every_table_path_finds_a_value(benchmark: render.Benchmark) -> None:
    document = json.loads(benchmark.result.read_text())
    for table in benchmark.tables:
        for row in table.rows:
            assert len(table.paths(row)) == len(table.header) - 1, (benchmark.name, row)
        columns = zip(*(table.paths(row) for row in table.rows), strict=True)
        for paths in columns:
            found = [p for p in paths if p and render.lookup(document, p) is not None]
            assert found or not any(paths), f"{benchmark.name}: nothing at {paths}"


def test_a_section_renders_only_with_its_result() -> None:
    missing = render.Benchmark(
        name="no_such_benchmark", title="Absent", run="python -m bench.absent", about="-", tables=[]
    )
    assert "## Absent" not in render.render([*BENCHMARKS, missing])
    assert "## Control plane" in render.render(BENCHMARKS)
