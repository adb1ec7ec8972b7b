"""docs/benchmarks.md from bench/results/*.json and the table specs in bench/benchmarks.toml.

    python -m bench.render            (or `make bench-report`: no server needed)

A spec names a result file, the command that makes it, a sentence or two about it and its
tables. A table has a `header` and `rows`; a row is a label and the paths of its cells, or, when
the table has `cells` (path templates with `{}`), a label and the key that fills each template.
A path is dot-separated keys into the result's `figures` (or, failing that, the whole
document); a value that is not there shows as "-". bench/README.md says how to add a benchmark.
"""

import json
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "bench" / "benchmarks.toml"
RESULTS = ROOT / "bench" / "results"
REPORT = ROOT / "docs" / "benchmarks.md"
MISSING = "-"
WIDTH = 100

HEADER = """# Benchmarks

The latest figure of each benchmark, rendered by `make bench-report` from `bench/results/`
(`make bench` runs them first); do not edit by hand. System, stack and load generator share the
machine named under each table: latencies under load are mostly queueing, and CPU per operation
is what carries over. Earlier rounds: git history and [docs/decisions/](decisions/)."""


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    cells: list[str] | None = None

    def paths(self, row: list[str]) -> list[str]:
        """The paths of one row's value cells."""
        if self.cells is None:
            return row[1:]
        return [template.replace("{}", row[1]) for template in self.cells]


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: str
    about: str
    tables: list[Table]
    make_bench: bool = True

    @property
    def result(self) -> Path:
        return RESULTS / f"{self.name}.json"


def specs(path: Path = SPECS) -> list[Benchmark]:
    entries = tomllib.loads(path.read_text())["benchmark"]
    return [
        Benchmark(
            name=entry["name"],
            title=entry["title"],
            run=entry["run"],
            about=" ".join(entry["about"].split()),
            tables=[Table(**table) for table in entry.get("table", [])],
            make_bench=entry.get("make_bench", True),
        )
        for entry in entries
    ]


def lookup(document: dict[str, Any], path: str) -> Any:
    """The value at a dotted path in the figures, else in the document; None when absent."""
    if not path:
        return None
    for root in (document.get("figures", {}), document):
        value: Any = root
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                break
            value = value[key]
        else:
            return value
    return None


def cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, list):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {cell(inner)}" for key, inner in value.items())
    return str(value).replace("|", "\\|")


def table(spec: Table, document: dict[str, Any]) -> list[str]:
    lines = ["| " + " | ".join(spec.header) + " |", "|---" * len(spec.header) + "|"]
    for row in spec.rows:
        values = [cell(lookup(document, path)) if path else "" for path in spec.paths(row)]
        lines.append("| " + " | ".join([row[0], *values]) + " |")
    return lines


def measured(document: dict[str, Any], common: dict[str, str]) -> str:
    machine = document.get("machine", {})
    recorded = document.get("versions", {})
    own = ", ".join(f"{name} {v}" for name, v in recorded.items() if common.get(name) != v)
    versions = (
        "versions not recorded"
        if not recorded
        else "versions above" + (f", and {own}" if own else "")
    )
    return (
        f"Measured {document.get('date', '?')} on {machine.get('processor', '?')},"
        f" {machine.get('cpu_count', '?')} cores, {machine.get('memory_gib', '?')} GiB,"
        f" Python {machine.get('python', '?')}; {versions}."
    )


def common_versions(documents: list[dict[str, Any]]) -> dict[str, str]:
    """The versions every result that records them records alike: listed once, at the top."""
    recorded = [set(d["versions"].items()) for d in documents if d.get("versions")]
    return dict(sorted(set.intersection(*recorded))) if recorded else {}


def section(benchmark: Benchmark, document: dict[str, Any], common: dict[str, str]) -> list[str]:
    about = textwrap.wrap(f"{benchmark.about} Run: `{benchmark.run}`.", WIDTH)
    lines = [f"## {benchmark.title}", "", *about, ""]
    for spec in benchmark.tables:
        lines += [*table(spec, document), ""]
    return [*lines, *textwrap.wrap(measured(document, common), WIDTH), ""]


def render(benchmarks: list[Benchmark] | None = None) -> str:
    present = [b for b in benchmarks or specs() if b.result.exists()]
    documents = [json.loads(b.result.read_text()) for b in present]
    common = common_versions(documents)
    listed = ", ".join(f"{name} {version}" for name, version in common.items())
    lines = [
        HEADER,
        "",
        *textwrap.wrap(
            f"Versions, the same in every result that records them: {listed or 'none'}.", WIDTH
        ),
        "",
    ]
    for benchmark, document in zip(present, documents, strict=True):
        lines += section(benchmark, document, common)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    REPORT.write_text(render())
    print(f"wrote {REPORT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
