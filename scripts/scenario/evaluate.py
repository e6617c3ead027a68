#!/usr/bin/env python3
"""Recall and precision of devloop-host's detectors — and of devloop 0.10.3's own
`devloop insights detect` — on generated scenarios with planted patterns.

For every (seed, volume) run: generate a scenario with generate.py, run
`devloop-host run --format json` on it, run `devloop insights detect --format json` on the same
files (HOME pointed at the scenario, as devloop reads ~/.devloop), score both against the
planted truth with score.py, and print one table over all runs.

Usage: evaluate.py --binary DEVLOOP_HOST --plugins DIR [--runs 1:1.0,2:0.6,3:1.5] [--days 21]
                   [--check 0.9] [--markdown OUT.md] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import score as scoring  # noqa: E402


def run_ours(binary: Path, plugins: Path, scenario: Path) -> Path:
    help_text = subprocess.run([str(binary), "run", "--help"], capture_output=True, text=True, check=True).stdout
    command = [str(binary), "run", "--devloop-dir", str(scenario / "project" / ".devloop"), "--plugins", str(plugins),
               "--format", "json", "--cache-dir", str(scenario / "cache")]
    if "--from-start" in help_text:
        command.append("--from-start")
    if "--state-db" in help_text:
        command += ["--state-db", str(scenario / "state.db")]
    if "--home-devloop-dir" in help_text:
        command += ["--home-devloop-dir", str(scenario / "home" / ".devloop")]
    env = {**os.environ, "HOME": str(scenario / "home")}
    env.pop("RUST_LOG", None)
    result = subprocess.run(command, cwd=scenario / "project", env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"devloop-host run failed on {scenario}:\n{result.stderr}")
    out = scenario / "ours.jsonl"
    out.write_text(result.stdout)
    return out


def run_devloop(venv: Path, scenario: Path, truth: dict) -> Path:
    hours = int((time.time() - (truth["end"] - truth["days"] * 86400)) / 3600) + 24
    env = {**os.environ, "HOME": str(scenario / "home"), "COLUMNS": "100000", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run([str(venv / "bin" / "devloop"), "insights", "detect", "--hours", str(hours), "--format", "json",
                             "--no-save"], cwd=scenario / "project", env=env, capture_output=True, text=True)
    out = scenario / "devloop.txt"
    out.write_text(result.stdout)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--plugins", type=Path, required=True)
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("DEVLOOP_HOST_VENV", "~/.cache/devloop-host/venv")).expanduser())
    parser.add_argument("--runs", default="1:1.0,2:0.6,3:1.5", help="seed:volume pairs")
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--check", type=float, help="fail unless devloop-host's recall and precision reach this")
    parser.add_argument("--markdown", type=Path, help="write the table here too")
    parser.add_argument("--keep", type=Path, help="keep the scenarios under this folder")
    args = parser.parse_args()

    totals = {tool: {pattern: {"planted": 0, "found": 0, "findings": 0, "correct": 0} for pattern in scoring.PATTERNS}
              for tool in ["ours", "devloop"]}
    misses = []
    base = args.keep or Path(tempfile.mkdtemp(prefix="devloop-scenarios-"))
    for run in args.runs.split(","):
        seed, volume = run.split(":")
        scenario = base / f"seed{seed}-volume{volume}"
        subprocess.run([str(args.venv / "bin" / "python"), str(HERE / "generate.py"), str(scenario), "--seed", seed,
                        "--days", str(args.days), "--volume", volume], check=True)
        truth = json.loads((scenario / "truth.json").read_text())
        ours = scoring.read_ours(run_ours(args.binary, args.plugins, scenario))
        theirs = scoring.read_devloop(run_devloop(args.venv, scenario, truth))
        for tool, findings in [("ours", ours), ("devloop", theirs)]:
            result = scoring.score(truth["planted"], findings)
            for pattern, row in result["patterns"].items():
                for key, value in row.items():
                    totals[tool][pattern][key] += value
            if tool == "ours":
                for pattern, row in result["patterns"].items():
                    if row["found"] < row["planted"] or row["correct"] < row["findings"]:
                        wrong = [f["message"] for f in findings if f.get("pattern") == pattern]
                        misses.append(f"seed {seed} volume {volume} {pattern}: found {row['found']}/{row['planted']}, "
                                      f"correct {row['correct']}/{row['findings']}: {wrong[:4]}")
        print(f"seed {seed} volume {volume}: {len(ours)} devloop-host finding(s), {len(theirs)} devloop pattern(s)", file=sys.stderr)

    def ratio(numerator, denominator):
        return numerator / denominator if denominator else 1.0

    lines = ["| pattern | planted | devloop-host found | devloop-host findings (right) | devloop 0.10.3 found | devloop 0.10.3 findings (right) |",
             "|---|---:|---:|---:|---:|---:|"]
    summary = {}
    for tool in ["ours", "devloop"]:
        rows = totals[tool].values()
        planted, found = sum(r["planted"] for r in rows), sum(r["found"] for r in rows)
        findings, correct = sum(r["findings"] for r in rows), sum(r["correct"] for r in rows)
        summary[tool] = (ratio(found, planted), ratio(correct, findings), found, planted, correct, findings)
    for pattern in scoring.PATTERNS:
        ours, theirs = totals["ours"][pattern], totals["devloop"][pattern]
        lines.append(f"| `{pattern}` | {ours['planted']} | {ours['found']} | {ours['findings']} ({ours['correct']}) | "
                     f"{theirs['found']} | {theirs['findings']} ({theirs['correct']}) |")
    for label, index in [("recall", 0), ("precision", 1)]:
        ours, theirs = summary["ours"], summary["devloop"]
        lines.append(f"| **{label}** | | **{ours[index]:.2f}** | | **{theirs[index]:.2f}** | |")
    table = "\n".join(lines)
    print(f"runs (seed:volume): {args.runs}; {args.days} days each\n\n{table}")
    for miss in misses:
        print(f"  - {miss}", file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.check is not None and (summary["ours"][0] < args.check or summary["ours"][1] < args.check):
        raise SystemExit(f"devloop-host recall {summary['ours'][0]:.2f} / precision {summary['ours'][1]:.2f} is below {args.check}")


if __name__ == "__main__":
    main()
