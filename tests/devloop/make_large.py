"""A large devloop folder for the ingest benchmark: over a million records across every log.

    python make_large.py OUT_DEVLOOP_DIR [SCALE]

Each log starts with records written by devloop's own classes (the small fixture scenario);
those records are then the templates for the bulk, which varies times, agents, commands and
outcomes and is serialized the way devloop serializes (`json.dumps`), because running devloop's
writers a million times would take an hour. SCALE (default 1.0) multiplies every count.
"""

import json
import random
import sqlite3
import sys
import tempfile
import uuid
from pathlib import Path

import write_fixtures

COUNTS = {
    "cli-actions.jsonl": 300_000,
    "events.jsonl": 250_000,
    "performance/metrics.jsonl": 150_000,
    "agent-audit.log": 100_000,
    "feedback/feedback.jsonl": 100_000,
    "security-audit.log": 100_000,
    "amp-thread-log.jsonl": 20_000,
    "devloop.log": 100_000,
    "events.db": 100_000,
}
AGENTS = ["linter", "formatter", "type-checker", "test-runner", "security-scanner"]
COMMANDS = ["bd ready --json", "status", "bd show proj-4f", "insights list", "telemetry stats", "audit recent"]
START = 1_790_000_000.0


def iso(seconds: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def templates(directory: Path) -> dict:
    """One record of each JSON log, as devloop's own classes wrote it."""
    write_fixtures.main(directory / "proj" / ".devloop", directory / "home")
    found = {}
    for name in COUNTS:
        for root in (directory / "proj" / ".devloop", directory / "home"):
            path = root / name
            if path.exists() and name.endswith((".jsonl", ".log")) and name != "devloop.log":
                found[name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def main(out: Path, scale: float) -> None:
    rng = random.Random(7)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        samples = templates(Path(scratch))
        # The real EventStore creates the schema.
        from devloop_writers import Writers
        Writers(out, out).close()
        for stale in ("cli-actions.jsonl", "amp-thread-log.jsonl", "devloop.log"):
            (out / stale).unlink(missing_ok=True)
    count = {name: int(total * scale) for name, total in COUNTS.items()}
    step = 86400 * 30 / max(count.values())

    def write_jsonl(name, make):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as file:
            for index in range(count[name]):
                file.write(json.dumps(make(index, START + index * step * (max(count.values()) / count[name]))) + "\n")

    def variant(name, index, fields):
        record = dict(samples[name][index % len(samples[name])])
        record.update(fields)
        return record

    write_jsonl("cli-actions.jsonl", lambda i, t: variant("cli-actions.jsonl", i, {
        "timestamp": iso(t), "command": rng.choice(COMMANDS), "exit_code": 0 if rng.random() > 0.1 else 1, "duration_ms": rng.randint(50, 900)}))
    write_jsonl("events.jsonl", lambda i, t: variant("events.jsonl", i, {"timestamp": iso(t), "agent": rng.choice(AGENTS)}))
    write_jsonl("performance/metrics.jsonl", lambda i, t: variant("performance/metrics.jsonl", i, {
        "start_time": t - 0.4, "end_time": t, "duration": 0.4, "success": rng.random() > 0.05}))
    write_jsonl("agent-audit.log", lambda i, t: variant("agent-audit.log", i, {"timestamp": iso(t), "agent_name": rng.choice(AGENTS)}))
    write_jsonl("feedback/feedback.jsonl", lambda i, t: variant("feedback/feedback.jsonl", i, {
        "id": str(uuid.UUID(int=rng.getrandbits(128))), "agent_name": rng.choice(AGENTS), "timestamp": t}))
    write_jsonl("security-audit.log", lambda i, t: variant("security-audit.log", i, {"timestamp": iso(t), "duration_ms": rng.randint(5, 9000)}))

    def thread(i, t):
        record = dict(samples["amp-thread-log.jsonl"][-1])
        record["thread_id"] = f"T-{uuid.UUID(int=rng.getrandbits(128))}"
        record["timestamp"] = iso(t)
        return record
    write_jsonl("amp-thread-log.jsonl", thread)

    with open(out / "devloop.log", "w") as file:
        n = count["devloop.log"]
        for index in range(n):
            t = START + index * 86400 * 30 / n
            agent = rng.choice(AGENTS)
            stamp = __import__("time").strftime("%Y-%m-%d %H:%M:%S", __import__("time").gmtime(t))
            file.write(f"{stamp} | INFO     | {'agent.' + agent:<20} | ✓ {agent}: No issues ({rng.uniform(0.01, 3):.2f}s)\n")

    db = sqlite3.connect(out / "events.db")
    n = count["events.db"]
    rows = []
    for index in range(n):
        t = START + index * 86400 * 30 / n
        agent = rng.choice(AGENTS)
        payload = json.dumps({"agent_name": agent, "success": True, "duration": 0.4, "message": "No issues", "data": {"findings_count": 0}, "error": None})
        rows.append((str(uuid.UUID(int=rng.getrandbits(128))), f"agent:{agent}:completed", t, agent, payload, 1, index + 1, t + 0.001))
    db.executemany("INSERT OR REPLACE INTO events (id, type, timestamp, source, payload, priority, sequence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    print(f"wrote {sum(count.values())} records into {out}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
