//! Instants in time, at the precision every adapter can store.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A UTC instant truncated to whole microseconds.
///
/// Microseconds are what PostgreSQL's `timestamptz` keeps; truncating here means a
/// value read back from any store compares equal to the one written, which keyset
/// cursors over "newest" rely on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "TimestampRepr", into = "TimestampRepr")]
pub struct Timestamp(OffsetDateTime);

#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct TimestampRepr(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

impl From<TimestampRepr> for Timestamp {
    fn from(value: TimestampRepr) -> Self {
        Self::from_datetime(value.0)
    }
}

impl From<Timestamp> for TimestampRepr {
    fn from(value: Timestamp) -> Self {
        Self(value.0)
    }
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(OffsetDateTime::UNIX_EPOCH);

    /// Converts any date-time to UTC and drops sub-microsecond precision.
    pub fn from_datetime(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(time::UtcOffset::UTC);
        let micros = utc.microsecond();
        Self(utc.replace_nanosecond(micros * 1_000).unwrap_or(utc))
    }

    /// Builds a timestamp from microseconds since the Unix epoch, saturating at the
    /// range `time` can represent.
    pub fn from_unix_micros(micros: i64) -> Self {
        let nanos = i128::from(micros) * 1_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).map_or(Self::EPOCH, Self)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        // A timestamp built by this type is always within i64 microseconds.
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }

    /// The underlying date-time.
    pub fn as_datetime(self) -> OffsetDateTime {
        self.0
    }

    /// This instant moved forward by `seconds` (saturating).
    #[must_use]
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self::from_unix_micros(self.unix_micros().saturating_add(seconds.saturating_mul(1_000_000)))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&time::format_description::well_known::Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}us", self.unix_micros()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_microseconds_and_round_trips_json() {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let ts = Timestamp::from_datetime(dt);
        assert_eq!(ts.unix_micros(), 1_700_000_000_123_456);
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2023-11-14T22:13:20.123456Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn plus_seconds_moves_forward() {
        let ts = Timestamp::from_unix_micros(1_000_000);
        assert_eq!(ts.plus_seconds(2).unix_micros(), 3_000_000);
    }
}
