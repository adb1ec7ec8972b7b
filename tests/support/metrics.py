"""Reading a process's Prometheus /metrics the way a scraper does."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def samples(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(url)
    assert answer.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels` (0 when none yet)."""
    wanted = set(labels.items())
    return sum(v for (sample, have), v in found.items() if sample == name and wanted <= have)


async def metric(url: str, name: str, **labels: str) -> float:
    return value(await samples(url), name, **labels)
