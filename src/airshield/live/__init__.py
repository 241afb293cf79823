"""The closed loop: sense, track, assess, plan, recommend, approve, engage, and
see what happened. ``Chain`` is the live object (the web picture drives it);
``runner`` writes a run directory (``airshield run``) and compares planners."""

from airshield.live.chain import Chain, Snapshot
from airshield.live.doctrine import PLANNERS
from airshield.live.policy import POLICIES

__all__ = ["Chain", "PLANNERS", "POLICIES", "Snapshot"]
