"""A recording played back through the same runner and display as a live run.

It looks like a chain to the runner (``t``, ``finished``, ``step``) and adds
``seek``; decisions are refused because a recording is history.
"""

from __future__ import annotations

from pathlib import Path

from airshield.errors import InputError
from airshield.record import Frame, Recording
from airshield.web.runner import ReadOnly


class ReplaySource:
    def __init__(self, path: str | Path):
        self.rec = Recording(path)
        if len(self.rec) == 0:
            raise InputError("recording holds no frames", file=self.rec.path)
        if not isinstance(self.rec.meta.get("static"), dict):
            raise InputError("recording has no static layers", file=self.rec.path, field="meta.static")
        self.i = -1  # index of the frame last returned

    @property
    def t(self) -> float:
        # Before the first frame: one step earlier, so the runner's clock starts there.
        return float(self.rec.times[self.i]) if self.i >= 0 else float(self.rec.times[0]) - 1.0

    @property
    def start_t(self) -> float:
        return float(self.rec.times[0])

    @property
    def duration_s(self) -> float:
        return float(self.rec.times[-1])

    @property
    def finished(self) -> bool:
        if self.i < len(self.rec) - 1:
            return False
        self.rec.refresh()  # a run still being recorded may have grown
        return self.i >= len(self.rec) - 1

    def step(self, dt: float | None = None) -> Frame:
        self.i = min(self.i + 1, len(self.rec) - 1)
        return self.rec.frame(self.i)

    def seek(self, t: float) -> Frame:
        """The frame at scenario time ``t`` with every event up to it."""
        self.i = self.rec.index_at(t)
        return self.rec.frame(self.i, since_seq=0)

    def approve(self, rec_id: str, by: str = "operator") -> dict:
        raise ReadOnly("a replay is read-only: decisions were taken in the recorded run")

    reject = approve

    def static_layers(self) -> dict:
        return self.rec.meta["static"]

    @property
    def meta(self) -> dict:
        return {k: v for k, v in self.rec.meta.items() if k != "static"}
