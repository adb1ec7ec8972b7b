"""Detached processes recorded in pid files: what the stack and the launcher both need.

A pid file only counts while its process is alive and its command line says it is ours, so a
recycled pid never makes us signal a stranger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Running and not a zombie (a zombie still answers signal 0)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def owned_pid(path: Path, marker: str) -> int | None:
    """The pid in `path` when that process lives and `marker` is in its command line."""
    pid = read_pid(path)
    if pid is None or not alive(pid) or marker.encode() not in command_line(pid):
        return None
    return pid


def spawn(
    argv: Sequence[str],
    log: Path,
    pid_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a session of its own (it outlives us), output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_path.write_text(str(process.pid))
    return process


def wait_gone(pid: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> bool:
    """True once the process has ended within `timeout_s`."""
    gone: Callable[[], bool] = (
        (lambda: process.poll() is not None) if process is not None else (lambda: not alive(pid))
    )
    stop_at = time.monotonic() + timeout_s
    while time.monotonic() < stop_at:
        if gone():
            return True
        time.sleep(0.1)
    return gone()


def terminate(
    pid: int,
    grace_s: float,
    *,
    process: subprocess.Popen[bytes] | None = None,
    sig: int = signal.SIGTERM,
) -> None:
    """Signal the process group of `pid`, then SIGKILL it after `grace_s`; returns once gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    if wait_gone(pid, grace_s, process):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if process is not None:
        process.wait(5)
    else:
        wait_gone(pid, 10)
