//! The server's clock as napsh reads it: a server time (the HTTP `Date` header, or a mapping's
//! `createdTime`) anchored to a local monotonic reading, so that lifetimes are measured on the
//! server's clock and a wrong or jumping local wall clock changes nothing.

/// The server's time at one local monotonic instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerClock {
    /// The server's time (unix ms) at the anchor.
    server_ms: i64,
    /// The local monotonic reading (ms since any fixed origin) at the anchor.
    mono_ms: u64,
}

impl ServerClock {
    /// The server said `server_ms` when the local monotonic clock read `mono_ms`.
    pub fn anchor(server_ms: i64, mono_ms: u64) -> Self {
        ServerClock { server_ms, mono_ms }
    }

    /// The server's time when the local monotonic clock read (or reads) `mono_ms`, before
    /// or after the anchor.
    pub fn now(&self, mono_ms: u64) -> i64 {
        let elapsed = i128::from(mono_ms) - i128::from(self.mono_ms);
        let at = i128::from(self.server_ms) + elapsed;
        i64::try_from(at).unwrap_or(if at < 0 { i64::MIN } else { i64::MAX })
    }

    /// The local monotonic reading at which the server's clock reaches `server_ms` (the
    /// anchor's reading when that time has already passed).
    pub fn mono_at(&self, server_ms: i64) -> u64 {
        let ahead = server_ms.saturating_sub(self.server_ms).max(0);
        self.mono_ms
            .saturating_add(u64::try_from(ahead).unwrap_or(u64::MAX))
    }

    /// The offset of the server's clock from a local wall clock that read `local_wall_ms` at
    /// the monotonic reading `mono_now_ms` (positive: the server is ahead).
    pub fn skew_from(&self, local_wall_ms: i64, mono_now_ms: u64) -> i64 {
        self.now(mono_now_ms).saturating_sub(local_wall_ms)
    }

    /// The later-anchored of two readings of the same clock (the fresher one wins).
    pub fn fresher(self, other: ServerClock) -> ServerClock {
        if other.mono_ms >= self.mono_ms {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(1_000, 5_000, 5_000, 1_000)]
    #[case(1_000, 5_000, 6_500, 2_500)]
    #[case(1_000, 5_000, 4_000, 0)] // a reading before the anchor: the server's time then
    fn now_runs_on_the_monotonic_clock(
        #[case] server: i64,
        #[case] mono: u64,
        #[case] mono_now: u64,
        #[case] expected: i64,
    ) {
        assert_eq!(ServerClock::anchor(server, mono).now(mono_now), expected);
    }

    #[test]
    fn a_local_clock_hours_off_changes_nothing() {
        // The server says 12:00:00; the local wall clock says 15:00:00 (3 h fast).
        let clock = ServerClock::anchor(43_200_000, 100);
        let expiry = 43_200_000 + 3_600_000;
        assert_eq!(clock.mono_at(expiry), 100 + 3_600_000);
        assert_eq!(clock.skew_from(54_000_000, 100), -10_800_000);
    }

    #[test]
    fn mono_at_a_past_time_is_the_anchor() {
        assert_eq!(ServerClock::anchor(10_000, 7).mono_at(5_000), 7);
    }

    #[test]
    fn the_fresher_anchor_wins() {
        let a = ServerClock::anchor(1, 10);
        let b = ServerClock::anchor(2, 20);
        assert_eq!(a.fresher(b), b);
        assert_eq!(b.fresher(a), b);
    }
}
