//! The JSON Lines sink: one object per new or changed finding, appended, for other tools to
//! follow.

use std::io::Write;
use std::path::Path;

use crate::store::Change;

use super::render::finding_json;

/// Appends one line per change: the finding as `insights show --format json` prints it, plus
/// `change` (new, grew, reopened) and `routed_at`.
pub fn append(path: &Path, changes: &[&Change], now_ms: i64) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = String::new();
    for change in changes {
        let mut object = finding_json(&change.finding, now_ms);
        object["change"] = change.kind.label().into();
        object["routed_at"] = super::render::rfc3339(now_ms).into();
        text.push_str(&crate::escape::json(&object, false));
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}
