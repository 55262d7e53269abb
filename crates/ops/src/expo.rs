//! The Prometheus text exposition format (version 0.0.4): `# HELP`,
//! `# TYPE`, then samples, each family once.

use std::fmt::Write;

use crate::{Counter, Gauge, Histogram};

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        }
    }
}

/// The text being built. Families are opened with [`Exposition::family`]
/// and their samples follow; names get the exposition's prefix.
pub struct Exposition {
    prefix: String,
    text: String,
    family: String,
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Formats a sample value the way Prometheus parses it.
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Exposition {
    pub fn new(prefix: &str) -> Exposition {
        Exposition {
            prefix: prefix.to_string(),
            text: String::new(),
            family: String::new(),
        }
    }

    /// Starts a family: `name` without the prefix.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Self {
        self.family = format!("{}{}", self.prefix, name);
        let _ = writeln!(
            self.text,
            "# HELP {} {}\n# TYPE {} {}",
            self.family,
            escape_help(help),
            self.family,
            kind.as_str()
        );
        self
    }

    /// One sample of the current family; `suffix` is appended to the
    /// family's name (`_bucket`, `_sum`, …; empty for plain values).
    pub fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.text.push_str(&self.family);
        self.text.push_str(suffix);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape_label_value(v));
            }
            self.text.push('}');
        }
        self.text.push(' ');
        self.text.push_str(&format_value(value));
        self.text.push('\n');
        self
    }

    pub fn counter(&mut self, labels: &[(&str, &str)], c: &Counter) -> &mut Self {
        self.sample("", labels, c.get() as f64)
    }

    pub fn gauge(&mut self, labels: &[(&str, &str)], g: &Gauge) -> &mut Self {
        self.sample("", labels, g.get() as f64)
    }

    /// A histogram's `_bucket` (with `le`), `_sum` and `_count` samples.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) -> &mut Self {
        let (buckets, sum, count) = h.snapshot();
        self.histogram_parts(labels, &buckets, sum, count)
    }

    /// A histogram from its parts: (upper bound, cumulative count) with
    /// `+Inf` last, sum and count.
    pub fn histogram_parts(
        &mut self,
        labels: &[(&str, &str)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) -> &mut Self {
        for (le, n) in buckets {
            let le = format_value(*le);
            let mut l: Vec<(&str, &str)> = labels.to_vec();
            l.push(("le", &le));
            self.sample("_bucket", &l, *n as f64);
        }
        self.sample("_sum", labels, sum);
        self.sample("_count", labels, count as f64)
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families() {
        let mut e = Exposition::new("loupe_");
        let c = Counter::new();
        c.add(3);
        e.family("items_total", "Items.", Kind::Counter)
            .counter(&[("signal", "traces"), ("x", "a\"b\\c\nd")], &c);
        let h = Histogram::new(&[0.5]);
        h.observe(0.25);
        e.family("wait_seconds", "Wait.", Kind::Histogram)
            .histogram(&[], &h);
        assert_eq!(
            e.finish(),
            "# HELP loupe_items_total Items.\n# TYPE loupe_items_total counter\n\
             loupe_items_total{signal=\"traces\",x=\"a\\\"b\\\\c\\nd\"} 3\n\
             # HELP loupe_wait_seconds Wait.\n# TYPE loupe_wait_seconds histogram\n\
             loupe_wait_seconds_bucket{le=\"0.5\"} 1\n\
             loupe_wait_seconds_bucket{le=\"+Inf\"} 1\n\
             loupe_wait_seconds_sum 0.25\nloupe_wait_seconds_count 1\n"
        );
    }

    #[test]
    fn prefixes() {
        assert!(crate::valid_prefix("loupe_"));
        assert!(crate::valid_prefix(""));
        assert!(!crate::valid_prefix("1x"));
        assert!(!crate::valid_prefix("a-b"));
    }
}
