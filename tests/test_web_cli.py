"""``airshield demo`` and ``airshield replay`` from the command line, with the
real chain: headless runs, the recording they leave, and one-line errors."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from airshield.cli import app
from airshield.record import Recording

cli = CliRunner()


def test_headless_demo_records_and_replays(tmp_path):
    log = tmp_path / "run.sqlite"
    res = cli.invoke(app, ["demo", "--headless", "--duration", "40", "--speed", "1000", "--record", str(log)])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("t=")]
    assert lines[-1].startswith("t=     40s") and lines[-1].endswith("(finished)")
    assert "live tracks" in lines[-1] and "defeated" in lines[-1] and "money spent $" in lines[-1]
    rec = Recording(log)
    assert len(rec) == 40 and rec.meta["scenario"] == "demo" and rec.meta["policy"] == "manual"
    last = rec.frame(39)
    assert last.counters["live_tracks"] == len(last.tracks) > 0
    assert len(last.reports["t"]) > 0  # the step's sensor reports are in the log too
    res = cli.invoke(app, ["replay", str(log), "--headless", "--speed", "1000"])
    assert res.exit_code == 0, res.output
    assert [ln for ln in res.stdout.splitlines() if ln.startswith("t=")][-1].startswith("t=     40s")


def test_demo_errors_are_one_line(tmp_path):
    for args, needle in [
        (["demo", "no-such-scenario", "--headless", "--no-record"], "unknown built-in scenario"),
        (["demo", "--headless", "--speed", "0", "--no-record"], "speed must be > 0"),
        (["demo", "--headless", "--policy", "yolo", "--no-record"], "unknown policy"),
        (["demo", "--headless", "--reorder-s", "-1", "--no-record"], "--reorder-s: must be 0 to 60 seconds"),
        (["demo", "--headless", "--reorder-s", "nan", "--no-record"], "--reorder-s: must be 0 to 60 seconds"),
        (["replay", str(tmp_path / "missing.sqlite"), "--headless"], "no such recording"),
    ]:
        res = cli.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert needle in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1


def test_demo_port_in_use_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = cli.invoke(app, ["demo", "--port", str(port), "--no-record"])
    assert res.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in res.output
