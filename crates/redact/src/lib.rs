//! One redactor for everything that leaves the machine.
//!
//! Telemetry carries credentials: an `Authorization` header recorded by HTTP
//! instrumentation, a connection string with a password, a signed S3 URL, a
//! token in a log line. Exports (JSON Lines, HTML reports), notifications
//! (Slack text, webhook JSON, desktop notifications, every template
//! variable) and answers built as JSON (MCP, CLI) all pass through this
//! crate, so one set of rules decides what is a secret, and a fix here
//! fixes every way out.
//!
//! It masks only the secret *part* of a string: `connect with
//! password=hunter2 failed` becomes `connect with password=[REDACTED]
//! failed`, so a bug report keeps its message. A key that names a secret
//! ([`secret_key`]: `password`, `api_key`, `authorization`, `session`, …)
//! masks its whole value. Values are searched for secret shapes wherever
//! they are (`Bearer …`, JWTs, AWS key IDs, PEM private keys,
//! `scheme://user:pw@host`, `?sig=…`, vendor tokens, `key=value` forms).
//!
//! Bounds: patterns are `regex` automata (linear time, no backtracking); a
//! string is scanned in windows of [`WINDOW`] bytes (cut at whitespace) so
//! rescanning between matches stays local; strings longer than
//! [`MAX_INPUT`] are cut there (the rest is replaced by a note, never
//! passed on unscanned); the report keeps at most [`MAX_FINDINGS`] findings
//! and [`MAX_KEYS`] distinct keys, whatever the input.
//!
//! Limits (documented in SECURITY.md): secrets with no recognisable shape
//! and no telling key (a bare password in prose) are not found; an
//! unquoted value ends at whitespace, so `Password=two words;` masks only
//! `two`; URL-encoded or base64-wrapped secrets are not decoded.

pub mod otlp;
pub mod rules;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

pub use rules::secret_key;

/// What a masked secret becomes.
pub const MASK: &str = "[REDACTED]";

/// The field name under which masked log bodies are counted.
pub const LOG_BODY: &str = "(log body)";

/// Strings are scanned in windows of this many bytes (cut at the last
/// whitespace of the window when there is one), so the regex iterators'
/// rescans stay within a window.
pub const WINDOW: usize = 16 * 1024;

/// A string longer than this is cut here before it is scanned: the rest
/// is replaced by [`TRUNCATED`] and is never passed on unscanned.
pub const MAX_INPUT: usize = 1024 * 1024;

/// What replaces the part of a string past [`MAX_INPUT`].
pub const TRUNCATED: &str = "…[truncated: too long to scan for secrets]";

/// At most this many findings are kept in a report (counts go on).
pub const MAX_FINDINGS: usize = 50;

/// At most this many distinct keys are counted by name in a report; the
/// rest are counted under [`OTHER_KEYS`].
pub const MAX_KEYS: usize = 200;

/// Where keys beyond [`MAX_KEYS`] are counted.
pub const OTHER_KEYS: &str = "(other keys)";

/// Context kept on each side of a secret in a finding, in bytes.
const CONTEXT: usize = 32;

/// One masked secret, shown so the user can judge what redaction does
/// without the secret itself: `before` shows at most its first two
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "RedactionFinding")]
pub struct Finding {
    /// The attribute key or field (`(log body)`, `(span name)`, …).
    pub field: String,
    /// What recognised the secret: a rule (`jwt`, `url-userinfo`, …) or
    /// the key whose value it is.
    pub rule: String,
    /// `…connect with password=hu…[masked] failed…`
    pub before: String,
    /// `…connect with password=[REDACTED] failed…`
    pub after: String,
}

/// What was (or, in a preview, would be) masked: values per key, and the
/// first findings as masked before/after snippets.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RedactionReport {
    /// Values changed.
    pub total: u64,
    pub by_key: BTreeMap<String, u64>,
    /// The first [`MAX_FINDINGS`] secrets masked.
    pub findings: Vec<Finding>,
    /// Secrets masked beyond those in `findings`.
    pub more_findings: u64,
}

impl RedactionReport {
    fn add(&mut self, key: &str) {
        self.total += 1;
        let key: String = key.chars().take(200).collect();
        if self.by_key.len() >= MAX_KEYS && !self.by_key.contains_key(&key) {
            *self.by_key.entry(OTHER_KEYS.to_string()).or_default() += 1;
        } else {
            *self.by_key.entry(key).or_default() += 1;
        }
    }

    fn wants_findings(&self) -> bool {
        self.findings.len() < MAX_FINDINGS
    }

    fn finding(&mut self, f: impl FnOnce() -> Finding) {
        if self.wants_findings() {
            self.findings.push(f());
        } else {
            self.more_findings += 1;
        }
    }

    /// Adds another report's counts and findings (within the caps).
    pub fn merge(&mut self, other: RedactionReport) {
        for (k, n) in other.by_key {
            let k = if self.by_key.len() >= MAX_KEYS && !self.by_key.contains_key(&k) {
                OTHER_KEYS.to_string()
            } else {
                k
            };
            *self.by_key.entry(k).or_default() += n;
        }
        self.total += other.total;
        for f in other.findings {
            self.finding(|| f);
        }
        self.more_findings += other.more_findings;
    }
}

/// The rules, plus the user's extra key patterns. Cheap to build: the
/// patterns are compiled once per process.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Normalized ([`rules::normalize`]) substrings that also make a key
    /// secret (`--redact-pattern ssn`).
    extra: Vec<String>,
}

impl Redactor {
    /// The built-in rules plus the user's key patterns (substrings of a
    /// key, case and separator insensitive; empty ones are ignored).
    pub fn new<S: AsRef<str>>(extra: &[S]) -> Redactor {
        rules::warm_up();
        let mut patterns: Vec<String> = Vec::new();
        for p in extra {
            let p = rules::normalize(p.as_ref().trim());
            if !p.is_empty() && !patterns.contains(&p) {
                patterns.push(p);
            }
        }
        Redactor { extra: patterns }
    }

    /// Whether an attribute key names a secret (its whole value is masked).
    pub fn key_matches(&self, key: &str) -> bool {
        secret_key(key) || {
            let k = rules::normalize(key);
            self.extra.iter().any(|p| k.contains(p.as_str()))
        }
    }

    /// Whether a string holds something [`Redactor::redact_str`] masks.
    pub fn value_matches(&self, value: &str) -> bool {
        matches!(self.redact_str(value), Cow::Owned(_))
    }

    /// The string with every secret part masked; borrowed when nothing is.
    pub fn redact_str<'a>(&self, s: &'a str) -> Cow<'a, str> {
        self.redact_inner(s, None)
    }

    /// The secrets in a string as findings (field `(text)`), without
    /// keeping the masked string.
    pub fn findings(&self, s: &str) -> Vec<Finding> {
        let mut report = RedactionReport::default();
        self.redact_field("(text)", s, &mut report);
        report.findings
    }

    /// [`Redactor::redact_str`], counting a change under `field` and
    /// recording findings.
    pub fn redact_field<'a>(
        &self,
        field: &str,
        s: &'a str,
        report: &mut RedactionReport,
    ) -> Cow<'a, str> {
        let out = self.redact_inner(s, Some((field, &mut *report)));
        if matches!(out, Cow::Owned(_)) {
            report.add(field);
        }
        out
    }

    /// Masks a whole value because its key names a secret.
    fn mask_whole(&self, key: &str, value: &str, report: &mut RedactionReport) {
        report.add(key);
        report.finding(|| Finding {
            field: key.to_string(),
            rule: "key".to_string(),
            before: format!("{}={}…[masked]", clip(key), peek(value)),
            after: format!("{}={MASK}", clip(key)),
        });
    }

    fn redact_inner<'a>(
        &self,
        s: &'a str,
        mut report: Option<(&str, &mut RedactionReport)>,
    ) -> Cow<'a, str> {
        if s.len() < 3 {
            return Cow::Borrowed(s);
        }
        let (scan, cut) = if s.len() > MAX_INPUT {
            (&s[..floor_char(s, MAX_INPUT)], true)
        } else {
            (s, false)
        };
        let mut out: Option<String> = None;
        let mut start = 0;
        while start < scan.len() {
            let end = window_end(scan, start);
            let w = &scan[start..end];
            let hits = merge(rules::find(w, &self.extra));
            if !hits.is_empty() {
                let o = out.get_or_insert_with(|| {
                    let mut o = String::with_capacity(s.len().min(MAX_INPUT) + 64);
                    o.push_str(&scan[..start]);
                    o
                });
                let base = o.len();
                let mut masks: Vec<(Range<usize>, usize, &str)> = Vec::new();
                let mut last = 0;
                for h in &hits {
                    o.push_str(&w[last..h.range.start]);
                    let at = o.len();
                    o.push_str(MASK);
                    masks.push((at..o.len(), h.range.start, h.rule.as_str()));
                    last = h.range.end;
                }
                o.push_str(&w[last..]);
                if let Some((field, report)) = report.as_mut() {
                    for (i, (m, orig, rule)) in masks.iter().enumerate() {
                        let secret = &w[*orig..hits[i].range.end];
                        report.finding(|| {
                            snippet(
                                field,
                                rule,
                                &o[base..],
                                m.start - base..m.end - base,
                                secret,
                            )
                        });
                    }
                }
            } else if let Some(o) = out.as_mut() {
                o.push_str(w);
            }
            start = end;
        }
        match out {
            Some(mut o) => {
                if cut {
                    o.push_str(TRUNCATED);
                }
                Cow::Owned(o)
            }
            None if cut => Cow::Owned(format!("{scan}{TRUNCATED}")),
            None => Cow::Borrowed(s),
        }
    }

    /// Masks a JSON answer in place: a value under a secret key is masked
    /// whole (whatever its type), other strings and object keys are
    /// searched like [`Redactor::redact_str`].
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        self.redact_json_report(v, &mut RedactionReport::default());
    }

    /// [`Redactor::redact_json`], counting and recording findings.
    pub fn redact_json_report(&self, v: &mut serde_json::Value, report: &mut RedactionReport) {
        self.json(v, "(json)", report, 0);
    }

    fn json(&self, v: &mut serde_json::Value, key: &str, report: &mut RedactionReport, depth: u32) {
        use serde_json::Value as J;
        // serde_json refuses to parse deeper than 128, but a value built in
        // code is not bounded; past this depth a value is masked whole.
        if depth > 256 {
            *v = J::String(MASK.to_string());
            report.add(key);
            return;
        }
        match v {
            J::String(s) => {
                if let Cow::Owned(o) = self.redact_field(key, s, report) {
                    *s = o;
                }
            }
            J::Array(a) => {
                for x in a {
                    self.json(x, key, report, depth + 1);
                }
            }
            J::Object(m) => {
                let renamed: Vec<(String, String)> = m
                    .keys()
                    .filter_map(|k| match self.redact_str(k) {
                        Cow::Owned(n) => Some((k.clone(), n)),
                        Cow::Borrowed(_) => None,
                    })
                    .collect();
                for (old, new) in renamed {
                    if let Some(x) = m.remove(&old) {
                        report.add(key);
                        m.insert(new, x);
                    }
                }
                for (k, x) in m.iter_mut() {
                    if self.key_matches(k) && !x.is_null() {
                        if x.as_str() != Some(MASK) {
                            let shown = match &*x {
                                J::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            self.mask_whole(k, &shown, report);
                            *x = J::String(MASK.to_string());
                        }
                    } else {
                        self.json(x, k, report, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Sorted, overlapping and touching ranges merged (the first rule names
/// the merged one).
fn merge(mut hits: Vec<rules::Hit>) -> Vec<rules::Hit> {
    hits.sort_by_key(|h| (h.range.start, std::cmp::Reverse(h.range.end)));
    let mut out: Vec<rules::Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        match out.last_mut() {
            Some(l) if h.range.start <= l.range.end => l.range.end = l.range.end.max(h.range.end),
            _ => out.push(h),
        }
    }
    out
}

/// The end of the window that starts at `start`: [`WINDOW`] bytes on,
/// moved back to just after the last whitespace in its last quarter.
fn window_end(s: &str, start: usize) -> usize {
    if s.len() - start <= WINDOW {
        return s.len();
    }
    let hard = floor_char(s, start + WINDOW);
    let b = s.as_bytes();
    let lo = start + WINDOW * 3 / 4;
    match b[lo..hard].iter().rposition(|c| c.is_ascii_whitespace()) {
        Some(i) => lo + i + 1,
        None if hard > start => hard,
        None => s.len(),
    }
}

/// The largest char boundary at or below `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary at or above `i`.
fn ceil_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// At most the first two characters of a secret (none of a short one).
fn peek(secret: &str) -> String {
    let n = secret.chars().count();
    let show = if n >= 6 {
        2
    } else if n >= 3 {
        1
    } else {
        0
    };
    secret.chars().take(show).map(printable).collect()
}

fn printable(c: char) -> char {
    if c.is_control() {
        ' '
    } else {
        c
    }
}

fn clip(s: &str) -> String {
    let mut t: String = s.chars().take(64).map(printable).collect();
    if s.chars().count() > 64 {
        t.push('…');
    }
    t
}

/// A finding from the masked text `out`, where `mask` is the range of the
/// [`MASK`] that replaced `secret`. The context comes from the masked text,
/// so a neighbouring secret never shows.
fn snippet(field: &str, rule: &str, out: &str, mask: Range<usize>, secret: &str) -> Finding {
    let lo = floor_char(out, mask.start.saturating_sub(CONTEXT));
    let hi = ceil_char(out, (mask.end + CONTEXT).min(out.len()));
    let left: String = out[lo..mask.start].chars().map(printable).collect();
    let right: String = out[mask.end..hi].chars().map(printable).collect();
    let pre = if lo > 0 { "…" } else { "" };
    let post = if hi < out.len() { "…" } else { "" };
    Finding {
        field: clip(field),
        rule: clip(rule),
        before: format!("{pre}{left}{}…[masked]{right}{post}", peek(secret)),
        after: format!("{pre}{left}{MASK}{right}{post}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_string_at_char_boundaries() {
        let s = "é".repeat(WINDOW);
        let mut start = 0;
        let mut n = 0;
        while start < s.len() {
            let e = window_end(&s, start);
            assert!(e > start && s.is_char_boundary(e));
            start = e;
            n += 1;
        }
        assert!(n >= 2);
    }

    #[test]
    fn peek_shows_at_most_two_characters() {
        assert_eq!(peek("hunter2hunter2"), "hu");
        assert_eq!(peek("abcd"), "a");
        assert_eq!(peek("hunter2"), "hu");
        assert_eq!(peek("ab"), "");
    }
}
