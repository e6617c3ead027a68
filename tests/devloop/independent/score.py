#!/usr/bin/env python3
"""Scores findings against an independent scenario's ground truth (`truth.json` from generate.py).

Three figures, over **all** findings of any pattern:
- recall: planted items found / planted items;
- precision: right findings / all findings — a finding is right only when it claims a planted
  item; a finding about anything else (noise, a hard negative, a second finding of an item
  already claimed under the same pattern) is wrong;
- hard-negative violations: findings that name a hard-negative item.

Matching rule (strict; "what it names" is read from the finding's `evidence.fields`, and from
`affected_threads`; devloop's own findings carry the same names flat in `evidence`):
- the finding's `pattern` must be one of the item's `patterns`, and every name must hold:
  - `command`, `failed_command`, `workaround_command`, `first_command`, `then_command`, `agent`:
    the field of that name equals the item's text exactly (commands and agents as devloop logged
    them: a lower-cased or shortened command names a command nobody ran);
  - `any_command` (hard negatives): any field whose name ends in `command` equals the text;
  - `threads`: every thread the finding names is one of the item's threads, and it names at
    least `min_threads` of them;
  - `threads_if_named`: a finding that names threads names only the item's threads;
  - `threads_overlap` (hard negatives): the finding names at least `min_overlap` of them.
- one finding claims one (item, pattern) pair; findings are matched in (pattern, key) order.
  An item listing two patterns (the formatter failing on every run, unseen: `metric_anomaly`
  or `silent_completion`) may be claimed once under each; it counts once for recall.

Usage: score.py TRUTH.json FINDINGS.jsonl [--devloop]   (prints the score as JSON)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PATTERNS = ["command_repetition", "command_rerun", "failure_workaround", "dismissed_suggestions", "user_manual_fix",
            "silent_completion", "cross_thread_pattern", "metric_anomaly", "command_correlation"]


def fields_of(finding: dict) -> dict:
    evidence = finding.get("evidence") or {}
    if not isinstance(evidence, dict):
        return {}
    fields = evidence.get("fields", evidence)
    if isinstance(fields, list):  # [{key, value}] as in the WIT record
        fields = {item.get("key"): item.get("value") for item in fields if isinstance(item, dict)}
    return fields if isinstance(fields, dict) else {}


def names_hold(item: dict, finding: dict) -> bool:
    fields = fields_of(finding)
    threads = set(finding.get("affected_threads") or [])
    for name, value in item["names"].items():
        if name == "threads":
            if not threads or not threads <= set(value) or len(threads) < item.get("min_threads", len(value)):
                return False
        elif name == "threads_if_named":
            if threads and not threads <= set(value):
                return False
        elif name == "threads_overlap":
            if len(threads & set(value)) < item["names"]["min_overlap"]:
                return False
        elif name == "min_overlap":
            continue
        elif name == "any_command":
            if value not in [text for key, text in fields.items() if str(key).endswith("command")]:
                return False
        elif fields.get(name) != value:
            return False
    return True


def score(truth: dict, findings: list[dict]) -> dict:
    planted = truth["planted"]
    claimed: dict[tuple[str, str], dict] = {}
    wrong, violations = [], []
    ordered = sorted(findings, key=lambda f: (f.get("pattern") or "", str(f.get("key") or ""), f.get("message") or ""))
    for finding in ordered:
        pattern = finding.get("pattern")
        for item in planted:
            if pattern in item["patterns"] and (item["id"], pattern) not in claimed and names_hold(item, finding):
                claimed[(item["id"], pattern)] = finding
                break
        else:
            wrong.append(finding)
        for negative in truth["hard_negatives"]:
            if pattern in negative["patterns"] and names_hold(negative, finding):
                violations.append({"hard_negative": negative["id"], "description": negative["description"],
                                   "pattern": pattern, "message": finding.get("message")})
    found = {item_id for item_id, _ in claimed}
    per_pattern = {pattern: {"planted": 0, "found": 0, "findings": 0, "right": 0} for pattern in PATTERNS}
    for item in planted:
        row = per_pattern[item["patterns"][0]]
        row["planted"] += 1
        row["found"] += item["id"] in found
    for finding in findings:
        row = per_pattern.setdefault(finding.get("pattern") or "?", {"planted": 0, "found": 0, "findings": 0, "right": 0})
        row["findings"] += 1
    for (_, pattern) in claimed:
        per_pattern[pattern]["right"] += 1
    return {
        "planted": len(planted), "found": len(found), "findings": len(findings), "right": len(claimed),
        "recall": len(found) / len(planted) if planted else 1.0,
        "precision": len(claimed) / len(findings) if findings else 1.0,
        "hard_negative_violations": violations,
        "missed": [f"{item['id']} {'/'.join(item['patterns'])}: {item['description']}" for item in planted if item["id"] not in found],
        "wrong": [f"{f.get('pattern')}: {f.get('message')}" for f in wrong],
        "per_pattern": per_pattern,
    }


def latest_per_fingerprint(lines: list[str]) -> list[dict]:
    """Run output lists a finding again when it changes; the last version is the finding."""
    latest: dict[str, dict] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        finding = json.loads(line)
        latest[finding.get("fingerprint") or json.dumps(finding, sort_keys=True)] = finding
    return list(latest.values())


def read_devloop(text: str) -> list[dict]:
    """`devloop insights detect --format json` prints a status line, then a JSON array."""
    start = text.find("[")
    while start >= 0:
        try:
            patterns, _ = json.JSONDecoder().raw_decode(text[start:])
            break
        except json.JSONDecodeError:
            start = text.find("[", start + 1)
    else:
        return []
    return [{"pattern": p.get("pattern_name"), "evidence": p.get("evidence") or {}, "affected_threads": p.get("affected_threads") or [],
             "message": p.get("message"), "key": p.get("message")} for p in patterns if isinstance(p, dict)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("truth", type=Path)
    parser.add_argument("findings", type=Path)
    parser.add_argument("--devloop", action="store_true", help="the findings file is devloop's `insights detect --format json` output")
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text())
    text = args.findings.read_text()
    findings = read_devloop(text) if args.devloop else latest_per_fingerprint(text.splitlines())
    print(json.dumps(score(truth, findings), indent=2))


if __name__ == "__main__":
    main()
