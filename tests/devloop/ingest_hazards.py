"""Writes the logs of the ingest hazard tests (tests/all/ingest_hazards.rs) with devloop's own
writer classes, one step per call, so the test can run devloop-host between steps.

Usage: ingest_hazards.py STEP PROJECT HOME
  audit-before     agent-audit.log: 10 entries 40 days old, 10 of today, one dated a year ahead
  audit-retention  devloop's own 30-day retention rewrite of agent-audit.log, then 40 new entries
  daemon-N         N more devloop.log records (the daemon's logging set-up)
  store-N          N more events.db rows
  store-break      makes the third events.db row's `priority` text and its `payload` an integer
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import devloop_writers  # noqa: E402

DAY = 86_400.0
# Each step starts where the last one ended, so records are never written twice.
STATE = "hazards-clock"


def main() -> None:
    step, project, home = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    clock_file = project.parent / STATE
    if clock_file.exists():
        devloop_writers.CLOCK.now = float(clock_file.read_text())
    writers = devloop_writers.Writers(project, home)
    clock = devloop_writers.CLOCK
    if step == "audit-before":
        # Only the retention step below rewrites the file (devloop would run it on a write
        # once the file is 5 minutes old on the simulated clock).
        writers.audit._cleanup_old_logs = lambda: None
        start = clock.now
        clock.now = start - 40 * DAY
        for index in range(10):
            writers.audit.log_action("linter", "finding_reported", f"old finding {index}", True, 10)
            clock.advance(60)
        clock.now = start
        for index in range(10):
            writers.audit.log_action("linter", "finding_reported", f"finding {index}", True, 10)
            clock.advance(60)
        clock.now = start + 365 * DAY
        writers.audit.log_action("formatter", "fix_applied", "dated a year ahead", True, 10)
        clock.now = start + 3600
    elif step == "audit-retention":
        writers.audit._cleanup_old_logs_sync()
        for index in range(40):
            writers.audit.log_action("linter", "finding_reported", f"later finding {index}", True, 10)
            clock.advance(60)
    elif step.startswith("daemon-"):
        for index in range(int(step.removeprefix("daemon-"))):
            writers.logger("agent.linter").info(f"✓ linter: record {clock.now:.0f} (0.25s)")
            clock.advance(30)
    elif step.startswith("store-") and step != "store-break":
        # One daemon run's sequence numbers go on from the last (a new run would replace rows).
        with sqlite3.connect(project / "events.db") as connection:
            writers.sequence = connection.execute("SELECT coalesce(max(sequence), 0) FROM events").fetchone()[0]
        for index in range(int(step.removeprefix("store-"))):
            writers.store_event("file:modified", {"path": f"src/file_{clock.now:.0f}.py"}, "filesystem")
            clock.advance(30)
    elif step == "store-break":
        connection = sqlite3.connect(project / "events.db")
        rowid = connection.execute("SELECT rowid FROM events ORDER BY timestamp, id LIMIT 1 OFFSET 2").fetchone()[0]
        connection.execute("UPDATE events SET priority = 'high', payload = 42 WHERE rowid = ?", (rowid,))
        connection.commit()
        connection.close()
        print(rowid)
    else:
        raise SystemExit(f"unknown step {step}")
    # The daemon logs "Event store closed" on close: a second apart, no two steps log the same.
    clock.advance(1)
    writers.close()
    clock_file.write_text(repr(clock.now))


if __name__ == "__main__":
    main()
