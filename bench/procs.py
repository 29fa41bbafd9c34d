"""Child processes of the benchmark: each in its own process group, its lines timestamped as they
arrive, its peak memory from GNU time, all of them killed when the benchmark exits."""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

T0 = time.time()
LOAD_AT_START = os.getloadavg()
GNU_TIME = Path("/usr/bin/time")


def log(msg: str) -> None:
    print(f"[bench +{time.time() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure with a message meant for the reader (no traceback needed)."""


_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()


def adopt(p: subprocess.Popen) -> None:
    """Kill this child (and its group) when the benchmark exits."""
    with _CHILDREN_LOCK:
        _CHILDREN.add(p)


def release(p: subprocess.Popen) -> None:
    with _CHILDREN_LOCK:
        _CHILDREN.discard(p)


def kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_children() -> None:
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for p in children:
        if p.returncode is None:
            kill_group(p)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


atexit.register(kill_children)
signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGHUP, _exit_on_signal)


@dataclass
class Proc:
    """A finished child process: its lines as they arrived, timed, and its peak memory."""

    argv: list[str]
    code: int
    started: float
    ended: float
    lines: list[tuple[float, str, str]]  # (arrival time, "out" | "err", text)
    maxrss_kib: int
    timed_out: bool

    @property
    def wall(self) -> float:
        return self.ended - self.started

    def text(self, stream: str) -> str:
        return "\n".join(line for _, s, line in self.lines if s == stream)

    def tail(self, n: int = 15) -> str:
        err = [line for _, s, line in self.lines if s == "err"]
        return "\n".join(err[-n:])

    def why(self) -> str:
        what = f"timed out after {self.wall:.0f} s" if self.timed_out else f"exit {self.code}"
        return f"{shlex.join(self.argv[:3])} ...: {what}\n{self.tail()}"


def run_process(argv: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None) -> Proc:
    """Run argv, timestamping each stdout/stderr line on arrival; kill its group at `timeout`.

    Its peak memory comes from GNU time when there is one: a child of this Python process
    counts the Python process's own memory in its peak (Linux keeps the high-water mark of the
    memory it was forked or vforked with across exec), so wait4's figure would be this
    script's size, not the tool's."""
    lines: list[tuple[float, str, str]] = []
    lock = threading.Lock()
    rss_file = tempfile.NamedTemporaryFile("r", suffix=".rss") if GNU_TIME.exists() else None
    if rss_file:
        argv = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
    started = time.time()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    adopt(p)

    def pump(stream: Any, name: str) -> None:
        for raw in iter(stream.readline, b""):
            now = time.time()
            with lock:
                lines.append((now, name, raw.decode("utf-8", "replace").rstrip("\n")))
        stream.close()

    pumps = [threading.Thread(target=pump, args=(p.stdout, "out"), daemon=True),
             threading.Thread(target=pump, args=(p.stderr, "err"), daemon=True)]
    for t in pumps:
        t.start()
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        kill_group(p)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        _, status, usage = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    ended = time.time()
    p.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set():
        kill_group(p)
    for t in pumps:
        t.join(timeout=10)
    release(p)
    lines.sort(key=lambda x: x[0])
    maxrss = usage.ru_maxrss
    if rss_file:
        argv = argv[5:]
        with rss_file:
            told = rss_file.read().strip().splitlines()
        maxrss = int(told[-1]) if told and told[-1].isdigit() else maxrss
    return Proc(argv, p.returncode, started, ended, lines, maxrss, timed_out.is_set())
