#!/usr/bin/env python3
"""Scores findings against a scenario's planted ground truth: per pattern, how many planted
instances were found (recall) and how many findings were right (precision).

A finding is right when it names a planted instance of its pattern: the same command(s) for the
command patterns, the same agent (and metric) for the agent patterns, at least half of the
planted threads for thread patterns. Each planted instance can be claimed by one finding; a
second finding of the same instance counts as wrong (a duplicate is noise to a maintainer).
devloop's own findings are scored the same way (its evidence is flat, not under `fields`).

Usage: score.py TRUTH.json --ours FINDINGS.jsonl [--devloop DEVLOOP.json] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PATTERNS = ["command_repetition", "command_rerun", "failure_workaround", "dismissed_suggestions", "user_manual_fix",
            "silent_completion", "cross_thread_pattern", "metric_anomaly", "command_correlation"]


def threads_overlap(planted: list[str], found: list[str]) -> bool:
    """Mostly the same threads: at least half of the planted ones, and at least half of the
    finding's (a finding about nine threads that include two planted ones is about something else)."""
    shared = len(set(planted) & set(found))
    return bool(planted) and shared * 2 >= len(planted) and shared * 2 >= len(set(found))


def matches(planted: dict, finding: dict) -> bool:
    fields = finding.get("evidence", {})
    fields = fields.get("fields", fields) if isinstance(fields, dict) else {}
    threads = finding.get("affected_threads") or []
    pattern = planted["pattern"]
    if pattern in ("command_repetition", "command_rerun"):
        return fields.get("command") == planted["command"]
    if pattern == "failure_workaround":
        return (fields.get("failed_command"), fields.get("workaround_command")) == (planted["failed_command"], planted["workaround_command"])
    if pattern == "command_correlation":
        return (fields.get("first_command"), fields.get("then_command")) == (planted["first_command"], planted["then_command"])
    if pattern == "metric_anomaly":
        return fields.get("agent") == planted["agent"] and fields.get("metric") == planted["metric"]
    if pattern == "cross_thread_pattern":
        return threads_overlap(planted["threads"], threads)
    if pattern in ("dismissed_suggestions", "user_manual_fix", "silent_completion"):
        return fields.get("agent") == planted["agent"] or threads_overlap(planted.get("threads", []), threads)
    return False


def score(planted: list[dict], findings: list[dict]) -> dict:
    table = {pattern: {"planted": 0, "found": 0, "findings": 0, "correct": 0} for pattern in PATTERNS}
    claimed = set()
    for finding in findings:
        pattern = finding.get("pattern")
        if pattern not in table:
            continue
        table[pattern]["findings"] += 1
        for index, instance in enumerate(planted):
            if index not in claimed and instance["pattern"] == pattern and matches(instance, finding):
                claimed.add(index)
                table[pattern]["correct"] += 1
                break
    for index, instance in enumerate(planted):
        table[instance["pattern"]]["planted"] += 1
        table[instance["pattern"]]["found"] += index in claimed
    total = {key: sum(row[key] for row in table.values()) for key in ["planted", "found", "findings", "correct"]}
    total["recall"] = total["found"] / total["planted"] if total["planted"] else 1.0
    total["precision"] = total["correct"] / total["findings"] if total["findings"] else 1.0
    return {"patterns": table, "total": total}


def read_ours(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_devloop(path: Path) -> list[dict]:
    """devloop prints a status line, then the JSON array through rich."""
    text = path.read_text()
    start = text.find("[\n")
    if start < 0:
        return []
    patterns, _ = json.JSONDecoder().raw_decode(text[start:])
    return [{"pattern": p["pattern_name"], "evidence": p.get("evidence") or {}, "affected_threads": p.get("affected_threads") or [],
             "message": p.get("message")} for p in patterns]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("truth", type=Path)
    parser.add_argument("--ours", type=Path, required=True)
    parser.add_argument("--devloop", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    planted = json.loads(args.truth.read_text())["planted"]
    result = {"ours": score(planted, read_ours(args.ours))}
    if args.devloop:
        result["devloop"] = score(planted, read_devloop(args.devloop))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({tool: scores["total"] for tool, scores in result.items()}))


if __name__ == "__main__":
    main()
