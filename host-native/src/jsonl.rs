//! One JSON object per record: the shape `evident export`, `evident tail` and the stdout mirror
//! share.
//!
//! ```json
//! {"seq":12,"ts":1700000000000000000,"time":"2023-11-14T22:13:20.000000000Z","hash":"…","event":{…}}
//! ```
//!
//! `event` is present when the payload parses as an [`evident_core::AuditEvent`]; otherwise the
//! payload is given as `payload` (UTF-8 text) or `payload_base64` (anything else).

use base64::Engine;
use evident_core::{AuditEvent, Hash};
use serde_json::{json, Map, Value};

/// The JSON object for one record.
pub fn record_json(seq: u64, ts: u64, hash: &Hash, payload: &[u8]) -> Value {
    let mut m = Map::new();
    m.insert("seq".into(), json!(seq));
    m.insert("ts".into(), json!(ts));
    m.insert("time".into(), json!(rfc3339(ts)));
    m.insert("hash".into(), json!(hash.to_hex()));
    match AuditEvent::from_json(payload) {
        Ok(_) => {
            let v: Value = serde_json::from_slice(payload).expect("parsed above");
            m.insert("event".into(), v);
        }
        Err(_) => match std::str::from_utf8(payload) {
            Ok(text) => {
                m.insert("payload".into(), json!(text));
            }
            Err(_) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
                m.insert("payload_base64".into(), json!(b64));
            }
        },
    }
    Value::Object(m)
}

/// RFC 3339 UTC with nanoseconds, from nanoseconds since the Unix epoch.
pub fn rfc3339(ts: u64) -> String {
    let secs = ts / 1_000_000_000;
    let nanos = ts % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{nanos:09}Z")
}

/// Parses an RFC 3339 UTC time (`2024-01-02T03:04:05Z`, optional fraction) or a plain number of
/// nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Option<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = s.split_once('T')?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: i64 = dp.next()?.parse().ok()?;
    let d: i64 = dp.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut tp = hms.split(':');
    let h: u64 = tp.next()?.parse().ok()?;
    let mi: u64 = tp.next()?.parse().ok()?;
    let sec: u64 = tp.next()?.parse().ok()?;
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 60
        || frac.len() > 9
    {
        return None;
    }
    let nanos: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for ts in [
            0u64,
            1_700_000_000_123_456_789,
            951_782_400_000_000_000,
            4_102_444_799_999_999_999,
        ] {
            assert_eq!(parse_time(&rfc3339(ts)), Some(ts), "{}", rfc3339(ts));
        }
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_time("2023-13-14T22:13:20Z"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn payloads_are_rendered_by_what_they_are() {
        let h = Hash([1; 32]);
        let v = record_json(
            1,
            2,
            &h,
            br#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"exec.started","pid":3}"#,
        );
        assert_eq!(v["event"]["pid"], 3);
        assert_eq!(
            record_json(1, 2, &h, b"plain line")["payload"],
            "plain line"
        );
        assert_eq!(
            record_json(1, 2, &h, &[0xff, 0x00])["payload_base64"],
            "/wA="
        );
    }
}
