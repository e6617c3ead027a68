"""devloop 0.10.3's own writer classes, driven on a simulated clock.

Every log the tests and the sample use is written by these classes, so devloop-host is tested
against what devloop really writes. devloop stamps records with `datetime.now(UTC)` and
`time.time()`; the clock below replaces both inside devloop's modules so that fixtures are
reproducible and a sample can span days.
"""

from __future__ import annotations

import asyncio
import datetime as _datetime
import importlib
import logging
import os
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

action_logger = importlib.import_module("devloop.core.action_logger")
amp_thread_mapper = importlib.import_module("devloop.core.amp_thread_mapper")
telemetry = importlib.import_module("devloop.core.telemetry")
agent_audit_logger = importlib.import_module("devloop.core.agent_audit_logger")
feedback = importlib.import_module("devloop.core.feedback")
performance = importlib.import_module("devloop.core.performance")
event_store = importlib.import_module("devloop.core.event_store")
event = importlib.import_module("devloop.core.event")
audit_logger = importlib.import_module("devloop.security.audit_logger")
sandbox = importlib.import_module("devloop.security.sandbox")


class Clock:
    """Simulated time in seconds since the epoch."""

    def __init__(self, start: float):
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += seconds


CLOCK = Clock(1_795_592_643.0)  # 2026-11-25T07:44:03Z


class _SimulatedDatetime(_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return _datetime.datetime.fromtimestamp(CLOCK.now, tz)


def _simulated_time() -> float:
    return CLOCK.now


for _module in (action_logger, amp_thread_mapper, telemetry, agent_audit_logger, feedback, performance, event_store, event, audit_logger):
    if getattr(_module, "datetime", None) is _datetime.datetime:
        _module.datetime = _SimulatedDatetime
time.time = _simulated_time

# devloop samples CPU for 0.1 s per resource snapshot (two per agent run); sample without
# waiting instead. The records keep their exact shape.
_cpu_percent = performance.psutil.Process.cpu_percent
performance.psutil.Process.cpu_percent = lambda self, interval=None: _cpu_percent(self, interval=None)
logging.Formatter.converter = lambda self, seconds=None: time.localtime(CLOCK.now)


class Writers:
    """One of each devloop writer, for a project folder and a home folder."""

    def __init__(self, project: Path, home: Path):
        self.project = project
        self.home = home
        project.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        self.actions = action_logger.ActionLogger(home / "cli-actions.jsonl")
        self.threads = amp_thread_mapper.AmpThreadMapper(home / "amp-thread-log.jsonl")
        self.telemetry = telemetry.TelemetryLogger(project / "events.jsonl")
        self.audit = agent_audit_logger.AgentAuditLogger(project / "agent-audit.log")
        self.feedback = feedback.FeedbackStore(project / "feedback")
        self.performance = performance.PerformanceMonitor(project / "performance")
        self.sandbox_audit = audit_logger.SandboxAuditLogger(project / "security-audit.log")
        self.events = event_store.EventStore(project / "events.db")
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.events.initialize())
        self.sequence = 0
        self.log = self._daemon_logger(project / "devloop.log")

    def _daemon_logger(self, path: Path) -> logging.Logger:
        """devloop.log as `setup_logging_with_rotation` configures it (cli/main.py)."""
        handler = RotatingFileHandler(filename=str(path), maxBytes=10 * 1024 * 1024, backupCount=3)
        handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-8s | %(name)-20s | %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        self.log_handler = handler
        return root

    def logger(self, name: str) -> logging.Logger:
        return logging.getLogger(name)

    def daemon_stdout(self, text: str) -> None:
        """A line the daemon printed; supervisors send stdout into the same file."""
        self.log_handler.flush()
        with open(self.project / "devloop.log", "a") as file:
            file.write(text + "\n")

    def cli(self, command: list[str], exit_code: int, duration_ms: int, thread: str | None = None) -> None:
        saved = {name: os.environ.pop(name, None) for name in ("AMP_THREAD_ID", "AMP_THREAD_URL")}
        if thread:
            os.environ["AMP_THREAD_ID"] = thread
            os.environ["AMP_THREAD_URL"] = f"https://ampcode.com/threads/{thread}"
        try:
            self.actions.log_cli_command(command, exit_code=exit_code, duration_ms=duration_ms)
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None)
                if value is not None:
                    os.environ[name] = value

    def store_event(self, kind: str, payload: dict, source: str) -> None:
        self.sequence += 1
        stored = event.Event(type=kind, payload=payload, source=source, sequence=self.sequence, timestamp=CLOCK.now)
        self.loop.run_until_complete(self.events.store_event(stored))

    def agent_run(self, agent: str, seconds: float, success: bool, message: str, findings: int) -> None:
        """What one agent run leaves behind: telemetry, metrics, events.db, performance.json, log."""

        async def handle():
            async with self.performance.monitor_operation(f"agent.{agent}.handle", {"event_type": "file:modified", "agent_name": agent}):
                CLOCK.advance(seconds)

        self.loop.run_until_complete(handle())
        self.telemetry.log_agent_execution(
            agent=agent,
            duration_ms=int(seconds * 1000),
            findings=findings,
            severity_levels=["warning"] if findings else [],
            success=success,
            details={"message": message, "findings_count": findings},
        )
        self.store_event(
            f"agent:{agent}:completed",
            {"agent_name": agent, "success": success, "duration": seconds, "message": message, "data": {"findings_count": findings}, "error": None},
            agent,
        )
        self.loop.run_until_complete(self.feedback.update_performance(agent, success, seconds))
        mark = "✓" if success else "✗"
        self.logger(f"agent.{agent}").info(f"{mark} {agent}: {message} ({seconds:.2f}s)")

    def close(self) -> None:
        self.log_handler.close()
        self.loop.run_until_complete(self.events.close())
        self.loop.close()
