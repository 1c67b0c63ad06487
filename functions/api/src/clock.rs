//! The API's one clock: every time it stamps or compares is read here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Now in whole epoch seconds (runs asked for, and how long ago).
pub(crate) fn epoch_seconds() -> i64 {
    since_epoch().as_secs() as i64
}

/// Now as documents store it (`CreationTime`, `LastModificationTime`): whole epoch seconds.
pub(crate) fn now() -> f64 {
    since_epoch().as_secs_f64().floor()
}

/// Now to the millisecond, in epoch seconds (when feedback was given: detection applies
/// feedback newer than its mark).
pub(crate) fn now_millis() -> f64 {
    since_epoch().as_millis() as f64 / 1000.0
}
