//! Variants of a URL (`Vary`, RFC 9111 §4.1). A URL whose responses vary
//! keeps a [`crate::entry::VarySpec`] under its own key; each variant lives
//! under a key built from the selecting request fields, normalised so that
//! equivalent requests share a variant: `Accept-Encoding: gzip, br` and
//! `br,gzip` select the same one; whitespace and list layout do not matter.

use http::{HeaderMap, HeaderName};

use crate::key::CacheKey;

/// The key of the variant of `primary` selected by `req`.
pub fn variant_key(primary: &CacheKey, names: &[HeaderName], req: &HeaderMap) -> CacheKey {
    let mut s = String::with_capacity(primary.as_str().len() + 32);
    s.push_str(primary.as_str());
    for n in names {
        s.push('\0');
        s.push_str(n.as_str());
        s.push('=');
        match normalised(n, req) {
            Some(v) => s.push_str(&v),
            None => s.push('\u{1}'), // absent differs from empty
        }
    }
    CacheKey::from_stored(s)
}

/// The normalised value of a selecting field in a request (`None` when absent).
pub fn normalised(name: &HeaderName, req: &HeaderMap) -> Option<String> {
    let mut values = req.get_all(name).iter().peekable();
    values.peek()?;
    let joined: Vec<String> = values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|m| !m.is_empty())
        .collect();
    let n = name.as_str();
    if n == "accept-encoding" {
        let mut codings: Vec<String> = joined
            .iter()
            .filter_map(|m| {
                let mut parts = m.split(';');
                let coding = parts.next()?.trim().to_ascii_lowercase();
                let refused = parts.any(|p| {
                    let p = p.trim().to_ascii_lowercase();
                    p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
                });
                (!refused && !coding.is_empty()).then_some(coding)
            })
            .collect();
        codings.sort();
        codings.dedup();
        return Some(codings.join(","));
    }
    let lower = matches!(n, "accept-language" | "accept-charset");
    let v = joined.join(",");
    Some(if lower { v.to_ascii_lowercase() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::headers::map_of as req;

    #[test]
    fn accept_encoding_is_normalised_as_a_set() {
        let ae = HeaderName::from_static("accept-encoding");
        let a = normalised(&ae, &req(&[("accept-encoding", "gzip, br")]));
        let b = normalised(&ae, &req(&[("accept-encoding", "BR,gzip, gzip")]));
        let c = normalised(&ae, &req(&[("accept-encoding", "br"), ("accept-encoding", "gzip;q=0.5, zstd;q=0")]));
        assert_eq!(a.as_deref(), Some("br,gzip"));
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn whitespace_does_not_split_variants_but_values_do() {
        let n = HeaderName::from_static("x-lang");
        let a = normalised(&n, &req(&[("x-lang", "en ,  fr")]));
        let b = normalised(&n, &req(&[("x-lang", "en,fr")]));
        assert_eq!(a, b);
        assert_ne!(a, normalised(&n, &req(&[("x-lang", "fr,en")])));
    }

    #[test]
    fn absent_and_empty_fields_select_different_variants() {
        let p = CacheKey::from_target("/a").unwrap();
        let names = [HeaderName::from_static("x-v")];
        let absent = variant_key(&p, &names, &HeaderMap::new());
        let empty = variant_key(&p, &names, &req(&[("x-v", "")]));
        assert_ne!(absent, empty);
        assert_ne!(absent.as_str(), "/a");
    }

    /// Found by `fuzz/fuzz_targets/cache_key.rs`: an empty coding (`;q=1`)
    /// was kept as "", so the normalised value (`,gzip`) normalised again
    /// to something else and equivalent requests selected two variants.
    #[test]
    fn empty_codings_do_not_split_variants() {
        let ae = HeaderName::from_static("accept-encoding");
        let a = normalised(&ae, &req(&[("accept-encoding", "gzip"), ("accept-encoding", ";q=1")]));
        assert_eq!(a.as_deref(), Some("gzip"));
        assert_eq!(a, normalised(&ae, &req(&[("accept-encoding", "gzip")])));
    }
}
