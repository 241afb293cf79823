"""The tracker's reorder window against picture quality: track a run directory
with each window and score it (GOSPA and its parts, observable GOSPA, breaks,
tracks per truth, false tracks; CPU seconds of tracking and scoring).

The live display runs with 0 (``serve.LIVE_REORDER_S``); ``TrackerConfig``'s
default is 1 s. Results in docs/LIVE_PICTURE.md ("How a live step runs").

Usage: python benchmarks/reorder_window.py RUN_DIR [--windows 1,0] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from airshield.alloc import keep_freed_memory
from airshield.score import score_run
from airshield.track.batch import track_run
from airshield.track.config import TrackerConfig

KEYS = ("gospa_mean", "gospa_localisation", "gospa_missed", "gospa_false", "gospa_observable_mean",
        "track_breaks", "tracks_per_truth", "false_tracks")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--windows", default="1,0", help="reorder windows to compare, seconds")
    ap.add_argument("--out-dir", type=Path, default=None, help="keep the tracks files here")
    args = ap.parse_args()
    keep_freed_memory()
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="reorder-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    for w in (float(x) for x in args.windows.split(",")):
        c0 = time.process_time()
        f = out_dir / f"tracks_reorder_{w:g}.jsonl"
        res = track_run(args.run_dir, f, config=TrackerConfig(reorder_s=w))
        s = score_run(args.run_dir, f)
        cells = "  ".join(f"{k} {s[k]:,.3f}" if isinstance(s.get(k), float) else f"{k} {s.get(k)}" for k in KEYS)
        print(f"{args.run_dir.name} reorder {w:g} s: {cells}  retrodicted {res.stats.retrodicted}  "
              f"CPU {time.process_time() - c0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
