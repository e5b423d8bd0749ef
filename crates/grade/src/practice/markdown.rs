//! A small Markdown renderer for the terminal: exercise prompts, as `grade start` prints them.
//!
//! The prompts use a handful of constructs (headings, paragraphs with inline code and
//! emphasis, nested lists, fenced code, tables with long cells, links), so this renders those
//! well rather than everything passably: paragraphs are re-wrapped to the terminal's width,
//! list items hang under their marker, code blocks are indented and never wrapped, and table
//! cells wrap inside columns shrunk to fit. It walks `pulldown-cmark`'s event stream with a
//! stack of open containers (block quotes, list items) that make each line's prefix.
//!
//! With `styled` the output carries ANSI styles (bold headings, cyan code); without it, it is
//! plain text that still reads as Markdown where it matters: inline code keeps its backticks.
//! Either way the caller decides, from NO_COLOR and whether stdout is a terminal.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthChar;

const CODE: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();

/// Renders `markdown` for a terminal `width` columns wide.
pub fn render(markdown: &str, width: usize, styled: bool) -> String {
    let mut renderer = Renderer::new(width.max(20), styled);
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.finish()
}

/// Wraps plain `text` that starts at column `indent` (the caller writes whatever comes first
/// on the first line) to end by column `width`; continuation lines are indented to `indent`.
pub fn wrap_plain(text: &str, width: usize, indent: usize) -> String {
    let mut inline = Inline::default();
    inline.push(text, Style::new());
    let lines = wrap(&inline.tokens, width.saturating_sub(indent).max(10));
    lines
        .iter()
        .enumerate()
        .map(|(i, words)| {
            let pad = if i == 0 { 0 } else { indent };
            format!("{}{}", " ".repeat(pad), line_text(words, false).0)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A run of text in one style.
#[derive(Debug, Clone)]
struct Span {
    text: String,
    style: Style,
}

/// Text between two whitespace breaks, possibly in several styles (`` `retry`, ``).
#[derive(Debug, Clone, Default)]
struct Word {
    spans: Vec<Span>,
    width: usize,
}

#[derive(Debug, Clone)]
enum Token {
    Word(Word),
    Break,
}

/// The inline content of the block being read, as words to wrap.
#[derive(Debug, Default)]
struct Inline {
    tokens: Vec<Token>,
    /// Whether the next character continues the last word (no whitespace in between).
    open: bool,
}

impl Inline {
    fn push(&mut self, text: &str, style: Style) {
        for ch in text.chars() {
            if ch.is_whitespace() {
                self.open = false;
                continue;
            }
            if !self.open {
                self.tokens.push(Token::Word(Word::default()));
                self.open = true;
            }
            let Some(Token::Word(word)) = self.tokens.last_mut() else {
                unreachable!("an open word was just pushed");
            };
            word.width += ch.width().unwrap_or(0);
            match word.spans.last_mut() {
                Some(span) if span.style == style => span.text.push(ch),
                _ => word.spans.push(Span {
                    text: ch.to_string(),
                    style,
                }),
            }
        }
    }

    fn space(&mut self) {
        self.open = false;
    }

    fn hard_break(&mut self) {
        self.tokens.push(Token::Break);
        self.open = false;
    }

    fn take(&mut self) -> Vec<Token> {
        self.open = false;
        std::mem::take(&mut self.tokens)
    }
}

/// Greedy word wrap; a word wider than `width` gets a line of its own.
fn wrap(tokens: &[Token], width: usize) -> Vec<Vec<&Word>> {
    let mut lines = Vec::new();
    let mut line: Vec<&Word> = Vec::new();
    let mut used = 0;
    for token in tokens {
        match token {
            Token::Break => {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            Token::Word(word) => {
                if !line.is_empty() && used + 1 + word.width > width {
                    lines.push(std::mem::take(&mut line));
                    used = 0;
                }
                used += word.width + usize::from(!line.is_empty());
                line.push(word);
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A line of words joined by spaces, and its visible width. Runs in one style are painted
/// once, spaces between two words of a style included, which keeps the escapes few.
fn line_text(words: &[&Word], styled: bool) -> (String, usize) {
    let mut runs: Vec<Span> = Vec::new();
    let mut push = |text: &str, style: Style| match runs.last_mut() {
        Some(run) if run.style == style => run.text.push_str(text),
        _ => runs.push(Span {
            text: text.to_owned(),
            style,
        }),
    };
    let mut width = 0;
    let mut previous: Option<Style> = None;
    for word in words {
        let first = word.spans.first().map_or(Style::new(), |s| s.style);
        if let Some(previous) = previous {
            push(
                " ",
                if previous == first {
                    first
                } else {
                    Style::new()
                },
            );
            width += 1;
        }
        for span in &word.spans {
            push(&span.text, span.style);
        }
        width += word.width;
        previous = word.spans.last().map(|s| s.style);
    }
    let text = runs
        .iter()
        .map(|run| paint(&run.text, run.style, styled))
        .collect();
    (text, width)
}

fn paint(text: &str, style: Style, styled: bool) -> String {
    if styled && style != Style::new() {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

fn visible_width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// An open container: it decides the prefix of every line inside it.
#[derive(Debug)]
enum Container {
    Quote,
    Item {
        marker: String,
        width: usize,
        marker_shown: bool,
    },
}

#[derive(Debug, Default)]
struct Table {
    alignments: Vec<Alignment>,
    header: Option<Vec<Vec<Token>>>,
    rows: Vec<Vec<Vec<Token>>>,
    row: Vec<Vec<Token>>,
}

#[derive(Debug, Default)]
struct Emphasis {
    strong: u32,
    italic: u32,
    strike: u32,
}

struct Renderer {
    width: usize,
    styled: bool,
    out: String,
    containers: Vec<Container>,
    /// Per open list: the next number, or `None` for bullets.
    lists: Vec<Option<u64>>,
    /// A blank line is due before the next block.
    blank_pending: bool,
    inline: Inline,
    emphasis: Emphasis,
    heading: Option<HeadingLevel>,
    code_block: Option<String>,
    table: Option<Table>,
    links: Vec<String>,
}

impl Renderer {
    fn new(width: usize, styled: bool) -> Self {
        Self {
            width,
            styled,
            out: String::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            blank_pending: false,
            inline: Inline::default(),
            emphasis: Emphasis::default(),
            heading: None,
            code_block: None,
            table: None,
            links: Vec::new(),
        }
    }

    fn finish(mut self) -> String {
        self.flush_inline();
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out
    }

    fn style(&self) -> Style {
        let mut style = Style::new();
        if self.emphasis.strong > 0 || self.heading.is_some() {
            style = style.bold();
        }
        if self.emphasis.italic > 0 {
            style = style.italic();
        }
        if self.emphasis.strike > 0 {
            style = style.strikethrough();
        }
        style
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => match &mut self.code_block {
                Some(code) => code.push_str(&text),
                None => self.inline.push(&text, self.style()),
            },
            Event::Code(code) => {
                let style = self.style().fg_color(CODE.get_fg_color());
                if !self.styled {
                    self.inline.push("`", style);
                }
                // Inline code keeps its inner spaces' positions as break opportunities only.
                self.inline.push(&code, style);
                if !self.styled {
                    self.inline.push("`", style);
                }
            }
            Event::SoftBreak => self.inline.space(),
            Event::HardBreak => self.inline.hard_break(),
            Event::Rule => {
                self.flush_inline();
                self.start_block();
                let rule = "─".repeat(self.available().min(60));
                self.line(&paint(&rule, DIM, self.styled));
                self.blank_pending = true;
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                if !html.trim_start().starts_with("<!--") {
                    self.inline.push(&html, self.style());
                }
            }
            Event::TaskListMarker(done) => {
                self.inline
                    .push(if done { "[x]" } else { "[ ]" }, self.style());
                self.inline.space();
            }
            Event::FootnoteReference(name) => {
                self.inline.push(&format!("[^{name}]"), self.style());
            }
            Event::InlineMath(math) | Event::DisplayMath(math) => {
                self.inline.push(&math, self.style());
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush_inline();
                self.heading = Some(level);
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.start_block();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(_) => {
                self.flush_inline();
                self.code_block = Some(String::new());
            }
            Tag::List(first) => {
                self.flush_inline();
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush_inline();
                let marker = match self.lists.last_mut() {
                    Some(Some(number)) => {
                        let marker = format!("{number}. ");
                        *number += 1;
                        marker
                    }
                    _ if self.styled => "• ".to_owned(),
                    _ => "- ".to_owned(),
                };
                let width = visible_width(&marker);
                self.containers.push(Container::Item {
                    marker,
                    width,
                    marker_shown: false,
                });
            }
            Tag::Table(alignments) => {
                self.flush_inline();
                self.table = Some(Table {
                    alignments,
                    ..Table::default()
                });
            }
            Tag::Emphasis => self.emphasis.italic += 1,
            Tag::Strong => self.emphasis.strong += 1,
            Tag::Strikethrough => self.emphasis.strike += 1,
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.into_string());
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush_inline();
                self.blank_pending = true;
            }
            TagEnd::Heading(level) => self.heading_end(level),
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                self.containers.pop();
                self.blank_pending = true;
            }
            TagEnd::CodeBlock => {
                let code = self.code_block.take().unwrap_or_default();
                self.start_block();
                for line in code.trim_end_matches('\n').lines() {
                    let text = format!("    {}", paint(line, CODE, self.styled));
                    self.line(&text);
                }
                self.blank_pending = true;
            }
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                // Only the end of an outermost list separates it from what follows; a nested
                // list ending inside a tight item continues that item.
                if self.lists.is_empty() {
                    self.blank_pending = true;
                }
            }
            TagEnd::Item => {
                self.flush_inline();
                if let Some(Container::Item {
                    marker_shown: false,
                    ..
                }) = self.containers.last()
                {
                    self.start_block();
                    self.line("");
                }
                self.containers.pop();
            }
            TagEnd::TableCell => {
                let cell = self.inline.take();
                if let Some(table) = &mut self.table {
                    table.row.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.header = Some(std::mem::take(&mut table.row));
                }
            }
            TagEnd::TableRow => {
                if let Some(table) = &mut self.table {
                    let row = std::mem::take(&mut table.row);
                    table.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.table(table);
                }
                self.blank_pending = true;
            }
            TagEnd::Emphasis => self.emphasis.italic = self.emphasis.italic.saturating_sub(1),
            TagEnd::Strong => self.emphasis.strong = self.emphasis.strong.saturating_sub(1),
            TagEnd::Strikethrough => {
                self.emphasis.strike = self.emphasis.strike.saturating_sub(1);
            }
            TagEnd::Link | TagEnd::Image => {
                let Some(url) = self.links.pop() else { return };
                // Autolinks and in-page anchors say nothing more by repeating the target.
                let shown = self.inline_text_ends_with(&url);
                if !url.starts_with('#') && !shown {
                    self.inline.space();
                    self.inline.push(&format!("({url})"), DIM);
                }
            }
            _ => {}
        }
    }

    fn inline_text_ends_with(&self, url: &str) -> bool {
        let Some(Token::Word(word)) = self.inline.tokens.last() else {
            return false;
        };
        let text: String = word.spans.iter().map(|s| s.text.as_str()).collect();
        text.ends_with(url)
    }

    fn heading_end(&mut self, level: HeadingLevel) {
        let tokens = self.inline.take();
        self.heading = None;
        self.start_block();
        let available = self.available();
        let mut widest = 0;
        for words in wrap(&tokens, available) {
            let (text, width) = line_text(&words, self.styled);
            widest = widest.max(width);
            self.line(&text);
        }
        let underline = match level {
            HeadingLevel::H1 => Some('═'),
            HeadingLevel::H2 => Some('─'),
            _ => None,
        };
        if let Some(ch) = underline {
            let rule: String = std::iter::repeat_n(ch, widest).collect();
            self.line(&paint(&rule, DIM, self.styled));
        }
        self.blank_pending = true;
    }

    /// Columns left for content inside the open containers.
    fn available(&self) -> usize {
        let used: usize = self
            .containers
            .iter()
            .map(|c| match c {
                Container::Quote => 2,
                Container::Item { width, .. } => *width,
            })
            .sum();
        self.width.saturating_sub(used).max(10)
    }

    /// Emits the blank line a previous block asked for, if any.
    fn start_block(&mut self) {
        if self.blank_pending && !self.out.is_empty() {
            let mut prefix = String::new();
            for container in &self.containers {
                match container {
                    Container::Quote => prefix.push_str(&paint("│", DIM, self.styled)),
                    Container::Item { width, .. } => prefix.push_str(&" ".repeat(*width)),
                }
            }
            let _ = writeln!(self.out, "{}", prefix.trim_end());
        }
        self.blank_pending = false;
    }

    /// Emits one line of content behind the containers' prefix. An item's marker shows on
    /// its first line only; later lines hang under it.
    fn line(&mut self, content: &str) {
        let mut prefix = String::new();
        for container in &mut self.containers {
            match container {
                Container::Quote => prefix.push_str(&paint("│ ", DIM, self.styled)),
                Container::Item {
                    marker,
                    width,
                    marker_shown,
                } => {
                    if *marker_shown {
                        prefix.push_str(&" ".repeat(*width));
                    } else {
                        prefix.push_str(marker);
                        *marker_shown = true;
                    }
                }
            }
        }
        let line = format!("{prefix}{content}");
        let _ = writeln!(self.out, "{}", line.trim_end());
    }

    fn flush_inline(&mut self) {
        if self.inline.tokens.is_empty() {
            return;
        }
        let tokens = self.inline.take();
        self.start_block();
        for words in wrap(&tokens, self.available()) {
            let (text, _) = line_text(&words, self.styled);
            self.line(&text);
        }
    }

    fn table(&mut self, table: Table) {
        let mut rows: Vec<(bool, Vec<Vec<Token>>)> = Vec::new();
        if let Some(header) = table.header {
            rows.push((true, header));
        }
        rows.extend(table.rows.into_iter().map(|row| (false, row)));
        let columns = rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        if columns == 0 {
            return;
        }

        // Natural width of each column, and how narrow it may get: no narrower than its
        // longest word (up to a point), so identifiers are not split.
        let mut widths = vec![0usize; columns];
        let mut minimums = vec![0usize; columns];
        for (_, row) in &rows {
            for (i, cell) in row.iter().enumerate() {
                let natural = wrap(cell, usize::MAX)
                    .iter()
                    .map(|words| line_text(words, false).1)
                    .max()
                    .unwrap_or(0);
                let longest = cell
                    .iter()
                    .map(|t| match t {
                        Token::Word(w) => w.width,
                        Token::Break => 0,
                    })
                    .max()
                    .unwrap_or(0);
                widths[i] = widths[i].max(natural);
                minimums[i] = minimums[i].max(longest.min(24));
            }
        }
        for (width, minimum) in widths.iter_mut().zip(&mut minimums) {
            *minimum = (*minimum).clamp(1, (*width).max(1));
            *width = (*width).max(1);
        }
        let separators = 3 * (columns - 1);
        let available = self.available();
        while widths.iter().sum::<usize>() + separators > available {
            let Some(widest) = (0..columns)
                .filter(|&i| widths[i] > minimums[i])
                .max_by_key(|&i| widths[i])
            else {
                break;
            };
            widths[widest] -= 1;
        }

        let rendered: Vec<(bool, Vec<CellLines>)> = rows
            .iter()
            .map(|(header, row)| {
                let cells = (0..columns)
                    .map(|i| {
                        let Some(cell) = row.get(i) else {
                            return Vec::new();
                        };
                        let cell = if *header {
                            embolden(cell)
                        } else {
                            cell.clone()
                        };
                        wrap(&cell, widths[i])
                            .iter()
                            .map(|words| line_text(words, self.styled))
                            .collect()
                    })
                    .collect();
                (*header, cells)
            })
            .collect();
        let multiline = rendered
            .iter()
            .any(|(_, cells)| cells.iter().any(|lines| lines.len() > 1));
        let bar = paint(" │ ", DIM, self.styled);
        let rule = paint(
            &widths
                .iter()
                .map(|w| "─".repeat(*w))
                .collect::<Vec<_>>()
                .join("─┼─"),
            DIM,
            self.styled,
        );

        self.start_block();
        let count = rendered.len();
        for (index, (header, cells)) in rendered.into_iter().enumerate() {
            let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            for line in 0..height {
                let parts: Vec<String> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, lines)| {
                        let (text, width) = lines.get(line).cloned().unwrap_or_default();
                        let alignment = table.alignments.get(i).copied();
                        align(&text, width, widths[i], alignment)
                    })
                    .collect();
                self.line(&parts.join(&bar));
            }
            let last = index + 1 == count;
            if header || (multiline && !last) {
                self.line(&rule);
            }
        }
    }
}

/// A table cell wrapped into lines, each with its visible width.
type CellLines = Vec<(String, usize)>;

/// A header cell's tokens in bold.
fn embolden(cell: &[Token]) -> Vec<Token> {
    cell.iter()
        .map(|token| match token {
            Token::Word(word) => Token::Word(Word {
                spans: word
                    .spans
                    .iter()
                    .map(|s| Span {
                        text: s.text.clone(),
                        style: s.style.bold(),
                    })
                    .collect(),
                width: word.width,
            }),
            Token::Break => Token::Break,
        })
        .collect()
}

fn align(text: &str, width: usize, column: usize, alignment: Option<Alignment>) -> String {
    let room = column.saturating_sub(width);
    match alignment {
        Some(Alignment::Right) => format!("{}{text}", " ".repeat(room)),
        Some(Alignment::Center) => {
            format!(
                "{}{text}{}",
                " ".repeat(room / 2),
                " ".repeat(room - room / 2)
            )
        }
        _ => format!("{text}{}", " ".repeat(room)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(markdown: &str, width: usize) -> String {
        render(markdown, width, false)
    }

    #[test]
    fn paragraphs_are_rewrapped_and_inline_code_keeps_its_backticks() {
        let text = plain(
            "# Title\n\nSome text that goes on\nand on with `inline code` and **bold**.\n",
            24,
        );
        assert_eq!(
            text,
            "Title\n═════\n\nSome text that goes on\nand on with `inline\ncode` and bold.\n"
        );
    }

    #[test]
    fn list_items_hang_under_their_markers_and_nest() {
        let text = plain(
            "- first item that wraps around\n- second\n  1. nested one\n  2. nested two\n\nAfter.\n",
            20,
        );
        assert_eq!(
            text,
            "- first item that\n  wraps around\n- second\n  1. nested one\n  2. nested two\n\nAfter.\n"
        );
    }

    #[test]
    fn code_blocks_are_indented_and_never_wrapped() {
        let text = plain(
            "Before:\n\n```rust\nfn a_very_long_function_name() -> u32 { 1 }\n```\n\nAfter.\n",
            20,
        );
        assert_eq!(
            text,
            "Before:\n\n    fn a_very_long_function_name() -> u32 { 1 }\n\nAfter.\n"
        );
    }

    #[test]
    fn tables_fit_the_width_and_wrap_inside_cells() {
        let text = plain(
            "| id | what |\n|---|---|\n| `a` | a long description of a criterion |\n| `bb` | short |\n",
            24,
        );
        assert_eq!(
            text,
            "id   │ what\n\
             ─────┼──────────────────\n\
             `a`  │ a long\n\
             \x20    │ description of a\n\
             \x20    │ criterion\n\
             ─────┼──────────────────\n\
             `bb` │ short\n"
        );
    }

    #[test]
    fn styled_output_paints_code_and_drops_backticks() {
        let text = render("Use `retry`.\n", 40, true);
        assert!(text.contains("\u{1b}["), "{text:?}");
        assert!(!text.contains('`'), "{text:?}");
        assert_eq!(
            anstream::adapter::strip_str(&text).to_string(),
            "Use retry.\n"
        );
    }

    #[test]
    fn links_show_their_target_once() {
        assert_eq!(
            plain(
                "See [the docs](https://example.invalid/x) and <https://e.invalid>.\n",
                80
            ),
            "See the docs (https://example.invalid/x) and https://e.invalid.\n"
        );
    }

    #[test]
    fn quotes_and_rules() {
        assert_eq!(
            plain("> quoted text\n\n---\n\nend\n", 30),
            "│ quoted text\n\n──────────────────────────────\n\nend\n"
        );
    }

    #[test]
    fn wrap_plain_indents_continuations() {
        assert_eq!(
            wrap_plain("one two three four five", 14, 4),
            "one two\n    three four\n    five"
        );
    }
}
