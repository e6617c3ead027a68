#!/usr/bin/env python3
"""Checks the independent generator and scorer themselves, without any detector.

- The generator is deterministic per seed (the same truth and the same number of records in
  every log), and its cuts only ever grow.
- The scorer gives the counts a person works out by hand for a hand-written list of findings
  against the generated truth: one right finding per planted item, plus a duplicate, a
  lower-cased command nobody ran, a finding about a habitual command (a hard negative), a
  question "asked" in only two of its threads, a thread finding naming a thread where nothing
  happened, and a templated-prompt finding (a hard negative).
- `grow` builds the folder an incremental run would see at the first cut.

Usage: selftest.py OUT_DIR   (writes OUT_DIR/scenario and OUT_DIR/grown for `devloop-host sources`)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import evaluate  # noqa: E402
import score as scoring  # noqa: E402

DAYS = 14


def generate(out: Path, seed: int) -> dict:
    subprocess.run([sys.executable, str(HERE / "generate.py"), str(out), "--seed", str(seed), "--days", str(DAYS)], check=True)
    return json.loads((out / "truth.json").read_text())


def line_counts(folder: Path) -> dict:
    return {rel: (folder / rel).read_bytes().count(b"\n") for rel in evaluate.APPEND_ONLY if (folder / rel).exists()}


def linter_fixes_left_alone(scenario: Path) -> list[str]:
    """Hand edits within two hours of a linter fix of the same file (the hard negative says none)."""
    import datetime
    import sqlite3

    database = sqlite3.connect(scenario / "project" / ".devloop" / "events.db")
    saves = [(json.loads(payload)["absolute_path"], moment) for payload, moment in
             database.execute("SELECT payload, timestamp FROM events WHERE type = 'file:modified'")]
    database.close()
    fixes = []
    for line in (scenario / "project" / ".devloop" / "agent-audit.log").read_text().splitlines():
        record = json.loads(line)
        fixes.append((record["agent_name"], record["file_modifications"][0]["path"], datetime.datetime.fromisoformat(record["timestamp"]).timestamp()))
    # The watcher reports an agent's own write a moment after it; any other save is a person's.
    by_people = [(path, moment) for path, moment in saves if not any(path == fixed and 0 <= moment - at <= 2 for _, fixed, at in fixes)]
    return [f"{path} at {moment - at:.0f} s" for agent, path, at in fixes if agent == "linter"
            for saved, moment in by_people if saved == path and at < moment <= at + 7200]


def finding(pattern: str, fields: dict, threads=(), key="") -> dict:
    return {"pattern": pattern, "key": key, "message": f"{pattern} {fields} {list(threads)}",
            "evidence": {"event_ids": [], "fields": fields}, "affected_threads": list(threads)}


def right_finding(item: dict) -> dict:
    names = dict(item["names"])
    threads = names.pop("threads", None) or names.pop("threads_if_named", None) or []
    return finding(item["patterns"][0], names, threads, key=item["id"])


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"selftest failed: {what}")


def main():
    out = Path(sys.argv[1]).resolve()
    scenario, again = out / "scenario", out / "again"
    truth = generate(scenario, 7)
    check(generate(again, 7) == truth, "the same seed gives the same truth")
    check(line_counts(scenario) == line_counts(again), "the same seed gives the same logs")
    cuts = json.loads((scenario / "cuts.json").read_text())
    check(len(cuts) >= 5, "at least five cuts")
    for earlier, later in zip(cuts, cuts[1:]):
        check(all(later["sizes"][rel] >= earlier["sizes"][rel] for rel in evaluate.APPEND_ONLY), "cuts only grow")
        check(later["events_db_rows"] >= earlier["events_db_rows"], "events.db only grows")

    broken = linter_fixes_left_alone(scenario)
    check(not broken, f"nobody edits a file the linter fixed for two hours: {broken[:5]}")

    planted, negatives = truth["planted"], {h["description"]: h for h in truth["hard_negatives"]}
    findings = [right_finding(item) for item in planted]
    repeated = next(item for item in planted if item["patterns"] == ["command_repetition"])
    questions = [item for item in planted if item["patterns"] == ["cross_thread_pattern"]]
    manual = next(item for item in planted if "threads" in item["names"] and item["patterns"] == ["user_manual_fix"])
    habit = next(h for h in truth["hard_negatives"] if h["description"].startswith("alice's habitual"))
    templated = next(h for h in truth["hard_negatives"] if h["patterns"] == ["cross_thread_pattern"])
    findings += [
        finding("command_repetition", {"command": repeated["names"]["command"]}, key="duplicate"),
        finding("command_correlation", {"first_command": "git add -a", "then_command": "devloop verify-work"}, key="lower-cased"),
        finding("command_repetition", {"command": habit["names"]["any_command"]}, key="habit"),
        finding("cross_thread_pattern", {}, questions[0]["names"]["threads"][:2], key="two of three"),
        finding("user_manual_fix", {"agent": manual["names"]["agent"]}, manual["names"]["threads"] + [templated["names"]["threads_overlap"][0]], key="extra thread"),
        finding("cross_thread_pattern", {}, templated["names"]["threads_overlap"][:3], key="templated"),
    ]
    result = scoring.score(truth, findings)
    expected = {"planted": len(planted), "found": len(planted), "findings": len(planted) + 6, "right": len(planted)}
    check({key: result[key] for key in expected} == expected, f"scores {expected}, got {({key: result[key] for key in expected})}")
    violations = sorted(v["hard_negative"] for v in result["hard_negative_violations"])
    check(violations == sorted([habit["id"], templated["id"]]), f"hard negatives {habit['id']} and {templated['id']}, got {violations}")
    check(len(result["wrong"]) == 6, f"six wrong findings, got {result['wrong']}")
    formatter = next(item for item in planted if item["patterns"] == ["metric_anomaly", "silent_completion"])
    both = scoring.score(truth, [finding("metric_anomaly", {"agent": "formatter"}), finding("silent_completion", {"agent": "formatter"})])
    check((both["found"], both["right"]) == (1, 2), f"{formatter['id']} may be claimed once per pattern, counted once for recall")
    check(scoring.score(truth, [])["recall"] == 0.0, "no findings, no recall")

    grown = out / "grown"
    (grown / "project" / ".devloop").mkdir(parents=True)
    (grown / "home" / ".devloop").mkdir(parents=True)
    evaluate.grow(scenario, grown, cuts[0])
    check(all((grown / rel).stat().st_size >= cuts[0]["sizes"][rel] for rel in evaluate.APPEND_ONLY if cuts[0]["sizes"][rel]),
          "the grown folder holds the logs up to the cut")
    print(json.dumps({"planted": len(planted), "hard_negatives": len(negatives), "cuts": len(cuts), "selftest": "ok"}))


if __name__ == "__main__":
    main()
