#!/usr/bin/env python3
"""A scenario of the independent generator, replayed into a folder that grows between runs.

`generate OUT --seed N --days N --cuts N` writes the scenario with `independent/generate.py`
(devloop 0.10.3's own classes; its random cut moments are where incremental runs read) and
prepares what each cut shows of devloop's rewritten files; `grow OUT TARGET CUT|end` brings the
folders under TARGET to what devloop had written by cut CUT (`end`: everything), with
`independent/evaluate.py`'s own `grow`: the append-only logs up to their size then (sometimes
with half a line still being written), the events.db rows written by then.

Two files devloop rewrites in place rather than appends are treated so that a run from the start
can know what the incremental runs knew:
- `feedback/performance.json` (each agent's running totals, last version only) is left out: a
  run from the start sees only its last totals, runs in between see other ones, and nothing in the
  file says what the earlier ones were;
- the context store's tier files keep every result, but its `seen_by_user` flags only say how
  things stand now: each cut shows the final tier files' results made by then, with their final
  flags (as if each was looked at, or not, right away).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "independent"))
import evaluate  # noqa: E402

CONTEXT = Path("project/.devloop/context")
PERFORMANCE = Path("project/.devloop/feedback/performance.json")


def result_time(finding: dict) -> float:
    naive = datetime.datetime.strptime(finding["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    return naive.replace(tzinfo=datetime.timezone.utc).timestamp()


def replay_folder(out: Path, index: int) -> Path:
    return out / "replay" / str(index)


def generate(out: Path, seed: int, days: int, cuts: int) -> None:
    subprocess.run([sys.executable, str(HERE / "independent" / "generate.py"), str(out), "--seed", str(seed),
                    "--days", str(days), "--cuts", str(cuts)], check=True)
    for performance in [out / PERFORMANCE, *out.glob(f"cuts/*/{PERFORMANCE}")]:
        performance.unlink(missing_ok=True)
    final = out / CONTEXT
    for index, cut in enumerate(json.loads((out / "cuts.json").read_text())):
        folder = replay_folder(out, index) / CONTEXT
        folder.mkdir(parents=True)
        for tier_file in sorted(final.glob("*.json")):
            document = json.loads(tier_file.read_text())
            if "findings" in document:
                document["findings"] = [finding for finding in document["findings"]
                                        if result_time(finding) <= cut["moment"]]
                document["count"] = len(document["findings"])
            (folder / tier_file.name).write_text(json.dumps(document, indent=2))


def grow(out: Path, target: Path, cut: str) -> None:
    (target / "project" / ".devloop").mkdir(parents=True, exist_ok=True)
    (target / "home" / ".devloop").mkdir(parents=True, exist_ok=True)
    if cut == "end":
        evaluate.grow(out, target, None)
        return
    index = int(cut)
    moment = json.loads((out / "cuts.json").read_text())[index]
    snapshots = replay_folder(out, index).relative_to(out)
    evaluate.grow(out, target, {**moment, "snapshots": str(snapshots)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generating = commands.add_parser("generate")
    generating.add_argument("out", type=Path)
    generating.add_argument("--seed", type=int, required=True)
    generating.add_argument("--days", type=int, required=True)
    generating.add_argument("--cuts", type=int, required=True)
    growing = commands.add_parser("grow")
    growing.add_argument("out", type=Path)
    growing.add_argument("target", type=Path)
    growing.add_argument("cut", help="a cut's index, or `end`")
    args = parser.parse_args()
    if args.command == "generate":
        out = args.out.resolve()
        if out.exists():
            shutil.rmtree(out)
        generate(out, args.seed, args.days, args.cuts)
    else:
        grow(args.out.resolve(), args.target.resolve(), args.cut)


if __name__ == "__main__":
    main()
