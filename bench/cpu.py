"""CPU time of every process of the system, read from /proc: per-operation CPU is the figure
that stays stable on a noisy machine, where wall-clock throughput does not."""

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
# Parts of the native stack, told apart by their command lines (all under the state folder).
STACK_MARKERS = {"kafka": "kafka.Kafka", "postgres": "postgres", "seaweedfs": "weed"}


def cpu_seconds(pid: int) -> float:
    """User + system time of `pid` and its waited-for children (Postgres backends are)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS


def stack_pids(state_dir: Path) -> dict[str, list[int]]:
    """Kafka, Postgres (postmaster and its backends) and SeaweedFS of this state folder."""
    found: dict[str, list[int]] = {name: [] for name in STACK_MARKERS}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for name, marker in STACK_MARKERS.items():
            if marker in command and (str(state_dir) in command or name == "postgres"):
                if name == "postgres" and not _is_our_postgres(entry, state_dir):
                    continue
                found[name].append(int(entry.name))
    return found


def chromium_cpu_seconds() -> float:
    """CPU time of every Chromium process so far (browser, renderers and their workers,
    network service): what a page costs the machine it runs on."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().startswith(("chromium", "chrome")):
                total += cpu_seconds(int(entry.name))
        except OSError:
            continue  # a process that ended meanwhile
    return total


def machine_cpu_seconds() -> float:
    """Busy time of all the machine's CPUs so far (/proc/stat: everything but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / TICKS


def running_system_pids(state_dir: Path) -> list[int]:
    """Every process of the system `make up` runs from `state_dir`: its services (pid files)
    and the native stack."""
    services = [int(path.read_text().strip()) for path in (state_dir / "services").glob("*.pid")]
    if not services:
        raise SystemExit(f"no services of `make up` under {state_dir}: run it first")
    return services + [pid for pids in stack_pids(state_dir).values() for pid in pids]


@contextlib.contextmanager
def client_apart(client_cpu: int, system: Callable[[], list[int]]) -> Iterator[None]:
    """This process, and what it starts after (Chromium, a client), on `client_cpu`; every
    thread of the system's processes on the other CPUs; all of them on every CPU after.

    A user's browser never shares its CPUs with S3. On a machine that runs both, a CPU of the
    client's own is the nearest to that. `system` is asked again at the end: Postgres backends
    started meanwhile inherited the postmaster's CPUs.
    """
    every_cpu = os.sched_getaffinity(0)
    others = every_cpu - {client_cpu}
    if client_cpu not in every_cpu or not others:
        raise SystemExit(f"CPU {client_cpu} is not one of {sorted(every_cpu)}, or is the only one")
    _set_threads(system(), others)
    os.sched_setaffinity(0, {client_cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, every_cpu)
        _set_threads(system(), every_cpu)


def _set_threads(pids: Iterable[int], cpus: set[int]) -> None:
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):  # a thread or process that ended meanwhile
                os.sched_setaffinity(int(task.name), cpus)


def _is_our_postgres(entry: Path, state_dir: Path) -> bool:
    try:
        return str(state_dir) in str((entry / "cwd").readlink())
    except OSError:
        return False


def snapshot(pids: Mapping[str, list[int]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue  # a backend that ended meanwhile; its time went to the postmaster
        totals[name] = total
    return totals


def per_operation_ms(
    before: Mapping[str, float], after: Mapping[str, float], operations: int
) -> dict[str, float]:
    spent = {name: (after[name] - before.get(name, 0.0)) * 1000 / operations for name in after}
    return {**{k: round(v, 2) for k, v in spent.items()}, "total": round(sum(spent.values()), 2)}
