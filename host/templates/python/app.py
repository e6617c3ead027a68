"""{{id}}: a devloop-host detector in Python.

It reports a command that keeps failing: `min_failures` failed runs of the same command line.
Replace the logic in `Detector.process` with the pattern you are after; the types are those of
wit/detector.wit (records are dataclasses, enums are Enum classes, variants are `Value_*`
classes, `option` is a value or None, and raising `Err(message)` returns the `result`'s error).

Build: componentize-py -d wit -w detector-plugin componentize app -o {{id}}.wasm
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.detector import ConfigKey, Info
from wit_world.imports.types import Event, Evidence, Field, Insight, Severity, Status, Value_Integer, Value_Text

PATTERN = "{{pattern}}"
SETTINGS = [ConfigKey("min_failures", Value_Integer(2), "Failed runs of one command that make a finding.")]


class State:
    """What the detector remembers between calls. componentize-py makes a new `Detector` for
    every call, so state lives at module level."""

    min_failures = 2
    failures = {}  # command -> ids of its failed runs


class Detector(exports.Detector):
    def describe(self) -> Info:
        return Info(
            id="{{id}}",
            version="0.1.0",
            api_version="0.1.0",
            patterns=[PATTERN],
            kinds=["cli.command"],
            config=SETTINGS,
            language="python",
        )

    def configure(self, settings: list[Field]) -> None:
        for field in settings:
            if field.key != "min_failures":
                raise Err(f"unknown setting `{field.key}`; this detector accepts: min_failures")
            if not isinstance(field.value, Value_Integer) or field.value.value < 1:
                raise Err("setting `min_failures` must be a whole number of at least 1")
            State.min_failures = field.value.value

    def process(self, events: list[Event]) -> list[Insight]:
        insights = []
        for event in events:
            if event.outcome.status != Status.FAILURE or not event.subject:
                continue
            ids = State.failures.setdefault(event.subject, [])
            ids.append(event.id)
            if len(ids) != State.min_failures:
                continue
            insights.append(
                Insight(
                    pattern=PATTERN,
                    key=event.subject,
                    severity=Severity.WARNING,
                    confidence=0.7,
                    message=f"`{event.subject}` failed {len(ids)} times",
                    recommendation=f"Find out why `{event.subject}` fails and make its error say what to do next.",
                    evidence=Evidence(event_ids=list(ids), fields=[Field("command", Value_Text(event.subject))]),
                    affected_threads=[event.thread_id] if event.thread_id else [],
                    time_ms=event.time_ms,
                )
            )
        return insights

    def tick(self, now_ms: int) -> list[Insight]:
        return []

    def snapshot(self) -> bytes | None:
        return json.dumps(State.failures).encode()

    def restore(self, state: bytes) -> None:
        try:
            State.failures = {command: [int(id) for id in ids] for command, ids in json.loads(state).items()}
        except (ValueError, AttributeError, TypeError) as error:
            raise Err(f"cannot read the saved state: {error}")
