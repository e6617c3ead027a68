"""command_repetition in Python: the same command line run again and again within minutes.

A line-for-line port of plugins/command-repetition (Rust), so both pass the same conformance
cases and hand their state to each other: the snapshot is the Rust version's JSON.

Build: componentize-py -d ../../wit/since_v0.1.0 -w detector-plugin componentize app -o command_repetition_py.wasm
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.detector import ConfigKey, Info
from wit_world.imports.types import (
    Event,
    Evidence,
    Field,
    Insight,
    Severity,
    Status,
    Value_Float,
    Value_Integer,
    Value_Text,
)

PATTERN = "command_repetition"
MAX_EVIDENCE_EVENTS = 20
SETTINGS = [
    ConfigKey("min_repeats", Value_Integer(3), "Successful runs of one command that make a burst."),
    ConfigKey("window_seconds", Value_Integer(120), "How close together the runs of a burst are."),
]

# Rust's `char::is_whitespace` (Unicode White_Space), so both versions split commands alike.
WHITESPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def normalize(command: str) -> str:
    """Collapses whitespace so `bd  ready` and `bd ready ` are one command."""
    return " ".join(part for part in WHITESPACE.split(command) if part)


def describe_value(value) -> str:
    return f"{type(value).__name__.removeprefix('Value_')}({value.value!r})"


def integer_at_least(settings: dict, name: str, minimum: int) -> int:
    value = settings[name]
    if isinstance(value, Value_Integer):
        number = value.value
    elif isinstance(value, Value_Float) and value.value == int(value.value):
        number = int(value.value)
    else:
        raise Err(f"setting `{name}` must be a whole number, not {describe_value(value)}")
    if number < minimum:
        raise Err(f"setting `{name}` must be at least {minimum}, not {number}")
    return number


def round_half_even(milliseconds: int) -> int:
    """Whole seconds, rounded like Rust's `{:.0}`: ties go to the even number."""
    return round(milliseconds / 1000)


class State:
    """What the detector remembers between calls. componentize-py makes a new `Detector` for
    every call, so state lives at module level."""

    min_repeats = 3
    window_ms = 120_000
    # "command\x1fwho" -> {"runs": [[time_ms, id], ...], "reported": bool, "bursts": int}
    bursts = {}


class Detector(exports.Detector):

    def describe(self) -> Info:
        return Info(
            id="command-repetition",
            version="0.1.0",
            api_version="0.1.0",
            patterns=[PATTERN],
            kinds=["cli.command"],
            config=SETTINGS,
            language="python",
        )

    def configure(self, settings: list[Field]) -> None:
        values = {key.name: key.default_value for key in SETTINGS}
        for field in settings:
            if field.key not in values:
                known = ", ".join(key.name for key in SETTINGS)
                raise Err(f"unknown setting `{field.key}`; this detector accepts: {known}")
            values[field.key] = field.value
        State.min_repeats = integer_at_least(values, "min_repeats", 2)
        State.window_ms = integer_at_least(values, "window_seconds", 1) * 1000

    def process(self, events: list[Event]) -> list[Insight]:
        insights = []
        for event in events:
            insight = self.on_event(event)
            if insight is not None:
                insights.append(insight)
        return insights

    def on_event(self, event: Event):
        if event.outcome.status == Status.FAILURE:
            return None
        command = normalize(event.subject or "")
        if not command:
            return None
        who = event.thread_id or event.actor or ""
        burst = State.bursts.setdefault(f"{command}\x1f{who}", {"runs": [], "reported": False, "bursts": 0})
        runs = burst["runs"]
        while runs and event.time_ms - runs[0][0] > State.window_ms:
            runs.pop(0)
        if not runs:
            burst["reported"] = False
        runs.append([event.time_ms, event.id])
        if len(runs) < State.min_repeats or burst["reported"]:
            return None
        burst["reported"] = True
        burst["bursts"] += 1

        count = len(runs)
        span_ms = event.time_ms - runs[0][0]
        confidence = 0.6 + 0.1 * (count - State.min_repeats) + 0.1 * (burst["bursts"] - 1)
        evidence = [
            Field("command", Value_Text(command)),
            Field("runs", Value_Integer(count)),
            Field("span_seconds", Value_Float(span_ms / 1000)),
            Field("bursts", Value_Integer(burst["bursts"])),
            Field("window_seconds", Value_Integer(State.window_ms // 1000)),
        ]
        if event.actor is not None:
            evidence.append(Field("actor", Value_Text(event.actor)))
        event_ids = []
        for _, event_id in runs:
            if len(event_ids) < MAX_EVIDENCE_EVENTS and event_id not in event_ids:
                event_ids.append(event_id)
        return Insight(
            pattern=PATTERN,
            key=f"{command}\x1f{who}",
            severity=Severity.WARNING if burst["bursts"] >= 3 else Severity.INFO,
            confidence=max(0.0, min(confidence, 0.95)),
            message=f"`{command}` was run {count} times in {round_half_even(span_ms)}s by {who or 'one user'}",
            recommendation=(
                f"Make `{command}` say clearly whether it worked and what changed (a summary line, "
                "a non-zero exit code on failure), so nobody has to run it again to check."
            ),
            evidence=Evidence(event_ids=event_ids, fields=evidence),
            affected_threads=[event.thread_id] if event.thread_id is not None else [],
            time_ms=max([0] + [time for time, _ in runs]),
        )

    def tick(self, now_ms: int) -> list[Insight]:
        return []

    def snapshot(self) -> bytes | None:
        # The Rust version's format: {command: {who: {"runs": [[time, id]], "reported", "bursts"}}}.
        nested = {}
        for key, burst in State.bursts.items():
            command, _, who = key.partition("\x1f")
            nested.setdefault(command, {})[who] = burst
        return json.dumps(nested, separators=(",", ":")).encode()

    def restore(self, state: bytes) -> None:
        try:
            State.bursts = {
                f"{command}\x1f{who}": {"runs": [[int(time), int(id)] for time, id in burst["runs"]],
                                        "reported": bool(burst["reported"]), "bursts": int(burst["bursts"])}
                for command, people in json.loads(state).items()
                for who, burst in people.items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise Err(f"cannot read the saved state: {error}")
