//! `devloop-host exec` stands in for the command it wraps: any bytes as arguments, the signals
//! that end a command passed on to it (and its real status logged), a shell's exit code for a
//! command that is not there, and an exit code no logging problem changes.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

fn exec(home: &Path) -> Command {
    let mut command = Command::new(crate::binary());
    command.args(["exec", "--home-devloop-dir"]).arg(home).arg("--");
    command
}

/// The one record `exec` appended to `home`'s cli-actions.jsonl.
fn record(home: &Path) -> Result<serde_json::Value> {
    let log = std::fs::read_to_string(home.join("cli-actions.jsonl"))?;
    let lines: Vec<&str> = log.lines().collect();
    ensure!(lines.len() == 1, "one record expected: {log}");
    Ok(serde_json::from_str(lines[0])?)
}

#[test]
fn a_non_utf8_argument_reaches_the_command_unchanged() -> Result<()> {
    let home = tempfile::tempdir()?;
    let argument = OsStr::from_bytes(b"caf\xe9 \xff");
    let output = exec(home.path()).args(["printf", "%s"]).arg(argument).output()?;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout, argument.as_bytes());
    assert_eq!(record(home.path())?["command"], "printf %s caf\u{fffd} \u{fffd}");
    Ok(())
}

/// The host turns transparent huge pages off for itself, and a child inherits that: the
/// command `exec` wraps must run with the setting of whoever called `exec`.
#[cfg(target_os = "linux")]
#[test]
fn the_command_keeps_the_callers_huge_page_setting() -> Result<()> {
    let setting = |status: &str| status.lines().find(|line| line.starts_with("THP_enabled:")).map(str::to_owned);
    let ours = setting(&std::fs::read_to_string("/proc/self/status")?);
    let home = tempfile::tempdir()?;
    let output = exec(home.path()).args(["cat", "/proc/self/status"]).output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(setting(&String::from_utf8(output.stdout)?), ours);
    Ok(())
}

/// Starts `script` under `exec`, waits until it prints `ready`, sends `signal` to `exec` alone,
/// and returns how `exec` ended and the record it wrote.
fn signal_exec(signal: &str, script: &str) -> Result<(std::process::ExitStatus, serde_json::Value)> {
    let home = tempfile::tempdir()?;
    let mut child = exec(home.path()).args(["sh", "-c", script]).stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().context("piped stdout")?;
    let (ready, waiting) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = ready.send(line);
    });
    let line = waiting.recv_timeout(Duration::from_secs(60)).context("the command never said it was ready")?;
    ensure!(line == "ready\n", "unexpected output {line:?}");
    let sent = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status()?;
    ensure!(sent.success(), "kill -{signal} failed");
    let status = child.wait()?;
    Ok((status, record(home.path())?))
}

#[test]
fn each_signal_reaches_a_command_that_handles_it_and_its_exit_is_logged() -> Result<()> {
    for (signal, code) in [("INT", 71), ("TERM", 72), ("HUP", 73)] {
        let script = format!("trap 'exit {code}' {signal}; echo ready; while :; do sleep 0.05; done");
        let (status, record) = signal_exec(signal, &script)?;
        assert_eq!(status.code(), Some(code), "SIG{signal}: exec exits as the command did");
        assert_eq!(record["exit_code"], code, "SIG{signal}: {record}");
    }
    Ok(())
}

#[test]
fn a_command_ended_by_a_signal_is_logged_as_a_shell_sees_it_and_exec_ends_the_same_way() -> Result<()> {
    for (signal, number) in [("INT", 2), ("TERM", 15), ("HUP", 1)] {
        let (status, record) = signal_exec(signal, "echo ready; exec sleep 60")?;
        assert_eq!(status.signal(), Some(number), "SIG{signal}: exec ends by the child's signal: {status:?}");
        assert_eq!(record["exit_code"], 128 + number, "SIG{signal}: {record}");
    }
    Ok(())
}

#[test]
fn a_missing_command_exits_127_and_is_logged_as_127() -> Result<()> {
    let home = tempfile::tempdir()?;
    let output = exec(home.path()).arg("no-such-command-for-exec").output()?;
    assert_eq!(output.status.code(), Some(127));
    assert_eq!(record(home.path())?["exit_code"], 127);
    Ok(())
}

#[test]
fn a_failure_to_log_never_changes_the_exit_code() -> Result<()> {
    let output = Command::new(crate::binary())
        .args(["exec", "--", "sh", "-c", "exit 5"])
        .env_remove("HOME")
        .env_remove("DEVLOOP_HOME_DIR")
        .output()?;
    assert_eq!(output.status.code(), Some(5));
    assert!(String::from_utf8(output.stderr)?.contains("not logged"));

    let home = tempfile::tempdir()?;
    let blocked = home.path().join("a-file");
    std::fs::write(&blocked, "not a folder")?;
    let output = exec(&blocked).args(["sh", "-c", "exit 0"]).output()?;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}

#[test]
fn a_closed_stderr_never_changes_the_exit_code() -> Result<()> {
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let status = Command::new(crate::binary())
        .args(["exec", "--", "no-such-command-for-exec"])
        .env_remove("HOME")
        .env_remove("DEVLOOP_HOME_DIR")
        .stderr(writer)
        .status()?;
    assert_eq!(status.code(), Some(127), "neither the log nor stderr can take a word, and 127 stands");
    Ok(())
}

/// Counts the SIGINTs it gets; on SIGTERM it prints the count and exits with 40 + it. It says
/// `ready` with its parent's pid, which is `exec`.
const SIGINT_COUNTER: &str = "n=0
trap 'n=$((n+1)); echo int $n' INT
trap 'echo term $n; exit $((40+n))' TERM
echo ready $PPID
while :; do sleep 0.05; done
";

/// How a test sends the SIGINT: to the terminal's whole foreground process group by typing
/// Ctrl-C into it, or with kill(1) to `exec`'s pid alone.
#[derive(Clone, Copy, PartialEq)]
enum Interrupt {
    CtrlC,
    ExecAlone,
}

/// Runs [`SIGINT_COUNTER`] under `exec` in a terminal of its own (util-linux `script` gives
/// them a pseudo-terminal whose foreground process group they are), with `wrapper` before it
/// (`setsid` moves it out of that group), and sends one SIGINT as `interrupt` says. Once the
/// signal is out (the terminal echoes `^C`, or kill(1) has returned) and, if `counted`, the
/// command has counted it, it sends SIGTERM to `exec` alone, which passes it on: the count
/// the command then prints includes any SIGINT `exec` passed on, since `exec` handles its
/// pending signals and a shell runs its traps in signal-number order. Returns that count.
fn sigints_counted(interrupt: Interrupt, wrapper: &[&str], counted: bool) -> Result<u32> {
    let home = tempfile::tempdir()?;
    let script = home.path().join("counter.sh");
    std::fs::write(&script, SIGINT_COUNTER)?;
    let command = format!(
        "exec '{}' exec --home-devloop-dir '{}' -- {} sh '{}'",
        crate::binary().display(),
        home.path().display(),
        wrapper.join(" "),
        script.display()
    );
    let mut terminal = Command::new("script")
        .args(["--quiet", "--flush", "--return", "--command", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("util-linux `script` runs")?;
    let mut keyboard = terminal.stdin.take().context("piped stdin")?;
    let mut screen = terminal.stdout.take().context("piped stdout")?;
    let (chunk_sender, chunks) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(read) = std::io::Read::read(&mut screen, &mut buffer) {
            if read == 0 || chunk_sender.send(String::from_utf8_lossy(&buffer[..read]).into_owned()).is_err() {
                break;
            }
        }
    });
    let mut shown = String::new();
    let mut searched = 0;
    // What follows `text` on the screen, to the end of its line, once that is shown (nothing
    // for a `text` that ends with no line, like the terminal's echo of Ctrl-C).
    let mut wait_for = |text: &str| -> Result<String> {
        loop {
            if let Some(at) = shown[searched..].find(text) {
                let start = searched + at + text.len();
                if text == "^C" {
                    searched = start;
                    return Ok(String::new());
                }
                if let Some(end) = shown[start..].find('\n') {
                    searched = start;
                    return Ok(shown[start..start + end].trim().to_owned());
                }
            }
            let chunk = chunks
                .recv_timeout(Duration::from_secs(60))
                .with_context(|| format!("`{text}` never shown; the screen so far:\n{shown}"))?;
            shown.push_str(&chunk);
        }
    };
    let outcome = (|| -> Result<u32> {
        let exec_pid = wait_for("ready ")?;
        match interrupt {
            Interrupt::CtrlC => {
                use std::io::Write;
                keyboard.write_all(b"\x03")?;
                keyboard.flush()?;
                wait_for("^C")?;
            }
            Interrupt::ExecAlone => {
                ensure!(Command::new("kill").args(["-INT", &exec_pid]).status()?.success(), "kill -INT failed");
            }
        }
        if counted {
            wait_for("int ")?;
        }
        ensure!(Command::new("kill").args(["-TERM", &exec_pid]).status()?.success(), "kill -TERM failed");
        let count: u32 = wait_for("term ")?.parse()?;
        let status = terminal.wait()?;
        ensure!(status.code() == Some(40 + count as i32), "exec ends as the command did: {status:?}");
        Ok(count)
    })();
    let _ = terminal.kill();
    let _ = terminal.wait();
    outcome
}

#[test]
fn ctrl_c_in_a_terminal_reaches_the_command_once() -> Result<()> {
    assert_eq!(sigints_counted(Interrupt::CtrlC, &[], true)?, 1, "the terminal's SIGINT, and no second one from exec");
    Ok(())
}

/// The terminal already sent Ctrl-C to the command; `exec` must not send it again. A command
/// in a session of its own shows whether `exec` does: the terminal's SIGINT does not reach it.
#[test]
fn exec_does_not_pass_on_a_sigint_the_terminal_sent() -> Result<()> {
    assert_eq!(sigints_counted(Interrupt::CtrlC, &["setsid"], false)?, 0);
    Ok(())
}

#[test]
fn sigint_sent_to_exec_alone_reaches_the_command_once() -> Result<()> {
    assert_eq!(sigints_counted(Interrupt::ExecAlone, &[], true)?, 1, "exec passes it on, once");
    Ok(())
}
