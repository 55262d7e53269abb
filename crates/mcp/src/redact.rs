//! The one place where tool and terminal answers are redacted.
//!
//! Why one function: every answer leaves the machine (into an agent's
//! context, a model provider, a terminal log), so everything goes through
//! [`redact`] just before it is rendered. It uses the export redactor's
//! patterns today; the shared `loupe-redact` crate will replace its body.

use std::sync::OnceLock;

use loupe_export::redact::MASK;
use loupe_export::Redactor;
use serde_json::Value;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::new::<&str>(&[]))
}

/// Masks secrets anywhere in `v`: any string that looks like it carries a
/// secret (`token=…`, `Bearer …`), the value of any object key that names
/// one (`db.password`), and OTLP/JSON key-values (`{"key": "db.password",
/// "value": {…}}`).
pub fn redact(v: &mut Value) {
    walk(v, redactor());
}

fn walk(v: &mut Value, r: &Redactor) {
    match v {
        Value::String(s) if r.value_matches(s) => *s = MASK.to_string(),
        Value::Array(items) => {
            for item in items {
                walk(item, r);
            }
        }
        Value::Object(map) => {
            let secret_kv = matches!(map.get("key"), Some(Value::String(k)) if r.key_matches(k));
            for (k, item) in map.iter_mut() {
                let masked = (secret_kv && k == "value") || (k != "key" && r.key_matches(k));
                if masked && !item.is_null() {
                    *item = if item.is_object() && k == "value" {
                        serde_json::json!({ "stringValue": MASK })
                    } else {
                        Value::String(MASK.to_string())
                    };
                } else {
                    walk(item, r);
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
        assert_eq!(v["fine"], "payment gateway refused order 1042");
    }
}
