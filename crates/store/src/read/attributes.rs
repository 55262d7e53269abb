//! What pickers and autocompletion offer: attribute keys, recent values of
//! one key, service names.

use std::collections::HashMap;

use loupe_model::otlp::logs::LogRecord;
use prost::Message;

use super::Reader;
use crate::codec::decode_chunk;
use crate::error::StoreError;

impl Reader {
    /// Attribute keys seen on spans, resources or scopes (for autocompletion
    /// and group-by pickers), without Loupe's internal pseudo keys.
    pub fn attribute_keys(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT key FROM attr_keys WHERE key NOT LIKE ':%' ORDER BY key")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Values seen for the attribute `key` in recent data (the newest span
    /// chunks and log records, their resources included), most frequent
    /// first, at most `limit`. For autocompletion: a sample is enough, and
    /// the index keeps only hashes of text values.
    pub fn attribute_values(&self, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        use loupe_model::otlp::common::{any_value::Value, KeyValue};
        const SAMPLE: i64 = 500;
        fn tally(counts: &mut HashMap<String, u64>, key: &str, attrs: &[KeyValue]) {
            for kv in attrs.iter().filter(|kv| kv.key == key) {
                let text = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.clone(),
                    Some(Value::IntValue(i)) => i.to_string(),
                    Some(Value::DoubleValue(d)) => d.to_string(),
                    Some(Value::BoolValue(b)) => b.to_string(),
                    _ => continue,
                };
                *counts.entry(text).or_default() += 1;
            }
        }
        self.with(|c| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            let mut resources: HashMap<i64, u64> = HashMap::new();
            let mut st = c.prepare_cached(
                "SELECT resource, body FROM span_chunks ORDER BY id DESC LIMIT ?1",
            )?;
            let mut rows = st.query([SAMPLE])?;
            while let Some(r) = rows.next()? {
                *resources.entry(r.get(0)?).or_default() += 1;
                for span in decode_chunk(r.get_ref(1)?.as_blob()?)? {
                    tally(&mut counts, key, &span.attributes);
                }
            }
            let mut st = c.prepare_cached(
                "SELECT resource, record FROM logs ORDER BY time_ns DESC LIMIT ?1",
            )?;
            let mut rows = st.query([SAMPLE])?;
            while let Some(r) = rows.next()? {
                *resources.entry(r.get(0)?).or_default() += 1;
                let record = LogRecord::decode(r.get_ref(1)?.as_blob()?)?;
                tally(&mut counts, key, &record.attributes);
            }
            for id in resources.into_keys() {
                if let Some(res) = self.resource(c, id)?.resource {
                    tally(&mut counts, key, &res.attributes);
                }
            }
            let mut values: Vec<(String, u64)> = counts.into_iter().collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Ok(values.into_iter().take(limit).map(|(v, _)| v).collect())
        })
    }

    /// Service names of every resource that sent anything.
    pub fn services(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT DISTINCT service FROM resources WHERE service IS NOT NULL ORDER BY service",
            )?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
