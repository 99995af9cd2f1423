//! Line and column positions of problems in uploaded texts.

use serde::Serialize;

/// A 1-based line and column in a named file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SourceLocation {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourceLocation {
    /// The position of byte `offset` in `text`.
    pub fn at_offset(file: &str, text: &str, offset: usize) -> Self {
        let before = text.get(..offset.min(text.len())).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Self {
            file: file.to_owned(),
            line,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "ab\ncd\nef";
        assert_eq!(SourceLocation::at_offset("f", text, 0).line, 1);
        let loc = SourceLocation::at_offset("f", text, 4);
        assert_eq!((loc.line, loc.column), (2, 2));
        let end = SourceLocation::at_offset("f", text, 100);
        assert_eq!((end.line, end.column), (3, 3));
    }
}
