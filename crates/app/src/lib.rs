//! Gridwarden use-cases, shared by the web server and the CLI. Authorisation
//! and audit happen here; SQL does not (that is `gw-store`), nor HTTP (`gw-web`).

pub mod access;
pub mod alerts;
pub mod call_delay;
pub mod clock;
pub mod codes;
pub mod coverage;
pub mod demo;
pub mod export;
pub mod fixtures;
pub mod handoff;
pub mod held_calls;
pub mod import;
pub mod lab;
pub mod notify;
pub mod registry;
pub mod report;
pub mod roster_file;
pub mod schedule;
pub mod stations;
pub mod testing;

pub use clock::Clock;

/// A new opaque resident id: 16 characters of base-32 (80 random bits).
pub fn new_uid() -> String {
    let mut bytes = [0u8; 10];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to time and a counter (still unique).
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Clock::System.now_ms() as u64;
        bytes[..8].copy_from_slice(&(t ^ n.rotate_left(40)).to_le_bytes());
        bytes[8..].copy_from_slice(&(n as u16).to_le_bytes());
    }
    uid_from_bytes(&bytes)
}

/// Base-32 (lower-case, no padding) of 10 bytes: 16 characters.
pub fn uid_from_bytes(bytes: &[u8; 10]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut acc: u128 = 0;
    for b in bytes {
        acc = (acc << 8) | u128::from(*b);
    }
    (0..16)
        .rev()
        .map(|i| ALPHABET[((acc >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn uids_are_16_chars_and_distinct() {
        let a = super::new_uid();
        let b = super::new_uid();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert_eq!(super::uid_from_bytes(&[0; 10]), "aaaaaaaaaaaaaaaa");
    }
}
