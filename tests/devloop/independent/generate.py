#!/usr/bin/env python3
"""An independent scenario for devloop-host's detectors, written from issue 13's requirements.

Why a second generator: the first one (`scripts/scenario/generate.py`) was changed together with
the detectors, spaces its noise so that no chance burst can happen and has no hard negatives, so
its 1.00/1.00 says little. This one is written from the requirements alone (issue 13, sections 1
and 2), never from the detectors' code, and is never changed in the same commit as a detector.

What it writes, through devloop 0.10.3's own classes (`tests/devloop/devloop_writers.py`, plus
`devloop.core.context_store`), on a simulated clock:

- two people with their own habits over several weeks of workdays: alice runs `git status` in
  doubles and triples all day, bob `git diff --stat`; both run edit–test loops (the test command
  fails, files are saved, it is re-run until it passes), a flaky integration check that sometimes
  fails once and passes on the retry, `git diff` after a run whatever its outcome, and everyday
  git/bd/devloop commands;
- devloop's daemon on every save: the formatter (failing the same way on every run, as on a real
  `devloop watch`: "Check failed for a.py: black command not found"), the linter (sometimes fixing
  the saved file), one more checker; telemetry, metrics, events.db, performance.json, devloop.log
  and the context store (`.devloop/context/*.json` with `seen_by_user`);
- Amp threads with prompts, agent actions, the user's follow-ups and commands run in the thread;
- feedback on agents, and devloop-host's own dismissal records in devloop's feedback log.

Planted (each labelled with the pattern(s) expected and what the finding must name) — devloop's
own examples from issue 13 section 1, and one clear instance of each other bundled pattern:
  - `command_repetition`: bob runs `bd ready` (or another bd/devloop command, drawn per seed) 4
    times within 2 hours on some days, against his usual once or twice a day; alice runs a devloop
    command 4–5 times within 3 minutes on some days, against her usual rate of almost never;
  - `user_manual_fix` through the Amp thread log: `manual_fix` user actions after an agent's
    action in 3 threads (named: the agent and the threads); and through the audit log: hand edits
    of the file an agent just changed, minutes later, on most of its changes;
  - `cross_thread_pattern`: two questions, each asked in 3 threads in other words and order, with
    `auto-fix`/`autofix`/`auto fix` and typos (named: the threads);
  - `silent_completion`: an agent's results unanswered in 3 of 3 threads, unseen in the context
    store (named: the agent);
  - the formatter failing the same way on every run, nobody looking (`metric_anomaly` or
    `silent_completion`, named: the agent);
  - `command_rerun`, `failure_workaround`, `command_correlation`, `dismissed_suggestions`, and a
    `metric_anomaly` slowdown.

Hard negatives (issue 13 section 2, each labelled with the patterns it must not trigger and what
a finding would name): habitual `git status` / `git diff --stat` doubles and triples; edit–test
loops; a single flaky retry that passes; `git diff` after any run (even between a failure and the
real workaround); hand edits of other files, or of the same file hours later, after the linter's
fixes; templated prompts asking different things; an agent whose runs found nothing, unanswered;
one-off slow runs; an agent with one dismissal among many thumbs-up; devloop-host's own records in
devloop's feedback log.

Incremental runs: before writing, a handful of random cut moments is drawn; when the write loop
passes one, the size of every append-only log, the last events.db row and copies of the snapshot
files (performance.json, the context store) are recorded in `cuts.json` / `cuts/<k>/`, sometimes
with half of the next line of one log (a line devloop is still writing). `evaluate.py` replays
these cuts into a growing folder. The folder layout, the writing in time order, the cuts and the
writer wrappers are shared with the held-out generator (`tests/devloop/scenario_folder.py`); what
happens in the scenario is all here.

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

scenario_folder.load_devloop()  # devloop's writers and context store, on the simulated clock

START = datetime.datetime(2026, 11, 2, tzinfo=datetime.timezone.utc).timestamp()  # a Monday

# Roles drawn per seed, so nothing is fitted to one name.
REPEATED_BY_HOURS = ["bd ready", "bd ready --json", "bd list --status open"]
REPEATED_BY_MINUTES = ["devloop amp-status", "devloop status", "devloop insights list"]
RERUN = ["devloop release check", "devloop tools verify-startup", "devloop agent install security-scanner"]
WORKAROUNDS = [
    ("devloop update-hooks", "cp .agents/hooks/pre-commit .git/hooks/pre-commit"),
    ("devloop release publish", "twine upload dist/*"),
    ("devloop agent install formatter", "pip install black"),
]
CORRELATED = [("git add -A", "devloop verify-work"), ("devloop insights detect", "devloop insights summary"),
              ("bd sync --flush-only", "git push origin HEAD")]
FLAKY = ["make integration", "pytest -q tests/e2e"]
CHECKERS = ["type-checker", "security-scanner", "test-runner"]
THREAD_LONGEST = 70 * MINUTE
THREAD_AGENTS = {"linter": "ruff check src", "test-runner": "pytest -q", "type-checker": "mypy src"}
THREAD_OUTPUTS = {"linter": ["2 issues in src/shared/db.py", "3 warnings", "1 unused import"],
                  "test-runner": ["1 failing test", "all tests passed", "2 failed, 118 passed"],
                  "type-checker": ["all checks passed", "2 type errors in src/shared/config.py"]}
MANUAL_FIX_AGENTS = ["refactor-assistant", "auto-fix", "code-rewriter"]
AUDIT_FIXERS = ["import-sorter", "docstring-fixer"]
SILENT_AGENTS = ["performance-profiler", "dependency-auditor"]
NOTHING_FOUND_AGENTS = ["doc-lifecycle", "license-checker"]

# Each question asked in three threads in other words and order, with the spellings people use.
QUESTIONS = [
    ["How do I turn off auto-fix for the formatter on save?",
     "can devloop stop the formatter autofixing my files every time I save",
     "formater keeps applying auto fix on save - how do i disable that?"],
    ["Why does the devloop daemon stop when I close my terminal?",
     "devloop deamon dies whenever the terminal is closed, why",
     "Keep the devloop daemon running after I close the terminal?"],
    ["How can I make the linter skip the vendor directory?",
     "linter keeps checking vendor/ files, how do I exclude the vendor directory",
     "exclude vendor dir from the lintr please, how?"],
    ["Where does devloop store the findings it shows me?",
     "which folder do the devloop findings get saved in",
     "devloop findings - where are they stored on disk?"],
]
# Templated prompts asking different things: never the same question.
TEMPLATED = [
    ("the orders endpoint", ["Add pagination to the orders endpoint", "Add caching to the orders endpoint",
                             "Add request logging to the orders endpoint", "Add rate limiting to the orders endpoint"]),
    ("the invoice service", ["Add retries to the invoice service", "Add metrics to the invoice service",
                             "Add input validation to the invoice service", "Add a health check to the invoice service"]),
]
# Everyday requests: each used once.
EVERYDAY = [
    "Why is test_checkout_total failing on CI but not locally?", "Rename UserRecord to Account everywhere",
    "Write a migration that adds a shipped_at column", "The CSV export drops unicode names, fix it",
    "Split billing/models.py into invoice.py and payment.py", "Explain what the session middleware does",
    "Upgrade pydantic to v2 and fix the breakage", "Make the search box debounce its requests",
    "Add a --dry-run flag to the cleanup script", "Document the release process in CONTRIBUTING.md",
    "Profile the nightly report job, it got slow", "Remove the unused feature flag for dark mode",
    "Port deploy.sh to a Makefile target", "Write tests for the discount calculation",
    "Review my change to the webhook signature check", "Convert the settings module to dataclasses",
    "Find out why the docker build cache misses every time", "Replace print calls with logging in the importer",
    "Add type hints to utils/dates.py", "Set up pre-commit with ruff and mypy",
    "The login page flashes unstyled content, fix it", "Write a script to backfill missing customer emails",
    "Make the email templates render in dark mode", "Bump the minimum Python version to 3.11",
    "Add an index for the orders.created_at queries", "Turn the cron scheduler into a systemd timer",
    "Summarise what changed in the last release", "Why does mypy complain about the Protocol in repo.py?",
    "Refactor the payment retry loop into a helper", "Delete the legacy v1 API routes",
    "Add OpenAPI examples for the cart endpoints", "Translate the error messages to German",
    "Make the upload handler stream instead of buffering", "Check the Dockerfile for security problems",
    "Fix the race in the cache warmup thread", "Write a README section about local setup",
    "Add a progress bar to the sync command", "Change the log format to JSON lines",
    "Investigate the memory leak in the worker", "Create a fixture factory for orders in tests",
    "Why do timestamps in the admin show UTC instead of local time?", "Generate a changelog from the git history",
    "Add a Grafana dashboard for queue latency", "Our Sentry is flooded with KeyError in cart.py, look into it",
    "Vendor the tiny YAML parser instead of the dependency", "Lock down CORS to our two domains",
    "Draft an ADR for moving to Postgres 16", "Write a load test for checkout with locust",
    "Make pagination cursors opaque base64 strings", "Backport the refund fix to the 2.3 branch",
    "Tidy up the imports across the billing package", "What does the --strict flag of our CLI do?",
    "Add a Makefile target that runs the linters", "Teach the importer to skip header rows",
    "Shorten the Docker image by using a slim base", "Add an admin action to resend receipts",
    "Debug why websocket connections drop after 60 seconds", "Write an example notebook for the reporting API",
    "Catch Stripe timeouts and retry with backoff", "Configure renovate for weekly dependency updates",
    "Rework the feature toggle UI into a table", "Make the PDF invoices A4 instead of letter",
    "Find dead CSS in the storefront theme", "Add tracing spans around the database calls",
    "Explain the difference between our two cache layers", "Store uploaded files in S3 instead of disk",
    "Write a data migration for the new currency field", "Estimate how long the reindex will take in production",
    "Fix the off-by-one in the weekly report dates", "Add keyboard shortcuts to the review screen",
]
FILES = {
    "alice": ["src/orders/api.py", "src/orders/models.py", "src/orders/service.py", "src/orders/pricing.py",
              "tests/test_orders.py", "tests/test_pricing.py", "src/shared/db.py"],
    "bob": ["src/billing/invoice.py", "src/billing/payment.py", "src/billing/tasks.py", "src/billing/export.py",
            "tests/test_invoice.py", "tests/test_payment.py", "src/shared/config.py"],
}


@dataclass
class Person:
    name: str
    habit: str  # a command run in doubles and triples all day
    test: str  # the command of their edit–test loops
    left_alone: dict = field(default_factory=dict)  # file -> [(from, to)]: after an agent's fix, not touched
    saves: dict = field(default_factory=dict)  # file -> [moment]


class Scenario(FolderScenario):
    FILES = FILES
    FEEDBACK_FILE = "src/app.py"

    def __init__(self, out: Path, seed: int, days: int, cuts: int):
        self.out = out
        self.rng = random.Random(seed)
        self.seed = seed
        self.days = days
        self.end = START + days * DAY
        self.people = {"alice": Person("alice", "git status", "pytest -q"), "bob": Person("bob", "git diff --stat", "make test")}
        pick = self.rng.choice
        agents = self.rng.sample(CHECKERS, 3)
        self.roles = {
            "repeated_by_hours": pick(REPEATED_BY_HOURS), "repeated_by_minutes": pick(REPEATED_BY_MINUTES),
            "rerun": pick(RERUN), "workaround": pick(WORKAROUNDS), "correlated": pick(CORRELATED), "flaky": pick(FLAKY),
            "slow": agents[0], "one_off_slow": agents[1], "dismissed": agents[2], "one_dismissal": "linter",
            "manual_fix_thread": pick(MANUAL_FIX_AGENTS), "manual_fix_audit": pick(AUDIT_FIXERS),
            "silent": pick(SILENT_AGENTS), "nothing_found": pick(NOTHING_FOUND_AGENTS),
            "questions": self.rng.sample(range(len(QUESTIONS)), 2), "templated": pick(range(len(TEMPLATED))),
        }
        self.slow_since = self.end - self.rng.randint(4, 6) * DAY
        self.workdays = [START + d * DAY for d in range(days) if datetime.datetime.fromtimestamp(START + d * DAY, datetime.timezone.utc).weekday() < 5]
        self.everyday = self.rng.sample(EVERYDAY, len(EVERYDAY))
        # Prompts for the planted threads are set aside first, so they never run out.
        self.reserved = [self.everyday.pop() for _ in range(12)]
        self.planted: list[dict] = []
        self.busy: dict = {}
        # Spans where bob's repeated `bd` check has nothing in between that would explain it.
        self.no_bd_between: list[tuple[float, float]] = []
        self.hard_negatives: list[dict] = []
        # Runs happen during the working day, when there is something new to read.
        self.cut_moments = sorted(self.rng.choice(self.workdays[1:]) + self.rng.uniform(8, 19) * HOUR for _ in range(cuts))
        self.open_folders(START)

    # ------------------------------------------------------------------ devloop's writers
    def cli(self, moment, person, command, exit_code=0, duration_ms=None, thread=None, error=None):
        duration = duration_ms if duration_ms is not None else self.rng.randint(80, 1500)

        def write():
            with environment(USER=person):
                if error is None:
                    self.writers.cli(command.split(" "), exit_code, duration, thread=thread)
                else:
                    with environment(**thread_environment(thread)):
                        self.writers.actions.log_cli_command(command, exit_code=exit_code, duration_ms=duration, error_message=error)

        self.at(moment, write)

    def context_finding(self, moment, agent, rel, message, severity="warning", seen_after=None):
        """A finding the daemon put in the context store; marked seen when the user looked."""
        tool = {"formatter": "black", "linter": "ruff"}.get(agent, agent)
        self.add_context_finding(moment, agent, rel, message, f"{agent}-{rel}-{tool}", 300, severity, seen_after)

    def save(self, moment, person: Person, rel=None):
        """The person saves a file; devloop's daemon runs its agents on it."""
        rel = self.saved_file(moment, person, rel)
        t = moment + self.rng.uniform(0.5, 2)
        # The formatter fails the same way on every run: black is not installed.
        message = f"Check failed for {Path(rel).name}: black command not found"
        self.agent_run(t, "formatter", round(self.rng.uniform(0.05, 0.2), 3), False, message, 0)
        if self.rng.random() < 0.4:
            # Not every run reaches the context store: the store trims a tier past 500 findings,
            # and a trimmed snapshot would show a run from the start less than the runs before.
            self.context_finding(t + 0.3, "formatter", rel, message, severity="error")
        t += self.rng.uniform(0.5, 1.5)
        findings = self.rng.choice([0, 0, 0, 1, 2])
        self.agent_run(t, "linter", self.duration("linter", t), True, f"Found {findings} issues in {rel}" if findings else "No issues", findings)
        if findings:
            if self.rng.random() < 0.4:
                self.context_finding(t + 0.3, "linter", rel, f"{findings} lint issue(s) in {rel}", seen_after=self.rng.uniform(30, 600))
            if self.rng.random() < 0.3:
                self.linter_fix(t + 1, person, rel, self.rng.uniform(2.5, 5) * HOUR)
        checker = self.rng.choice(CHECKERS)
        t += self.rng.uniform(0.5, 1.5)
        findings = self.rng.choice([0, 0, 1])
        success = self.rng.random() > 0.03
        self.agent_run(t, checker, self.duration(checker, t), success,
                       (f"Found {findings} issues in {rel}" if findings else "No issues") if success else f"{checker} exited with status 1", findings)

    def linter_fix(self, moment, person: Person, rel, quiet: float):
        """The linter fixes the saved file, and the person leaves that file alone for hours (a
        hard negative): only where no save of it is planned in that time."""
        if not any(moment < saved <= moment + quiet for saved in person.saves.get(rel, [])):
            self.audit_fix(moment, "linter", rel, "lint")
            person.left_alone.setdefault(rel, []).append((moment, moment + quiet))

    def audit_fix(self, moment, agent, rel, fix_type):
        path = self.project / rel
        self.at(moment, lambda: self.writers.audit.log_fix_applied(agent_name=agent, file_path=path, before_content="import sys\nimport os\nx=1\n",
                                                                   after_content="import os\nimport sys\n\nx = 1\n", fix_type=fix_type,
                                                                   severity="low", duration_ms=self.rng.randint(20, 90)))
        self.at(moment + 0.8, lambda: self.writers.store_event("file:modified", {"path": rel, "absolute_path": str(path)}, "filesystem"))

    def place(self, person: Person, day: float, longest: float, build, start=9.0, end=17.0, planted=False) -> float | None:
        """Runs `build(t0)` at a free moment of the person's day: one thing at a time (an
        edit–test loop, a thread, a planted streak), at most `longest` seconds long; the span
        `build` really took (it returns its end) stays taken. Everyday work that finds no room
        is left out; a planted problem must fit."""
        taken = self.busy.setdefault((person.name, day), [])
        for _ in range(500):
            t0 = day + self.rng.uniform(start, end) * HOUR
            if all(t0 + longest + MINUTE <= a or t0 >= b + MINUTE for a, b in taken):
                break
        else:
            if planted:
                raise SystemExit(f"{person.name} has no free {longest / MINUTE:.0f} minutes on day {day}: use more days")
            return None
        taken.append((t0, t0 + longest))
        finish = build(t0)
        taken[taken.index((t0, t0 + longest))] = (t0, max(finish, t0))
        return t0

    def thread_at(self, person: Person, day: float, prompt, planted=True, **kind) -> str | None:
        made = {}

        def build(t0):
            made["thread"], finish = self.thread(t0, person, prompt, **kind)
            return finish
        self.place(person, day, THREAD_LONGEST, build, planted=planted)
        return made.get("thread")

    def duration(self, agent, moment) -> float:
        typical = {"linter": 0.4, "type-checker": 1.5, "security-scanner": 2.4, "test-runner": 5.5}[agent]
        if agent == self.roles["slow"] and moment >= self.slow_since:
            typical *= 3.2
        return round(typical * self.rng.lognormvariate(0, 0.2), 3)

    # ------------------------------------------------------------------ Amp threads
    def thread(self, moment, person: Person, prompt, ending=None, manual_fix_agent=None, manual_fix=False):
        """A thread: a prompt, agent actions each answered by the user's follow-up, commands run
        in the thread. `ending` adds an agent's result after which nothing more happens."""
        thread = self.new_thread_id()
        mapper = self.writers.threads
        self.at(moment, lambda: mapper.log_entry(mapper.create_entry(thread, f"https://ampcode.com/threads/{thread}", prompt)))
        t = moment
        for _ in range(self.rng.randint(1, 3)):
            t += self.rng.uniform(1, 6) * MINUTE
            agent = self.rng.choice(list(THREAD_AGENTS))
            output = self.rng.choice(THREAD_OUTPUTS[agent])
            self.at(t, lambda a=agent, o=output: mapper.record_agent_action(thread, a, THREAD_AGENTS[a], o, True))
            t += self.rng.uniform(1, 8) * MINUTE
            description = self.rng.choice(["reviewed the diff", "asked for a test as well", "ran the tests", "asked to rename a variable", "committed the change"])
            delay = self.rng.randint(40, 480)
            self.at(t, lambda d=description, delay=delay: mapper.record_user_action(thread, "follow_up", d, delay))
            if self.rng.random() < 0.4:
                t += self.rng.uniform(0.5, 3) * MINUTE
                self.cli(t, person.name, person.test, 0, self.rng.randint(3000, 20000), thread=thread)
        if manual_fix_agent:
            t += self.rng.uniform(2, 6) * MINUTE
            rel = self.rng.choice(FILES[person.name])
            self.at(t, lambda: mapper.record_agent_action(thread, manual_fix_agent, f"{manual_fix_agent} --apply {rel}", f"Rewrote {rel}", True))
            gap = self.rng.uniform(1, 6) * MINUTE
            t += gap
            if manual_fix:
                self.at(t, lambda: mapper.record_user_action(thread, "manual_fix", f"Fixed {rel} by hand after {manual_fix_agent}", int(gap)))
            else:
                self.at(t, lambda: mapper.record_user_action(thread, "follow_up", "looks good, committed", int(gap)))
        if ending:
            agent, output, findings = ending
            t += self.rng.uniform(2, 6) * MINUTE
            self.at(t, lambda: mapper.record_agent_action(thread, agent, f"devloop summary agent {agent}", output, True))
            self.agent_run(t + 0.5, agent, round(self.rng.uniform(1, 4), 3), True, output, findings)
            if findings:
                self.context_finding(t + 1, agent, self.rng.choice(FILES[person.name]), output)
        self.close_thread(t + 5 * MINUTE if not ending else t + 3 * HOUR, thread)
        return thread, t

    # ------------------------------------------------------------------ a person's day
    def day(self, day: float, person: Person):
        rng = self.rng
        begin = day + rng.uniform(8.3, 9.6) * HOUR
        finish = day + rng.uniform(16.8, 18.2) * HOUR
        # Habitual command in doubles and triples all day (hard negative).
        for _ in range(rng.randint(6, 11)):
            t = rng.uniform(begin, finish)
            for _ in range(rng.choice([1, 2, 2, 3, 3])):
                self.cli(t, person.name, person.habit, 0, rng.randint(20, 120))
                t += rng.uniform(4, 50)
        # Edit–test loops (hard negative): fail, save files, re-run, until it passes.
        for _ in range(rng.randint(2, 4)):
            self.place(person, day, 40 * MINUTE, lambda t0: self.edit_test_loop(t0, person))
        # Coding: saves with the daemon running on each.
        for _ in range(rng.randint(5, 10)):
            self.place(person, day, 10, lambda t0: (self.save(t0, person), t0)[1])
        # The flaky integration check: sometimes fails once, passes on the retry (hard negative).
        if rng.random() < 0.6:
            self.place(person, day, 5 * MINUTE, lambda t0: self.flaky_check(t0, person))
        # Everyday commands.
        for _ in range(rng.randint(4, 8)):
            t = rng.uniform(begin, finish)
            command = rng.choice(["git pull --rebase", "git push", "git commit", "devloop summary agent linter", "ruff check .",
                                  f"bd show proj-{rng.randint(10, 99)}", f"bd close proj-{rng.randint(10, 99)}", "git log --oneline -5"])
            if person.name == "bob" and command.startswith("bd ") and any(a <= t <= b for a, b in self.no_bd_between):
                command = "git log --oneline -5"
            self.cli(t, person.name, command, 0)
        if person.name == "bob":
            # bob's usual rate of the command he sometimes repeats for hours.
            for _ in range(rng.choice([0, 1, 1, 2])):
                self.cli(rng.uniform(begin, finish), "bob", self.roles["repeated_by_hours"], 0, rng.randint(150, 500))
        elif rng.random() < 0.15:
            self.cli(rng.uniform(begin, finish), "alice", self.roles["repeated_by_minutes"], 0, rng.randint(200, 700))
        # Threads.
        for _ in range(rng.choice([0, 1, 1, 2])):
            if self.everyday:
                self.thread_at(person, day, self.everyday.pop(), planted=False)
        # Feedback on agents: mostly thumbs-up.
        for _ in range(rng.randint(1, 3)):
            agent = rng.choice(["test-runner", "type-checker", "security-scanner"])
            if agent == self.roles["dismissed"]:
                continue
            kind = rng.choice(["thumbs_up", "thumbs_up", "rating"])
            self.feedback(rng.uniform(begin, finish), agent, kind, True if kind == "thumbs_up" else rng.randint(4, 5))

    def edit_test_loop(self, t, person: Person) -> float:
        runs = self.rng.randint(2, 4)
        for attempt in range(runs):
            passed = attempt == runs - 1
            self.cli(t, person.name, person.test, 0 if passed else 1, self.rng.randint(4000, 25000),
                     error=None if passed else f"{self.rng.randint(1, 4)} failed")
            self.maybe_diff(t + 25, person)
            if passed:
                return t
            t += self.rng.uniform(40, 120)
            for _ in range(self.rng.randint(1, 3)):
                self.save(t, person)
                t += self.rng.uniform(30, 150)
        return t

    def flaky_check(self, t, person: Person) -> float:
        if self.rng.random() < 0.35:
            self.cli(t, person.name, self.roles["flaky"], 1, self.rng.randint(30000, 90000), error="connection reset by peer")
            self.maybe_diff(t + 20, person)
            t += self.rng.uniform(15, 60)
        self.cli(t, person.name, self.roles["flaky"], 0, self.rng.randint(30000, 90000))
        self.maybe_diff(t + 20, person)
        return t + 60

    def maybe_diff(self, t, person: Person):
        """`git diff` after a run, failed or not (hard negative for workarounds)."""
        if self.rng.random() < 0.3:
            self.cli(t + self.rng.uniform(0, 40), person.name, "git diff", 0, self.rng.randint(40, 300))

    # ------------------------------------------------------------------ plants
    def days_for(self, count, first=1):
        """`count` workdays (after the first), distinct while there are enough of them."""
        return self.spread(self.workdays[first:], count)

    def hour(self, day, start=9.5, end=16.0):
        return day + self.rng.uniform(start, end) * HOUR

    def plants(self):
        rng = self.rng
        alice, bob = self.people["alice"], self.people["bob"]
        roles = self.roles

        command = roles["repeated_by_hours"]
        for day in self.days_for(3):
            t = self.hour(day, 9.5, 14.5)
            self.no_bd_between.append((t, t + 4 * 38 * MINUTE))
            for _ in range(4):
                self.cli(t, "bob", command, 0, rng.randint(150, 500))
                t += rng.uniform(15, 38) * MINUTE
        self.plant(["command_repetition"], f"bob runs `{command}` 4 times within 2 hours on 3 days (usually once or twice a day)",
                   {"command": command})

        command = roles["repeated_by_minutes"]

        def burst(t):
            for _ in range(rng.randint(4, 5)):
                self.cli(t, "alice", command, 0, rng.randint(200, 700))
                t += rng.uniform(15, 50)
            return t
        for day in self.days_for(3):
            self.place(alice, day, 5 * MINUTE, burst, planted=True)
        self.plant(["command_repetition"], f"alice runs `{command}` 4-5 times within 3 minutes on 3 days (usually almost never)",
                   {"command": command})

        command = roles["rerun"]

        def streak(t):
            for _ in range(rng.randint(3, 4)):
                self.cli(t, "bob", command, 1, rng.randint(8000, 30000), error="timed out waiting for the daemon")
                t += rng.uniform(20, 90)
            return t
        for day in self.days_for(3):
            self.place(bob, day, 7 * MINUTE, streak, planted=True)
        self.plant(["command_rerun"], f"bob's `{command}` fails and is re-run unchanged 3-4 times in a row, no edits between, on 3 days",
                   {"command": command})

        failed, workaround = roles["workaround"]

        def worked_around(t):
            self.cli(t, "alice", failed, 1, rng.randint(500, 3000), error="hook template not found")
            if rng.random() < 0.6:
                self.cli(t + rng.uniform(20, 60), "alice", "git diff", 0, rng.randint(40, 300))
            t += rng.uniform(1.5, 5) * MINUTE
            self.cli(t, "alice", workaround, 0, rng.randint(100, 2000))
            return t
        for day in self.days_for(4):
            self.place(alice, day, 6 * MINUTE, worked_around, planted=True)
        self.plant(["failure_workaround"], f"`{failed}` fails and alice then runs `{workaround}` minutes later, on 4 days "
                   "(sometimes with `git diff` between)", {"failed_command": failed, "workaround_command": workaround})

        first, then = roles["correlated"]

        def pair(t):
            self.cli(t, "bob", first, 0, rng.randint(50, 400))
            t += rng.uniform(20, 90)
            self.cli(t, "bob", then, 0, rng.randint(2000, 9000))
            return t
        for day in self.days_for(8):
            self.place(bob, day, 2 * MINUTE, pair, planted=True)
        self.plant(["command_correlation"], f"bob runs `{then}` within 90 s after every `{first}` (8 times)",
                   {"first_command": first, "then_command": then})

        agent = roles["dismissed"]
        for index, day in enumerate(self.days_for(12)):
            t = self.hour(day)
            if index % 3 == 2:
                self.feedback(t, agent, "thumbs_up", True)
            else:
                kind = rng.choice(["dismiss", "dismiss", "thumbs_down", "rating"])
                value = {"dismiss": None, "thumbs_down": True, "rating": rng.randint(1, 2)}[kind]
                self.feedback(t, agent, kind, value, rng.choice(["false positive", "not relevant", None]))
        self.plant(["dismissed_suggestions"], f"8 of 12 feedback records on `{agent}` are dismissals or thumbs-down (other agents: thumbs-up)",
                   {"agent": agent})

        agent = roles["manual_fix_thread"]
        threads = []
        for day in self.days_for(3):
            person = rng.choice([alice, bob])
            threads.append(self.thread_at(person, day, self.reserved.pop(), manual_fix_agent=agent, manual_fix=True))
        for day in self.days_for(2):
            self.thread_at(rng.choice([alice, bob]), day, self.reserved.pop(), manual_fix_agent=agent, manual_fix=False)
        self.plant(["user_manual_fix"], f"`manual_fix` after `{agent}`'s action in 3 of its 5 threads", {"agent": agent, "threads": threads},
                   min_threads=2)

        agent = roles["manual_fix_audit"]

        def fixed_by_agent(t, person, followed):
            rel = rng.choice(FILES[person.name][:4])
            self.audit_fix(t, agent, rel, "import-order")
            if not followed:
                person.left_alone.setdefault(rel, []).append((t, t + 3 * HOUR))
                return t
            t += rng.uniform(1, 5) * MINUTE
            self.save(t, person, rel)
            return t
        for index, day in enumerate(self.days_for(6)):
            person = rng.choice([alice, bob])
            self.place(person, day, 6 * MINUTE, lambda t, person=person, followed=index < 4: fixed_by_agent(t, person, followed), planted=True)
        self.plant(["user_manual_fix"], f"the person re-edits the file `{agent}` just changed, 1-5 minutes later, on 4 of its 6 changes",
                   {"agent": agent})

        agent = roles["silent"]
        threads = []
        for day in self.days_for(3):
            findings = rng.randint(2, 5)
            threads.append(self.thread_at(rng.choice([alice, bob]), day, self.reserved.pop(),
                                          ending=(agent, f"Found {findings} slow queries in src/shared/db.py", findings)))
        self.plant(["silent_completion"], f"`{agent}`'s results get no response in 3 of 3 threads, unseen in the context store",
                   {"agent": agent, "threads_if_named": threads})

        self.plant(["metric_anomaly", "silent_completion"],
                   "the formatter fails the same way on every run (`black command not found`), all unseen in the context store",
                   {"agent": "formatter"})

        for question in roles["questions"]:
            threads = []
            for day, text in zip(self.days_for(3), QUESTIONS[question]):
                threads.append(self.thread_at(rng.choice([alice, bob]), day, text))
            self.plant(["cross_thread_pattern"], f"the same question in 3 threads, in other words: {QUESTIONS[question][0]}",
                       {"threads": threads}, min_threads=3)

        self.plant(["metric_anomaly"], f"`{roles['slow']}` runs 3.2x slower for the last days", {"agent": roles["slow"]})

        # ---------------------------------------------------------------- hard negatives
        for person in (alice, bob):
            self.hard_negative(["command_repetition", "command_rerun"], f"{person.name}'s habitual `{person.habit}` in doubles and triples all week",
                               {"any_command": person.habit})
            self.hard_negative(["command_repetition", "command_rerun"], f"{person.name}'s edit–test loops: `{person.test}` fails, files are saved, it is re-run until it passes",
                               {"any_command": person.test})
        self.hard_negative(["command_repetition", "command_rerun", "failure_workaround"],
                           f"`{roles['flaky']}` sometimes fails once and passes on the retry", {"any_command": roles["flaky"]})
        self.hard_negative(["failure_workaround"], "`git diff` after any run, failed or not, and between a failure and the real workaround",
                           {"workaround_command": "git diff"})
        for person in (alice, bob):
            self.hard_negative(["failure_workaround"], f"`{person.habit}` is run after anything", {"workaround_command": person.habit})
        self.hard_negative(["user_manual_fix"], "after the linter's fixes people edit other files, or the same file hours later",
                           {"agent": "linter"})
        subject, prompts = TEMPLATED[roles["templated"]]
        templated = [self.thread_at(rng.choice([alice, bob]), day, prompt) for day, prompt in zip(self.days_for(len(prompts)), prompts)]
        self.hard_negative(["cross_thread_pattern"], f"templated prompts asking different things about {subject}",
                           {"threads_overlap": templated, "min_overlap": 2})
        agent = roles["nothing_found"]
        for day in self.days_for(3):
            self.thread_at(rng.choice([alice, bob]), day, self.reserved.pop(), ending=(agent, "No issues found", 0))
        self.hard_negative(["silent_completion"], f"`{agent}` ran in 3 threads and found nothing; nobody answered", {"agent": agent})
        agent = roles["one_off_slow"]
        moment = self.hour(self.workdays[len(self.workdays) // 2])
        self.agent_run(moment, agent, round(self.duration(agent, moment) * 9, 3), True, "No issues", 0)
        self.hard_negative(["metric_anomaly"], f"`{agent}` has one run 9x slower than usual", {"agent": agent})
        agent = roles["one_dismissal"]
        for day in self.days_for(12):
            self.feedback(self.hour(day), agent, "thumbs_up", True)
        self.feedback(self.hour(self.days_for(1)[0]), agent, "dismiss", None, "not now")
        self.hard_negative(["dismissed_suggestions"], f"`{agent}` has one dismissal among 12 thumbs-up", {"agent": agent})
        # As many as a detector that took them for a devloop agent's results would need to report.
        for index, day in enumerate(self.days_for(6)):
            context = {"fingerprint": f"{self.rng.getrandbits(64):016x}", "pattern": "command_repetition", "key": "git status",
                       "severity": "info", "confidence": 0.6, "message": "`git status` was run 3 times within 2 minutes", "occurrences": 3 + index,
                       "threads": []}
            self.feedback(self.hour(day), "command-repetition", "dismiss", None, "habit, not a problem",
                          event_type="devloop-host:command_repetition:dismissed", context=context)
        self.hard_negative(["dismissed_suggestions"], "devloop-host's own dismissals of `command_repetition` findings in devloop's feedback log",
                           {"agent": "command-repetition"})

    def generate(self) -> dict:
        # Planted problems first: they take their place in people's days, everyday work fills the rest.
        self.plants()
        for day in self.workdays:
            for person in self.people.values():
                self.day(day, person)
        self.finish()
        roles = {key: list(value) if isinstance(value, tuple) else value for key, value in self.roles.items()}
        return {"seed": self.seed, "days": self.days, "start": START, "end": self.end, "roles": roles,
                "planted": self.planted, "hard_negatives": self.hard_negatives}


if __name__ == "__main__":
    scenario_folder.main(Scenario, __doc__)
