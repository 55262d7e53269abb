//! What counts as a secret: key names, and the shapes of secret values in
//! free text.
//!
//! Everything here finds *byte ranges* to mask; [`crate::Redactor`] replaces
//! them, so only the secret part of a string changes.
//!
//! Cost: every pattern is a `regex` (finite automata, no backtracking), so
//! one search is linear in the text. Iterating matches may rescan a little
//! past each match, which is why the caller hands at most
//! [`crate::WINDOW`] bytes at a time.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::MASK;

/// Words that make a key secret wherever they stand in it
/// (`db.password`, `X-Auth-Token`, `client_secret`, `sessionId`).
///
/// `auth*` is a list, not a prefix: `author`, `authority` (HTTP/2's
/// `:authority` is the host), `authored` and `authenticated` (a boolean)
/// are not secrets, so only these spellings count.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "apikey",
    "apitoken",
    "credential",
    "credentials",
    "creds",
    "cookie",
    "cookies",
    "session",
    "sessionid",
    "sessiontoken",
    "privatekey",
    "accesskey",
    "secretkey",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "authkey",
    "jwt",
    "bearer",
    "auth",
    "authn",
    "authz",
    "authorization",
    "authorisation",
    "proxyauthorization",
];

/// Two words in a row that make a key secret (`api_key`, `apiKey`,
/// `x-api-key`, `AWS_SECRET_ACCESS_KEY`, `AccountKey`): `key` alone is not
/// (`cache.key`, `messaging.kafka.message.key`).
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("private", "key"),
    ("account", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("shared", "key"),
    ("license", "key"),
];

/// A key whose *last* word is one of these describes a secret without
/// holding it: `token_count`, `password_hint`, `secret.name`,
/// `auth.method`, `private_key_file`, `session.duration`.
const DESCRIBING_WORDS: &[&str] = &[
    "count",
    "counts",
    "length",
    "len",
    "size",
    "type",
    "kind",
    "name",
    "names",
    "expires",
    "expiry",
    "expiration",
    "expired",
    "exp",
    "ttl",
    "lifetime",
    "duration",
    "hint",
    "policy",
    "enabled",
    "disabled",
    "required",
    "present",
    "valid",
    "validity",
    "status",
    "state",
    "method",
    "methods",
    "scheme",
    "provider",
    "source",
    "mode",
    "limit",
    "max",
    "min",
    "usage",
    "version",
    "format",
    "prefix",
    "algorithm",
    "alg",
    "rotation",
    "timeout",
    "storage",
    "file",
    "path",
    "url",
    "uri",
    "endpoint",
    "at",
    "time",
    "timestamp",
    "date",
    "error",
    "errors",
    "reason",
    "result",
    "outcome",
    "success",
    "failed",
    "failure",
    "failures",
    "used",
    "issuer",
    "audience",
    "scope",
    "scopes",
    "user",
    "username",
    "principal",
    "level",
    "id_type",
];

/// Query parameters that carry a secret in a URL even though their name
/// alone would be too common in prose (`key`, `code`, `sig`).
const SECRET_QUERY_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "key",
    "apikey",
    "api_key",
    "api-key",
    "password",
    "pass",
    "pwd",
    "secret",
    "client_secret",
    "code",
    "auth",
    "jwt",
    "session",
    "sessionid",
];

/// At most this many bytes of a key are read to classify it.
const MAX_KEY: usize = 256;

/// The words of a key, lower case: split at anything not alphanumeric and
/// at camelCase humps (`apiKey` → `api`, `key`; `X-Amz-Signature` → `x`,
/// `amz`, `signature`).
fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars().take(MAX_KEY) {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            cur.push(c.to_ascii_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a key (an attribute key, a JSON key, the name in `name=value`)
/// names a secret, by the built-in rules.
pub fn secret_key(key: &str) -> bool {
    let w = words(key);
    let Some(last) = w.last() else {
        return false;
    };
    if DESCRIBING_WORDS.contains(&last.as_str()) {
        return false;
    }
    w.iter().any(|x| SECRET_WORDS.contains(&x.as_str()))
        || w.windows(2)
            .any(|p| SECRET_PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
}

/// Lower case, with `_`, `.` and spaces read as `-`, so the user's
/// pattern `api-key` matches `API_KEY`, `x.api-key` and `Api Key`.
pub fn normalize(s: &str) -> String {
    s.chars()
        .take(MAX_KEY)
        .map(|c| match c {
            '_' | '.' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A secret found in a text: the range to mask and what recognised it
/// (a rule name, or the key whose value it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub range: Range<usize>,
    pub rule: String,
}

/// `name=`, `name:`, `"name": `, `\"name\":` — the head of an assignment in
/// free text; the value is read by [`value_after`].
static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[A-Za-z_][A-Za-z0-9_.\-]*(?:\\?["'])?[ \t]*[=:][ \t]*"#).expect("ASSIGN")
});

/// `--password hunter2` on a command line (`process.command_line`).
static FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-{1,2}([A-Za-z][A-Za-z0-9_\-]*)[ \t]+").expect("FLAG"));

/// Secret shapes recognised by their value alone. Each alternative is a
/// named group; a group `<name>_s` inside it, when present, is the part
/// to mask (the rest is kept for context, e.g. the URL around a password).
const VALUE_RULES: &[(&str, &str)] = &[
    (
        "pem-private-key",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----(?:(?s:.*?)-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)",
    ),
    // The tail of a PEM block cut at the start of a window.
    (
        "pem-private-key-tail",
        r"\A[A-Za-z0-9+/=\s\\]*-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----",
    ),
    (
        "jwt",
        r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    ),
    (
        "url-userinfo",
        r"(?-u:\b)[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:(?P<url_userinfo_s>[^\s/?#]+)@",
    ),
    (
        "slack-webhook",
        r"hooks\.slack\.com/services/(?P<slack_webhook_s>[A-Za-z0-9_/\-]+)",
    ),
    (
        "auth-scheme",
        r"(?i:(?-u:\b)(?:bearer|basic))[ \t]+(?P<auth_scheme_s>[A-Za-z0-9\-._~+/]+=*)",
    ),
    (
        "aws-access-key-id",
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}(?-u:\b)",
    ),
    ("github-token", r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{30,}"),
    ("github-pat", r"(?-u:\b)github_pat_[A-Za-z0-9_]{20,}"),
    ("slack-token", r"(?-u:\b)xox[abposre]-[A-Za-z0-9\-]{8,}"),
    (
        "stripe-key",
        r"(?-u:\b)[rs]k_(?:live|test)_[A-Za-z0-9]{10,}",
    ),
    (
        "openai-key",
        r"(?-u:\b)sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    ),
    ("google-api-key", r"(?-u:\b)AIza[0-9A-Za-z_\-]{35}"),
    ("gitlab-token", r"(?-u:\b)glpat-[0-9A-Za-z_\-]{20,}"),
    ("npm-token", r"(?-u:\b)npm_[A-Za-z0-9]{36}"),
    (
        "sendgrid-key",
        r"(?-u:\b)SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",
    ),
    (
        "pypi-token",
        r"(?-u:\b)pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{30,}",
    ),
];

struct ValueRules {
    regex: Regex,
    /// (rule name, outer group index, inner group index)
    groups: Vec<(&'static str, usize, Option<usize>)>,
}

static VALUES: LazyLock<ValueRules> = LazyLock::new(|| {
    let pattern = VALUE_RULES
        .iter()
        .map(|(name, re)| format!("(?P<{}>{re})", name.replace('-', "_")))
        .collect::<Vec<_>>()
        .join("|");
    let regex = Regex::new(&pattern).expect("VALUE_RULES");
    let index = |n: &str| regex.capture_names().position(|c| c == Some(n));
    let groups = VALUE_RULES
        .iter()
        .map(|(name, _)| {
            let g = name.replace('-', "_");
            (
                *name,
                index(&g).expect("outer group"),
                index(&format!("{g}_s")),
            )
        })
        .collect();
    ValueRules { regex, groups }
});

/// Compiles every pattern now (they are otherwise compiled on first use).
pub fn warm_up() {
    LazyLock::force(&ASSIGN);
    LazyLock::force(&FLAG);
    LazyLock::force(&VALUES);
}

/// Whether a credential after `Bearer`/`Basic` looks like one rather than
/// a word of prose (`Basic authentication failed`, `Bearer tokens`): long
/// enough, and with a digit, a symbol of base64/JWT, or mixed case.
fn looks_like_credential(s: &str) -> bool {
    if s.len() < 6 {
        return false;
    }
    let b = s.as_bytes();
    b.iter()
        .any(|c| c.is_ascii_digit() || b"=+/._-~".contains(c))
        || (b[1..].iter().any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase))
}

/// The value that follows an assignment head ending at `p`: a quoted
/// string (`"…"`, `'…'`, `\"…\"`), or a run up to a delimiter, after an
/// optional `Bearer `/`Basic ` scheme (the scheme is kept).
fn value_after(s: &str, p: usize) -> Option<Range<usize>> {
    let b = s.as_bytes();
    if p >= b.len() {
        return None;
    }
    let range = if b[p] == b'"' || b[p] == b'\'' {
        let q = b[p];
        let start = p + 1;
        let mut i = start;
        while i < b.len() && b[i] != q {
            if b[i] == b'\\' && q == b'"' {
                i += 1;
            }
            i += 1;
        }
        start..i.min(b.len())
    } else if b[p] == b'\\' && b.get(p + 1) == Some(&b'"') {
        let start = p + 2;
        let end = s[start..].find("\\\"").map_or(b.len(), |i| start + i);
        start..end
    } else {
        let mut start = p;
        for scheme in ["bearer ", "basic ", "token ", "digest "] {
            let n = scheme.len();
            if b.len() > start + n
                && s.is_char_boundary(start + n)
                && s[start..start + n].eq_ignore_ascii_case(scheme)
            {
                start += n;
                while start < b.len() && (b[start] == b' ' || b[start] == b'\t') {
                    start += 1;
                }
                break;
            }
        }
        if s[start..].starts_with(MASK) {
            return None;
        }
        let end = b[start..]
            .iter()
            .position(|c| c.is_ascii_whitespace() || b"&,;\"')]}<>".contains(c))
            .map_or(b.len(), |i| start + i);
        start..end
    };
    let v = &s[range.clone()];
    if v.is_empty() || v == MASK || v.chars().all(|c| c == '*') {
        None
    } else {
        Some(range)
    }
}

/// Every secret in `s` (at most [`crate::WINDOW`] bytes), unordered and
/// possibly overlapping. `extra` are the user's normalized key patterns.
pub fn find(s: &str, extra: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    if s.len() < 3 {
        return hits;
    }
    let key_is_secret = |k: &str| {
        secret_key(k)
            || (!extra.is_empty() && extra.iter().any(|p| normalize(k).contains(p.as_str())))
    };

    // name=value, name: value, "name":"value", ?name=value
    let b = s.as_bytes();
    let mut covered = 0usize;
    for m in ASSIGN.find_iter(s) {
        if m.start() < covered {
            continue;
        }
        let head = m.as_str();
        let key_end = head
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
            .unwrap_or(head.len());
        let key = &head[..key_end];
        let in_query = m.start() > 0 && b"?&#;".contains(&b[m.start() - 1]) && head.contains('=');
        let secret = key_is_secret(key)
            || (in_query && SECRET_QUERY_PARAMS.contains(&key.to_ascii_lowercase().as_str()));
        if !secret {
            continue;
        }
        if let Some(r) = value_after(s, m.end()) {
            covered = r.end;
            hits.push(Hit {
                range: r,
                rule: key.to_string(),
            });
        }
    }

    // --password hunter2
    for c in FLAG.captures_iter(s) {
        let (Some(all), Some(name)) = (c.get(0), c.get(1)) else {
            continue;
        };
        if all.start() > 0 && !b[all.start() - 1].is_ascii_whitespace() {
            continue;
        }
        if !key_is_secret(name.as_str()) {
            continue;
        }
        let start = all.end();
        if b.get(start).is_none_or(|c| *c == b'-') {
            continue;
        }
        if let Some(r) = value_after(s, start) {
            hits.push(Hit {
                range: r,
                rule: name.as_str().to_string(),
            });
        }
    }

    // Shapes recognised by the value alone.
    let rules = &*VALUES;
    for c in rules.regex.captures_iter(s) {
        for (name, outer, inner) in &rules.groups {
            let Some(o) = c.get(*outer) else { continue };
            let m = inner.and_then(|i| c.get(i)).unwrap_or(o);
            let ok = match *name {
                "auth-scheme" => looks_like_credential(m.as_str()) && m.as_str() != MASK,
                "openai-key" => {
                    let t = m.as_str();
                    t.bytes().any(|c| c.is_ascii_digit())
                        && t.bytes().any(|c| c.is_ascii_alphabetic())
                }
                "url-userinfo" => m.as_str() != MASK,
                _ => true,
            };
            if ok && !m.is_empty() {
                hits.push(Hit {
                    range: m.range(),
                    rule: name.to_string(),
                });
            }
            break;
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_separators_and_humps() {
        assert_eq!(words("X-Amz-Signature"), ["x", "amz", "signature"]);
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(
            words("http.request.header.set_cookie"),
            ["http", "request", "header", "set", "cookie"]
        );
        assert_eq!(
            words("AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
    }

    #[test]
    fn keys() {
        for k in [
            "password",
            "db.password",
            "passwd",
            "secret",
            "client_secret",
            "token",
            "auth.token",
            "apikey",
            "api_key",
            "api-key",
            "X-API-Key",
            "apiKey",
            "access_key",
            "secret_key",
            "private_key",
            "credential",
            "credentials",
            "auth",
            "Authorization",
            "http.request.header.authorization",
            "session",
            "session.id",
            "cookie",
            "set-cookie",
            "http.response.header.set_cookie",
            "AWS_SECRET_ACCESS_KEY",
            "AccountKey",
            "sessionId",
            "csrf_token",
            "Pwd",
            "proxy-authorization",
        ] {
            assert!(secret_key(k), "{k} should be secret");
        }
        for k in [
            "author",
            "authority",
            ":authority",
            "token_count",
            "gen_ai.usage.input_tokens",
            "keyboard",
            "monkey",
            "key",
            "cache.key",
            "password_hint",
            "secret.name",
            "auth.method",
            "private_key_file",
            "tokenizer",
            "http.method",
            "service.name",
            "db.statement",
            "user.authenticated",
            "session.duration",
            "authored_by",
        ] {
            assert!(!secret_key(k), "{k} should not be secret");
        }
    }
}
