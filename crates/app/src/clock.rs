//! The one place that reads the wall clock. Everything else takes time as a
//! parameter, so slots, shifts and deadlines test without sleeping.

use gw_domain::date::Date;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// A clock tests set by hand (milliseconds since the Unix epoch).
    Fixed(Arc<AtomicI64>),
}

impl Clock {
    pub fn fixed(ms: i64) -> Clock {
        Clock::Fixed(Arc::new(AtomicI64::new(ms)))
    }

    #[allow(clippy::disallowed_methods)]
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Clock::Fixed(ms) => ms.load(Ordering::SeqCst),
        }
    }

    /// Moves a fixed clock forward; a system clock ignores it.
    pub fn advance_ms(&self, by: i64) {
        if let Clock::Fixed(ms) = self {
            ms.fetch_add(by, Ordering::SeqCst);
        }
    }

    /// Today's date in China Standard Time.
    pub fn today(&self) -> Date {
        Date::from_unix_ms_cst(self.now_ms()).unwrap_or(Date::EPOCH)
    }
}
