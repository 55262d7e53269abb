//! The metric catalogue: descriptions that arrive late, and last-point
//! times beyond `i64::MAX` (stored bit-cast, compared as unsigned).

use loupe_model::otlp::metrics::{
    metric::Data, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use loupe_model::otlp::ExportMetricsServiceRequest;
use loupe_model::sink::{Batch, Sink};
use loupe_store::{Retention, Store, WriterConfig};

fn gauge(description: &str, times: &[u64]) -> Batch {
    Batch::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "kestra.worker.running.count".into(),
                    description: description.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: times
                            .iter()
                            .map(|&t| NumberDataPoint {
                                time_unix_nano: t,
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_description_that_arrives_later_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for d in ["", "Running worker jobs", ""] {
        store
            .writer
            .submit(gauge(d, &[1]))
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    let m = store.reader.metrics().unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].description, "Running worker jobs");
}

#[tokio::test]
async fn last_point_time_orders_as_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let late = i64::MAX as u64 + 10;
    for times in [&[5u64][..], &[i64::MAX as u64], &[late], &[7]] {
        store
            .writer
            .submit(gauge("", times))
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    let m = store.reader.metrics().unwrap();
    assert_eq!(m[0].last_point_unix_nano, late);
    assert_eq!(m[0].series, 1);
}
