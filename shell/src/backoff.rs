//! Waits that double with each retry, up to a cap: capsule restarts and the compositor's
//! retries of a failed render.

use std::time::Duration;

/// The wait before retry number `attempt` (0-based): `base` × 2^attempt, at most `max`. No
/// overflow however many attempts.
pub fn doubling(base: Duration, attempt: u32, max: Duration) -> Duration {
    // 2^16 times any base worth waiting for passes any cap worth having; the shift cannot
    // overflow and the product saturates.
    base.saturating_mul(1u32 << attempt.min(16)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_and_stops_at_the_cap() {
        let ms = Duration::from_millis;
        let waits: Vec<_> = (0..6).map(|a| doubling(ms(10), a, ms(200))).collect();
        assert_eq!(waits, [ms(10), ms(20), ms(40), ms(80), ms(160), ms(200)]);
    }

    #[test]
    fn huge_attempts_and_bases_saturate_at_the_cap() {
        let cap = Duration::from_secs(30);
        assert_eq!(doubling(Duration::from_millis(200), u32::MAX, cap), cap);
        assert_eq!(doubling(Duration::MAX, 3, cap), cap);
        assert_eq!(doubling(Duration::ZERO, 40, cap), Duration::ZERO);
    }
}
