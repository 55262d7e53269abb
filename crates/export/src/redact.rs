//! Masking secrets before anything leaves the machine: the rules live in
//! `loupe-redact` (one redactor for exports, notifications and JSON
//! answers); this module keeps the names export's callers use.
//!
//! A bug report travels: to a colleague, into a ticket, onto a forum, so
//! export masks by default ([`crate::ExportSpec::redact`]).

pub use loupe_redact::{Finding, RedactionReport, Redactor, LOG_BODY, MASK};
