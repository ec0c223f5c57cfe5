//! Percent-decoding and query strings, shared by the HTTP server and the DataSource parser.

/// Decodes `%XX` escapes, and `+` as a space when `plus_is_space` (query strings).
pub fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent-encoding in {s:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

/// Splits `a=1&b=two+words` into decoded pairs; pairs that fail to decode are kept raw.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(k, true).unwrap_or_else(|_| k.to_string()),
                percent_decode(v, true).unwrap_or_else(|_| v.to_string()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("%2Fvar%2frun", false).unwrap(), "/var/run");
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert!(percent_decode("%2", false).is_err());
        assert!(percent_decode("%zz", false).is_err());
        assert!(percent_decode("%ff", false).is_err());
        assert_eq!(
            parse_query("get_server_status=true&x=a%20b&flag"),
            vec![
                ("get_server_status".into(), "true".into()),
                ("x".into(), "a b".into()),
                ("flag".into(), String::new())
            ]
        );
    }
}
