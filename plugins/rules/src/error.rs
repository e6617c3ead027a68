//! Errors in a pattern file, each naming the file, line and column it is about.

use thiserror::Error;

/// One problem in a pattern file.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct PatternError {
    /// The file (or other origin) the text came from.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
}

/// Where a byte offset falls in `text`, as a 1-based (line, column).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    (line, column)
}

/// Collects errors against one text, so validation reports every problem, not only the first.
pub(crate) struct Errors<'a> {
    origin: &'a str,
    text: &'a str,
    pub(crate) found: Vec<PatternError>,
}

impl<'a> Errors<'a> {
    pub(crate) fn new(origin: &'a str, text: &'a str) -> Self {
        Errors { origin, text, found: Vec::new() }
    }

    /// Records `message` about the text at byte range `span`.
    pub(crate) fn at(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.found.push(PatternError { origin: self.origin.to_owned(), line, column, message: message.into() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "id = \"a\"\nseverity = \"bad\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 20), (2, 12));
        assert_eq!(line_column(text, 999), (3, 1), "past the end is the last line");
    }
}
