//! Filing findings as beads issues through the `bd` CLI, exactly once per finding.
//!
//! Every issue carries `--external-ref devloop-host:FINGERPRINT`. Before creating anything,
//! the filer lists beads' issues (closed ones too) and adopts any issue with that ref; the
//! store commits the intent to create before `bd create` runs. So a crash between `bd create`
//! and recording its id, a `bd` that failed after creating, or a second machine sharing the
//! beads database all end in one issue. A finding that grows materially gets a comment on its
//! issue, never a second issue.
//!
//! The adapter ([`Bd`]) is thin on purpose: it speaks only the documented contract (`create`,
//! `list --all -n 0`, `comments add`, with `--json` in both output shapes), so the same tests
//! run against the stand-in under `tests/bd-stand-in/` and against the real `bd` (`BD_BIN`).

mod cli;
mod export;
mod filing;
mod issue;

pub use cli::{Bd, BdError, BdIssue, EXTERNAL_REF_PREFIX, external_ref, shell_words};
pub use export::export_jsonl;
pub use filing::{FilingError, FilingReport, MAX_CREATES_PER_PASS, Mode, file_pending, file_with};
pub use issue::{NewIssue, growth_comment};
