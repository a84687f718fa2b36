//! The API through its router (no socket): who may do what, that no other organization's
//! row or secret ever shows, and the error shape.

mod authz;
mod costs;
mod dashboard;
mod fixture;
mod secrets;
mod syncs;
mod uploads;
