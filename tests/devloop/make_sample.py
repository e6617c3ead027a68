"""Three days of one developer and an Amp agent, written by devloop's own classes.

    python make_sample.py OUT_DEVLOOP_DIR

Everything goes into one folder (the home logs, cli-actions.jsonl and amp-thread-log.jsonl,
too), so `devloop-host run --devloop-dir sample/.devloop --home-devloop-dir sample/.devloop`
reads it all. Deterministic apart from resource figures devloop samples with psutil.
"""

import random
import sys
from pathlib import Path

from devloop_writers import CLOCK, Writers, feedback, sandbox, telemetry

DAY = 24 * 3600
START = 1_795_420_800.0  # 2026-11-23T08:00:00Z, a Monday
THREADS = ["T-019c62c5-ce64-720a-b597-4decc9036d53", "T-019c6a11-2b7e-7c41-9f0e-8d2a61c4b5e7", "T-019c7b02-93f1-7a55-b1d2-4e6f80a9c3d1"]
AGENTS = [("linter", 0.4), ("formatter", 0.08), ("type-checker", 1.6), ("test-runner", 6.5)]
FILES = ["src/app.py", "src/models.py", "src/api/routes.py", "tests/test_app.py", "README.md"]


def main(out: Path) -> None:
    rng = random.Random(42)
    CLOCK.now = START
    writers = Writers(out, out)
    writers.daemon_stdout("DevLoop v2 daemon started (PID: 31337)")
    writers.daemon_stdout(f"Watching: {out.parent}")
    project = out.parent
    (project / "src").mkdir(parents=True, exist_ok=True)

    for day in range(3):
        CLOCK.now = START + day * DAY + rng.uniform(0, 1200)
        thread = THREADS[day]
        writers.threads.log_entry(writers.threads.create_entry(thread, f"https://ampcode.com/threads/{thread}", rng.choice([
            "Add pagination to the /items endpoint", "Fix the flaky test in test_app.py", "Refactor the models into a package"])))
        writers.cli(["status"], 0, rng.randint(200, 400))
        while CLOCK.now < START + day * DAY + 6 * 3600:
            CLOCK.advance(rng.uniform(60, 900))
            path = rng.choice(FILES)
            writers.store_event("file:modified", {"path": path, "absolute_path": f"/home/dev/proj/{path}"}, "filesystem")
            for agent, typical in AGENTS:
                if rng.random() < 0.6:
                    seconds = round(typical * rng.uniform(0.5, 1.8), 2)
                    findings = rng.choice([0, 0, 0, 1, 2, 3])
                    success = rng.random() > 0.08
                    message = f"Found {findings} issues in {path}" if findings else "No issues"
                    writers.agent_run(agent, seconds, success, message if success else f"{agent} crashed", findings)
                    if findings and rng.random() < 0.5:
                        writers.telemetry.log_agent_finding(agent, "style" if agent != "type-checker" else "type-error",
                                                            telemetry.EventSeverity.WARNING, "Line too long", file=path, line=rng.randint(1, 300))
                    if agent == "formatter" and success and rng.random() < 0.4:
                        target = project / path
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text("x = 1\n")
                        writers.audit.log_fix_applied("formatter", target, before_content="x=1\n", after_content="x = 1\n",
                                                      fix_type="formatting", severity="low", duration_ms=int(seconds * 1000))
                    if agent == "test-runner":
                        writers.sandbox_audit.log_execution("bubblewrap", ["pytest", "-q"], project, sandbox.SandboxResult(
                            stdout="", stderr="", exit_code=0 if success else 1, duration_ms=int(seconds * 1000),
                            memory_peak_mb=round(rng.uniform(40, 180), 1), cpu_usage_percent=round(rng.uniform(20, 95), 1)))
                    if not success and rng.random() < 0.5:
                        try:
                            raise RuntimeError(f"{agent} exited with status 2")
                        except RuntimeError:
                            writers.logger(f"agent.{agent}").exception(f"Error in {agent}: exited with status 2")
                CLOCK.advance(rng.uniform(0.5, 3))
            if rng.random() < 0.25:
                # The agent checks for ready work again and again: a `bd ready` burst.
                for _ in range(rng.randint(3, 5)):
                    writers.cli(["bd", "ready", "--json"], 0, rng.randint(80, 200), thread=thread)
                    CLOCK.advance(rng.uniform(5, 40))
                writers.threads.record_agent_action(thread, "amp", "bd ready --json", output="[]", success=True)
            if rng.random() < 0.3:
                command = rng.choice([["status"], ["insights", "list"], ["feedback", "list-feedback"], ["telemetry", "stats"], ["audit", "recent"]])
                writers.cli(command, 0 if rng.random() > 0.1 else 1, rng.randint(150, 900))
            if rng.random() < 0.2:
                writers.cli(["bd", "show", f"proj-{rng.randint(1, 60):x}"], 0, rng.randint(60, 150), thread=thread)
            if rng.random() < 0.15:
                agent = rng.choice(AGENTS)[0]
                kind, value = rng.choice([(feedback.FeedbackType.THUMBS_DOWN, True), (feedback.FeedbackType.THUMBS_UP, True),
                                          (feedback.FeedbackType.RATING, rng.randint(1, 5)), (feedback.FeedbackType.DISMISS, None)])
                writers.loop.run_until_complete(writers.feedback.store_feedback(feedback.Feedback(
                    id=f"{rng.getrandbits(128):032x}", agent_name=agent, event_type=f"agent:{agent}:completed",
                    feedback_type=kind, value=value, comment="not useful" if kind == feedback.FeedbackType.THUMBS_DOWN else None)))
            if rng.random() < 0.1:
                writers.threads.record_user_action(thread, "manual_fix", f"fixed {path} by hand", time_after_last_agent_action=rng.randint(10, 120))
            if rng.random() < 0.05:
                writers.sandbox_audit.log_blocked_command("bubblewrap", ["curl", "https://pypi.org"], project, "network access not allowed")
        writers.telemetry.log_pre_commit_check(checks_run=4, passed=rng.random() > 0.3, duration_ms=rng.randint(1500, 4000))
        writers.telemetry.log_value_event("interruption_prevented", time_saved_ms=90000, description="Formatter fixed before commit")
    writers.close()
    for leftover in ("src", "tests", "README.md"):
        target = project / leftover
        if target.is_dir():
            import shutil
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
