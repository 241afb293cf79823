"""The live picture's planner process: threat assessment and weapon-target
solves on the other core, so the tracker and the display never wait on them
(nor on the GIL they would hold in a thread of the server).

A plain child process (``python -m airshield.web.planner``) reading jobs from
its stdin and writing answers to its stdout, each a length-prefixed pickle.
Unlike ``multiprocessing``'s spawn it never re-imports the parent's main
script, so a script without an ``if __name__ == "__main__"`` guard cannot start
a second server in the child.
"""

from __future__ import annotations

import concurrent.futures
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from typing import Any

_HEADER = struct.Struct("<Q")


def _read(stream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError("planner pipe closed")
        buf += chunk
    return bytes(buf)


def _send(stream, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream) -> Any:
    (n,) = _HEADER.unpack(_read(stream, _HEADER.size))
    return pickle.loads(_read(stream, n))


def solve(planner: str, inp) -> tuple[Any, float]:
    """One plan of the live chain: assessment, feasibility and the
    weapon-target solve (``live.planning.solve``), and its CPU seconds."""
    from airshield.live.planning import solve as solve_plan

    c0 = time.process_time()
    sol = solve_plan(planner, inp)
    return sol, time.process_time() - c0


class PlannerProcess:
    """One child process solving plans one at a time; ``submit`` returns a
    ``concurrent.futures.Future`` of ``(x, cpu_seconds)``."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "airshield.web.planner"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="airshield-planner-io")
        self._lock = threading.Lock()

    def submit(self, planner: str, inp) -> concurrent.futures.Future:
        return self._io.submit(self._call, planner, inp)

    def _call(self, planner: str, inp) -> tuple[Any, float]:
        with self._lock:
            if self.proc.poll() is not None:
                raise RuntimeError(f"planner process ended (exit code {self.proc.returncode})")
            _send(self.proc.stdin, (planner, inp))
            status, value, cpu = _receive(self.proc.stdout)
        if status != "ok":
            raise RuntimeError(value)
        return value, cpu

    def close(self, timeout: float = 5.0) -> None:
        self._io.shutdown(wait=False, cancel_futures=True)
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


NICE = 10  # below the server: on a machine short of cores the picture goes first


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        # Plans are off the picture's path and may lag it by a step; the tracker and
        # the browser may not wait for them on a busy machine.
        os.nice(NICE)
    except OSError:  # not permitted here: plan at the same priority
        pass
    while True:
        try:
            planner, inp = _receive(stdin)
        except EOFError:  # the server closed the pipe: done
            return
        try:
            x, cpu = solve(planner, inp)
            _send(stdout, ("ok", x, cpu))
        except Exception as e:  # noqa: BLE001 - the server reports it; the next plan comes anyway
            _send(stdout, ("error", f"{type(e).__name__}: {e}", 0.0))


if __name__ == "__main__":
    main()
