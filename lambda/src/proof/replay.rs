//! Proofs already seen by this instance (CONTRACT.md §12): a proof is good once. Keyed by its
//! signature, each kept until its `x-amz-date` leaves the window (after which the date check
//! refuses it anyway), bounded in size. Full of live entries, it refuses new proofs rather than
//! forget one it saw: fail closed.

use std::collections::HashMap;

use super::{MAX_AGE_SECONDS, MAX_AHEAD_SECONDS};

/// Live entries one instance keeps at most; each is about 100 bytes.
pub const DEFAULT_CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    First,
    /// This signature was seen before.
    Replayed,
    /// No room without forgetting a proof that could still be replayed.
    Full,
}

#[derive(Debug)]
pub struct ReplayCache {
    /// Signature → the second after which its proof is stale anyway.
    seen: HashMap<String, i64>,
    capacity: usize,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self { seen: HashMap::new(), capacity }
    }

    /// Admits a proof signed at `signed_at` the first time its signature is seen.
    pub fn admit(&mut self, signature: &str, signed_at: i64, now: i64) -> Admission {
        if self.seen.get(signature).is_some_and(|&until| until >= now) {
            return Admission::Replayed;
        }
        if self.seen.len() >= self.capacity {
            self.seen.retain(|_, until| *until >= now);
            if self.seen.len() >= self.capacity {
                return Admission::Full;
            }
        }
        // Stale once it is too old for the date check; a proof dated ahead lives that much longer.
        let until = signed_at.max(now - MAX_AHEAD_SECONDS) + MAX_AGE_SECONDS;
        self.seen.insert(signature.to_string(), until);
        Admission::First
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_admitted_once_while_it_could_still_pass_the_date_check() {
        let mut cache = ReplayCache::new(10);
        assert_eq!(cache.admit("a", 1_000, 1_000), Admission::First);
        assert_eq!(cache.admit("a", 1_000, 1_000), Admission::Replayed);
        assert_eq!(cache.admit("a", 1_000, 1_000 + MAX_AGE_SECONDS), Admission::Replayed);
        assert_eq!(cache.admit("b", 1_000, 1_001), Admission::First);
    }

    #[test]
    fn stale_entries_make_room_and_live_ones_are_never_forgotten() {
        let mut cache = ReplayCache::new(2);
        assert_eq!(cache.admit("a", 0, 0), Admission::First);
        assert_eq!(cache.admit("b", 0, 0), Admission::First);
        assert_eq!(cache.admit("c", 0, 1), Admission::Full, "both still live");
        assert_eq!(cache.admit("a", 0, 1), Admission::Replayed, "and still remembered");
        let later = MAX_AGE_SECONDS + 1;
        assert_eq!(cache.admit("c", later, later), Admission::First, "the stale ones were swept");
        assert_eq!(cache.len(), 1);
    }
}
