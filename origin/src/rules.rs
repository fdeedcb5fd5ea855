//! The world's catalog rules (`[[catalog.rule]]`), checked once and turned
//! into header values: for a path, the longest matching prefix gives
//! `Content-Type`, `Cache-Control`, extra headers and surrogate keys.

use http::{HeaderName, HeaderValue};
use world::config::CatalogRule;

/// A catalog rule with its headers ready to send.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Path prefix.
    pub prefix: String,
    /// `Cache-Control`.
    pub cache_control: HeaderValue,
    /// `Content-Type`.
    pub content_type: HeaderValue,
    /// Extra surrogate keys, space-separated (may be empty).
    pub tags: String,
    /// Extra headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// All rules, for longest-prefix lookup.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Checks and converts the world's rules; the error names the rule.
    pub fn new(rules: &[CatalogRule]) -> Result<Rules, String> {
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let bad = |what: &str, v: &str| format!("catalog rule `{}`: {what} `{v}` is not a header value", r.prefix);
            let cache_control =
                HeaderValue::from_str(&r.cache_control).map_err(|_| bad("cache_control", &r.cache_control))?;
            let content_type =
                HeaderValue::from_str(&r.content_type).map_err(|_| bad("content_type", &r.content_type))?;
            let mut headers = Vec::with_capacity(r.headers.len());
            for h in &r.headers {
                let (n, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("catalog rule `{}`: header `{h}` is not `Name: value`", r.prefix))?;
                let name = HeaderName::from_bytes(n.trim().as_bytes()).map_err(|_| bad("header name", n.trim()))?;
                let value = HeaderValue::from_str(v.trim()).map_err(|_| bad("header", v.trim()))?;
                headers.push((name, value));
            }
            for t in &r.tags {
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(format!("catalog rule `{}`: tag `{t}` must be visible ASCII without spaces", r.prefix));
                }
            }
            out.push(Rule { prefix: r.prefix.clone(), cache_control, content_type, tags: r.tags.join(" "), headers });
        }
        Ok(Rules { rules: out })
    }

    /// The rule with the longest prefix of `path`, if any.
    pub fn for_path(&self, path: &str) -> Option<&Rule> {
        self.rules.iter().filter(|r| path.starts_with(&r.prefix)).max_by_key(|r| r.prefix.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, cc: &str) -> CatalogRule {
        CatalogRule { prefix: prefix.into(), cache_control: cc.into(), ..CatalogRule::default() }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let r = Rules::new(&[rule("/", "a"), rule("/obj/", "b"), rule("/obj/1", "c")]).unwrap();
        assert_eq!(r.for_path("/x").unwrap().cache_control, "a");
        assert_eq!(r.for_path("/obj/2").unwrap().cache_control, "b");
        assert_eq!(r.for_path("/obj/17").unwrap().cache_control, "c");
        assert!(Rules::new(&[rule("/obj/", "b")]).unwrap().for_path("/img").is_none());
    }

    #[test]
    fn bad_header_values_are_refused_with_the_prefix() {
        let mut bad = rule("/x/", "ok");
        bad.headers = vec!["NoColon".into()];
        assert!(Rules::new(&[bad]).unwrap_err().contains("/x/"));
        assert!(Rules::new(&[rule("/y/", "bad\nvalue")]).is_err());
    }
}
