//! The API's routes, by area; each handler names the permission it needs through the store
//! calls it makes (the store checks them).

pub(crate) mod account;
pub(crate) mod dashboard;
pub(crate) mod data;
pub(crate) mod ops;
pub(crate) mod uploads;
pub(crate) mod web;

/// Microseconds since the epoch as RFC 3339 (UTC).
pub(crate) fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
