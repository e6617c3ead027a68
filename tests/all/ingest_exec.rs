//! `devloop-host exec`: the command runs with its own stdio and exit code, and the record it
//! leaves is one devloop's own `ActionLogger` reads back.

use std::process::Command;

use anyhow::Result;
use devloop_host_tests::devloop::{python, script};

#[test]
fn exec_passes_the_exit_code_through_and_devloop_reads_the_record() -> Result<()> {
    let home = tempfile::tempdir()?;
    let output = Command::new(crate::binary())
        .args(["exec", "--home-devloop-dir"])
        .arg(home.path())
        .args(["--", "sh", "-c", "echo out-from-child; exit 3"])
        .env("AMP_CURRENT_THREAD_ID", "T-019c62c5-ce64-720a-b597-4decc9036d53")
        .env("AMP_THREAD_ID", "T-older")
        .env_remove("AMP_THREAD_URL")
        .env("USER", "dev")
        .env("CI", "true")
        .output()?;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(String::from_utf8(output.stdout)?, "out-from-child\n", "the child's stdout is inherited");

    let read = Command::new(python()).arg(script("read_cli_actions.py")).arg(home.path()).output()?;
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let actions: Vec<serde_json::Value> = serde_json::from_slice(&read.stdout)?;
    assert_eq!(actions.len(), 1, "{actions:?}");
    let action = &actions[0];
    assert_eq!(action["command"], "sh -c echo out-from-child; exit 3");
    assert_eq!(action["exit_code"], 3);
    assert_eq!(action["thread_id"], "T-019c62c5-ce64-720a-b597-4decc9036d53");
    assert_eq!(action["thread_url"], "https://ampcode.com/threads/T-019c62c5-ce64-720a-b597-4decc9036d53");
    assert_eq!(action["user"], "dev");
    assert_eq!(action["environment"]["CI"], "true");
    assert_eq!(action["environment"]["AMP_THREAD_ID"], "T-older");
    assert_eq!(action["re_serialized_equal"], true, "json.dumps gives back the very same line");
    Ok(())
}

#[test]
fn exec_logs_a_command_that_cannot_start_and_says_so() -> Result<()> {
    let home = tempfile::tempdir()?;
    let output = Command::new(crate::binary())
        .args(["exec", "--home-devloop-dir"])
        .arg(home.path())
        .args(["--", "definitely-not-a-command-xyz"])
        .output()?;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)?.contains("cannot run `definitely-not-a-command-xyz`"));
    let log = std::fs::read_to_string(home.path().join("cli-actions.jsonl"))?;
    let record: serde_json::Value = serde_json::from_str(log.trim_end())?;
    assert_eq!(record["exit_code"], 127);
    assert!(record["error_message"].as_str().is_some_and(|message| !message.is_empty()));
    Ok(())
}
