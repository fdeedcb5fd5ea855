//! A strict reader of the Prometheus text exposition format (0.0.4), written
//! from the format's description rather than from our encoder, to check
//! what `/metrics` serves: names and label names well formed, label values
//! properly escaped, `# TYPE` before a family's samples and once only, a
//! family's samples together, histogram buckets cumulative and ending in
//! `+Inf` equal to `_count`.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Label pairs, sorted by name.
pub type Labels = Vec<(String, String)>;

/// One sample: name and labels → value.
pub type Samples = BTreeMap<(String, Labels), f64>;

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Every sample.
    pub samples: Samples,
    /// Family name → type.
    pub types: HashMap<String, String>,
}

impl Exposition {
    /// The value of `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        l.sort();
        self.samples.get(&(name.to_string(), l)).copied()
    }

    /// Like [`Exposition::get`], panicking with the name when missing.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || (colon && f == ':'))
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || (colon && x == ':'))
}

fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value `{s}`")),
    }
}

/// Parses the labels part after `{`; returns labels and the rest after `}`.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = rest[..eq].trim();
        if !is_name(name, false) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(format!("label `{name}` twice"));
        }
        labels.push((name.to_string(), value));
        rest = rest[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// Parses and checks an exposition; the error names the line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut e = Exposition::default();
    let mut helped: HashSet<String> = HashSet::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}: {line}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            let mut parts = c.trim_start().splitn(3, ' ');
            match parts.next() {
                Some("HELP") => {
                    let name = parts.next().ok_or_else(|| at("HELP without a name".into()))?;
                    if !helped.insert(name.to_string()) {
                        return Err(at(format!("second HELP for {name}")));
                    }
                }
                Some("TYPE") => {
                    let name = parts.next().ok_or_else(|| at("TYPE without a name".into()))?;
                    let t = parts.next().unwrap_or("").trim();
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(at(format!("unknown type `{t}`")));
                    }
                    if e.types.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(at(format!("second TYPE for {name}")));
                    }
                    if e.samples.keys().any(|(s, _)| family_of(s, &e.types) == name) {
                        return Err(at(format!("TYPE for {name} after its samples")));
                    }
                }
                _ => {}
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(at(format!("bad metric name `{name}`")));
        }
        let (mut labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end + 1..]).map_err(at)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at(format!("bad timestamp `{ts}`")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let family = family_of(name, &e.types).to_string();
        if current.as_deref() != Some(family.as_str()) {
            if done.contains(&family) {
                return Err(at(format!("samples of {family} are not together")));
            }
            if let Some(c) = current.take() {
                done.insert(c);
            }
            current = Some(family.clone());
        }
        labels.sort();
        if e.samples.insert((name.to_string(), labels), value).is_some() {
            return Err(at("the same series twice".into()));
        }
    }
    check_histograms(&e)?;
    Ok(e)
}

fn check_histograms(e: &Exposition) -> Result<(), String> {
    for (family, t) in &e.types {
        if t != "histogram" {
            continue;
        }
        // Series of the family by their labels without `le`.
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for ((name, labels), v) in &e.samples {
            if *name != format!("{family}_bucket") {
                continue;
            }
            let le = labels.iter().find(|(k, _)| k == "le").ok_or(format!("{family}_bucket without le"))?;
            let bound = parse_value(&le.1)?;
            let rest: Vec<_> = labels.iter().filter(|(k, _)| k != "le").cloned().collect();
            series.entry(rest).or_default().push((bound, *v));
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{labels:?}: buckets not cumulative"));
            }
            let last = buckets.last().ok_or("no buckets")?;
            if last.0 != f64::INFINITY {
                return Err(format!("{family}{labels:?}: no +Inf bucket"));
            }
            let count = e.samples.get(&(format!("{family}_count"), labels.clone()));
            if count != Some(&last.1) {
                return Err(format!("{family}{labels:?}: _count {count:?} != +Inf bucket {}", last.1));
            }
            if !e.samples.contains_key(&(format!("{family}_sum"), labels.clone())) {
                return Err(format!("{family}{labels:?}: no _sum"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_valid_exposition() {
        let t = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\"} 3\n\
                 # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count 2\n";
        let e = parse(t).unwrap();
        assert_eq!(e.value("a_total", &[("y", "q\"\\"), ("x", "1")]), 3.0);
        assert_eq!(e.value("h_count", &[]), 2.0);
    }

    #[test]
    fn refuses_what_prometheus_would() {
        for bad in [
            "a b c d\n",
            "1a 3\n",
            "a{b=1} 3\n",
            "a{b=\"x} 3\n",
            "a{b=\"\\x\"} 3\n",
            "a 1\nb 1\na{x=\"1\"} 1\n",
            "a 1\n# TYPE a counter\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
