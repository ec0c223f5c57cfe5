//! Wall-clock formatting, by `jiff`: Mattermost's log timestamp and the HTTP `Date` header.

use jiff::Timestamp;

/// `2025-01-15 10:04:05.123 Z`, the timestamp format of Mattermost's JSON log lines.
pub fn log_timestamp() -> String {
    format_log_timestamp(Timestamp::now())
}

fn format_log_timestamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S%.3f Z").to_string()
}

/// Milliseconds since the Unix epoch, now: Mattermost's `create_at`/`update_at` timestamps.
pub fn now_millis() -> i64 {
    Timestamp::now().as_millisecond()
}

/// `Wed, 15 Jan 2025 10:04:05 GMT`, the IMF-fixdate of RFC 9110 for the `Date` header.
pub fn http_date() -> String {
    format_http_date(Timestamp::now().as_second())
}

/// The IMF-fixdate of `secs` seconds since the epoch (cookie `Expires`), clamped to the years
/// `jiff` represents (-9999 to 9999).
pub fn format_http_date(secs: i64) -> String {
    let at = Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 2025-01-15T10:04:05.007Z
        assert_eq!(
            format_log_timestamp(Timestamp::from_millisecond(1_736_935_445_007).unwrap()),
            "2025-01-15 10:04:05.007 Z"
        );
        assert_eq!(
            format_http_date(1_736_935_445),
            "Wed, 15 Jan 2025 10:04:05 GMT"
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // A leap day.
        assert_eq!(
            format_http_date(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }
}
