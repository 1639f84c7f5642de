//! Dead letters: events a consumer could never handle, parked with the reason so an
//! operator can look at them, then replay or discard each.
//!
//! A consumer parks an event it can never handle (a restock below the reserved units, a
//! message the mail server refuses for good, a message that does not decode) and moves
//! on, so one bad event never stops a partition. Parked events land in one place, the
//! [`DeadLetterStore`](crate::ports::DeadLetterStore): the in-process outbox poller
//! writes there directly, and the broker's dead-letter topic is collected into it.
//! Replaying puts the same event (same id) back on its way to every consumer; each is
//! idempotent, so only the one that parked it acts again.

use std::{fmt, str::FromStr};

use crate::{events::EventEnvelope, timestamp::Timestamp};

/// Where the in-process outbox poller's parked events come from.
pub const OUTBOX_SOURCE: &str = "outbox";

/// A dead letter's number, in the order they were parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeadLetterId(u64);

impl DeadLetterId {
    /// The letter numbered `n`.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A dead letter's number that is not a positive integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a dead letter id is a positive integer")]
pub struct InvalidDeadLetterId;

impl FromStr for DeadLetterId {
    type Err = InvalidDeadLetterId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(InvalidDeadLetterId),
        }
    }
}

/// What was parked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkedContent {
    /// An event that decoded but could not be handled.
    Event(Box<EventEnvelope>),
    /// A message that is not an event of ours (its text, lossily decoded): it can be
    /// looked at and discarded, never replayed.
    Undecodable(String),
}

/// An event as a consumer parks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    /// Where it was read: [`OUTBOX_SOURCE`], or `<topic>/<partition>/<offset>` on the
    /// broker (one letter per broker message, however often it is collected).
    pub source: String,
    /// The consumer that parked it (its group or reader name), when known.
    pub consumer: Option<String>,
    /// Why it can never be handled.
    pub reason: String,
    /// When it was parked.
    pub parked_at: Timestamp,
    /// The event.
    pub content: ParkedContent,
}

impl ParkedEvent {
    /// The parked event, when it decoded.
    pub fn event(&self) -> Option<&EventEnvelope> {
        match &self.content {
            ParkedContent::Event(e) => Some(e),
            ParkedContent::Undecodable(_) => None,
        }
    }
}

/// A parked event with its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its number.
    pub id: DeadLetterId,
    /// The event and why it was parked.
    pub parked: ParkedEvent,
}

impl DeadLetter {
    /// Whole seconds it has been parked at `now` (0 for a clock behind it).
    pub fn age_seconds(&self, now: Timestamp) -> u64 {
        let micros = now.unix_micros().saturating_sub(self.parked.parked_at.unix_micros());
        u64::try_from(micros / 1_000_000).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!("17".parse::<DeadLetterId>(), Ok(DeadLetterId::new(17)));
        for bad in ["0", "-1", "x", "", "1.5", "18446744073709551616"] {
            assert_eq!(bad.parse::<DeadLetterId>(), Err(InvalidDeadLetterId), "{bad}");
        }
    }

    #[test]
    fn age_is_whole_seconds_and_never_negative() {
        let letter = DeadLetter {
            id: DeadLetterId::new(1),
            parked: ParkedEvent {
                source: OUTBOX_SOURCE.into(),
                consumer: None,
                reason: "r".into(),
                parked_at: Timestamp::from_unix_micros(10_000_000),
                content: ParkedContent::Undecodable("x".into()),
            },
        };
        assert_eq!(letter.age_seconds(Timestamp::from_unix_micros(12_999_999)), 2);
        assert_eq!(letter.age_seconds(Timestamp::from_unix_micros(1)), 0);
    }
}
