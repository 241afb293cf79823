"""Full garbage collections when the picture can afford them.

At 1,000 live tracks every step makes some ten thousand dicts and lists (track
records, rows, messages) that live for one step, long enough to reach the
collector's oldest generation. Python then runs a full collection every eight
to ten steps, and a full collection scans every object the server holds: on the
mass-raid benchmark 66-90 ms of CPU (measured with ``gc.callbacks``, 7 in 60
steps), landing inside whichever tracker step or snapshot triggered it, which
made the picture's p99 latency. The cyclic garbage it finds is small (the
per-step objects are freed by reference counting as soon as the next step
replaces them), so nothing is lost by choosing the moment instead:

- at start the objects that exist (scenario, sensors, assets, effectors, the
  static layers) are frozen: never scanned again (``gc.freeze``);
- automatic full collections are turned off (young generations still run:
  they take under 2 ms);
- the runner calls ``idle()`` at the one point of a step cycle where nothing is
  in flight (before the next step starts, the previous tick sent): a full
  collection runs there every ``every_s`` seconds of wall time, outside the
  window a report's latency is measured over.
"""

from __future__ import annotations

import gc
import time

NO_AUTOMATIC_FULL = 1 << 30  # gen-2 threshold no run reaches


class IdleCollector:
    def __init__(self, every_s: float = 5.0, *, freeze: bool = True):
        self.every_s = float(every_s)
        self._threshold = gc.get_threshold()
        self._froze = freeze and gc.isenabled()
        if self._froze:
            gc.collect()
            gc.freeze()
        gc.set_threshold(self._threshold[0], self._threshold[1], NO_AUTOMATIC_FULL)
        self.collections = 0
        self.cpu_s = 0.0  # CPU seconds of the collections run here
        self._last = time.monotonic()

    def idle(self, now: float | None = None) -> bool:
        """Run a full collection if one is due; True if it ran."""
        now = time.monotonic() if now is None else now
        if now - self._last < self.every_s:
            return False
        c0 = time.thread_time()
        gc.collect()
        self.cpu_s += time.thread_time() - c0
        self.collections += 1
        self._last = time.monotonic()
        return True

    def close(self) -> None:
        """Back to the interpreter's own collection (a server that stops, tests)."""
        gc.set_threshold(*self._threshold)
        if self._froze:
            gc.unfreeze()
            self._froze = False
