//! Judging NDJSON output by structure, not by bytes.
//!
//! Any valid JSON encoding of the right objects must pass: `"é"` or `"\u00e9"`, spaces after
//! colons or none. So each output line is parsed, keeping its keys in the order they appear
//! (a plain `serde_json::Map` would sort them and hide a key-order bug), and both sides are
//! rendered in one canonical form, one record per line, for a text diff the candidate can read.

use std::fmt;

use grade_kit::{CheckResult, ensure_text_eq};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// One record: its (key, value) pairs in order.
pub type Record = Vec<(String, String)>;

/// A record from `(key, value)` literals.
pub fn rec(pairs: &[(&str, &str)]) -> Record {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The canonical rendering of the expected records.
pub fn render_expected(records: &[Record]) -> String {
    records.iter().map(render_record).collect()
}

/// The canonical rendering of actual NDJSON output: one line per record, or a line saying
/// what is wrong with an output line that is not a JSON object of strings.
pub fn render_output(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let mut rendered = String::new();
    let mut lines: Vec<&str> = text.split('\n').collect();
    // Every line ends with '\n', so the last piece is empty; anything else is a line without
    // its newline, which NDJSON does not allow.
    let unterminated = lines.pop().filter(|last| !last.is_empty());
    for line in lines.iter().copied().chain(unterminated) {
        match serde_json::from_str::<Ordered>(line) {
            Ok(Ordered(pairs)) => rendered.push_str(&render_pairs(&pairs)),
            Err(error) => {
                rendered.push_str(&format!("<not a JSON object ({error}): {line:?}>\n"));
            }
        }
    }
    if unterminated.is_some() {
        rendered.push_str("<the output does not end with a newline>\n");
    }
    if std::str::from_utf8(output).is_err() {
        rendered.push_str("<the output is not valid UTF-8>\n");
    }
    rendered
}

/// Fails unless `output` holds exactly `expected`, with a diff of the canonical renderings.
///
/// Long renderings are cut to a window around the first difference, so a report about a
/// large input stays readable.
pub fn compare(output: &[u8], expected: &[Record], what: &str) -> CheckResult {
    let actual = render_output(output);
    let expected = render_expected(expected);
    if actual == expected {
        return Ok(());
    }
    let (actual, expected, note) = window(&actual, &expected);
    ensure_text_eq!(
        actual,
        expected,
        "wrong NDJSON for {what}{note} (one record per line, rendered canonically: keys in \
         output order, values as JSON strings)"
    );
    Ok(())
}

fn render_record(record: &Record) -> String {
    let pairs: Vec<(String, Value)> = record
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    render_pairs(&pairs)
}

fn render_pairs(pairs: &[(String, Value)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(_) => value.to_string(),
                other => format!("<not a string: {other}>"),
            };
            format!("{}: {value}", Value::String(key.clone()))
        })
        .collect();
    format!("{{{}}}\n", body.join(", "))
}

/// Lines of context shown before the first difference, and lines shown in all.
const CONTEXT: usize = 3;
const SHOWN: usize = 16;

/// Cuts both renderings to the lines around their first difference, when they are long.
fn window(actual: &str, expected: &str) -> (String, String, String) {
    let (a, e): (Vec<&str>, Vec<&str>) = (
        actual.split_inclusive('\n').collect(),
        expected.split_inclusive('\n').collect(),
    );
    if a.len().max(e.len()) <= SHOWN {
        return (actual.to_owned(), expected.to_owned(), String::new());
    }
    let first = a.iter().zip(&e).take_while(|(x, y)| x == y).count();
    let from = first.saturating_sub(CONTEXT);
    let cut = |lines: &[&str]| lines.iter().skip(from).take(SHOWN).copied().collect();
    let note = format!(
        " ({} lines of output, {} expected; the first {first} match; showing lines {}..{})",
        a.len(),
        e.len(),
        from + 1,
        from + SHOWN,
    );
    (cut(&a), cut(&e), note)
}

/// A JSON object with its entries in document order.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;

        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Value>()? {
                    pairs.push(pair);
                }
                Ok(Ordered(pairs))
            }
        }

        deserializer.deserialize_map(OrderedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_that_mean_the_same_render_the_same() {
        let a = render_output(b"{\"b\":\"\\u00e9\",\"a\":\"x\"}\n");
        let b = render_output("{ \"b\" : \"é\" , \"a\" : \"x\" }\n".as_bytes());
        assert_eq!(a, b);
        assert_eq!(a, render_expected(&[rec(&[("b", "é"), ("a", "x")])]));
    }

    #[test]
    fn problems_are_rendered_as_lines() {
        let rendered = render_output(b"{\"a\":1}\nnope\n{\"a\":\"x\"}");
        assert!(rendered.contains("<not a string: 1>"), "{rendered}");
        assert!(rendered.contains("<not a JSON object"), "{rendered}");
        assert!(rendered.ends_with("<the output does not end with a newline>\n"));
    }
}
