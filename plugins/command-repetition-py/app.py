"""command_repetition in Python: one command run unusually often by one person, unexplained.

A line-for-line port of plugins/command-repetition (Rust), so both pass the same conformance
cases and hand their state to each other: the snapshot is the Rust version's JSON (format 1).

Build: componentize-py -d ../../wit/since_v0.1.0 -w detector-plugin componentize app -o command_repetition_py.wasm
"""

import json
import math
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
# The snapshot layout this port writes and reads, the Rust version's.
STATE_FORMAT = 1
MAX_EVIDENCE_EVENTS = 20
# How much an occasion must grow before its finding is updated (half again).
GROWTH = 1.5
SETTINGS = [
    ConfigKey("min_repeats", Value_Integer(4),
              "Unexplained successful runs of one command that can make a finding. Default 4: doubles and "
              "triples are everyday habit (`git status`), a fourth run with nothing changed is not."),
    ConfigKey("burst_seconds", Value_Integer(120),
              "A burst: `min_repeats` runs this close together are reported whatever the person's habits. "
              "Default 120: nobody's routine runs one command four times in two minutes."),
    ConfigKey("window_seconds", Value_Integer(7200),
              "The longer view: `min_repeats` or more runs within it are judged against the person's own usual "
              "rate of that command. Default 7200 (2 h): \"`bd ready` 4 times in 2 hours\"."),
    ConfigKey("min_history_runs", Value_Integer(30),
              "Commands the person ran before the window, before their usual mix is trusted. Default 30: "
              "a day or two of work shows a person's habits; before that only bursts are reported."),
    ConfigKey("max_chance", Value_Float(0.01),
              "How improbable the count must be at the person's usual rate (one-sided Poisson) to be "
              "reported. Default 0.01: one false alarm in a hundred windows at most, per command."),
]
KINDS = ["cli.command", "file.*", "audit.file_modified", "audit.file_created", "audit.fix_applied"]
FILE_CHANGES = {"audit.file_modified", "audit.file_created", "audit.fix_applied"}

# Rust's `char::is_whitespace` (Unicode White_Space), so both versions split commands alike.
WHITESPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def command_key(command: str) -> str:
    """Collapses whitespace so `bd  ready` and `bd ready ` are one command; case stays."""
    return " ".join(part for part in WHITESPACE.split(command) if part)


EDGES = re.compile(f"^{WHITESPACE.pattern}|{WHITESPACE.pattern}$")


def trim(command: str) -> str:
    """Rust's `str::trim`."""
    return EDGES.sub("", command)


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


def number(settings: dict, name: str) -> float:
    value = settings[name]
    if isinstance(value, (Value_Integer, Value_Float)):
        return float(value.value)
    raise Err(f"setting `{name}` must be a number, not {describe_value(value)}")


def rust_round(value: float) -> float:
    """Rust's `f64::round` for the non-negative values used here: halves away from zero."""
    return math.floor(value + 0.5)


def poisson_tail(n: int, mean: float) -> float:
    """P(X >= n) for X ~ Poisson(mean), summed in the Rust version's order."""
    if n == 0:
        return 1.0
    term = math.exp(-mean)
    below = term
    for k in range(1, n):
        term *= mean / k
        below += term
    return max(1.0 - below, 0.0)


def span_words(ms: int) -> str:
    """Seconds under two minutes, minutes under two hours, hours beyond (Rust's `{:.0}`/`{:.1}`)."""
    seconds = ms / 1000
    if seconds < 120.0:
        return f"{seconds:.0f}s"
    if seconds < 7200.0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class State:
    """What the detector remembers between calls. componentize-py makes a new `Detector` for
    every call, so state lives at module level."""

    min_repeats = 4
    burst_ms = 120_000
    window_ms = 7_200_000
    min_history_runs = 30
    max_chance = 0.01
    # (command key, who) -> {"command", "runs": [[time_ms, id], ...], "changes_seen", "total",
    # "reported_runs", "occasions"}
    habits = {}
    # who -> {"total", "recent": [time_ms, ...] within the window}
    people = {}
    file_changes = 0


def new_habit() -> dict:
    return {"command": "", "runs": [], "changes_seen": 0, "total": 0, "reported_runs": 0, "occasions": 0}


def judge(habit: dict, person: dict, now_ms: int):
    runs = len(habit["runs"])
    if runs < State.min_repeats:
        return None
    burst = 0
    if habit["reported_runs"] > 0:
        burst = runs
    else:
        for time, _ in reversed(habit["runs"]):
            if now_ms - time > State.burst_ms:
                break
            burst += 1
    in_window = len(person["recent"])
    person_before = max(person["total"] - in_window, 0)
    usual_test = None
    if person_before >= State.min_history_runs:
        command_before = max(habit["total"] - runs, 0)
        share = float(command_before + 1) / float(person_before + 1)
        usual = share * float(in_window)
        usual_test = (usual, poisson_tail(runs, usual))
    if usual_test is not None and usual_test[1] <= State.max_chance:
        return {"runs": runs, "first_ms": habit["runs"][0][0], "usual": usual_test[0], "chance": usual_test[1]}
    if burst >= State.min_repeats:
        return {"runs": burst, "first_ms": habit["runs"][runs - burst][0],
                "usual": usual_test[0] if usual_test is not None else None, "chance": None}
    return None


def ran(key: str, who: str, event: Event):
    person = State.people.setdefault(who, {"total": 0, "recent": []})
    person["total"] += 1
    recent = person["recent"]
    while recent and event.time_ms - recent[0] > State.window_ms:
        recent.pop(0)
    recent.append(event.time_ms)
    habit = State.habits.setdefault((key, who), new_habit())
    habit["total"] += 1
    runs = habit["runs"]
    while runs and event.time_ms - runs[0][0] > State.window_ms:
        runs.pop(0)
    if habit["changes_seen"] != State.file_changes:
        runs.clear()
    if not runs:
        habit["reported_runs"] = 0
        habit["command"] = trim(event.subject or "")
    habit["changes_seen"] = State.file_changes
    runs.append([event.time_ms, event.id])

    judgement = judge(habit, person, event.time_ms)
    if judgement is None:
        return None
    if habit["reported_runs"] > 0 and float(judgement["runs"]) < float(habit["reported_runs"]) * GROWTH:
        return None
    if habit["reported_runs"] == 0:
        habit["occasions"] += 1
    habit["reported_runs"] = judgement["runs"]
    occasions = habit["occasions"]
    command = habit["command"]
    span_ms = event.time_ms - judgement["first_ms"]
    who_label = who or "one user"
    usual_words = ""
    if judgement["usual"] is not None and judgement["chance"] is not None:
        usual_words = f", against about {judgement['usual']:.1f} at their usual rate"
    extra = float(judgement["runs"] - State.min_repeats)
    confidence = 0.6 + 0.1 * extra + 0.1 * float(occasions - 1)
    window = State.window_ms if judgement["chance"] is not None else State.burst_ms
    fields = [
        Field("command", Value_Text(command)),
        Field("runs", Value_Integer(judgement["runs"])),
        Field("span_seconds", Value_Float(span_ms / 1000)),
        Field("occasions", Value_Integer(occasions)),
        Field("window_seconds", Value_Integer(window // 1000)),
    ]
    if judgement["usual"] is not None:
        fields.append(Field("usual_runs_per_window", Value_Float(rust_round(judgement["usual"] * 100.0) / 100.0)))
    if judgement["chance"] is not None:
        fields.append(Field("chance_at_usual_rate", Value_Float(rust_round(judgement["chance"] * 1e6) / 1e6)))
    if event.actor is not None:
        fields.append(Field("actor", Value_Text(event.actor)))
    event_ids = []
    times = [0]
    for time, event_id in runs[len(runs) - judgement["runs"]:]:
        if len(event_ids) < MAX_EVIDENCE_EVENTS and event_id not in event_ids:
            event_ids.append(event_id)
        times.append(time)
    return Insight(
        pattern=PATTERN,
        key=f"{key}\x1f{who}",
        severity=Severity.WARNING if occasions >= 3 else Severity.INFO,
        confidence=max(0.0, min(confidence, 0.95)),
        message=f"`{command}` was run {judgement['runs']} times in {span_words(span_ms)} by {who_label}{usual_words}",
        recommendation=(
            f"Make `{command}` say clearly whether it worked and what changed (a summary line, "
            "a non-zero exit code on failure), so nobody has to run it again to check."
        ),
        evidence=Evidence(event_ids=event_ids, fields=fields),
        affected_threads=[event.thread_id] if event.thread_id is not None else [],
        time_ms=max(times),
    )


class Detector(exports.Detector):

    def describe(self) -> Info:
        return Info(
            id="command-repetition",
            version="0.1.0",
            api_version="0.1.0",
            patterns=[PATTERN],
            kinds=KINDS,
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
        State.burst_ms = integer_at_least(values, "burst_seconds", 1) * 1000
        State.window_ms = integer_at_least(values, "window_seconds", 1) * 1000
        State.min_history_runs = integer_at_least(values, "min_history_runs", 0)
        State.max_chance = number(values, "max_chance")
        if not 0.0 <= State.max_chance <= 1.0:
            raise Err(f"setting `max_chance` must be between 0 and 1, not {State.max_chance}")

    def process(self, events: list[Event]) -> list[Insight]:
        insights = []
        for event in events:
            insight = self.on_event(event)
            if insight is not None:
                insights.append(insight)
        return insights

    def on_event(self, event: Event):
        kind = event.kind
        if kind.startswith("file.") or kind in FILE_CHANGES:
            State.file_changes += 1
            return None
        key = command_key(event.subject or "")
        if not key:
            return None
        who = event.thread_id if event.thread_id is not None else (event.actor if event.actor is not None else "")
        if event.outcome.status == Status.FAILURE:
            habit = State.habits.get((key, who))
            if habit is not None:
                habit["runs"].clear()
            return None
        return ran(key, who, event)

    def tick(self, now_ms: int) -> list[Insight]:
        return []

    def snapshot(self) -> bytes | None:
        # The Rust version's format 1 (`keep_state!`): habits as [[key, who], habit] pairs in key order.
        state = {
            "habits": [[[key, who], habit] for (key, who), habit in sorted(State.habits.items())],
            "people": dict(sorted(State.people.items())),
            "file_changes": State.file_changes,
        }
        return json.dumps({"format": STATE_FORMAT, "state": state}, separators=(",", ":")).encode()

    def restore(self, state: bytes) -> None:
        try:
            saved = json.loads(state)
        except ValueError as error:
            raise Err(f"cannot read the saved state: {error}")
        format_ = 0
        if isinstance(saved, dict) and set(saved) == {"format", "state"} and isinstance(saved["format"], int):
            format_ = saved["format"]
        if format_ > STATE_FORMAT:
            raise Err(f"the saved state is in format {format_}, written by a newer version of this detector "
                      f"(this one reads format {STATE_FORMAT}); starting fresh")
        if format_ < STATE_FORMAT:
            raise Err(f"the saved state is in format {format_}, from the burst-only version of this detector; "
                      "starting fresh")
        try:
            fields = saved["state"]
            habits = {}
            for (key, who), habit in fields["habits"]:
                habits[(str(key), str(who))] = {
                    "command": str(habit["command"]),
                    "runs": [[int(time), int(id)] for time, id in habit["runs"]],
                    "changes_seen": int(habit["changes_seen"]),
                    "total": int(habit["total"]),
                    "reported_runs": int(habit["reported_runs"]),
                    "occasions": int(habit["occasions"]),
                }
            people = {
                str(who): {"total": int(person["total"]), "recent": [int(time) for time in person["recent"]]}
                for who, person in fields["people"].items()
            }
            file_changes = int(fields["file_changes"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise Err(f"cannot read the saved state: {error}")
        State.habits, State.people, State.file_changes = habits, people, file_changes
