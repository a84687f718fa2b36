//! The store's behaviour, each scenario on SQLite and on PostgreSQL. PostgreSQL runs when
//! `BILLOW_TEST_POSTGRES_URL` names a server (a superuser URL: each scenario creates and
//! drops its own database); `BILLOW_REQUIRE_POSTGRES=1` (set by scripts/test) makes its
//! absence a failure rather than a skip.

mod harness;
mod scenarios;
