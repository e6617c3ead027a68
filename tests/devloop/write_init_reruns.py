"""Writes `devloop init` runs into cli-actions.jsonl with devloop's own ActionLogger.

    python write_init_reruns.py PROJECT_DEVLOOP_DIR HOME_DEVLOOP_DIR PART

Part 1: some commands and a first `init`. Part 2 (appended, two hours after the first init): `init --force`
in the same folder. A pattern counting inits per person and folder within a day finds the
pair only if its state survived from the run that read part 1 to the run that reads part 2.
"""

import sys
from pathlib import Path

from devloop_writers import CLOCK, Writers


def main(project: Path, home: Path, part: int) -> None:
    writers = Writers(project, home)
    if part == 1:
        writers.cli(["status"], exit_code=0, duration_ms=200)
        CLOCK.advance(60)
        writers.cli(["init"], exit_code=0, duration_ms=900)
        CLOCK.advance(60)
        writers.cli(["bd", "ready"], exit_code=0, duration_ms=120)
    else:
        CLOCK.advance(60 + 2 * 3600)
        writers.cli(["init", "--force"], exit_code=0, duration_ms=950)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
