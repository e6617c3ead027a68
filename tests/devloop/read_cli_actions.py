"""Reads cli-actions.jsonl with devloop's own ActionLogger and prints the actions as JSON.

    python read_cli_actions.py HOME_DEVLOOP_DIR

Each action also says whether devloop's `CLIAction.to_json()` writes back the very same line,
which holds only if the line was written exactly as devloop writes it.
"""

import importlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

action_logger = importlib.import_module("devloop.core.action_logger")

log_file = Path(sys.argv[1]) / "cli-actions.jsonl"
lines = [line.rstrip("\n") for line in log_file.read_text().splitlines() if line.strip()]
actions = list(reversed(action_logger.ActionLogger(log_file).read_recent(limit=len(lines) or 1)))
result = []
for line, action in zip(lines, actions):
    record = asdict(action)
    record["re_serialized_equal"] = action.to_json() == line
    result.append(record)
print(json.dumps(result))
