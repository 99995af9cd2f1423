//! A report as JSON, CSV, HTML or PDF.
//!
//! CSV cells that a spreadsheet would take for a formula (starting with `=`,
//! `+`, `-`, `@`, a tab or a carriage return) are prefixed with `'`, so a
//! value recorded from a request can never run in the reader's spreadsheet.
//! The table comes first (the first line is the column headings); the
//! report's parameters and source follow after an empty line.

use std::borrow::Cow;

use crate::report::Report;

/// The formats a report is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The report object.
    Json,
    /// The table, then the parameters and source.
    Csv,
    /// A page for people: headings, the table, parameters and source.
    Html,
    /// Pages for the archive (see [`crate::pdf`]).
    Pdf,
}

impl Format {
    /// The format named `name` (`json`, `csv`, `html`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            "html" => Some(Self::Html),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> Vec<u8> {
    match format {
        Format::Json => serde_json::to_vec_pretty(report).unwrap_or_default(),
        Format::Csv => csv(report).into_bytes(),
        Format::Html => html(report).into_bytes(),
        Format::Pdf => crate::pdf::render(report),
    }
}

/// A cell a spreadsheet will show as text, never evaluate.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// What a report says about itself, as label and value pairs.
fn about(report: &Report) -> Vec<(String, String)> {
    let mut lines = vec![
        ("report".to_owned(), report.title.clone()),
        ("generated_at".to_owned(), report.generated_at.clone()),
        ("generated_by".to_owned(), report.generated_by.clone()),
    ];
    if let Ok(serde_json::Value::Object(parameters)) = serde_json::to_value(&report.parameters) {
        for (name, value) in parameters {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            lines.push((format!("parameter.{name}"), value));
        }
    }
    let source = &report.source;
    let range = match (source.first_sequence, source.last_sequence) {
        (Some(first), Some(last)) => format!("{first}..={last}"),
        _ => "none".to_owned(),
    };
    lines.push(("source.tree_size".to_owned(), source.tree_size.to_string()));
    lines.push((
        "source.entries_read".to_owned(),
        source.entries_read.to_string(),
    ));
    lines.push(("source.sequence_range".to_owned(), range));
    lines.push(("source.checkpoint".to_owned(), source.checkpoint.clone()));
    lines
}

fn csv(report: &Report) -> String {
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut write = |cells: &[String]| {
        let safe = cells.iter().map(|cell| match spreadsheet_safe(cell) {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        });
        // Writing to memory cannot fail.
        let _ = out.write_record(safe);
    };
    write(&report.columns);
    for row in &report.rows {
        write(row);
    }
    write(&[String::new()]);
    for note in &report.notes {
        write(&["note".to_owned(), note.clone()]);
    }
    for (label, value) in about(report) {
        write(&[label, value]);
    }
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Text made safe inside HTML elements and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;color:#111;background:#fff;margin:1.5rem;line-height:1.4}\
table{border-collapse:collapse;width:100%;font-size:.9rem}caption{text-align:left;font-weight:600;padding:.5rem 0}\
th,td{border:1px solid #555;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#e8e8e8}\
dt{font-weight:600}dd{margin:0 0 .4rem 0}pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem;border:1px solid #555}";

fn html(report: &Report) -> String {
    let title = escape(&report.title);
    let head: String = report
        .columns
        .iter()
        .map(|c| format!("<th scope=\"col\">{}</th>", escape(c)))
        .collect();
    let body: String = report
        .rows
        .iter()
        .map(|row| {
            let cells: String = row
                .iter()
                .map(|c| format!("<td>{}</td>", escape(c)))
                .collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    let notes: String = report
        .notes
        .iter()
        .map(|n| format!("<li>{}</li>", escape(n)))
        .collect();
    let about: String = about(report)
        .into_iter()
        .filter(|(label, _)| label != "source.checkpoint")
        .map(|(label, value)| format!("<dt>{}</dt><dd>{}</dd>", escape(&label), escape(&value)))
        .collect();
    let rows = report.rows.len();
    let charts = charts(report);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>\
         <h1>{title}</h1><ul>{notes}</ul>{charts}\
         <table><caption>{rows} rows</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\
         <section aria-labelledby=\"about\"><h2 id=\"about\">About this report</h2><dl>{about}</dl>\
         <h3>Signed ledger checkpoint</h3><pre>{}</pre></section></main></body></html>",
        escape(&report.source.checkpoint)
    )
}

/// Counts of `report`'s rows by the value `key` derives from column `name`.
fn counts(report: &Report, name: &str, key: impl Fn(&str) -> String) -> Vec<(String, usize)> {
    let Some(index) = report.columns.iter().position(|c| c == name) else {
        return Vec::new();
    };
    let mut counts = std::collections::BTreeMap::new();
    for row in &report.rows {
        if let Some(cell) = row.get(index) {
            *counts.entry(key(cell)).or_insert(0) += 1;
        }
    }
    counts.into_iter().collect()
}

/// Charts for the reports that have times or departments: rows over time
/// (per day), by hour of the day (UTC) and by department.
fn charts(report: &Report) -> String {
    if report.rows.is_empty() {
        return String::new();
    }
    let by_day = counts(report, "time", |t| t.chars().take(10).collect());
    let by_hour = counts(report, "time", |t| t.get(11..13).unwrap_or("").to_owned());
    let by_department = counts(report, "department", |d| {
        if d.is_empty() {
            "(none)".to_owned()
        } else {
            d.to_owned()
        }
    });
    [
        ("over-time", "Rows per day", by_day),
        ("by-hour", "Rows by hour of the day (UTC)", by_hour),
        ("by-department", "Rows by department", by_department),
    ]
    .into_iter()
    .filter(|(_, _, bars)| !bars.is_empty())
    .map(|(id, title, bars)| bar_chart(id, title, &bars))
    .collect()
}

/// An accessible SVG bar chart; the table below it carries the same data.
fn bar_chart(id: &str, title: &str, bars: &[(String, usize)]) -> String {
    const WIDTH: usize = 640;
    const HEIGHT: usize = 160;
    let most = bars.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let step = WIDTH / bars.len().max(1);
    let width = step.saturating_sub(2).max(1);
    let label_every = bars.len().div_ceil(16).max(1);
    let shapes: String = bars
        .iter()
        .enumerate()
        .map(|(i, (label, n))| {
            let height = n * HEIGHT / most;
            let x = i * step;
            let y = HEIGHT - height;
            let text = if i % label_every == 0 {
                format!(
                    "<text x=\"{x}\" y=\"{}\" font-size=\"10\">{}</text>",
                    HEIGHT + 14,
                    escape(label)
                )
            } else {
                String::new()
            };
            format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" fill=\"#1f4e79\"><title>{}: {n}</title></rect>{text}",
                escape(label)
            )
        })
        .collect();
    format!(
        "<figure><svg role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {WIDTH} {}\" width=\"100%\" height=\"190\">\
         <title id=\"{id}\">{title}: at most {most}</title>{shapes}</svg><figcaption>{title}</figcaption></figure>",
        HEIGHT + 20
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_neutralised() {
        for formula in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(spreadsheet_safe(formula).starts_with('\''), "{formula:?}");
        }
        assert_eq!(spreadsheet_safe("dr-heart"), "dr-heart");
        assert_eq!(spreadsheet_safe(""), "");
    }

    #[test]
    fn charts_count_rows_by_day_hour_and_department() {
        let report = Report {
            kind: crate::ReportKind::BreakGlass,
            title: "t".into(),
            parameters: crate::Parameters::default(),
            generated_at: String::new(),
            generated_by: String::new(),
            source: crate::Source {
                checkpoint: String::new(),
                tree_size: 0,
                entries_read: 0,
                first_sequence: None,
                last_sequence: None,
            },
            notes: Vec::new(),
            columns: vec!["time".into(), "department".into()],
            rows: vec![
                vec!["2026-10-01T02:00:00Z".into(), "icu".into()],
                vec!["2026-10-01T14:00:00Z".into(), "icu".into()],
                vec!["2026-10-02T14:30:00Z".into(), "".into()],
            ],
        };
        let by_hour = counts(&report, "time", |t| t.get(11..13).unwrap_or("").to_owned());
        assert_eq!(by_hour, [("02".to_owned(), 1), ("14".to_owned(), 2)]);
        let html = charts(&report);
        assert_eq!(html.matches("<svg role=\"img\"").count(), 3);
        assert!(html.contains("<title>(none): 1</title>"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }
}
