"""What the scenario generators share: how a scenario folder is laid out and how it is written.

Both generators (`independent/generate.py` and `holdout/generate.py`) write folders that the same
evaluator (`independent/evaluate.py`) replays, from the start and in incremental runs, so the
folder's layout and the way it is written are one piece of code:

- the layout: the logs devloop only appends to (`APPEND_ONLY`), the files it rewrites whole
  (`SNAPSHOTS`) and events.db — also what the evaluator grows its incremental folder from;
- `load_devloop()`: devloop 0.10.3's writers (`devloop_writers.py`) and its context store, on the
  simulated clock. Importing them puts this process's `time.time` on that clock, so it is done
  by the generators only, never on importing this module (the evaluator reads the layout and
  keeps the real time);
- `FolderScenario`, the base of each generator's `Scenario`: opening the folders (the context
  store with its tier rewrites deferred), the queue of writes run in time order, the cuts an
  incremental run reads (log sizes, sometimes half a line, events.db rows, snapshots), flushing
  the context store, and the writer wrappers that are the same in both (agent runs, feedback,
  context-store findings, a saved file, a thread's closing analysis, plants and hard negatives);
- `main()`: the command line both generators take.

What happens in a scenario — its people, rhythms, plants, hard negatives, and every random draw
that decides them — stays in each generator. The helpers here draw from the generator's
`self.rng` exactly where the generator's own code did before they were shared, so a seed writes
the same folder as it did.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

# The logs that devloop only ever appends to, relative to the scenario folder.
APPEND_ONLY = [
    "home/.devloop/cli-actions.jsonl",
    "home/.devloop/amp-thread-log.jsonl",
    "project/.devloop/events.jsonl",
    "project/.devloop/agent-audit.log",
    "project/.devloop/feedback/feedback.jsonl",
    "project/.devloop/performance/metrics.jsonl",
    "project/.devloop/devloop.log",
]
# The files devloop rewrites whole: copied at every cut.
SNAPSHOTS = ["project/.devloop/feedback/performance.json", "project/.devloop/context"]
EVENTS_DB = "project/.devloop/events.db"

# Set by load_devloop().
devloop = None
context_store = None


def load_devloop():
    """devloop's writers (`devloop_writers`) and its context store, both on the simulated clock."""
    global devloop, context_store
    if devloop is None:
        import devloop_writers

        devloop = devloop_writers
        context_store = importlib.import_module("devloop.core.context_store")
        if getattr(context_store, "datetime", None) is datetime.datetime:
            context_store.datetime = devloop._SimulatedDatetime
    return devloop, context_store


@contextmanager
def environment(**values):
    """Sets (a value) or unsets (None) environment variables for one write, then restores them."""
    saved = {name: os.environ.pop(name, None) for name in values}
    for name, value in values.items():
        if value is not None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def thread_environment(thread):
    """What Amp sets for a command run in a thread (nothing outside one)."""
    return {"AMP_THREAD_ID": thread or None, "AMP_THREAD_URL": f"https://ampcode.com/threads/{thread}" if thread else None}


class FolderScenario:
    """The folder-writing half of a generator's `Scenario`.

    The subclass sets `self.out`, `self.rng`, `self.end` and `self.cut_moments` (drawn with its
    own draws), then calls `open_folders(start)`; `FILES` maps a person's name to the files they
    edit and `FEEDBACK_FILE` is the file feedback records name by default. Writes are queued with
    `at()` and run in time order by `finish()`, which records the cuts on the way and writes
    `cuts.json`."""

    FILES: dict = {}
    FEEDBACK_FILE = ""

    def open_folders(self, start: float) -> None:
        self.queue: list = []
        self.order = 0
        self.context_added = 0
        self.project = self.out / "project"
        self.project.mkdir(parents=True, exist_ok=True)
        devloop.CLOCK.now = start
        os.chdir(self.project)
        self.writers = devloop.Writers(self.project / ".devloop", self.out / "home" / ".devloop")
        self.writers.events.connection.execute("PRAGMA synchronous=OFF")
        self.context = context_store.ContextStore(self.project / ".devloop" / "context", enable_path_validation=False)
        self.writers.loop.run_until_complete(self.context.initialize())
        # The store rewrites a whole tier file on every change. Nobody reads the files between
        # the cut moments, so the rewrites are deferred to them (and to the end): what a reader
        # sees is the same, and writing weeks of findings takes seconds instead of minutes.
        self.context_changed: set = set()

        async def defer_tier(tier):
            self.context_changed.add(tier)

        async def defer_index():
            pass

        self.context._write_tier = defer_tier
        self.context._update_index = defer_index

    # ------------------------------------------------------------------ writing in time order
    def at(self, moment: float, write) -> None:
        self.order += 1
        self.queue.append((moment, self.order, write))

    def run_queue(self) -> list[dict]:
        self.queue.sort(key=lambda item: (item[0], item[1]))
        cuts = []
        pending = list(self.cut_moments)
        for moment, _, write in self.queue:
            while pending and moment > pending[0]:
                cuts.append(self.record_cut(len(cuts), pending.pop(0)))
            devloop.CLOCK.now = moment
            write()
        for moment in pending:
            cuts.append(self.record_cut(len(cuts), moment))
        return cuts

    def flush_context(self) -> None:
        store = context_store.ContextStore
        for tier in sorted(self.context_changed, key=lambda tier: tier.value):
            self.writers.loop.run_until_complete(store._write_tier(self.context, tier))
        if self.context_changed:
            self.writers.loop.run_until_complete(store._update_index(self.context))
        self.context_changed.clear()

    def record_cut(self, index: int, moment: float) -> dict:
        """What a run at `moment` would find in devloop's folders."""
        self.writers.log_handler.flush()
        self.flush_context()
        sizes = {}
        for rel in APPEND_ONLY:
            path = self.out / rel
            sizes[rel] = path.stat().st_size if path.exists() else 0
        # Sometimes one log has half of its next line written (a line devloop is still writing);
        # it is completed on the next cut, as the writer's append finishes.
        partial = None
        if self.rng.random() < 0.5:
            rel = self.rng.choice(APPEND_ONLY[:6])
            partial = {"file": rel, "bytes": self.rng.randint(1, 40)}
        rows = self.writers.events.connection.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
        folder = self.out / "cuts" / str(index)
        for rel in SNAPSHOTS:
            source = self.out / rel
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            elif source.exists():
                shutil.copy2(source, target)
        return {"moment": moment, "sizes": sizes, "partial": partial, "events_db_rows": rows, "snapshots": str(folder.relative_to(self.out))}

    def finish(self) -> None:
        """Runs the queued writes (recording the cuts), flushes and closes the writers at the
        scenario's end, and writes `cuts.json`."""
        cuts = self.run_queue()
        devloop.CLOCK.now = self.end
        self.flush_context()
        self.writers.close()
        kept = sum(len(findings) for findings in self.context._findings.values())
        if kept != self.context_added:
            raise SystemExit(f"the context store trimmed {self.context_added - kept} finding(s); use fewer days")
        (self.out / "cuts.json").write_text(json.dumps(cuts, indent=2) + "\n")

    # ------------------------------------------------------------------ devloop's writers
    def agent_run(self, moment, agent, seconds, success, message, findings):
        self.at(moment, lambda: self.writers.agent_run(agent, seconds, success, message, findings))

    def add_context_finding(self, moment, agent, rel, message, finding_id, last_line, severity, seen_after):
        """A finding in the context store (on line 1..`last_line`, drawn when it is written);
        marked seen `seen_after` seconds later when that is not None."""
        holder = {}

        def add():
            stamp = datetime.datetime.fromtimestamp(devloop.CLOCK.now).strftime("%Y-%m-%d %H:%M:%S.%f")
            finding = context_store.Finding(id=finding_id, agent=agent, timestamp=stamp, file=rel,
                                            line=self.rng.randint(1, last_line), severity=severity, category=agent,
                                            message=message, seen_by_user=False)
            holder["finding"] = finding
            self.context_added += 1
            self.writers.loop.run_until_complete(self.context.add_finding(finding))

        def seen():
            finding = holder["finding"]
            finding.seen_by_user = True
            self.context_changed.add(self.context.assign_tier(finding))

        self.at(moment, add)
        if seen_after is not None:
            self.at(moment + seen_after, seen)

    def saved_file(self, moment, person, rel=None) -> str:
        """The person (or their agent) saves `rel` (a file of theirs free to edit when None):
        devloop's watcher records it. Returns the file."""
        if rel is None:
            rel = self.pick_file(moment, person)
        person.saves.setdefault(rel, []).append(moment)
        absolute = str(self.project / rel)
        self.at(moment, lambda: self.writers.store_event("file:modified", {"path": rel, "absolute_path": absolute}, "filesystem"))
        return rel

    def pick_file(self, moment, person):
        """One of the person's files that is not being left alone at `moment`."""
        free = [rel for rel in self.FILES[person.name] if not any(a <= moment <= b for a, b in person.left_alone.get(rel, []))]
        if not free:
            raise SystemExit(f"{person.name} has no file to edit at {moment}")
        return self.rng.choice(free)

    def feedback(self, moment, agent, kind, value=None, comment=None, event_type=None, context=None):
        def write():
            item = devloop.feedback.Feedback(id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), agent_name=agent,
                                             event_type=event_type or f"agent:{agent}:completed", feedback_type=devloop.feedback.FeedbackType(kind),
                                             value=value, comment=comment, context=context or {"file": self.FEEDBACK_FILE}, timestamp=devloop.CLOCK.now)
            self.writers.loop.run_until_complete(self.writers.feedback.store_feedback(item))
        self.at(moment, write)

    # ------------------------------------------------------------------ Amp threads
    def new_thread_id(self) -> str:
        return "T-" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def close_thread(self, moment, thread) -> None:
        """What devloop's own thread analysis records at the end of a thread (no caller in 0.10.3
        does; this gives `devloop insights detect` its best chance)."""
        mapper = self.writers.threads

        def close():
            entry = mapper._get_or_create_entry(thread)
            for insight in mapper.detect_patterns(entry):
                mapper.record_insight(thread, insight.pattern, insight.severity, insight.message, insight.evidence)
        self.at(moment, close)

    # ------------------------------------------------------------------ ground truth
    def plant(self, patterns, description, names, min_threads=None):
        self.planted.append({"id": f"P{len(self.planted) + 1}", "patterns": patterns, "description": description,
                             "names": names, **({"min_threads": min_threads} if min_threads else {})})

    def hard_negative(self, patterns, description, names):
        self.hard_negatives.append({"id": f"H{len(self.hard_negatives) + 1}", "patterns": patterns, "description": description, "names": names})

    def spread(self, pool, count):
        """`count` days from `pool`, distinct while there are enough of them, in order."""
        distinct = self.rng.sample(pool, min(count, len(pool)))
        return sorted(distinct + self.rng.choices(pool, k=count - len(distinct)))


def main(scenario_class, doc: str) -> None:
    """generate.py OUT_DIR [--seed N] [--days N] [--cuts N]: writes the folders, truth.json and cuts.json."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--cuts", type=int, default=5, help="moments at which an incremental run reads the folders")
    args = parser.parse_args()
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    truth = scenario_class(out, args.seed, args.days, args.cuts).generate()
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
