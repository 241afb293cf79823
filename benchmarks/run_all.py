"""Run every ``benchmarks/bench_*.py`` in turn and print its output (``make bench``).

    python benchmarks/run_all.py [--only SUBSTRING]

Each script runs in its own process with this interpreter; its output streams
through as it comes. Exit code 1 if any script failed, after running them all.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run only scripts whose name contains this")
    args = ap.parse_args(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not args.only or args.only in p.name)
    if not scripts:
        print("no benchmark scripts found", file=sys.stderr)
        return 1
    failed = []
    for p in scripts:
        print(f"=== {p.name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(p)])
        print(f"=== {p.name}: exit {rc}, {time.perf_counter() - t0:.1f} s ===\n", flush=True)
        if rc != 0:
            failed.append(p.name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
