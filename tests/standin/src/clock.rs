//! Wall-clock formatting without a date crate: Mattermost's log timestamp and the HTTP `Date` header.

use std::time::{SystemTime, UNIX_EPOCH};

/// Civil (year, month, day) for a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds and milliseconds since the Unix epoch, now.
fn now_parts() -> (i64, u32) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() as i64, since.subsec_millis())
}

/// `2025-01-15 10:04:05.123 Z`, the timestamp format of Mattermost's JSON log lines.
pub fn log_timestamp() -> String {
    let (secs, millis) = now_parts();
    format_log_timestamp(secs, millis)
}

fn format_log_timestamp(secs: i64, millis: u32) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{millis:03} Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Milliseconds since the Unix epoch, now: Mattermost's `create_at`/`update_at` timestamps.
pub fn now_millis() -> i64 {
    let (secs, millis) = now_parts();
    secs * 1000 + i64::from(millis)
}

/// `Wed, 15 Jan 2025 10:04:05 GMT`, the IMF-fixdate of RFC 9110 for the `Date` header.
pub fn http_date() -> String {
    format_http_date(now_parts().0)
}

/// The IMF-fixdate of `secs` seconds since the epoch (cookie `Expires`).
pub fn format_http_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(mo - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 2025-01-15T10:04:05Z
        assert_eq!(
            format_log_timestamp(1_736_935_445, 7),
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
