//! Text from logs and plugins, made fit for the sink it goes to.
//!
//! Every string a finding carries (message, key, evidence, thread ids, recommendation) comes
//! from a log line someone's shell or agent wrote, or from a third-party plugin. Such text may
//! make its own output wrong, never anyone else's: it must not drive the terminal (escape and
//! OSC sequences, bidi overrides), add headings, links or HTML to Markdown, break out of a code
//! span, or make `bd` impossible to start (a NUL byte, an argument past the kernel's limit).
//!
//! The rules are one per sink, so each renderer says which it needs: [`terminal`] and
//! [`terminal_line`] for text a person reads on a terminal, [`markdown_text`],
//! [`markdown_code`] and [`markdown_fence`] for Markdown (which also reaches terminals), and
//! [`cap`] to bound what goes into a `bd` argument. Escaping is visible (`\u{1b}`), never
//! silent deletion, so what was logged can still be read.

use std::fmt::Write;

/// Characters that change how a terminal or a Markdown renderer shows the text around them:
/// C0 and C1 controls, DEL, bidirectional overrides and isolates, and the Unicode line and
/// paragraph separators.
fn is_unsafe(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(character, '\u{2028}' | '\u{2029}')
}

fn push_escaped(out: &mut String, character: char) {
    write!(out, "\\u{{{:x}}}", u32::from(character)).expect("writing to a String cannot fail");
}

/// `text` with every unsafe character but newline and tab written as `\u{…}`, for text shown
/// on several lines.
pub fn terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' | '\t' => out.push(character),
            unsafe_character if is_unsafe(unsafe_character) => push_escaped(&mut out, unsafe_character),
            safe => out.push(safe),
        }
    }
    out
}

/// `text` on one line: newlines, carriage returns and tabs become spaces, every other unsafe
/// character is written as `\u{…}`.
pub fn terminal_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' | '\r' | '\t' => out.push(' '),
            unsafe_character if is_unsafe(unsafe_character) => push_escaped(&mut out, unsafe_character),
            safe => out.push(safe),
        }
    }
    out
}

/// Markdown that reads as `text` and nothing else, on one line: no heading, list, link,
/// emphasis, table cell break or HTML can come from it. Fit for headings and table cells.
pub fn markdown_text(text: &str) -> String {
    let line = terminal_line(text);
    let mut out = String::with_capacity(line.len());
    let trimmed = line.trim_start();
    out.push_str(&line[..line.len() - trimmed.len()]);
    // A line that begins like a block (`# `, `- `, `> `, `1. `) is escaped where it begins.
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    let starts_block =
        trimmed.starts_with(['-', '+', '=', '#', '>']) || (digits > 0 && trimmed[digits..].starts_with(['.', ')']));
    for (index, character) in trimmed.char_indices() {
        let block_marker = starts_block && index == digits;
        if block_marker || "\\`*_[]<>|~!&#".contains(character) {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// Several lines of Markdown text, each escaped as [`markdown_text`] does.
pub fn markdown_paragraph(text: &str) -> String {
    text.lines().map(markdown_text).collect::<Vec<_>>().join("\n")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|character| character != '`').map(str::len).max().unwrap_or(0)
}

/// An inline code span showing `text` on one line, fenced with more backticks than any run
/// inside it, so no backtick in the data can end it early.
pub fn markdown_code(text: &str) -> String {
    let line = terminal_line(text);
    let fence = "`".repeat(longest_backtick_run(&line) + 1);
    // CommonMark strips one space on each side, so a span may start or end with a backtick.
    let pad = if line.starts_with('`') || line.ends_with('`') || line.is_empty() { " " } else { "" };
    format!("{fence}{pad}{line}{pad}{fence}")
}

/// A fenced code block holding `text`, its fence longer than any backtick run inside.
pub fn markdown_fence(text: &str, info: &str) -> String {
    let body = terminal(text);
    let fence = "`".repeat((longest_backtick_run(&body) + 1).max(3));
    format!("{fence}{info}\n{body}\n{fence}")
}

/// JSON text with the characters [`terminal`] would escape written as JSON escapes
/// (`\u001b`): the same JSON value, safe to show. serde_json leaves C1 controls, DEL and bidi
/// overrides raw, and they can occur only inside strings, where `\uXXXX` means the same.
pub fn json(value: &serde_json::Value, pretty: bool) -> String {
    let text = if pretty { format!("{value:#}") } else { value.to_string() };
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if is_unsafe(character) && !matches!(character, '\n' | ' ') {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                write!(out, "\\u{unit:04x}").expect("writing to a String cannot fail");
            }
        } else {
            out.push(character);
        }
    }
    out
}

/// `text` cut to at most `max_bytes` bytes on a character boundary, with `…` and `note` where
/// it was cut.
pub fn cap(text: &str, max_bytes: usize, note: &str) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let suffix = format!("…{note}");
    let mut end = max_bytes.saturating_sub(suffix.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_cannot_drive_the_terminal() {
        let hostile = "ls\u{1b}]8;;http://evil\u{7}x\u{1b}[2J\u{9b}31m\u{202e}gnp.exe\u{0}";
        let shown = terminal(hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown:?}");
        assert_eq!(shown, r"ls\u{1b}]8;;http://evil\u{7}x\u{1b}[2J\u{9b}31m\u{202e}gnp.exe\u{0}");
        assert_eq!(terminal("two\nlines\tok"), "two\nlines\tok");
        assert_eq!(terminal_line("two\r\nlines"), "two  lines");
    }

    #[test]
    fn markdown_text_has_no_structure_of_its_own() {
        assert_eq!(
            markdown_text("T-1\n## Owned [x](http://e.vil) <img src=x>"),
            r"T-1 \#\# Owned \[x\](http://e.vil) \<img src=x\>"
        );
        assert_eq!(markdown_text("# heading"), r"\# heading");
        assert_eq!(markdown_text("- item"), r"\- item");
        assert_eq!(markdown_text("12. item"), r"12\. item");
        assert_eq!(markdown_text("a | b"), r"a \| b");
        assert_eq!(markdown_text("bd ready --json"), "bd ready --json");
    }

    #[test]
    fn code_spans_outlast_any_backtick_run() {
        assert_eq!(markdown_code("bd ready"), "`bd ready`");
        assert_eq!(markdown_code("echo `x` ``y``"), "``` echo `x` ``y`` ```");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(markdown_code("a\nb"), "`a b`");
        assert_eq!(markdown_fence("```\nx", "json"), "````json\n```\nx\n````");
    }

    #[test]
    fn json_stays_the_same_value() -> Result<(), serde_json::Error> {
        let value = serde_json::json!({"command": "a\u{9b}b\u{1b}\u{202e}\n"});
        let text = json(&value, true);
        assert!(!text.chars().any(|character| is_unsafe(character) && character != '\n'), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text)?, value);
        Ok(())
    }

    #[test]
    fn cap_cuts_on_a_character_boundary() {
        assert_eq!(cap("short", 10, " (cut)"), "short");
        let cut = cap(&"é".repeat(100), 21, "!");
        assert!(cut.len() <= 21 && cut.ends_with("…!"), "{cut}");
    }
}
