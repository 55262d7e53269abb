//! OTLP attributes in one short call each: the workload is mostly lists of
//! key-values, and spelling out `KeyValue { … AnyValue { … } }` would bury
//! what they say.

use crate::otlp::common::{any_value::Value, AnyValue, KeyValue};

pub(crate) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub(crate) fn s(v: impl Into<String>) -> Value {
    Value::StringValue(v.into())
}

pub(crate) fn int(v: i64) -> Value {
    Value::IntValue(v)
}
