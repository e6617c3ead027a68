#!/usr/bin/env python3
"""Writes a realistic devloop scenario: weeks of everyday noise with each of the nine usage
patterns planted in it, through devloop 0.10.3's own writer classes, and the ground truth.

Every record is written by the real devloop package (ActionLogger, AmpThreadMapper,
TelemetryLogger, AgentAuditLogger, FeedbackStore, PerformanceMonitor, EventStore), so the files
have exactly the shapes, quirks and timestamp types devloop produces. Only the clock is
simulated: devloop's modules read `datetime.now()` / `time.time()`, which are pointed at a
simulated clock so weeks of history can be written in seconds (the writers' own retention
cleanup then sees the simulated "now" too).

Usage: generate.py OUT_DIR [--seed N] [--days N] [--volume X]
Writes OUT_DIR/project/.devloop/…, OUT_DIR/home/.devloop/… (devloop's default places), and
OUT_DIR/truth.json: the planted instances, one per finding a good detector should report.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as real_datetime
import importlib
import json
import random
import time as real_time
import uuid
from pathlib import Path

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
# The scenario ends at a fixed moment so a seed always gives the same files.
END = real_datetime.datetime(2026, 11, 20, 18, 0, tzinfo=real_datetime.timezone.utc).timestamp()


class SimClock:
    """The simulated "now" every devloop writer sees."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


def install_clock(clock: SimClock) -> None:
    class SimDatetime(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            moment = real_datetime.datetime.fromtimestamp(clock.now, tz=real_datetime.timezone.utc)
            return moment if tz is not None else moment.replace(tzinfo=None)

    class SimTime:
        def __getattr__(self, name):
            return getattr(real_time, name)

        def time(self):
            return clock.now

    # PerformanceMonitor samples CPU with `cpu_percent(interval=0.1)`, a real 0.1 s sleep per
    # snapshot; in simulated time it is a non-blocking sample.
    import psutil
    blocking_cpu_percent = psutil.Process.cpu_percent
    psutil.Process.cpu_percent = lambda self, interval=None: blocking_cpu_percent(self, None)

    for name in ["telemetry", "action_logger", "amp_thread_mapper", "agent_audit_logger", "event_store"]:
        importlib.import_module(f"devloop.core.{name}").datetime = SimDatetime
    for name in ["feedback", "performance", "agent_audit_logger"]:
        importlib.import_module(f"devloop.core.{name}").time = SimTime()


class Writers:
    """devloop's own writers, pointed at the scenario's project and home folders."""

    def __init__(self, out: Path, clock: SimClock):
        core = lambda name: importlib.import_module(f"devloop.core.{name}")
        self.clock = clock
        self.project = out / "project"
        devloop = self.project / ".devloop"
        home = out / "home" / ".devloop"
        devloop.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        self.core = core
        self.actions = core("action_logger").ActionLogger(home / "cli-actions.jsonl")
        self.threads = core("amp_thread_mapper").AmpThreadMapper(home / "amp-thread-log.jsonl")
        self.telemetry = core("telemetry").TelemetryLogger(devloop / "events.jsonl")
        self.audit = core("agent_audit_logger").AgentAuditLogger(devloop / "agent-audit.log")
        self.feedback = core("feedback").FeedbackStore(devloop / "feedback")
        self.performance = core("performance").PerformanceMonitor(devloop / "performance")
        self.store = core("event_store").EventStore(devloop / "events.db")
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.store.initialize())
        # One fsync per event is how the daemon writes; a generator need not wait for the disk.
        self.store.connection.execute("PRAGMA synchronous=OFF")
        self.sequence = 0

    def at(self, moment: float) -> None:
        self.clock.now = moment

    def cli(self, moment, command, exit_code=0, user="alice", thread=None, error=None, duration_ms=None):
        self.at(moment)
        CLIAction = self.core("action_logger").CLIAction
        env = {"AMP_THREAD_ID": thread, "AMP_THREAD_URL": f"https://ampcode.com/threads/{thread}"} if thread else None
        self.actions.log_action(CLIAction(
            command=command, exit_code=exit_code, thread_id=thread,
            thread_url=env["AMP_THREAD_URL"] if env else None, duration_ms=duration_ms or 300,
            user=user, working_dir=str(self.project), environment=env, output_size_bytes=0,
            error_message=error, notes=None))

    def store_event(self, moment, kind, source, payload):
        Event = self.core("event").Event
        self.sequence += 1
        self.at(moment)
        event = Event(type=kind, payload=payload, timestamp=moment, source=source, sequence=self.sequence)
        self.loop.run_until_complete(self.store.store_event(event))

    def file_saved(self, moment, rel):
        self.store_event(moment, "file:modified", "filesystem", {"path": rel, "absolute_path": str(self.project / rel)})

    def agent_run(self, moment, agent, duration_ms, success, findings=0, trigger="file:modified"):
        """One agent execution, recorded where devloop records it: telemetry, performance
        metrics and the event store."""
        self.at(moment)
        message = f"{agent}: {'found ' + str(findings) + ' issue(s)' if findings else 'no issues'}"
        self.telemetry.log_agent_execution(agent=agent, duration_ms=int(duration_ms), findings=findings,
                                           severity_levels=["warning"] if findings else [], success=success,
                                           details={"message": message, "findings_count": findings})

        async def measured():
            async with self.performance.monitor_operation(f"agent.{agent}.handle",
                                                          {"event_type": trigger, "agent_name": agent}):
                self.clock.now = moment + duration_ms / 1000.0

        try:
            self.loop.run_until_complete(measured())
        finally:
            self.clock.now = moment
        self.store_event(moment + duration_ms / 1000.0, f"agent:{agent}:completed", agent,
                         {"agent_name": agent, "success": success, "duration": duration_ms / 1000.0,
                          "message": message, "data": {"findings_count": findings},
                          "error": None if success else f"{agent} exited with status 1"})

    def agent_fix(self, moment, agent, rel, fix_type):
        self.at(moment)
        path = self.project / rel
        before = "import sys\nimport os\n\nx=1\n"
        after = "import os\nimport sys\n\nx = 1\n"
        self.audit.log_fix_applied(agent_name=agent, file_path=path, before_content=before, after_content=after,
                                   fix_type=fix_type, severity="low", duration_ms=40)
        # The watcher sees the agent's own write a moment later.
        self.file_saved(moment + 0.8, rel)

    def feedback_record(self, moment, agent, kind, value=None, comment=None):
        feedback = self.core("feedback")
        self.at(moment)
        item = feedback.Feedback(id=str(uuid.UUID(int=random.getrandbits(128))), agent_name=agent,
                                 event_type=f"agent:{agent}:completed", feedback_type=feedback.FeedbackType(kind),
                                 value=value, comment=comment, context={"file": "src/app.py"}, timestamp=moment)
        self.loop.run_until_complete(self.feedback.store_feedback(item))

    def close(self):
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


NOISE_COMMANDS = [
    ("status", 14), ("bd ready", 8), ("insights list", 5), ("summary agent linter", 3), ("telemetry stats", 3),
    ("health", 4), ("doctor", 2), ("feedback list-feedback", 2), ("metrics agents", 2), ("audit recent", 3),
    ("amp-status", 2), ("custom list-agents", 1), ("verify-work", 3), ("git pull", 4), ("git push", 3),
    ("pytest -q", 5), ("ruff check .", 3), ("bd list --json", 2), ("bd show", 2), ("release check", 1),
    ("tools check", 1), ("daemon-status", 2), ("version", 1), ("metrics dora", 1), ("insights summary", 1),
]
AGENTS = {  # median ms, failure rate
    "linter": (420, 0.02), "formatter": (160, 0.01), "type-checker": (1300, 0.03),
    "test-runner": (4200, 0.04), "security-scanner": (2600, 0.02), "doc-generator": (900, 0.02),
}
FILES = ["src/app.py", "src/models.py", "src/views.py", "src/api/routes.py", "src/api/schemas.py", "src/db.py",
         "src/utils.py", "src/auth/session.py", "src/billing/invoice.py", "tests/test_api.py", "tests/test_models.py",
         "src/cli/main.py", "src/jobs/cron.py", "src/search/index.py", "README.md", "pyproject.toml"]
PROMPT_TEMPLATES = [
    "Fix the failing test in {file}", "Add type hints to {file}", "Refactor {thing} into smaller functions",
    "Why does {thing} time out on CI?", "Add a --{flag} flag to {thing}", "Write docs for {thing}",
    "Speed up {thing}", "Add logging around {thing}", "{thing} crashes on empty input, fix it",
    "Rename {thing} and update every caller", "Add a migration for {thing}", "Can you review {file}?",
    "Review error handling in {thing}", "Port {thing} from bash to python", "Split {file} into two modules",
    "Add tests for {thing}", "Remove dead code from {file}", "Make {thing} configurable",
]
THINGS = ["the export job", "the invoice renderer", "the session cache", "the search indexer", "the upload handler",
          "the retry helper", "the webhook dispatcher", "the settings page", "the report builder", "the cron scheduler",
          "the auth middleware", "the CSV importer", "the rate limiter", "the email sender", "the feature flags",
          "the queue worker", "the pagination helper", "the audit trail", "the metrics exporter", "the plugin loader"]
FLAGS = ["json", "dry-run", "verbose", "since", "limit", "output", "quiet", "force"]

# Roles drawn per seed, so no threshold is fitted to one name.
REPEATED = ["bd ready", "amp-status", "insights list", "daemon-status"]
RERUN = ["release check", "update-hooks", "tools verify-startup", "agent install security"]
WORKAROUNDS = [("update-hooks", "cp .agents/hooks/pre-commit .git/hooks/pre-commit"),
               ("release publish", "twine upload dist/*"),
               ("agent install formatter", "pip install black"),
               ("extract-findings-cmd", "bd create \"lint findings\" -t task")]
PAIRS = [("bd sync", "bd ready"), ("verify-work", "git push"), ("insights detect", "insights list"),
         ("metrics dora", "metrics dashboard")]
QUESTIONS = [
    ["How do I make devloop skip the vendor directory when linting?",
     "devloop keeps linting vendor/ - how can I exclude the vendor directory?",
     "Exclude the vendor directory from devloop linting please",
     "Is there a setting so devloop linting skips vendor directory files?"],
    ["Why does the devloop daemon stop after I close the terminal?",
     "devloop daemon stops whenever I close my terminal, why?",
     "Keep the devloop daemon running after closing the terminal",
     "The devloop daemon dies when the terminal closes - how do I stop that?"],
    ["How do I see which devloop agent changed my pyproject.toml?",
     "Which devloop agent keeps changing pyproject.toml?",
     "Find the devloop agent that changed pyproject.toml",
     "Something in devloop changed pyproject.toml again; which agent was it?"],
]


def weighted(rng, items):
    return rng.choices([item for item, _ in items], [weight for _, weight in items])[0]


def workday_starts(days):
    start = END - days * DAY
    first = real_datetime.datetime.fromtimestamp(start, tz=real_datetime.timezone.utc).replace(hour=8, minute=0)
    for offset in range(days):
        day = first + real_datetime.timedelta(days=offset)
        if day.weekday() < 5:
            yield day.timestamp()


class Scenario:
    def __init__(self, out: Path, seed: int, days: int, volume: float):
        self.rng = random.Random(seed)
        random.seed(seed)
        self.days = days
        self.volume = volume
        self.truth: list[dict] = []
        self.prompts_used: set[str] = set()
        self.records: list[tuple[float, int, callable]] = []
        self.order = 0
        self.clock = SimClock(END - days * DAY)
        install_clock(self.clock)
        self.writers = Writers(out, self.clock)
        self.workdays = list(workday_starts(days))
        self.roles = {
            "repeated": self.rng.choice(REPEATED),
            "rerun": self.rng.choice(RERUN),
            "workaround": self.rng.choice(WORKAROUNDS),
            "pair": self.rng.choice(PAIRS),
            "question": self.rng.choice(QUESTIONS),
            "dismissed": self.rng.choice(["security-scanner", "doc-generator", "type-checker"]),
            "slow": self.rng.choice(["type-checker", "linter", "security-scanner"]),
            "failing": self.rng.choice(["test-runner", "formatter"]),
        }
        # In this scenario's world the first command of the planted pair is always followed by
        # the second, so it does not also turn up on its own in the noise.
        self.noise_commands = [(command, weight) for command, weight in NOISE_COMMANDS if command != self.roles["pair"][0]]
        self.roles["silent"] = self.rng.choice([a for a in ["doc-generator", "security-scanner"] if a != self.roles["dismissed"]] or ["doc-generator"])

    def later(self, moment, write):
        """Queues a write; everything is written in event-time order at the end, as devloop would."""
        self.order += 1
        self.records.append((moment, self.order, write))

    def thread_id(self):
        return "T-" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # ---------------------------------------------------------------- noise
    def cli_noise(self, day, user):
        for _ in range(self.rng.randint(3, 5)):
            start = day + self.rng.uniform(0.5 * HOUR, 9 * HOUR)
            moment = start
            for _ in range(int(self.rng.randint(4, 9) * self.volume) or 1):
                moment += self.rng.uniform(1.5 * MINUTE, 9 * MINUTE)
                command = weighted(self.rng, self.noise_commands)
                failed = self.rng.random() < 0.03
                self.later(moment, lambda m=moment, c=command, f=failed, u=user: self.writers.cli(
                    m, c, 1 if f else 0, user=u, error="exit status 1" if f else None))

    def agent_noise(self, day, user):
        """Saves trigger agents; the formatter fixes some saved files on save."""
        working = self.rng.sample(FILES, 4)
        moment = day + self.rng.uniform(0, HOUR)
        for _ in range(int(self.rng.randint(25, 40) * self.volume)):
            moment += self.rng.uniform(3 * MINUTE, 25 * MINUTE)
            if moment > day + 10 * HOUR:
                break
            rel = self.rng.choice(working)
            self.later(moment, lambda m=moment, r=rel: self.writers.file_saved(m, r))
            for agent in self.rng.sample(["linter", "formatter", "type-checker", "test-runner", "security-scanner"], 2):
                self.agent_execution(moment + self.rng.uniform(1, 4), agent)
            if self.rng.random() < 0.3:
                self.later(moment + 2, lambda m=moment + 2, r=rel: self.writers.agent_fix(m, "formatter", r, "formatting"))

    def agent_execution(self, moment, agent):
        median, failure_rate = AGENTS[agent]
        cutoff = END - self.slow_since_days * DAY
        if agent == self.roles["slow"] and moment >= cutoff:
            median *= 3.2
        if agent == self.roles["failing"] and moment >= END - self.failing_since_days * DAY:
            failure_rate = 0.45
        duration = median * self.rng.lognormvariate(0, 0.3) * (6 if self.rng.random() < 0.02 else 1)
        success = self.rng.random() > failure_rate
        findings = self.rng.choice([0, 0, 0, 1, 2, 3])
        self.later(moment, lambda: self.writers.agent_run(moment, agent, duration, success, findings))

    def feedback_noise(self, day):
        for _ in range(int(self.rng.randint(4, 8) * self.volume)):
            moment = day + self.rng.uniform(0, 10 * HOUR)
            agent = self.rng.choice(["linter", "formatter", "type-checker", "test-runner", "security-scanner", "doc-generator"])
            negative_share = 0.6 if agent == self.roles["dismissed"] else 0.1
            if self.rng.random() < negative_share:
                kind = self.rng.choice(["dismiss", "dismiss", "thumbs_down", "rating"])
            else:
                kind = self.rng.choice(["thumbs_up", "thumbs_up", "rating", "comment"])
            value = {"thumbs_up": True, "thumbs_down": True, "dismiss": None, "comment": "looks right",
                     "rating": self.rng.randint(1, 2) if kind == "rating" and self.rng.random() < negative_share else self.rng.randint(3, 5)}[kind]
            comment = "false positive" if kind in ("dismiss", "thumbs_down") and self.rng.random() < 0.5 else None
            self.later(moment, lambda m=moment, a=agent, k=kind, v=value, c=comment: self.writers.feedback_record(m, a, k, v, c))

    def thread(self, moment, user, prompt, silent_agent=None):
        """An Amp thread: a prompt, agent actions the user answers, ending with the user."""
        thread = self.thread_id()
        url = f"https://ampcode.com/threads/{thread}"
        mapper = self.writers.threads

        def open_thread(m=moment):
            self.writers.at(m)
            mapper.log_entry(mapper.create_entry(thread, url, prompt))
        self.later(moment, open_thread)
        t = moment
        actions = self.rng.randint(2, 4)
        for index in range(actions):
            t += self.rng.uniform(2 * MINUTE, 8 * MINUTE)
            agent = self.rng.choice(["linter", "type-checker", "test-runner", "formatter"])
            command = {"linter": "ruff check src", "type-checker": "mypy src", "test-runner": "pytest -q",
                       "formatter": "black src"}[agent]
            self.later(t, lambda m=t, a=agent, c=command: (self.writers.at(m), mapper.record_agent_action(thread, a, c, "ok", True)))
            if silent_agent and index == 0:
                t += self.rng.uniform(1 * MINUTE, 3 * MINUTE)
                self.later(t, lambda m=t: (self.writers.at(m), mapper.record_agent_action(
                    thread, silent_agent, f"{silent_agent} run", "report written", True)))
                t += self.rng.uniform(45 * MINUTE, 90 * MINUTE)
            if index < actions - 1 or self.rng.random() < 0.85:
                t += self.rng.uniform(1 * MINUTE, 12 * MINUTE)
                description = self.rng.choice(["reviewed the change", "ran the tests", "committed", "asked for a follow-up"])
                self.later(t, lambda m=t, d=description: (self.writers.at(m), mapper.record_user_action(thread, "follow_up", d, 120)))
            if self.rng.random() < 0.3:
                c = weighted(self.rng, self.noise_commands)
                t += self.rng.uniform(1 * MINUTE, 4 * MINUTE)
                self.later(t, lambda m=t, c=c: self.writers.cli(m, c, 0, user=user, thread=thread))

        def close_thread(m=t + 1):
            # What devloop's own thread analysis would record, so its detector gets its best chance.
            self.writers.at(m)
            entry = mapper._get_or_create_entry(thread)
            for insight in mapper.detect_patterns(entry):
                mapper.record_insight(thread, insight.pattern, insight.severity, insight.message, insight.evidence)
        self.later(t + 1, close_thread)
        return thread

    def noise_prompt(self):
        """A request no other thread made: people rarely send the same words twice."""
        for _ in range(50):
            template = self.rng.choice(PROMPT_TEMPLATES)
            prompt = template.format(file=self.rng.choice(FILES), thing=self.rng.choice(THINGS), flag=self.rng.choice(FLAGS))
            prompt = prompt[0].upper() + prompt[1:]
            if prompt not in self.prompts_used:
                break
        self.prompts_used.add(prompt)
        return prompt

    # ---------------------------------------------------------------- plants
    def plant(self, pattern, description, **subject):
        self.truth.append({"pattern": pattern, "description": description, **subject})

    def plants(self):
        days = self.workdays
        pick = lambda count: sorted(self.rng.sample(days[1:], min(count, len(days) - 1)))
        hour = lambda: self.rng.uniform(1 * HOUR, 9 * HOUR)

        command = self.roles["repeated"]
        for day in pick(3):
            start = day + hour()
            for k in range(self.rng.randint(4, 6)):
                m = start + k * self.rng.uniform(8, 25)
                self.later(m, lambda m=m, c=command: self.writers.cli(m, c, 0, user="alice"))
        self.plant("command_repetition", f"`{command}` run 4-6 times within two minutes, on 3 days", command=command)

        command = self.roles["rerun"]
        for day in pick(3):
            m = day + hour()
            for k in range(self.rng.randint(3, 4)):
                self.later(m, lambda m=m, c=command: self.writers.cli(m, c, 1, user="bob", error="timed out waiting for the daemon"))
                m += self.rng.uniform(20, 150)
        self.plant("command_rerun", f"`{command}` fails and is retried 2-3 times in a row, on 3 days", command=command)

        failed, workaround = self.roles["workaround"]
        for day in pick(4):
            m = day + hour()
            self.later(m, lambda m=m, c=failed: self.writers.cli(m, c, 1, user="alice", error="not supported on this platform"))
            w = m + self.rng.uniform(1 * MINUTE, 6 * MINUTE)
            self.later(w, lambda w=w, c=workaround: self.writers.cli(w, c, 0, user="alice"))
        self.plant("failure_workaround", f"`{failed}` fails, `{workaround}` succeeds minutes later, on 4 days",
                   failed_command=failed, workaround_command=workaround)

        first, then = self.roles["pair"]
        for day in pick(6):
            for _ in range(self.rng.randint(1, 2)):
                m = day + hour()
                self.later(m, lambda m=m, c=first: self.writers.cli(m, c, 0, user="bob"))
                f = m + self.rng.uniform(10, 80)
                self.later(f, lambda f=f, c=then: self.writers.cli(f, c, 0, user="bob"))
        self.plant("command_correlation", f"`{first}` followed by `{then}` within 80 s, 6-12 times",
                   first_command=first, then_command=then)

        agent = self.roles["dismissed"]
        for day in pick(8):
            for _ in range(self.rng.randint(1, 2)):
                m = day + hour()
                kind = self.rng.choice(["dismiss", "dismiss", "thumbs_down", "rating"]) if self.rng.random() < 0.65 else "thumbs_up"
                value = {"dismiss": None, "thumbs_down": True, "thumbs_up": True, "rating": self.rng.randint(1, 2)}[kind]
                comment = self.rng.choice(["false positive", "not relevant here", None])
                self.later(m, lambda m=m, a=agent, k=kind, v=value, c=comment: self.writers.feedback_record(m, a, k, v, c))
        self.plant("dismissed_suggestions", f"users dismiss or rate down ~60% of `{agent}` results, 8-16 of them on top of "
                   "the everyday feedback (others 10%)", agent=agent)

        for day in pick(5):
            m = day + hour()
            rel = self.rng.choice(FILES[:12])
            self.later(m, lambda m=m, r=rel: self.writers.agent_fix(m, "import-sorter", r, "import-order"))
            e = m + self.rng.uniform(1 * MINUTE, 8 * MINUTE)
            self.later(e, lambda e=e, r=rel: self.writers.file_saved(e, r))
        self.plant("user_manual_fix", "users re-edit files 1-8 min after `import-sorter` changed them, on 5 days",
                   agent="import-sorter")

        silent_threads = []
        for day in pick(6):
            silent_threads.append(self.thread(day + hour(), "alice", self.noise_prompt(), silent_agent=self.roles["silent"]))
        self.plant("silent_completion", f"`{self.roles['silent']}` results in 6 threads get no response",
                   agent=self.roles["silent"], threads=silent_threads)

        asked = []
        for day, text in zip(pick(4), self.roles["question"]):
            asked.append(self.thread(day + hour(), "bob", text))
        self.plant("cross_thread_pattern", f"the same question asked in 4 threads: {self.roles['question'][0]}", threads=asked)

        self.plant("metric_anomaly", f"`{self.roles['slow']}` runs 3.2× slower for the last {self.slow_since_days} days",
                   agent=self.roles["slow"], metric="duration")
        self.plant("metric_anomaly", f"`{self.roles['failing']}` fails 45% of runs for the last {self.failing_since_days} days",
                   agent=self.roles["failing"], metric="failure_rate")

    def generate(self):
        self.slow_since_days = self.rng.randint(4, 7)
        self.failing_since_days = self.rng.randint(2, 4)
        for day in self.workdays:
            for user in ["alice", "bob"]:
                self.cli_noise(day, user)
                self.agent_noise(day, user)
            self.feedback_noise(day)
            for _ in range(max(1, int(self.rng.randint(2, 4) * self.volume))):
                self.thread(day + self.rng.uniform(0, 9 * HOUR), self.rng.choice(["alice", "bob"]), self.noise_prompt())
        self.plants()
        self.records.sort(key=lambda record: (record[0], record[1]))
        for moment, _, write in self.records:
            write()
        self.writers.at(END)
        self.writers.close()
        return {"seed": None, "days": self.days, "volume": self.volume, "end": END,
                "roles": {key: list(value) if isinstance(value, tuple) else value for key, value in self.roles.items()},
                "planted": self.truth}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--volume", type=float, default=1.0, help="scales everyday activity (1.0 ≈ two busy developers)")
    args = parser.parse_args()
    truth = Scenario(args.out, args.seed, args.days, args.volume).generate()
    truth["seed"] = args.seed
    (args.out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


if __name__ == "__main__":
    main()
