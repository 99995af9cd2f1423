//! A report as a PDF for the archive: A4 landscape pages of fixed-width text
//! (the standard Courier font, so nothing has to be embedded), the report's
//! parameters and notes first, then the table, then its source checkpoint,
//! every page numbered.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

use crate::report::Report;

const PAGE_WIDTH: f32 = 842.0;
const PAGE_HEIGHT: f32 = 595.0;
const MARGIN: f32 = 36.0;
const FONT_SIZE: f32 = 7.0;
const LEADING: f32 = 9.0;
/// Courier is 0.6 em wide.
const CHARS_PER_LINE: usize = ((PAGE_WIDTH - 2.0 * MARGIN) / (FONT_SIZE * 0.6)) as usize;
const LINES_PER_PAGE: usize = ((PAGE_HEIGHT - 2.0 * MARGIN) / LEADING) as usize - 2;

/// The em dash that opens a signed note's signature lines; Courier's
/// standard encoding has it at 0xD0, so checkpoints print exactly.
const EM_DASH: char = '\u{2014}';

/// Text the base-14 fonts can show: printable ASCII and the em dash,
/// anything else as `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c == EM_DASH || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// A printable line as the font's (standard encoding) bytes.
fn encode(line: &str) -> Vec<u8> {
    line.chars()
        .map(|c| if c == EM_DASH { 0xD0 } else { c as u8 })
        .collect()
}

/// `text` cut into lines of at most `CHARS_PER_LINE` characters.
fn wrap(text: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = printable(text).chars().collect();
    if chars.is_empty() {
        out.push(String::new());
    }
    for (i, chunk) in chars.chunks(CHARS_PER_LINE).enumerate() {
        let indent = if i == 0 { "" } else { "  " };
        out.push(format!("{indent}{}", chunk.iter().collect::<String>()));
    }
}

/// Every line the report prints, in order.
fn lines(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    wrap(&report.title.to_uppercase(), &mut out);
    wrap(
        &format!(
            "Generated {} by {}",
            report.generated_at, report.generated_by
        ),
        &mut out,
    );
    if let Ok(serde_json::Value::Object(parameters)) = serde_json::to_value(&report.parameters) {
        for (name, value) in parameters {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            wrap(&format!("{name}: {value}"), &mut out);
        }
    }
    out.push(String::new());
    for note in &report.notes {
        wrap(&format!("* {note}"), &mut out);
    }
    out.push(String::new());
    wrap(&report.columns.join(" | "), &mut out);
    wrap(&"-".repeat(CHARS_PER_LINE), &mut out);
    for row in &report.rows {
        wrap(&row.join(" | "), &mut out);
    }
    wrap(&format!("({} rows)", report.rows.len()), &mut out);
    out.push(String::new());
    let source = &report.source;
    wrap(
        &format!(
            "Source: {} entries read below tree size {}, verifiable with the offline verifier against this signed checkpoint:",
            source.entries_read, source.tree_size
        ),
        &mut out,
    );
    for line in source.checkpoint.lines() {
        wrap(line, &mut out);
    }
    out
}

/// The report as PDF bytes.
pub fn render(report: &Report) -> Vec<u8> {
    let lines = lines(report);
    let pages: Vec<&[String]> = lines.chunks(LINES_PER_PAGE).collect();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let first_page = 4;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.type1_font(font).base_font(Name(b"Courier"));
    for (i, (page_lines, id)) in pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(*id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree)
            .contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), font);
        drop(page);
        let footer = format!("{} - page {} of {}", report.title, i + 1, pages.len());
        pdf.stream(content_id, &page_content(page_lines, &footer));
    }
    pdf.finish()
}

fn page_content(lines: &[String], footer: &str) -> Vec<u8> {
    let mut content = Content::new();
    content.begin_text();
    content.set_font(Name(b"F1"), FONT_SIZE);
    content.set_leading(LEADING);
    content.next_line(MARGIN, PAGE_HEIGHT - MARGIN);
    for line in lines {
        content.show(Str(&encode(line)));
        content.next_line_using_leading();
    }
    content.end_text();
    content.begin_text();
    content.set_font(Name(b"F1"), FONT_SIZE);
    content.next_line(MARGIN, MARGIN / 2.0);
    content.show(Str(&encode(&printable(footer))));
    content.end_text();
    content.finish().into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_wrapped_and_non_ascii_shown_safely() {
        let mut out = Vec::new();
        wrap(&"x".repeat(CHARS_PER_LINE + 5), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], format!("  {}", "x".repeat(5)));
        assert_eq!(printable("Zoë\t(x)"), "Zo??(x)");
        assert_eq!(encode("\u{2014} a"), [0xD0, b' ', b'a']);
    }
}
