"""Writes the README's pattern example into cli-actions.jsonl with devloop's own ActionLogger.

    python write_sync_fallback.py PROJECT_DEVLOOP_DIR HOME_DEVLOOP_DIR

`bd sync` fails, and 40 s later `bd sync --no-daemon` works: what the README's example
pattern (`sync_fallback`) finds. Around it, ordinary commands; later a `bd sync` that works
and a `bd sync --no-daemon` hours after a failure, which it must not find.
"""

import sys
from pathlib import Path

from devloop_writers import CLOCK, Writers


def main(project: Path, home: Path) -> None:
    writers = Writers(project, home)
    writers.cli(["status"], exit_code=0, duration_ms=200)
    CLOCK.advance(60)
    writers.cli(["bd", "sync"], exit_code=1, duration_ms=3100)
    CLOCK.advance(40)
    writers.cli(["bd", "sync", "--no-daemon"], exit_code=0, duration_ms=2400)
    CLOCK.advance(3600)
    writers.cli(["bd", "sync"], exit_code=0, duration_ms=900)
    CLOCK.advance(3600)
    writers.cli(["bd", "sync"], exit_code=1, duration_ms=3000)
    CLOCK.advance(3 * 3600)
    writers.cli(["bd", "sync", "--no-daemon"], exit_code=0, duration_ms=2500)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
