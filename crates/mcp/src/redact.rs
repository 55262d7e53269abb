//! The one place where tool and terminal answers are redacted.
//!
//! Why one function: every answer leaves the machine (into an agent's
//! context, a model provider, a terminal log), so everything goes through
//! [`redact`] just before it is rendered. The rules are `loupe-redact`'s,
//! the same ones exports and notifications use, so a fix there fixes every
//! way out; it masks only the secret part of a string (`connect with
//! password=[REDACTED] failed`), so an agent still sees the message.

use std::sync::OnceLock;

use loupe_redact::{Redactor, MASK};
use serde_json::Value;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::new::<&str>(&[]))
}

/// Masks secrets anywhere in `v`: the secret part of any string (`token=…`,
/// `Bearer …`, `scheme://user:pw@host`), the whole value of any object key
/// that names one (`db.password`), and OTLP/JSON key-values (`{"key":
/// "db.password", "value": {…}}`).
pub fn redact(v: &mut Value) {
    let r = redactor();
    otlp_key_values(v, r, 0);
    r.redact_json(v);
}

/// OTLP/JSON carries attributes as `{"key": …, "value": {…}}`, where the
/// secret's name is a *value* (of `key`), which `redact_json` cannot see
/// as a key; raw spans and logs in answers are in that shape, so their
/// values are masked here first. Deeper than `redact_json`'s own bound, a
/// value is left to it (it masks such values whole).
fn otlp_key_values(v: &mut Value, r: &Redactor, depth: u32) {
    if depth > 256 {
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                otlp_key_values(item, r, depth + 1);
            }
        }
        Value::Object(map) => {
            let secret = matches!(map.get("key"), Some(Value::String(k)) if r.key_matches(k));
            for (k, item) in map.iter_mut() {
                if secret && k == "value" && !item.is_null() {
                    *item = if item.is_object() {
                        serde_json::json!({ "stringValue": MASK })
                    } else {
                        Value::String(MASK.to_string())
                    };
                } else {
                    otlp_key_values(item, r, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_keys_values_and_otlp_key_values() {
        let mut v = json!({
            "attributes": {"db.password": "MARKER-s3cr3t", "db.user": "app"},
            "otlp": [{"key": "db.password", "value": {"stringValue": "MARKER-s3cr3t"}}],
            "body": "token=MARKER-abc",
            "nested": [["Bearer MARKER-xyz"]],
            "fine": "payment gateway refused order 1042"
        });
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("MARKER"), "{text}");
        assert_eq!(v["attributes"]["db.user"], "app");
        assert_eq!(v["otlp"][0]["key"], "db.password");
        assert_eq!(v["otlp"][0]["value"]["stringValue"], MASK);
        assert_eq!(v["fine"], "payment gateway refused order 1042");
    }

    /// Why the shared redactor: only the secret part goes, so the message
    /// an agent needs to diagnose the failure stays readable.
    #[test]
    fn masks_only_the_secret_part_of_a_message() {
        let mut v = json!({"message": "connect with password=MARKER-s3cr3t failed"});
        redact(&mut v);
        let m = v["message"].as_str().unwrap();
        assert!(!m.contains("MARKER"), "{m}");
        assert!(m.starts_with("connect with password="), "{m}");
        assert!(m.ends_with(" failed"), "{m}");
    }
}
