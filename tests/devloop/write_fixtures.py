"""Writes one small, known scenario into every devloop log, with devloop's own classes.

    python write_fixtures.py PROJECT_DEVLOOP_DIR HOME_DEVLOOP_DIR

The integration tests (tests/all/ingest_sources.rs) read it back and check each source's events.
Times come from the simulated clock in devloop_writers, starting at 2026-11-25T07:44:03Z.
"""

import sys
from pathlib import Path

from devloop_writers import CLOCK, Writers, feedback, sandbox, telemetry

THREAD = "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f"


def main(project: Path, home: Path) -> None:
    writers = Writers(project, home)

    writers.daemon_stdout("DevLoop v2 daemon started (PID: 4242)")
    writers.logger("devloop.daemon").info("Watching /home/dev/proj")

    # cli-actions.jsonl: a `bd ready` burst in an Amp thread, and a failing `status`.
    for _ in range(3):
        writers.cli(["bd", "ready"], exit_code=0, duration_ms=120, thread=THREAD)
        CLOCK.advance(10)
    writers.cli(["status"], exit_code=1, duration_ms=300)
    CLOCK.advance(5)

    # amp-thread-log.jsonl: every record_* re-appends the whole thread.
    writers.threads.log_entry(writers.threads.create_entry(THREAD, f"https://ampcode.com/threads/{THREAD}", "fix the linter errors"))
    CLOCK.advance(5)
    writers.threads.record_agent_action(THREAD, "linter", "ruff check src", output="3 issues", success=True)
    CLOCK.advance(30)
    writers.threads.record_user_action(THREAD, "manual_fix", "fixed the imports by hand", time_after_last_agent_action=30)
    CLOCK.advance(1)
    writers.threads.record_insight(THREAD, "user_manual_fix_after_agent", "medium", "User manually applied fix instead of auto-fix", {"agent_actions_count": 1})
    CLOCK.advance(5)

    # events.jsonl, performance/metrics.jsonl, events.db, feedback/performance.json, devloop.log.
    writers.agent_run("linter", 0.41, True, "Found 3 issues in src/app.py", 3)
    CLOCK.advance(2)
    writers.agent_run("formatter", 0.05, False, "black failed", 0)
    CLOCK.advance(2)
    writers.telemetry.log_agent_finding("type-checker", "type-error", telemetry.EventSeverity.ERROR, "Incompatible return value type", file="src/app.py", line=42)
    writers.telemetry.log_pre_commit_check(checks_run=4, passed=False, duration_ms=2310, details={"failed": ["ruff"]})
    writers.telemetry.log_value_event("interruption_prevented", time_saved_ms=90000, description="Formatter fixed before commit")
    writers.store_event("file:modified", {"path": "src/app.py", "absolute_path": "/home/dev/proj/src/app.py"}, "filesystem")
    CLOCK.advance(1)

    # A traceback belongs to the record before it.
    try:
        raise ValueError("config missing")
    except ValueError:
        writers.logger("agent.formatter").exception("Error in formatter: config missing")
    CLOCK.advance(1)

    # agent-audit.log
    app = project.parent / "src" / "app.py"
    app.parent.mkdir(parents=True, exist_ok=True)
    app.write_text("x = 1\n")
    writers.audit.log_fix_applied("formatter", app, before_content="x=1\n", after_content="x = 1\n", fix_type="formatting", severity="low", duration_ms=35)
    writers.audit.log_command_execution("test-runner", "pytest -q", exit_code=1, success=False, duration_ms=5120, message="Tests failed", error="2 failed")
    CLOCK.advance(1)

    # feedback/feedback.jsonl
    writers.loop.run_until_complete(writers.feedback.store_feedback(feedback.Feedback(
        id="52f2b52e-cbf8-4ffa-b5e6-ddc79680998f", agent_name="linter", event_type="agent:linter:completed",
        feedback_type=feedback.FeedbackType.THUMBS_DOWN, value=True, comment="false positive", context={"file": "src/app.py"})))
    CLOCK.advance(1)
    writers.loop.run_until_complete(writers.feedback.store_feedback(feedback.Feedback(
        id="0b8c9a7e-3d51-4c1f-9a55-2f1e0d6c7b8a", agent_name="formatter", event_type="agent:formatter:completed",
        feedback_type=feedback.FeedbackType.RATING, value=2)))
    CLOCK.advance(1)

    # security-audit.log
    ok = sandbox.SandboxResult(stdout="", stderr="", exit_code=0, duration_ms=850, memory_peak_mb=42.5, cpu_usage_percent=12.0)
    writers.sandbox_audit.log_execution("bubblewrap", ["pytest", "-q", "tests"], project.parent, ok)
    writers.sandbox_audit.log_blocked_command("bubblewrap", ["curl", "https://example.com"], project.parent, "network access not allowed")
    writers.sandbox_audit.log_timeout("bubblewrap", ["sleep", "600"], project.parent, 30000)

    writers.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
