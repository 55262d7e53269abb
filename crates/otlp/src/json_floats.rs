//! OTLP/JSON's non-finite doubles: `"NaN"`, `"Infinity"`, `"-Infinity"`.
//!
//! The proto3 JSON mapping writes a non-finite `double` as one of those
//! strings, and senders that follow it (the Collector's `otlphttp` exporter
//! with JSON encoding, Go's `protojson`) do so for a gauge that has no value
//! or an attribute that is NaN. The generated serde code of
//! `opentelemetry-proto` accepts them only for a summary's quantiles, so one
//! such number used to cost the whole request a 400.
//!
//! This wrapper around `serde_json`'s deserializer changes nothing but that:
//! the value of a key whose OTLP field is a `double` (see [`DOUBLE_KEYS`]) may
//! be one of the three strings and is read as the number. The key decides,
//! not the string, so an attribute whose *string* value is `"NaN"` stays a
//! string. It has to know the key because the generated code buffers
//! flattened `oneof`s (`Metric.data`, `NumberDataPoint.value`,
//! `AnyValue.value`) through `deserialize_any` before it knows their types.
//!
//! It is only used when the body contains one of the strings at all
//! ([`mentions_non_finite`]), so ordinary requests take `serde_json` alone.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// The OTLP/JSON keys whose values are `double`s (trace, logs and metrics
/// protos), apart from the summary's `quantile` and `value`, which the
/// generated code already reads leniently (and `value` is also an
/// attribute's `AnyValue`, which must stay what it is).
const DOUBLE_KEYS: &[&str] = &[
    "doubleValue",
    "asDouble",
    "sum",
    "min",
    "max",
    "zeroThreshold",
    "explicitBounds",
];

/// Whether the body holds a quoted `NaN` or `Infinity` anywhere: one pass
/// that looks back only at quotes, cheap beside the parse it decides on (a
/// false positive only takes the lenient path).
pub fn mentions_non_finite(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'"' && (bytes[..i].ends_with(b"\"NaN") || bytes[..i].ends_with(b"Infinity"))
    })
}

/// `serde_json::from_slice`, with the non-finite strings read as doubles
/// where the key says the field is a double.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Lenient {
        inner: &mut json,
        mode: Mode::Plain,
    })?;
    json.end()?;
    Ok(value)
}

fn non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// What the value being read is: anything, a double (a non-finite string
/// becomes the number), or a map's key (recorded, to decide its value's mode).
#[derive(Clone, Copy)]
enum Mode<'k> {
    Plain,
    Double,
    Key(&'k Cell<bool>),
}

impl Mode<'_> {
    /// The mode of what is inside a value of this mode (`Some(x)`, a
    /// newtype, an array's elements): inside a double, a double; a key has
    /// nothing inside.
    fn nested(self) -> Mode<'static> {
        match self {
            Mode::Double => Mode::Double,
            _ => Mode::Plain,
        }
    }
}

struct Lenient<'k, D> {
    inner: D,
    mode: Mode<'k>,
}

struct Wrap<'k, V> {
    inner: V,
    mode: Mode<'k>,
}

impl<'k, V> Wrap<'k, V> {
    fn new(inner: V, mode: Mode<'k>) -> Self {
        Wrap { inner, mode }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method(Wrap::new(visitor, self.mode))
            }
        )*
    };
}

impl<'de, 'k, D: Deserializer<'de>> Deserializer<'de> for Lenient<'k, D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_f64(visitor)
    }

    /// `serde_json` refuses a string where a number is asked for before the
    /// visitor sees it, so a double is read as "anything" and the visitor
    /// turns the string into the number.
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        match self.mode {
            Mode::Double => self.inner.deserialize_any(Wrap::new(visitor, self.mode)),
            _ => self.inner.deserialize_f64(Wrap::new(visitor, self.mode)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_unit_struct(name, Wrap::new(visitor, self.mode))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_newtype_struct(name, Wrap::new(visitor, self.mode))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_tuple(len, Wrap::new(visitor, self.mode))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_tuple_struct(name, len, Wrap::new(visitor, self.mode))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_struct(name, fields, Wrap::new(visitor, self.mode))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_enum(name, variants, Wrap::new(visitor, self.mode))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<V> Wrap<'_, V> {
    /// A string seen as a key is recorded; seen as a double, a non-finite
    /// one is the number to visit instead.
    fn intercept(&self, s: &str) -> Option<f64> {
        match self.mode {
            Mode::Key(is_double) => {
                is_double.set(DOUBLE_KEYS.contains(&s));
                None
            }
            Mode::Double => non_finite(s),
            Mode::Plain => None,
        }
    }
}

impl<'de, 'k, V: Visitor<'de>> Visitor<'de> for Wrap<'k, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        match self.intercept(v) {
            Some(x) => self.inner.visit_f64(x),
            None => self.inner.visit_str(v),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        match self.intercept(v) {
            Some(x) => self.inner.visit_f64(x),
            None => self.inner.visit_borrowed_str(v),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        match self.intercept(&v) {
            Some(x) => self.inner.visit_f64(x),
            None => self.inner.visit_string(v),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Lenient {
            inner: d,
            mode: self.mode.nested(),
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Lenient {
            inner: d,
            mode: self.mode.nested(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(Seq {
            inner: seq,
            mode: self.mode.nested(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Map {
            inner: map,
            value_is_double: Cell::new(false),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Enum { inner: data })
    }
}

struct Seed<'k, S> {
    inner: S,
    mode: Mode<'k>,
}

impl<'de, 'k, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'k, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Lenient {
            inner: d,
            mode: self.mode,
        })
    }
}

struct Seq<A> {
    inner: A,
    mode: Mode<'static>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Seed {
            inner: seed,
            mode: self.mode,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct Map<A> {
    inner: A,
    /// Set by the last key read: whether its value is an OTLP double.
    value_is_double: Cell<bool>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.value_is_double.set(false);
        self.inner.next_key_seed(Seed {
            inner: seed,
            mode: Mode::Key(&self.value_is_double),
        })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let mode = if self.value_is_double.get() {
            Mode::Double
        } else {
            Mode::Plain
        };
        self.inner.next_value_seed(Seed { inner: seed, mode })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct Enum<A> {
    inner: A,
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.inner.variant_seed(Seed {
            inner: seed,
            mode: Mode::Plain,
        })?;
        Ok((value, Variant { inner: variant }))
    }
}

struct Variant<A> {
    inner: A,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(Seed {
            inner: seed,
            mode: Mode::Plain,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner
            .tuple_variant(len, Wrap::new(visitor, Mode::Plain))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner
            .struct_variant(fields, Wrap::new(visitor, Mode::Plain))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};

    use super::*;
    use crate::decode::{decode_message, DecodeError, Encoding};

    fn attr_values(req: &ExportTraceServiceRequest) -> Vec<Option<Value>> {
        req.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .iter()
            .map(|kv| kv.value.as_ref().and_then(|v| v.value.clone()))
            .collect()
    }

    const SPAN: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
        "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
        "name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2",
        "attributes":[
          {"key":"a","value":{"doubleValue":"NaN"}},
          {"key":"b","value":{"doubleValue":"Infinity"}},
          {"key":"c","value":{"doubleValue":"-Infinity"}},
          {"key":"d","value":{"stringValue":"NaN"}},
          {"key":"e","value":{"doubleValue":1.5}},
          {"key":"f","value":{"arrayValue":{"values":[{"doubleValue":"NaN"},{"stringValue":"Infinity"}]}}}
        ]}]}]}]}"#;

    #[test]
    fn mentions_non_finite_finds_the_three_strings_only() {
        for yes in [r#"{"a":"NaN"}"#, r#"["Infinity"]"#, r#"{"x":"-Infinity"}"#] {
            assert!(mentions_non_finite(yes.as_bytes()), "{yes}");
        }
        for no in [r#"{"a":"NaNa"}"#, "", r#"{"a":1.5,"b":"Infinite"}"#] {
            assert!(!mentions_non_finite(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn json_nan_double_value_is_accepted() {
        assert!(mentions_non_finite(SPAN.as_bytes()));
        let req: ExportTraceServiceRequest =
            decode_message(SPAN.as_bytes(), Encoding::Json).expect("accepted");
        let v = attr_values(&req);
        assert!(matches!(v[0], Some(Value::DoubleValue(x)) if x.is_nan()));
        assert_eq!(v[1], Some(Value::DoubleValue(f64::INFINITY)));
        assert_eq!(v[2], Some(Value::DoubleValue(f64::NEG_INFINITY)));
        // The key decides, not the string: a string attribute stays a string.
        assert_eq!(v[3], Some(Value::StringValue("NaN".into())));
        assert_eq!(v[4], Some(Value::DoubleValue(1.5)));
        let Some(Value::ArrayValue(array)) = &v[5] else {
            panic!("array expected, got {:?}", v[5]);
        };
        assert!(matches!(array.values[0].value, Some(Value::DoubleValue(x)) if x.is_nan()));
        assert_eq!(
            array.values[1].value,
            Some(Value::StringValue("Infinity".into()))
        );
    }

    #[test]
    fn the_lenient_path_reads_what_the_plain_one_does() {
        // Same request without the special strings: both paths agree.
        let plain = SPAN
            .replace(r#""doubleValue":"NaN""#, r#""doubleValue":0.25"#)
            .replace(r#""doubleValue":"-Infinity""#, r#""doubleValue":-2"#)
            .replace(r#""doubleValue":"Infinity""#, r#""doubleValue":2"#);
        let a: ExportTraceServiceRequest = serde_json::from_slice(plain.as_bytes()).unwrap();
        let b: ExportTraceServiceRequest = from_slice(plain.as_bytes()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn metric_points_take_non_finite_doubles() {
        let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
          {"name":"g","gauge":{"dataPoints":[
            {"timeUnixNano":"1","asDouble":"NaN","attributes":[{"key":"k","value":{"stringValue":"NaN"}}]},
            {"timeUnixNano":"2","asDouble":"-Infinity"}]}},
          {"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[
            {"timeUnixNano":"1","count":"2","sum":"Infinity","min":"-Infinity","max":"Infinity",
             "bucketCounts":["1","1"],"explicitBounds":[1.0]}]}},
          {"name":"s","summary":{"dataPoints":[
            {"timeUnixNano":"1","count":"1","sum":"NaN","quantileValues":[{"quantile":0.5,"value":"NaN"}]}]}}
        ]}]}]}"#;
        let req: ExportMetricsServiceRequest =
            decode_message(body.as_bytes(), Encoding::Json).expect("accepted");
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let Some(Data::Gauge(g)) = &metrics[0].data else {
            panic!("gauge expected")
        };
        assert!(matches!(
            g.data_points[0].value,
            Some(number_data_point::Value::AsDouble(x)) if x.is_nan()
        ));
        assert_eq!(
            g.data_points[0].attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.value.clone()),
            Some(Value::StringValue("NaN".into()))
        );
        assert_eq!(
            g.data_points[1].value,
            Some(number_data_point::Value::AsDouble(f64::NEG_INFINITY))
        );
        let Some(Data::Histogram(h)) = &metrics[1].data else {
            panic!("histogram expected")
        };
        let p = &h.data_points[0];
        assert_eq!(
            (p.sum, p.min, p.max),
            (
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
                Some(f64::INFINITY)
            )
        );
        let Some(Data::Summary(s)) = &metrics[2].data else {
            panic!("summary expected")
        };
        assert!(s.data_points[0].sum.is_nan());
    }

    #[test]
    fn log_bodies_take_non_finite_doubles() {
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
          {"timeUnixNano":"1","body":{"doubleValue":"-Infinity"}}]}]}]}"#;
        let req: ExportLogsServiceRequest =
            decode_message(body.as_bytes(), Encoding::Json).expect("accepted");
        let body = &req.resource_logs[0].scope_logs[0].log_records[0].body;
        assert_eq!(
            body.as_ref().and_then(|b| b.value.clone()),
            Some(Value::DoubleValue(f64::NEG_INFINITY))
        );
    }

    #[test]
    fn a_non_finite_string_where_no_double_belongs_is_still_refused() {
        // `startTimeUnixNano` is an integer: "NaN" there stays an error (400).
        let body = SPAN.replace(r#""startTimeUnixNano":"1""#, r#""startTimeUnixNano":"NaN""#);
        let err = decode_message::<ExportTraceServiceRequest>(body.as_bytes(), Encoding::Json)
            .expect_err("refused");
        assert!(matches!(err, DecodeError::BadJson(_)), "{err}");
        // And other strings in a double's place are refused as before.
        let body = SPAN.replace(r#"{"doubleValue":"NaN"}"#, r#"{"doubleValue":"nan"}"#);
        assert!(
            decode_message::<ExportTraceServiceRequest>(body.as_bytes(), Encoding::Json).is_err()
        );
    }

    #[test]
    fn deep_nesting_is_still_bounded_by_serde_json() {
        let depth = 10_000;
        let body = format!(
            r#"{{"resourceSpans":[{}"NaN"{}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(from_slice::<ExportTraceServiceRequest>(body.as_bytes()).is_err());
    }
}
