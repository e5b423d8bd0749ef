//! Lenient parsing of the RateLimit header fields and `Retry-After`.
//!
//! `RateLimit-Policy: "default";q=100;w=60` and `RateLimit: "default";r=42;t=18` are Structured
//! Field lists of items with parameters (draft-ietf-httpapi-ratelimit-headers). The suite reads
//! them the way a forgiving client would: whitespace around separators, any parameter order,
//! a quoted string or a bare token for the name, several comma-separated policies. What it
//! does not forgive is a wrong number.

use std::collections::BTreeMap;

/// One list member: `"name";key=value;...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item's value, unquoted.
    pub name: String,
    /// Parameters, keys lowercased, values unquoted.
    pub params: BTreeMap<String, String>,
}

impl Item {
    /// Parameter `key` as a whole number.
    pub fn int(&self, key: &str) -> Result<u64, String> {
        let value = self
            .params
            .get(key)
            .ok_or_else(|| format!("no `{key}` parameter"))?;
        value
            .parse::<u64>()
            .map_err(|_| format!("`{key}={value}` is not a whole number"))
    }
}

/// Parses a list of items, splitting on commas outside quoted strings.
pub fn parse_list(field: &str) -> Result<Vec<Item>, String> {
    split_outside_quotes(field, ',')
        .into_iter()
        .map(str::trim)
        .filter(|member| !member.is_empty())
        .map(parse_item)
        .collect()
}

/// The member of `field` named `policy`.
pub fn policy_item(field: &str, policy: &str) -> Result<Item, String> {
    let items = parse_list(field)?;
    let names: Vec<&str> = items.iter().map(|item| item.name.as_str()).collect();
    items
        .iter()
        .find(|item| item.name == policy)
        .cloned()
        .ok_or_else(|| format!("no member named \"{policy}\" (names: {names:?})"))
}

fn parse_item(member: &str) -> Result<Item, String> {
    let mut parts = split_outside_quotes(member, ';').into_iter().map(str::trim);
    let name = unquote(parts.next().unwrap_or_default())?;
    let mut params = BTreeMap::new();
    for param in parts.filter(|p| !p.is_empty()) {
        let (key, value) = match param.split_once('=') {
            Some((key, value)) => (key.trim(), unquote(value.trim())?),
            None => (param, "?1".to_owned()),
        };
        params.insert(key.to_ascii_lowercase(), value);
    }
    Ok(Item { name, params })
}

/// `"a \"b\""` → `a "b"`; a bare token is returned as is.
fn unquote(text: &str) -> Result<String, String> {
    let Some(inner) = text.strip_prefix('"') else {
        return Ok(text.to_owned());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or_else(|| format!("unterminated string {text:?}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `Retry-After` as delta-seconds: a whole, non-negative number of seconds.
pub fn retry_after(field: &str) -> Result<u64, String> {
    let text = field.trim();
    text.parse::<u64>().map_err(|_| {
        format!("`Retry-After: {text}` is not a whole number of seconds (delta-seconds)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pinned_syntax_and_lenient_variants() {
        let item = policy_item("\"default\";q=100;w=60", "default").unwrap();
        assert_eq!((item.int("q"), item.int("w")), (Ok(100), Ok(60)));
        let item = policy_item("other;q=1, \"default\" ; w = 60 ;q=100", "default").unwrap();
        assert_eq!((item.int("q"), item.int("w")), (Ok(100), Ok(60)));
        assert!(policy_item("\"api\";r=1;t=2", "default").is_err());
    }

    #[test]
    fn unescapes_names_and_keeps_commas_in_strings() {
        let items = parse_list(r#""a,\"b\"";r=1"#).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].name, r#"a,"b""#);
    }

    #[test]
    fn retry_after_is_delta_seconds() {
        assert_eq!(retry_after(" 20 "), Ok(20));
        assert!(retry_after("1.5").is_err());
        assert!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT").is_err());
    }
}
