#!/usr/bin/env python3
"""A held-out scenario for devloop-host's detectors: a third generator, written from issue 13's
requirements alone.

Why a third one: the first generator (`scripts/scenario/generate.py`) was changed together with
the detectors, and the detectors were then tuned until the independent evaluation
(`tests/devloop/independent/generate.py`) passed, so neither is data nobody tuned to any more.
This one is the held-out set: it is never used to tune a detector (a miss here is reported, not
fixed by tuning against these scenarios), and it is never changed in the same commit as a
detector. It was written without reading the detectors' code (`plugins/`, `plugin-sdk/`), and
its population, vocabulary, rhythms and plant parameters differ from the independent one's.

What it writes, through devloop 0.10.3's own classes (`tests/devloop/devloop_writers.py`, plus
`devloop.core.context_store`), on a simulated clock, over several weeks:

- four people with their own rhythms:
  - sam (Python, `uv`): weekdays with a lunch break, `bd ready` once at the start of the day,
    `git log --oneline -10` in doubles and triples, `uv run pytest -x` edit–test loops;
  - rin (Rust, `cargo`): weekdays with a lunch break and one sick day, `git status` every few
    minutes all day as a tic, `make check` before every commit, `cargo test` edit–test loops;
  - theo (TypeScript, `npm`): a night owl working 14:00–03:00 in two or three sittings with long
    gaps, also some Saturdays; `npm run dev` at the start of every sitting, `npm test` loops, a
    flaky `npm run test:e2e`;
  - maya: mostly drives Amp agents — several threads a day in which the agent edits files, runs
    `cargo test -p api` after each of its own edits, works through the `bd` queue
    (`bd close …` then `bd ready --json`), and maya answers what the agents did;
- devloop's daemon on every save: the formatter (fixing a file now and then, which people then
  leave alone for hours), the linter, the type-checker on Python files (failing with "mypy
  command not found" on most days: the daemon was started outside the venv), and a test-runner
  or security-scanner; telemetry, metrics, events.db, performance.json, devloop.log and the
  context store (`.devloop/context/*.json` with `seen_by_user`);
- feedback on agents, and devloop-host's own dismissal records in devloop's feedback log.

Planted (labelled with the pattern(s) expected and what the finding must name): `bd ready` 5
times in 90 minutes against a usual of once a day; a devloop command 5-6 times within 4 minutes
at night; a failing command re-run unchanged; a failure worked around by another command on 4
occasions; a pair of commands where one is nearly always followed by the other; an agent whose
suggestions are mostly dismissed; `manual_fix` after an agent's action in 4 of its 6 threads;
hand re-edits of the file an agent just changed; an agent's results unanswered and unseen in 3
of 3 threads; the type-checker failing the same way on most runs; one question in 4 threads and
one in 3, in other words, with `auto-fix`/`autofix`/`auto fix` and typos; an agent 3x slower
than its own baseline, and one failing far more than before.

Hard negatives (each labelled with the patterns it must not trigger): the habits, tics and
edit–test loops above; the Amp agent's own test-after-edit loop and its `bd ready --json` after
each `bd close`; `make check` before every commit; `npm run dev` at every sitting; a single flaky
retry; `git status` / `git log` after failures as after successes; hand edits of other files or
of the same file hours later after the formatter's fixes; templated prompts, and maya's
queue-work threads, each naming the issue it picks up; an agent that found nothing; an agent whose unanswered thread results were seen in the context store; one-off slow
runs and the formatter's cold start each morning; one dismissal among many thumbs-up;
devloop-host's own dismissal records.

Incremental runs: as in the independent generator, a handful of cut moments is drawn first;
`cuts.json` / `cuts/<k>/` record what a run at each moment would find (log sizes, sometimes with
half a line still being written, events.db rows, snapshots). `tests/devloop/independent/evaluate.py
--generator tests/devloop/holdout/generate.py` (or `scripts/evaluate-holdout`) replays them. The
folder layout, the writing in time order, the cuts and the writer wrappers are shared with the
independent generator (`tests/devloop/scenario_folder.py`); what happens in the scenario is all here.

Usage: generate.py OUT_DIR [--seed N] [--days N] [--cuts N]
Writes OUT_DIR/project/.devloop/…, OUT_DIR/home/.devloop/…, OUT_DIR/truth.json, OUT_DIR/cuts.json.
Deterministic per seed (apart from the CPU and memory figures devloop samples with psutil).
"""

from __future__ import annotations

import datetime
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import scenario_folder  # noqa: E402
from scenario_folder import DAY, HOUR, MINUTE, FolderScenario, environment, thread_environment  # noqa: E402

devloop, _ = scenario_folder.load_devloop()  # devloop's writers and context store, on the simulated clock

START = datetime.datetime(2026, 9, 7, tzinfo=datetime.timezone.utc).timestamp()  # a Monday

# The context store trims a tier past 500 findings; stay well below.
CONTEXT_BUDGET = 380

# Roles drawn per seed.
NIGHT_BURST = ["devloop daemon-status", "devloop health", "devloop amp-findings"]
RERUN = ["npm run deploy:preview", "npm run storybook:publish", "npx prisma migrate deploy"]
WORKAROUNDS = [  # (fails now and then, what rin runs instead, the error)
    ("make docker-build", "docker build -t api:dev .", "make: *** [docker-build] Error 1: buildx plugin not found"),
    ("cargo run --bin seed-db", "psql -f scripts/seed.sql", "error: could not compile `seed-db`: missing DATABASE_URL"),
    ("bd sync", "bd import -i .beads/issues.jsonl", "sync failed: remote has diverged"),
]
CORRELATED = [("sam", "uv lock", "uv sync"), ("theo", "npm run build", "npm run preview"), ("rin", "make proto", "cargo check -p api")]
DISMISSED = ["performance-profiler", "git-commit-assistant"]
THREAD_FIXERS = ["migration-writer", "api-scaffolder", "type-annotator"]
AUDIT_FIXERS = [("sam", "unused-import-remover", "remove-unused-imports"), ("theo", "eslint-fixer", "eslint --fix")]
SILENT = ["bundle-size-checker", "coverage-reporter", "sql-linter"]
DEGRADING = ["test-runner", "security-scanner"]

QUESTIONS = [
    ["How do I stop devloop from auto-fixing my Rust files on save?",
     "can i turn off the autofix for rustfmt when saving .rs files",
     "rust files get auto fix applied every save, how to disable that in devloop",
     "disable devlop auto-fix on save for rust?"],
    ["Why does cargo test hang when devloop runs it in the sandbox?",
     "cargo test never finishes under the devloop sandbox - why",
     "tests hang forever inside devloops sandbox when running cargo test??",
     "What makes cargo test stall in the devloop sandbox"],
    ["How do I make devloop ignore the node_modules folder?",
     "devloop keeps watching node_modules, can I exclude it",
     "exclude node_modules from devloop's file watcher - how?",
     "stop devloop from scanning node_modules pls"],
]
TEMPLATED = [
    "Add a --json flag to the export command", "Add a --json flag to the import command",
    "Add a --json flag to the prune command", "Add a --json flag to the sync command",
]
# What maya's agent picks up from the bd queue: each thread names its own issue, as people do
# (an instruction typed the same way into every thread would be neither a plant nor a negative).
QUEUE_TASKS = [
    "the watcher misses renames on macOS", "paginate `bd list`", "the export drops unicode titles",
    "retry the sync on a locked database", "a --since flag for the changelog", "the flaky lock test in CI",
    "dark mode for the report page", "warn when the config has unknown keys", "speed up the cold start",
    "document the plugin settings", "the import ignores closed issues", "a progress bar for long syncs",
]
PROMPTS = [
    "Implement the refund endpoint in the api crate", "Move the rate limiter into its own module",
    "Write a migration for the audit_events table", "Make the health endpoint report the db pool size",
    "Port the CSV exporter from Python to Rust", "Find why the api integration tests leak connections",
    "Add OpenTelemetry spans to the request handlers", "Replace the hand-rolled JSON parsing with serde",
    "Add a retry with jitter to the webhook sender", "Split handlers.rs into one file per resource",
    "Document the error codes of the public API", "Make the config loader accept TOML and YAML",
    "Add property tests for the money type", "Upgrade axum to the latest minor and fix warnings",
    "Add pagination cursors to the list endpoints", "Write a benchmark for the tokenizer",
    "Explain why clippy warns about the large enum variant", "Wire the feature flags into the router",
    "Add a graceful shutdown to the worker", "Convert the error enum to thiserror",
    "Seed the dev database with realistic orders", "Find and remove dead code in the api crate",
    "Add request ids to every log line", "Review the SQL of the nightly report",
    "Make the search handler case-insensitive", "Add an admin route to rotate API keys",
    "Cache the exchange rates for ten minutes", "Create a Dockerfile for the worker",
    "Add a CLI subcommand to replay failed jobs", "Investigate the flaky websocket test",
    "Teach the importer about the new column names", "Write docs for running the stack locally",
    "Add a metrics endpoint for Prometheus", "Set up cargo-deny for licenses",
    "Add tests for the password reset flow", "Rename Customer to Account in the api crate",
    "Limit upload sizes to 20 MB", "Add ETag support to the product endpoint",
    "Move secrets loading to the vault client", "Make the scheduler skip holidays",
    "Optimise the slow orders query", "Add a dry-run mode to the migration runner",
    "Draft a changelog entry for 1.4", "Check the api crate for unwraps that can panic",
    "Add a typed client for the billing service", "Make the worker's batch size configurable",
    "Fix the timezone bug in the daily digest", "Add an index on sessions.user_id",
    "Add snapshot tests for the email templates", "Make the tracing output JSON in production",
    "Write an example for the SDK README", "Add a circuit breaker around the payment provider",
    "Reduce allocations in the hot path of the parser", "Add a /version endpoint",
    "Generate OpenAPI docs from the handlers", "Make the test database setup faster",
    "Add support for soft deletes on orders", "Check our Cargo features for unused ones",
    "Clean up the TODOs in the auth module", "Implement webhooks retries dashboard query",
    "Add input validation to the signup handler", "Bump the MSRV to 1.80 and fix the lints",
    "Replace lazy_static with std LazyLock", "Write a fuzz target for the URL parser",
    "Add structured errors to the CLI", "Find out why the release build is 40 MB",
    "Handle SIGTERM in the api server", "Add a feature to export invoices as PDF",
    "Make the logging level configurable per module", "Add an e2e test for checkout",
    "Split the monolithic integration test file", "Backfill the missing created_at values",
]
FOLLOW_UPS = ["looks good", "ran it locally, fine", "please also update the docs", "can you add a test for that",
              "ok, commit it", "rename that helper to something clearer", "nice, next step"]
FILES = {
    "sam": ["src/ingest/reader.py", "src/ingest/schema.py", "src/ingest/cli.py", "src/ingest/transform.py",
            "tests/test_reader.py", "tests/test_transform.py", "src/common/settings.py"],
    "rin": ["crates/core/src/lib.rs", "crates/core/src/parser.rs", "crates/core/src/eval.rs", "crates/core/src/span.rs",
            "crates/core/tests/parse.rs", "crates/cli/src/main.rs"],
    "theo": ["web/src/App.tsx", "web/src/api/client.ts", "web/src/pages/Orders.tsx", "web/src/hooks/useCart.ts",
             "web/src/components/Table.tsx", "web/tests/orders.test.ts"],
    "maya": ["crates/api/src/handlers.rs", "crates/api/src/routes.rs", "crates/api/src/db.rs", "crates/api/src/error.rs",
             "crates/api/src/models.rs", "crates/api/tests/api.rs", "migrations/20260901_init.sql"],
}
THREAD_TEST = {"maya": ("cargo test -p api", 101, "test result: FAILED. {n} failed"),
               "sam": ("uv run pytest -x", 1, "{n} failed"), "theo": ("npm test", 1, "Tests: {n} failed")}
TYPICAL = {"formatter": 0.15, "linter": 0.5, "type-checker": 1.2, "test-runner": 6.0, "security-scanner": 2.8}


@dataclass
class Person:
    name: str
    saves: dict = field(default_factory=dict)  # file -> [moment]
    left_alone: dict = field(default_factory=dict)  # file -> [(from, to)]


class Scenario(FolderScenario):
    FILES = FILES
    FEEDBACK_FILE = "crates/api/src/handlers.rs"

    def __init__(self, out: Path, seed: int, days: int, cuts: int):
        self.out = out
        self.seed = seed
        self.days = days
        self.rng = random.Random(seed * 7919 + 13)
        rng = self.rng
        self.end = START + days * DAY
        self.people = {name: Person(name) for name in ["sam", "rin", "theo", "maya"]}
        corr = rng.choice(CORRELATED)
        audit = rng.choice(AUDIT_FIXERS)
        degrading = rng.sample(DEGRADING, 2)
        silent = rng.sample(SILENT, 3)
        self.roles = {
            "night_burst": rng.choice(NIGHT_BURST), "rerun": rng.choice(RERUN), "workaround": list(rng.choice(WORKAROUNDS)),
            "correlated": list(corr), "dismissed": rng.choice(DISMISSED), "thread_fixer": rng.choice(THREAD_FIXERS),
            "audit_fixer": list(audit), "silent": silent[0], "seen": silent[1], "nothing_found": "secret-scanner",
            "slow": degrading[0], "failing_more": degrading[1], "questions": rng.sample(range(len(QUESTIONS)), 2),
        }
        self.slow_since = self.end - rng.randint(4, 6) * DAY
        self.failing_since = self.end - rng.randint(4, 6) * DAY
        weekdays = [START + d * DAY for d in range(days) if self.weekday(START + d * DAY) < 5]
        self.weekdays = weekdays
        self.sick_day = rng.choice(weekdays[3:-3])
        # The type-checker finds mypy only on days the daemon was started from the venv.
        self.mypy_days = set(rng.sample(weekdays, max(1, len(weekdays) // 5)))
        self.sittings: dict = {}
        self.busy: dict = {}
        self.plan_sittings()
        self.prompts = rng.sample(PROMPTS, len(PROMPTS))
        self.reserved = [self.prompts.pop() for _ in range(16)]
        self.planted: list = []
        self.hard_negatives: list = []
        self.no_bd_between: list = []
        self.daemon_context = 0
        self.last_formatter_run = 0.0
        self.p1_days: set = set()
        self.queue_threads: list = []
        self.cut_moments = sorted(START + DAY + rng.uniform(0, (days - 1) * DAY) for _ in range(cuts))
        self.open_folders(START)

    @staticmethod
    def weekday(moment: float) -> int:
        return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).weekday()

    # ------------------------------------------------------------------ rhythms
    def plan_sittings(self):
        rng = self.rng
        for d in range(self.days):
            day = START + d * DAY
            wd = self.weekday(day)
            j = lambda: rng.uniform(-0.3, 0.3)  # noqa: E731
            if wd < 5:
                self.sittings[("sam", day)] = [(day + (9.0 + j()) * HOUR, day + (12.0 + j() / 2) * HOUR),
                                               (day + (13.0 + j() / 2) * HOUR, day + (17.5 + j()) * HOUR)]
                if day != self.sick_day:
                    self.sittings[("rin", day)] = [(day + (8.0 + j()) * HOUR, day + (12.0 + j() / 2) * HOUR),
                                                   (day + (12.7 + j() / 2) * HOUR, day + (16.5 + j()) * HOUR)]
                self.sittings[("maya", day)] = [(day + (10.0 + j()) * HOUR, day + (13.0 + j() / 2) * HOUR),
                                                (day + (14.0 + j() / 2) * HOUR, day + (18.5 + j()) * HOUR)]
            if wd < 5 or (wd == 5 and rng.random() < 0.6):
                # theo: two or three sittings between 14:00 and 03:00, long gaps between.
                spans, t = [], day + rng.uniform(14, 16) * HOUR
                for _ in range(rng.choice([2, 3, 3])):
                    length = rng.uniform(1.2, 2.5) * HOUR
                    if t + length > day + 27 * HOUR:
                        break
                    spans.append((t, t + length))
                    t += length + rng.uniform(2, 3.5) * HOUR
                self.sittings[("theo", day)] = spans

    def days_of(self, name):
        return sorted(day for (who, day) in self.sittings if who == name and self.sittings[(who, day)])

    def place(self, name, day, longest, build, planted=False):
        """Runs `build(t0)` at a free moment inside one of the person's sittings that day; one
        thing at a time. Everyday work that finds no room is left out; a planted problem must fit."""
        spans = [(a, b) for a, b in self.sittings.get((name, day), []) if b - a > longest + 2 * MINUTE]
        taken = self.busy.setdefault((name, day), [])
        for _ in range(400 if spans else 0):
            a, b = self.rng.choice(spans)
            t0 = self.rng.uniform(a + MINUTE, b - longest - MINUTE)
            if all(t0 + longest + MINUTE <= x or t0 >= y + MINUTE for x, y in taken):
                break
        else:
            if planted:
                raise SystemExit(f"{name} has no free {longest / MINUTE:.0f} minutes on {day}: use more days")
            return None
        taken.append((t0, t0 + longest))
        finish = build(t0)
        taken[taken.index((t0, t0 + longest))] = (t0, max(finish, t0))
        return t0

    def free_moments(self, name, day, count):
        """Moments inside the person's sittings (for habits, which happen between other things)."""
        spans = self.sittings.get((name, day), [])
        if not spans:
            return []
        out = []
        for _ in range(count):
            a, b = self.rng.choice(spans)
            out.append(self.rng.uniform(a, b))
        return out

    # ------------------------------------------------------------------ devloop's writers
    def cli(self, moment, person, command, exit_code=0, duration_ms=None, thread=None, error=None):
        duration = duration_ms if duration_ms is not None else self.rng.randint(60, 1200)

        def write():
            with environment(USER=person, **thread_environment(thread)):
                self.writers.actions.log_cli_command(command.split(" "), exit_code=exit_code, duration_ms=duration, error_message=error)

        self.at(moment, write)

    def context_finding(self, moment, agent, rel, message, severity="warning", seen_after=None, daemon=True):
        if daemon:
            if self.daemon_context >= CONTEXT_BUDGET:
                return
            self.daemon_context += 1
        self.add_context_finding(moment, agent, rel, message, f"{agent}-{rel}-{agent}", 400, severity, seen_after)

    def duration(self, agent, moment):
        typical = TYPICAL[agent]
        if agent == self.roles["slow"] and moment >= self.slow_since:
            typical *= 3.0
        return round(typical * self.rng.lognormvariate(0, 0.18), 3)

    def save(self, moment, person: Person, rel=None):
        """A file is saved (by the person or their agent); the daemon runs its agents on it."""
        rel = self.saved_file(moment, person, rel)
        rng = self.rng
        t = moment + rng.uniform(0.4, 1.5)
        name = Path(rel).name
        seconds = self.duration("formatter", t)
        message = f"Formatted {name}" if rng.random() < 0.2 else f"{name} already formatted"

        def formatter_run():
            # The first run after hours of quiet (the daemon started again) is slower: a cold start.
            cold = devloop.CLOCK.now - self.last_formatter_run > 5 * HOUR
            self.last_formatter_run = devloop.CLOCK.now
            self.writers.agent_run("formatter", round(seconds * 4, 3) if cold else seconds, True, message, 0)
        self.at(t, formatter_run)
        day = START + ((t - START) // DAY) * DAY
        if rng.random() < 0.12:
            self.formatter_fix(t + 0.5, person, rel)
        t += rng.uniform(0.4, 1.2)
        found = rng.choice([0, 0, 0, 0, 1, 3])
        self.agent_run(t, "linter", self.duration("linter", t), True, f"Found {found} issues in {rel}" if found else "No issues", found)
        if found and rng.random() < 0.3:
            self.context_finding(t + 0.3, "linter", rel, f"{found} lint issue(s) in {rel}", seen_after=rng.uniform(20, 900))
        if rel.endswith(".py"):
            t += rng.uniform(0.3, 1.0)
            if day in self.mypy_days:
                issues = rng.choice([0, 0, 1])
                self.agent_run(t, "type-checker", self.duration("type-checker", t), True,
                               f"Found {issues} type errors in {rel}" if issues else "No type errors", issues)
            else:
                message = f"Check failed for {name}: mypy command not found"
                self.agent_run(t, "type-checker", round(rng.uniform(0.03, 0.09), 3), False, message, 0)
                if rng.random() < 0.5:
                    self.context_finding(t + 0.2, "type-checker", rel, message, severity="error")
        if rng.random() < 0.5:
            agent = rng.choice(DEGRADING)
            t += rng.uniform(0.5, 1.5)
            failing = agent == self.roles["failing_more"] and t >= self.failing_since
            success = rng.random() > (0.55 if failing else 0.02)
            found = rng.choice([0, 0, 0, 1])
            message = (f"Found {found} issues in {rel}" if found else "No issues") if success else \
                (f"{agent} exited with status 2: advisory database rate limited" if agent == "security-scanner" else f"{agent} exited with status 101: could not start test harness")
            self.agent_run(t, agent, self.duration(agent, t), success, message, found if success else 0)

    def formatter_fix(self, moment, person: Person, rel):
        """The formatter fixes the saved file, and the person leaves that file alone for hours
        (a hard negative): only where no save of it is planned in that time."""
        quiet = self.rng.uniform(2.5, 5) * HOUR
        if not any(moment < saved <= moment + quiet for saved in person.saves.get(rel, [])):
            self.audit_fix(moment, "formatter", rel, "format")
            person.left_alone.setdefault(rel, []).append((moment, moment + quiet))

    def audit_fix(self, moment, agent, rel, fix_type):
        path = self.project / rel
        self.at(moment, lambda: self.writers.audit.log_fix_applied(agent_name=agent, file_path=path, before_content="import os, sys\nx=1\n",
                                                                   after_content="import os\nimport sys\n\nx = 1\n", fix_type=fix_type,
                                                                   severity="low", duration_ms=self.rng.randint(15, 120)))
        self.at(moment + 0.7, lambda: self.writers.store_event("file:modified", {"path": rel, "absolute_path": str(path)}, "filesystem"))

    # ------------------------------------------------------------------ Amp threads
    def thread(self, moment, person: Person, prompt, ending=None, fixer=None, manual_fix=False, queue_work=False):
        """An Amp thread: the prompt; the agent edits files and runs the tests (maya: `cargo test -p api`) after
        its edits until it passes (or, `queue_work`, closes issues and asks `bd ready --json` for
        the next); the person answers each step. `ending` adds an agent's result (agent, output,
        findings, seen_after or None) after which nothing more happens in the thread."""
        rng = self.rng
        thread = self.new_thread_id()
        mapper = self.writers.threads
        self.at(moment, lambda: mapper.log_entry(mapper.create_entry(thread, f"https://ampcode.com/threads/{thread}", prompt)))
        t = moment
        name = person.name
        rounds = rng.randint(2, 4) if queue_work else 1
        if queue_work:
            t += rng.uniform(0.5, 2) * MINUTE
            self.cli(t, name, "bd ready --json", 0, rng.randint(150, 600), thread=thread)
        for r in range(rounds):
            # The agent's edit–test loop: edit, test, edit, test... until the tests pass.
            runs = rng.choice([1, 2, 2, 3])
            for attempt in range(runs):
                for _ in range(rng.randint(1, 3)):
                    t += rng.uniform(0.5, 3) * MINUTE
                    self.save(t, person)
                t += rng.uniform(0.3, 1.5) * MINUTE
                passed = attempt == runs - 1
                test, code, error = THREAD_TEST[name]
                self.cli(t, name, test, 0 if passed else code, rng.randint(15000, 70000), thread=thread,
                         error=None if passed else error.format(n=rng.randint(1, 3)))
                output = "tests passed" if passed else "tests failed"
                self.at(t + 1, lambda o=output, c=test: mapper.record_agent_action(thread, "test-runner", c, o, True))
                t += rng.uniform(0.3, 1.0) * MINUTE
            delay = rng.randint(30, 400)
            t += delay
            self.at(t, lambda d=delay: mapper.record_user_action(thread, "follow_up", rng.choice(FOLLOW_UPS), d))
            if queue_work:
                t += rng.uniform(0.5, 2) * MINUTE
                self.cli(t, name, f"bd close proj-{rng.randint(100, 400)}", 0, rng.randint(150, 500), thread=thread)
                t += rng.uniform(5, 40)
                self.cli(t, name, "bd ready --json", 0, rng.randint(150, 600), thread=thread)
                t += rng.uniform(3, 15) * MINUTE
        if fixer:
            t += rng.uniform(2, 5) * MINUTE
            rel = rng.choice(FILES["maya"])
            self.at(t, lambda: mapper.record_agent_action(thread, fixer, f"{fixer} --write {rel}", f"Generated changes to {rel}", True))
            gap = rng.uniform(2, 9) * MINUTE
            t += gap
            if manual_fix:
                self.at(t, lambda: mapper.record_user_action(thread, "manual_fix", f"fixed {rel} by hand: {fixer} got the types wrong", int(gap)))
            else:
                self.at(t, lambda: mapper.record_user_action(thread, "follow_up", "thanks, merged", int(gap)))
        if ending:
            agent, output, findings, seen_after = ending
            t += rng.uniform(2, 6) * MINUTE
            self.at(t, lambda: mapper.record_agent_action(thread, agent, f"devloop summary agent {agent}", output, True))
            self.agent_run(t + 0.4, agent, round(rng.uniform(2, 6), 3), True, output, findings)
            if findings:
                self.context_finding(t + 1, agent, rng.choice(FILES[name]), output, seen_after=seen_after, daemon=False)
        self.close_thread(t + (3 * HOUR if ending else 5 * MINUTE), thread)
        return thread, t

    def thread_at(self, name, day, prompt, planted=True, **kind):
        made = {}

        def build(t0):
            made["thread"], finish = self.thread(t0, self.people[name], prompt, **kind)
            return finish
        self.place(name, day, 110 * MINUTE if kind.get("queue_work") else 45 * MINUTE, build, planted=planted)
        return made.get("thread")

    def thread_somewhere(self, whos, prompt, **kind):
        """A planted thread on some day of one of `whos` that has room for it."""
        for _ in range(200):
            who = self.rng.choice(whos)
            thread = self.thread_at(who, self.rng.choice(self.days_of(who)[1:]), prompt, planted=False, **kind)
            if thread:
                return thread
        raise SystemExit(f"no room for a thread: {prompt}")

    # ------------------------------------------------------------------ everyday work
    def edit_test_loop(self, t, person: Person, command, fail_code, error):
        runs = self.rng.randint(2, 5)
        for attempt in range(runs):
            passed = attempt == runs - 1
            self.cli(t, person.name, command, 0 if passed else fail_code, self.rng.randint(3000, 40000), error=None if passed else error)
            if passed:
                return t
            t += self.rng.uniform(30, 100)
            for _ in range(self.rng.randint(1, 3)):
                self.save(t, person)
                t += self.rng.uniform(40, 200)
        return t

    def sam_day(self, day):
        rng, sam = self.rng, self.people["sam"]
        (a, _), (l, b) = self.sittings[("sam", day)]
        if not any(s <= a + 5 * MINUTE <= e for s, e in self.no_bd_between) and rng.random() < 0.9:
            self.cli(a + rng.uniform(1, 8) * MINUTE, "sam", "bd ready", 0, rng.randint(200, 700))
        for t in self.free_moments("sam", day, rng.randint(5, 9)):
            for _ in range(rng.choice([1, 2, 2, 3])):
                self.cli(t, "sam", "git log --oneline -10", 0, rng.randint(30, 150))
                t += rng.uniform(5, 60)
        for _ in range(rng.randint(2, 4)):
            self.place("sam", day, 35 * MINUTE, lambda t0: self.edit_test_loop(t0, sam, "uv run pytest -x", 1, "FAILED tests/test_transform.py"))
        for _ in range(rng.randint(4, 8)):
            self.place("sam", day, 20, lambda t0: (self.save(t0, sam), t0)[1])
        for t in self.free_moments("sam", day, rng.randint(3, 6)):
            command = rng.choice(["git pull --rebase", "git commit", "git push", "uv run ruff check .", f"bd show proj-{rng.randint(100, 400)}",
                                  "uv add httpx", "uv run python -m ingest.cli --dry-run", "bd list --status in_progress"])
            if command.startswith("bd ") and any(s <= t <= e for s, e in self.no_bd_between):
                command = "git push"
            self.cli(t, "sam", command, 0)
        if rng.random() < 0.5:
            self.thread_at("sam", day, self.prompts.pop(), planted=False) if self.prompts else None

    def rin_day(self, day):
        rng, rin = self.rng, self.people["rin"]
        # The tic: `git status` every few minutes, all day.
        for a, b in self.sittings[("rin", day)]:
            t = a + rng.uniform(0, 5) * MINUTE
            while t < b:
                self.cli(t, "rin", "git status", 0, rng.randint(15, 90))
                t += rng.uniform(3, 10) * MINUTE
        for _ in range(rng.randint(2, 3)):
            self.place("rin", day, 40 * MINUTE, lambda t0: self.edit_test_loop(t0, rin, "cargo test", 101, "test result: FAILED. 1 passed; 1 failed"))
        for _ in range(rng.randint(3, 6)):
            self.place("rin", day, 20 * MINUTE, lambda t0: self.check_then_commit(t0, rin))
        for _ in range(rng.randint(3, 7)):
            self.place("rin", day, 20, lambda t0: (self.save(t0, rin), t0)[1])
        for t in self.free_moments("rin", day, rng.randint(2, 5)):
            self.cli(t, "rin", rng.choice(["git pull --rebase", "git push", "cargo clippy --all-targets", "cargo doc --no-deps",
                                           f"bd update proj-{rng.randint(100, 400)} --status in_progress", "cargo build"]), 0)
        failed, _, _ = self.roles["workaround"]
        if rng.random() < 0.25:
            # The command the plant works around also succeeds on ordinary days.
            self.cli(self.free_moments("rin", day, 1)[0], "rin", failed, 0, rng.randint(2000, 60000))

    def check_then_commit(self, t, rin: Person):
        """`make check` before every commit; a failure means more editing first."""
        while True:
            passed = self.rng.random() < 0.7
            self.cli(t, "rin", "make check", 0 if passed else 2, self.rng.randint(20000, 90000),
                     error=None if passed else "make: *** [check] Error 2")
            if passed:
                break
            t += self.rng.uniform(60, 200)
            for _ in range(self.rng.randint(1, 2)):
                self.save(t, rin)
                t += self.rng.uniform(60, 240)
        if self.rng.random() < 0.5:
            t += self.rng.uniform(40, 240)
            self.cli(t, "rin", "git commit", 0, self.rng.randint(2000, 30000))
        return t

    def theo_day(self, day):
        rng, theo = self.rng, self.people["theo"]
        for a, b in self.sittings[("theo", day)]:
            self.cli(a + rng.uniform(0.5, 4) * MINUTE, "theo", "npm run dev", 0, rng.randint(30 * 60000, 90 * 60000))
            self.busy.setdefault(("theo", day), []).append((a, a + 5 * MINUTE))
        for _ in range(rng.randint(2, 4)):
            self.place("theo", day, 35 * MINUTE, lambda t0: self.edit_test_loop(t0, theo, "npm test", 1, "Tests: 2 failed, 41 passed"))
        for _ in range(rng.randint(4, 8)):
            self.place("theo", day, 20, lambda t0: (self.save(t0, theo), t0)[1])
        if rng.random() < 0.6:
            self.place("theo", day, 6 * MINUTE, lambda t0: self.flaky(t0))
        for t in self.free_moments("theo", day, rng.randint(3, 6)):
            self.cli(t, "theo", rng.choice(["npm run lint", "git pull --rebase", "git push", "git commit", "npm outdated",
                                            "npx tsc --noEmit", "git log --oneline -10"]), 0)
        if rng.random() < 0.08:
            self.cli(self.free_moments("theo", day, 1)[0], "theo", self.roles["night_burst"], 0, rng.randint(200, 900))

    def flaky(self, t):
        if self.rng.random() < 0.35:
            self.cli(t, "theo", "npm run test:e2e", 1, self.rng.randint(40000, 120000), error="TimeoutError: page.goto: Timeout 30000ms exceeded")
            t += self.rng.uniform(20, 70)
            if self.rng.random() < 0.4:
                self.cli(t, "theo", "git log --oneline -10", 0, 80)
                t += 10
        self.cli(t, "theo", "npm run test:e2e", 0, self.rng.randint(40000, 120000))
        return t + 60

    def maya_day(self, day):
        rng = self.rng
        for _ in range(rng.choice([2, 3, 3, 4])):
            if not self.prompts:
                break
            self.thread_at("maya", day, self.prompts.pop(), planted=False)
        if rng.random() < 0.45 and day not in self.p1_days:
            # (not while sam waits on `bd ready`: someone closing issues would explain his checks)
            issue = f"bd-{rng.randint(100, 999)}"
            prompt = f"Pick up {issue} from the bd ready queue ({rng.choice(QUEUE_TASKS)}) and work it through"
            self.queue_threads.append(self.thread_at("maya", day, prompt, planted=False, queue_work=True))
        for t in self.free_moments("maya", day, rng.randint(2, 4)):
            self.cli(t, "maya", rng.choice(["git pull --rebase", "git push", "git status", "devloop amp-status", "bd list --status open"]), 0)
        for _ in range(rng.randint(1, 3)):
            self.place("maya", day, 20, lambda t0: (self.save(t0, self.people["maya"]), t0)[1])

    def everyday_feedback(self, day):
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            agent = rng.choice(["test-runner", "security-scanner", "formatter"])
            kind = rng.choice(["thumbs_up", "thumbs_up", "rating"])
            self.feedback(day + rng.uniform(9.5, 17.5) * HOUR, agent, kind, True if kind == "thumbs_up" else rng.randint(4, 5))

    # ------------------------------------------------------------------ plants and hard negatives
    def some_days(self, name, count, skip=2):
        """`count` of the person's days (after the first `skip`), distinct while there are enough."""
        return self.spread(self.days_of(name)[skip:], count)

    def plants(self):
        rng, roles, people = self.rng, self.roles, self.people

        # P1: `bd ready` 5 times in 90 minutes, against sam's usual once a day.
        for day in self.some_days("sam", 2):
            self.p1_days.add(day)

            def streak(t):
                self.no_bd_between.append((t - 10 * MINUTE, t + 95 * MINUTE))
                for i in range(5):
                    self.cli(t, "sam", "bd ready", 0, rng.randint(200, 700))
                    if i < 4:
                        t += rng.uniform(14, 22) * MINUTE
                return t
            # Between the checks sam does other things; the span itself only holds the checks.
            start = self.sittings[("sam", day)][1][0] + rng.uniform(10, 60) * MINUTE
            streak(start)
        self.plant(["command_repetition"], "sam runs `bd ready` 5 times within 90 minutes on 2 days (usually once a day, at the start)",
                   {"command": "bd ready"})

        # P2: theo runs a devloop command 5-6 times within 4 minutes at night.
        command = roles["night_burst"]

        def burst(t):
            for _ in range(rng.randint(5, 6)):
                self.cli(t, "theo", command, 0, rng.randint(200, 900))
                t += rng.uniform(20, 45)
            return t
        for day in self.some_days("theo", 2):
            self.place("theo", day, 5 * MINUTE, burst, planted=True)
        self.plant(["command_repetition"], f"theo runs `{command}` 5-6 times within 4 minutes on 2 nights (usually almost never)",
                   {"command": command})

        # P3: a failing command re-run unchanged, nothing changed between.
        command = roles["rerun"]

        def rerun(t):
            for _ in range(rng.randint(3, 5)):
                self.cli(t, "theo", command, 1, rng.randint(5000, 25000), error="Error: 502 Bad Gateway")
                t += rng.uniform(25, 75)
            return t
        for day in self.some_days("theo", 3):
            self.place("theo", day, 7 * MINUTE, rerun, planted=True)
        self.plant(["command_rerun"], f"theo's `{command}` fails and is re-run unchanged 3-5 times, nothing saved between, on 3 nights",
                   {"command": command})

        # P4: a failure worked around by another command, 4 occasions (rin's `git status` tic runs between).
        failed, workaround, error = roles["workaround"]

        def worked_around(t):
            self.cli(t, "rin", failed, 2, rng.randint(3000, 40000), error=error)
            t += rng.uniform(1.5, 6) * MINUTE
            self.cli(t, "rin", workaround, 0, rng.randint(5000, 80000))
            return t
        for day in self.some_days("rin", 4):
            self.place("rin", day, 8 * MINUTE, worked_around, planted=True)
        self.plant(["failure_workaround"], f"`{failed}` fails and rin runs `{workaround}` 1-6 minutes later instead, on 4 days "
                   "(her `git status` tic often between; the failed command succeeds on other days)",
                   {"failed_command": failed, "workaround_command": workaround})

        # P5: one command nearly always followed by another.
        who, first, then = roles["correlated"]

        def pair(t, follow):
            self.cli(t, who, first, 0, rng.randint(300, 8000))
            if follow:
                t += rng.uniform(15, 100)
                self.cli(t, who, then, 0, rng.randint(1000, 20000))
            return t
        for index, day in enumerate(self.some_days(who, 10, skip=0)):
            self.place(who, day, 3 * MINUTE, lambda t, f=index != 4: pair(t, f), planted=True)
        self.plant(["command_correlation"], f"{who} runs `{then}` within 100 s after `{first}` on 9 of 10 runs",
                   {"first_command": first, "then_command": then})

        # P6: an agent whose suggestions are mostly dismissed.
        agent = roles["dismissed"]
        for index, day in enumerate(sorted(rng.sample(self.weekdays, min(14, len(self.weekdays))))):
            t = day + rng.uniform(10, 17) * HOUR
            if index % 7 in (3, 6):
                self.feedback(t, agent, "thumbs_up", True)
            else:
                kind = rng.choice(["dismiss", "dismiss", "dismiss", "thumbs_down", "rating"])
                value = {"dismiss": None, "thumbs_down": False, "rating": 1}[kind]
                self.feedback(t, agent, kind, value, rng.choice(["noise", "not applicable to this repo", None, "wrong again"]))
        self.plant(["dismissed_suggestions"], f"about 10 of 14 feedback records on `{agent}` are dismissals / thumbs-down / 1-star",
                   {"agent": agent})

        # P7: manual_fix after an agent's action in 4 of its 6 threads (maya's).
        agent = roles["thread_fixer"]
        threads = []
        for index, day in enumerate(self.some_days("maya", 6)):
            thread = self.thread_at("maya", day, self.reserved.pop(), fixer=agent, manual_fix=index % 3 != 2)
            if index % 3 != 2:
                threads.append(thread)
        self.plant(["user_manual_fix"], f"`manual_fix` after `{agent}`'s action in 4 of its 6 threads", {"agent": agent, "threads": threads},
                   min_threads=3)

        # P8: the person re-edits the file an agent just changed, on 5 of its 7 changes.
        who, agent, fix_type = roles["audit_fixer"]
        person = people[who]

        def fixed(t, followed):
            rel = rng.choice(FILES[who][:4])
            self.audit_fix(t, agent, rel, fix_type)
            if not followed:
                person.left_alone.setdefault(rel, []).append((t, t + 3 * HOUR))
                return t
            t += rng.uniform(1, 8) * MINUTE
            self.save(t, person, rel)
            return t
        for index, day in enumerate(self.some_days(who, 7)):
            self.place(who, day, 10 * MINUTE, lambda t, f=index % 4 != 1: fixed(t, f), planted=True)
        self.plant(["user_manual_fix"], f"{who} re-edits the file `{agent}` just changed, 1-8 minutes later, on 5 of its 7 changes",
                   {"agent": agent})

        # P9: an agent's results get no answer in 3 of 3 threads, unseen.
        agent = roles["silent"]
        threads = []
        for day in self.some_days("maya", 3):
            n = rng.randint(2, 6)
            threads.append(self.thread_at("maya", day, self.reserved.pop(), ending=(agent, f"{agent}: {n} problems need attention", n, None)))
        self.plant(["silent_completion"], f"`{agent}`'s results get no response in 3 of 3 threads, unseen in the context store",
                   {"agent": agent, "threads_if_named": threads})

        # P10: the type-checker fails the same way on most runs.
        self.plant(["metric_anomaly", "silent_completion"],
                   "the type-checker fails with `mypy command not found` on most runs (days the daemon started outside the venv)",
                   {"agent": "type-checker"})

        # P11, P12: the same question in other words, in 4 and in 3 threads. The requirement asks
        # for a finding at 3 threads, so one naming 3 of the 4 (and no other thread) is right.
        for count, question in zip([4, 3], roles["questions"]):
            texts = QUESTIONS[question][:count]
            threads = []
            for text in texts:
                threads.append(self.thread_somewhere(["maya", "maya", "sam", "theo"], text))
            self.plant(["cross_thread_pattern"], f"the same question in {count} threads, in other words: {texts[0]}",
                       {"threads": threads}, min_threads=min(count, 3))

        # P13, P14: an agent much slower than its own baseline; one failing far more than before.
        self.plant(["metric_anomaly"], f"`{roles['slow']}` runs 3x slower than its own baseline for the last days", {"agent": roles["slow"]})
        self.plant(["metric_anomaly"], f"`{roles['failing_more']}` fails on about half its runs for the last days (2% before)",
                   {"agent": roles["failing_more"]})

        # ---------------------------------------------------------------- hard negatives
        rep = ["command_repetition", "command_rerun"]
        self.hard_negative(rep, "rin's `git status` every 3-10 minutes all day (a tic)", {"any_command": "git status"})
        self.hard_negative(rep, "sam's habitual `git log --oneline -10` in doubles and triples", {"any_command": "git log --oneline -10"})
        self.hard_negative(rep, "sam's edit–test loops: `uv run pytest -x` fails, files saved, re-run until it passes", {"any_command": "uv run pytest -x"})
        self.hard_negative(rep, "rin's edit–test loops with `cargo test`", {"any_command": "cargo test"})
        self.hard_negative(rep, "theo's edit–test loops with `npm test`", {"any_command": "npm test"})
        self.hard_negative(rep, "maya's Amp agent runs `cargo test -p api` after each of its own edits in a thread, until it passes",
                           {"any_command": "cargo test -p api"})
        self.hard_negative(rep, "maya's Amp agent runs `bd ready --json` after each `bd close` while working through the queue",
                           {"any_command": "bd ready --json"})
        self.hard_negative(rep + ["failure_workaround"], "rin runs `make check` before every commit (edits and re-runs when it fails)",
                           {"any_command": "make check"})
        self.hard_negative(rep, "theo starts `npm run dev` at the start of every sitting", {"any_command": "npm run dev"})
        self.hard_negative(rep + ["failure_workaround"], "`npm run test:e2e` sometimes fails once and passes on the retry",
                           {"any_command": "npm run test:e2e"})
        self.hard_negative(["failure_workaround"], "`git status` runs after anything (rin's tic), also between a failure and the real workaround",
                           {"workaround_command": "git status"})
        self.hard_negative(["failure_workaround"], "`git log --oneline -10` after anything", {"workaround_command": "git log --oneline -10"})
        self.hard_negative(["user_manual_fix"], "after the formatter's fixes people edit other files, or the same file hours later",
                           {"agent": "formatter"})
        templated = []
        for prompt in TEMPLATED:
            templated.append(self.thread_somewhere(["maya", "sam", "theo"], prompt))
        self.hard_negative(["cross_thread_pattern"], "templated prompts asking different things: add a --json flag to four commands",
                           {"threads_overlap": templated, "min_overlap": 2})
        # Filled as maya's days are written, after the plants.
        self.hard_negative(["cross_thread_pattern"], "maya's queue-work threads, each naming the bd issue it picks up",
                           {"threads_overlap": self.queue_threads, "min_overlap": 2})
        agent = roles["nothing_found"]
        for day in self.some_days("maya", 3):
            self.thread_at("maya", day, self.reserved.pop(), ending=(agent, "No secrets found", 0, None))
        self.hard_negative(["silent_completion"], f"`{agent}` ran in 3 threads and found nothing; nobody answered", {"agent": agent})
        agent = roles["seen"]
        for day in self.some_days("maya", 3):
            n = rng.randint(1, 4)
            self.thread_at("maya", day, self.reserved.pop(), ending=(agent, f"{agent}: {n} problems need attention", n, rng.uniform(60, 600)))
        self.hard_negative(["silent_completion"], f"`{agent}`'s results unanswered in 3 threads but seen in the context store within minutes",
                           {"agent": agent})
        moment = self.weekdays[len(self.weekdays) // 2] + 11 * HOUR
        self.agent_run(moment, "linter", round(TYPICAL["linter"] * 12, 3), True, "No issues", 0)
        self.hard_negative(["metric_anomaly"], "`linter` has one run 12x slower than usual", {"agent": "linter"})
        self.hard_negative(["metric_anomaly"], "the formatter's first run each day is 4x slower (cold start)", {"agent": "formatter"})
        for day in sorted(rng.sample(self.weekdays, min(14, len(self.weekdays)))):
            self.feedback(day + rng.uniform(10, 17) * HOUR, "linter", "thumbs_up", True)
        self.feedback(self.weekdays[-3] + 15 * HOUR, "linter", "dismiss", None, "not this time")
        self.hard_negative(["dismissed_suggestions"], "`linter` has one dismissal among 14 thumbs-up", {"agent": "linter"})
        for index, day in enumerate(sorted(rng.sample(self.weekdays, 7))):
            pattern = "command_rerun" if index % 2 else "failure_workaround"
            context = {"fingerprint": f"{rng.getrandbits(64):016x}", "pattern": pattern, "key": "make check",
                       "severity": "info", "confidence": 0.55, "message": "`make check` failed and was re-run", "occurrences": 2 + index,
                       "threads": []}
            self.feedback(day + rng.uniform(10, 17) * HOUR, pattern.replace("_", "-"), "dismiss", None, "expected, I was editing",
                          event_type=f"devloop-host:{pattern}:dismissed", context=context)
        self.hard_negative(["dismissed_suggestions"], "devloop-host's own dismissals of `command_rerun` / `failure_workaround` findings",
                           {"agent": "command-rerun"})
        self.hard_negative(["dismissed_suggestions"], "devloop-host's own dismissals (failure_workaround)", {"agent": "failure-workaround"})

    def generate(self):
        self.plants()
        for day in sorted({day for (_, day) in self.sittings}):
            if ("sam", day) in self.sittings:
                self.sam_day(day)
                self.everyday_feedback(day)
            if ("rin", day) in self.sittings:
                self.rin_day(day)
            if self.sittings.get(("theo", day)):
                self.theo_day(day)
            if ("maya", day) in self.sittings:
                self.maya_day(day)
        self.finish()
        return {"generator": "holdout", "seed": self.seed, "days": self.days, "start": START, "end": self.end, "roles": self.roles,
                "sick_day": self.sick_day, "planted": self.planted, "hard_negatives": self.hard_negatives}


if __name__ == "__main__":
    scenario_folder.main(Scenario, __doc__)
