"""The live server's garbage collection: full collections only when the runner
says the picture is idle, young generations as usual, and everything restored
when it stops."""

import gc

from airshield.web.gcidle import NO_AUTOMATIC_FULL, IdleCollector


class Node:
    def __init__(self):
        self.other = None


def cycles(n: int) -> None:
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a  # garbage only a collection can free


def full_collections() -> int:
    return gc.get_stats()[2]["collections"]


def test_no_automatic_full_collection_until_idle_says_so():
    before = gc.get_threshold()
    col = IdleCollector(every_s=3600.0)
    try:
        assert gc.get_threshold() == (before[0], before[1], NO_AUTOMATIC_FULL)
        assert gc.get_freeze_count() > 0  # what existed at start is never scanned again
        young = gc.get_stats()[0]["collections"]
        full = full_collections()
        cycles(200_000)  # far more than enough to trigger full collections normally
        assert full_collections() == full
        assert gc.get_stats()[0]["collections"] > young  # the young generation still runs
        assert col.idle() is False and col.collections == 0  # not due yet
        assert col.idle(now=col._last + 3601.0) is True
        assert full_collections() == full + 1 and col.collections == 1 and col.cpu_s >= 0.0
        assert gc.get_count()[2] == 0  # the garbage cycles are gone
    finally:
        col.close()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_default_is_a_full_collection_every_few_seconds():
    col = IdleCollector(freeze=False)
    try:
        assert col.every_s == 5.0 and gc.get_freeze_count() == 0
        t = col._last
        assert [col.idle(now=t + dt) for dt in (1.0, 4.9, 5.1)] == [False, False, True]
    finally:
        col.close()
