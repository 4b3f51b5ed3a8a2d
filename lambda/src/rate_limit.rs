//! The per-caller rate limit (CONTRACT.md §3 check 4): a fixed window per `userArn`, in memory, per
//! Lambda instance. Time is passed in, so the limiter is pure and testable.

use std::collections::HashMap;

/// Windows kept before expired ones are swept (at most once a second), so a flood of distinct
/// callers (each new session name of an assumed role is one) costs neither memory nor a scan
/// per request.
const SWEEP_ABOVE: usize = 10_000;
/// If a sweep leaves more live windows than this, every window is forgotten: API Gateway's
/// throttling still bounds the flood, and memory stays bounded.
const FORGET_ABOVE: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window_seconds: i64,
    windows: HashMap<String, Window>,
    last_sweep: i64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Over the limit; the window ends in this many whole seconds (at least 1).
    Limited {
        retry_after_seconds: u64,
    },
}

impl RateLimiter {
    /// `limit` requests per `window_seconds` per caller; a `limit` of 0 disables the limit.
    pub fn new(limit: u32, window_seconds: u32) -> Self {
        Self { limit, window_seconds: i64::from(window_seconds.max(1)), windows: HashMap::new(), last_sweep: i64::MIN }
    }

    /// Counts one request by `caller` at `now` (seconds) and says whether it may proceed.
    pub fn admit(&mut self, caller: &str, now: i64) -> Admission {
        if self.limit == 0 {
            return Admission::Allowed;
        }
        if self.windows.len() > SWEEP_ABOVE && now > self.last_sweep {
            let window_seconds = self.window_seconds;
            self.windows.retain(|_, window| now - window.started < window_seconds);
            self.last_sweep = now;
            if self.windows.len() > FORGET_ABOVE {
                self.windows.clear();
            }
        }
        let window = self.windows.entry(caller.to_string()).or_insert(Window { started: now, count: 0 });
        if now - window.started >= self.window_seconds || now < window.started {
            *window = Window { started: now, count: 0 };
        }
        window.count = window.count.saturating_add(1);
        if window.count <= self.limit {
            Admission::Allowed
        } else {
            let remaining = window.started + self.window_seconds - now;
            Admission::Limited { retry_after_seconds: remaining.max(1) as u64 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_caller_per_window() {
        let mut limiter = RateLimiter::new(2, 60);
        assert_eq!(limiter.admit("alice", 1000), Admission::Allowed);
        assert_eq!(limiter.admit("alice", 1010), Admission::Allowed);
        assert_eq!(limiter.admit("alice", 1015), Admission::Limited { retry_after_seconds: 45 });
        assert_eq!(limiter.admit("bob", 1015), Admission::Allowed, "callers are counted apart");
        assert_eq!(limiter.admit("alice", 1059), Admission::Limited { retry_after_seconds: 1 });
        assert_eq!(limiter.admit("alice", 1060), Admission::Allowed, "a new window starts");
    }

    #[test]
    fn zero_disables_the_limit() {
        let mut limiter = RateLimiter::new(0, 60);
        assert!((0..10_000).all(|_| limiter.admit("alice", 5) == Admission::Allowed));
    }

    #[test]
    fn a_clock_that_steps_back_starts_a_new_window() {
        let mut limiter = RateLimiter::new(1, 60);
        assert_eq!(limiter.admit("alice", 1000), Admission::Allowed);
        assert_eq!(limiter.admit("alice", 900), Admission::Allowed);
        assert!(matches!(limiter.admit("alice", 901), Admission::Limited { .. }));
    }

    #[test]
    fn a_flood_of_live_callers_is_swept_once_a_second_and_forgotten_past_the_cap() {
        let mut limiter = RateLimiter::new(1, 60);
        for caller in 0..=SWEEP_ABOVE {
            limiter.admit(&caller.to_string(), 100);
        }
        limiter.admit("same-second", 100);
        assert_eq!(limiter.last_sweep, 100, "swept once");
        let before = limiter.windows.len();
        limiter.admit("again-same-second", 100);
        assert_eq!(limiter.windows.len(), before + 1, "no second sweep within the second");
        for caller in 0..=FORGET_ABOVE {
            limiter.windows.insert(format!("x{caller}"), Window { started: 101, count: 1 });
        }
        limiter.admit("next-second", 101);
        assert!(limiter.windows.len() <= 1, "forgotten past the cap");
    }

    #[test]
    fn expired_windows_are_swept_when_many_callers_pile_up() {
        let mut limiter = RateLimiter::new(1, 60);
        for caller in 0..=SWEEP_ABOVE {
            limiter.admit(&caller.to_string(), 0);
        }
        limiter.admit("late", 120);
        assert_eq!(limiter.windows.len(), 1);
    }
}
