#!/usr/bin/env python3
"""The independent evaluation: generate.py's scenarios, run through the real devloop-host binary
from the start and incrementally, and through devloop 0.10.3's own `insights detect`, scored by
score.py, one table over all seeds.

For every seed:
- from start: one `devloop-host run --from-start --format json` over the whole folders;
- incremental: a second folder that grows as devloop would have written it — at each of the
  scenario's cut moments the logs are copied up to the size they had then (sometimes with half a
  line still being written), events.db gets the rows written by then, performance.json and the
  context store are replaced by their snapshot — and `devloop-host run --format json` reads it,
  with the same state database every time; a last run after the folder is complete. The
  findings are the last version of each fingerprint printed over all runs;
- both must agree: the same fingerprints and the same figures;
- devloop: `devloop insights detect --format json --no-save` with HOME at the scenario (devloop
  reads ~/.devloop), over a window that covers the scenario.

Usage: evaluate.py --binary DEVLOOP_HOST [--plugins DIR] [--seeds 1,2,3,4,5] [--days 21] [--cuts 5]
                   [--generator GENERATE.py] [--keep DIR] [--check] [--markdown OUT.md] [--json OUT.json]
`--generator` runs the same evaluation on another generator that writes the same folders,
`truth.json` and `cuts.json` (the held-out one: `tests/devloop/holdout/generate.py`); the
default is this folder's `generate.py`.
`--check` fails unless every seed meets the bar (recall ≥ 0.9, precision ≥ 0.9, no hard-negative
violation, incremental = from start).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))
import score as scoring  # noqa: E402
# The folder layout the generators write (only the layout: devloop's writers are not loaded).
from scenario_folder import APPEND_ONLY, EVENTS_DB, SNAPSHOTS  # noqa: E402

BAR = 0.9


class Host:
    def __init__(self, binary: Path, plugins: Path | None, cache: Path):
        self.binary = binary
        self.plugins = plugins
        self.cache = cache
        # Malformed records the runs reported: a folder devloop's classes wrote has none, and a
        # line still being written at a cut is waited for, not malformed.
        self.malformed = 0

    def run(self, folder: Path, state: Path, from_start: bool) -> list[str]:
        command = [str(self.binary), "run", "--devloop-dir", str(folder / "project" / ".devloop"),
                   "--home-devloop-dir", str(folder / "home" / ".devloop"),
                   "--format", "json", "--state-dir", str(state.parent), "--cache-dir", str(self.cache),
                   "--status-file", str(state.parent / "status.json")]
        if self.plugins is not None:
            command += ["--plugins", str(self.plugins)]
        if from_start:
            command.append("--from-start")
        env = {**os.environ, "HOME": str(folder / "home")}
        env.pop("RUST_LOG", None)
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"devloop-host run failed on {folder}:\n{result.stderr}")
        self.malformed += sum(int(count) for count in re.findall(r"run complete .*?malformed=(\d+)", result.stderr))
        return result.stdout.splitlines()


def grow(scenario: Path, target: Path, cut: dict | None) -> None:
    """Brings `target` to what devloop had written by the cut (everything when `cut` is None)."""
    for rel in APPEND_ONLY:
        source = scenario / rel
        if not source.exists():
            continue
        data = source.read_bytes()
        size = len(data) if cut is None else cut["sizes"][rel]
        partial = cut and cut.get("partial")
        if partial and partial["file"] == rel:
            line_end = data.find(b"\n", size)
            if line_end > size + 1:
                size += min(partial["bytes"], line_end - size - 1)
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        current = destination.stat().st_size if destination.exists() else 0
        if size > current:
            with open(destination, "ab") as file:
                file.write(data[current:size])
    grow_events_db(scenario / EVENTS_DB, target / EVENTS_DB, None if cut is None else cut["events_db_rows"])
    snapshots = scenario if cut is None else scenario / cut["snapshots"]
    for rel in SNAPSHOTS:
        source, destination = snapshots / rel, target / rel
        if destination.is_dir():
            shutil.rmtree(destination)
        if source.is_dir():
            shutil.copytree(source, destination)
        elif source.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def grow_events_db(source: Path, destination: Path, rows: int | None) -> None:
    """Inserts the rows devloop's EventStore had written by then, as it would have."""
    if not source.exists():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite3.connect(destination)
    try:
        if not database.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone():
            with sqlite3.connect(source) as original:
                schema = [sql for (sql,) in original.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")]
            for sql in schema:
                database.execute(sql)
        database.execute("ATTACH DATABASE ? AS source", (str(source),))
        done = database.execute("SELECT COALESCE(MAX(rowid), 0) FROM main.events").fetchone()[0]
        limit = rows if rows is not None else database.execute("SELECT COALESCE(MAX(rowid), 0) FROM source.events").fetchone()[0]
        database.execute("INSERT INTO main.events SELECT * FROM source.events WHERE rowid > ? AND rowid <= ? ORDER BY rowid", (done, limit))
        database.commit()
        database.execute("DETACH DATABASE source")
    finally:
        database.close()


def run_incremental(host: Host, scenario: Path) -> tuple[list[dict], int]:
    target = scenario / "incremental"
    if target.exists():
        shutil.rmtree(target)
    (target / "project" / ".devloop").mkdir(parents=True)
    (target / "home" / ".devloop").mkdir(parents=True)
    cuts = json.loads((scenario / "cuts.json").read_text())
    lines: list[str] = []
    for cut in cuts + [None]:
        grow(scenario, target, cut)
        lines += host.run(target, target / "state" / "state.db", from_start=False)
    return scoring.latest_per_fingerprint(lines), len(cuts) + 1


def run_devloop(venv: Path, scenario: Path, truth: dict) -> list[dict]:
    hours = int((time.time() - truth["start"]) / 3600) + 24
    # devloop logs its own CLI call into ~/.devloop/cli-actions.jsonl: give it a copy of home.
    home = scenario / "devloop-home"
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(scenario / "home", home)
    env = {**os.environ, "HOME": str(home), "COLUMNS": "100000", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run([str(venv / "bin" / "devloop"), "insights", "detect", "--hours", str(hours), "--format", "json", "--no-save"],
                            cwd=scenario / "project", env=env, capture_output=True, text=True)
    (scenario / "devloop.txt").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"devloop insights detect failed on {scenario}:\n{result.stderr}")
    return scoring.read_devloop(result.stdout)


def figures(result: dict) -> str:
    return f"{result['recall']:.2f} / {result['precision']:.2f} / {len(result['hard_negative_violations'])}"


def per_item(report: dict, truths: dict) -> str:
    """Each planted item and hard negative over the seeds (item ids mean the same in every seed;
    the names in them are drawn per seed, the first seed's are shown)."""
    seeds = list(report)
    first = truths[seeds[0]]
    modes = ["from_start", "incremental", "devloop"]
    lines = [f"| planted (as in seed {seeds[0]}) | pattern | found from start | incremental | devloop 0.10.3 |", "|---|---|---:|---:|---:|"]
    for item in first["planted"]:
        found = [sum(not any(m.split()[0] == item["id"] for m in report[s][mode]["missed"]) for s in seeds) for mode in modes]
        lines.append(f"| {item['id']}: {item['description']} | {' or '.join(item['patterns'])} | " + " | ".join(f"{n}/{len(seeds)}" for n in found) + " |")
    lines += ["", f"| hard negative (as in seed {seeds[0]}) | must not be | reported from start | incremental | devloop 0.10.3 |", "|---|---|---:|---:|---:|"]
    for negative in first["hard_negatives"]:
        hits = [sum(any(v["hard_negative"] == negative["id"] for v in report[s][mode]["hard_negative_violations"]) for s in seeds) for mode in modes]
        lines.append(f"| {negative['id']}: {negative['description']} | {', '.join(negative['patterns'])} | " + " | ".join(f"{n}/{len(seeds)}" for n in hits) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--plugins", type=Path, help="a plugins folder instead of the bundled detectors")
    parser.add_argument("--venv", type=Path, default=Path(sys.prefix), help="the venv with devloop 0.10.3 (default: this Python's)")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--cuts", type=int, default=5)
    parser.add_argument("--generator", type=Path, default=HERE / "generate.py",
                        help="the scenario generator (default: the independent one, generate.py beside this file)")
    parser.add_argument("--keep", type=Path, help="keep the scenarios under this folder")
    parser.add_argument("--check", action="store_true", help="fail unless every seed meets the bar")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    base = (args.keep or Path(tempfile.mkdtemp(prefix="devloop-independent-"))).resolve()
    base.mkdir(parents=True, exist_ok=True)
    host = Host(args.binary.resolve(), args.plugins.resolve() if args.plugins else None, base / "component-cache")
    rows, report, failures, truths = [], {}, [], {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        scenario = base / f"seed{seed}"
        subprocess.run([sys.executable, str(args.generator.resolve()), str(scenario), "--seed", str(seed),
                        "--days", str(args.days), "--cuts", str(args.cuts)], check=True)
        truth = json.loads((scenario / "truth.json").read_text())
        truths[seed] = truth
        from_start = scoring.latest_per_fingerprint(host.run(scenario, scenario / "from-start" / "state.db", from_start=True))
        incremental, runs = run_incremental(host, scenario)
        theirs = run_devloop(args.venv, scenario, truth)
        if host.malformed:
            failures.append(f"seed {seed}: devloop-host reported {host.malformed} malformed record(s)")
            print(failures[-1], file=sys.stderr)
            host.malformed = 0
        scores = {"from_start": scoring.score(truth, from_start), "incremental": scoring.score(truth, incremental),
                  "devloop": scoring.score(truth, theirs)}
        only_from_start = {f.get("fingerprint") for f in from_start} - {f.get("fingerprint") for f in incremental}
        only_incremental = {f.get("fingerprint") for f in incremental} - {f.get("fingerprint") for f in from_start}
        same_fingerprints = not only_from_start and not only_incremental
        same_figures = all(scores["from_start"][key] == scores["incremental"][key] for key in ["found", "findings", "right"]) and \
            len(scores["from_start"]["hard_negative_violations"]) == len(scores["incremental"]["hard_negative_violations"])
        agree = same_fingerprints and same_figures
        report[seed] = {**scores, "agree": agree, "incremental_runs": runs,
                        "only_from_start": sorted(only_from_start), "only_incremental": sorted(only_incremental)}
        rows.append(f"| {seed} | {truth['days']} | {scores['from_start']['planted']} | {len(truth['hard_negatives'])} | "
                    f"{figures(scores['from_start'])} ({scores['from_start']['findings']}) | "
                    f"{figures(scores['incremental'])} ({scores['incremental']['findings']}, {runs} runs) | "
                    f"{'yes' if agree else 'no'} | {figures(scores['devloop'])} ({scores['devloop']['findings']}) |")
        for mode in ["from_start", "incremental"]:
            result = scores[mode]
            for missed in result["missed"]:
                print(f"seed {seed} {mode} missed {missed}", file=sys.stderr)
            for wrong in result["wrong"]:
                print(f"seed {seed} {mode} wrong {wrong}", file=sys.stderr)
            for violation in result["hard_negative_violations"]:
                print(f"seed {seed} {mode} HARD NEGATIVE {violation['hard_negative']} ({violation['description']}): "
                      f"{violation['pattern']}: {violation['message']}", file=sys.stderr)
            if result["recall"] < BAR or result["precision"] < BAR or result["hard_negative_violations"]:
                failures.append(f"seed {seed} {mode}: recall/precision/hard negatives {figures(result)}")
        if not agree:
            failures.append(f"seed {seed}: incremental ({figures(scores['incremental'])}) and from start ({figures(scores['from_start'])}) disagree")

    header = ["| seed | days | planted | hard negatives | from start: recall / precision / hard-negative violations (findings) | "
              "incremental (findings, runs) | agree | devloop 0.10.3 `insights detect` (findings) |",
              "|---:|---:|---:|---:|---|---|---|---|"]
    totals = {mode: {key: sum(report[s][mode][key] for s in report) for key in ["planted", "found", "findings", "right"]}
              for mode in ["from_start", "incremental", "devloop"]}
    summary = []
    for mode, label in [("from_start", "from start"), ("incremental", "incremental"), ("devloop", "devloop 0.10.3")]:
        t = totals[mode]
        violations = sum(len(report[s][mode]["hard_negative_violations"]) for s in report)
        summary.append(f"{label}: recall {t['found']}/{t['planted']} = {t['found'] / max(t['planted'], 1):.2f}, "
                       f"precision {t['right']}/{t['findings']} = {(t['right'] / t['findings']) if t['findings'] else 1.0:.2f}, "
                       f"hard-negative violations {violations}")
    table = "\n".join(header + rows) + "\n\n" + "\n".join(f"- {line}" for line in summary) + "\n\n" + per_item(report, truths)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.check and failures:
        raise SystemExit("the bar is not met:\n" + "\n".join(f"  - {failure}" for failure in failures))


if __name__ == "__main__":
    main()
