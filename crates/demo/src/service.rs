//! Who sends: the four services of a run with the resources their SDKs
//! would report, and the instrumentation scopes Kestra uses.

use crate::attrs::{int, kv, s};
use crate::otlp::common::InstrumentationScope;
use crate::otlp::resource::Resource;

pub const EXECUTOR: &str = "io.kestra.core.runners.Executor";
pub const WORKER: &str = "io.kestra.core.runners.Worker";
pub(crate) const HTTP_CLIENT: &str = "io.kestra.core.http.client.HttpClient";
pub(crate) const METRICS_SCOPE: &str = "io.kestra.core.metrics.MetricRegistry";
pub(crate) const KESTRA_VERSION: &str = "0.24.0";

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Upstream,
    Webserver,
    Kestra,
    Downstream,
}

impl Service {
    pub(crate) const ALL: [Service; 4] = [
        Service::Upstream,
        Service::Webserver,
        Service::Kestra,
        Service::Downstream,
    ];

    pub(crate) fn resource(self) -> Resource {
        let java = |name: &str, instance: &str| {
            vec![
                kv("service.name", s(name)),
                kv("service.namespace", s("kestra")),
                kv("service.version", s(KESTRA_VERSION)),
                kv("service.instance.id", s(instance)),
                kv("host.name", s("kestra-0")),
                kv("process.pid", int(7)),
                kv("process.runtime.name", s("OpenJDK Runtime Environment")),
                kv("process.runtime.version", s("21.0.5+11-LTS")),
                kv("telemetry.sdk.language", s("java")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.version", s("1.45.0")),
            ]
        };
        let attributes = match self {
            Service::Upstream => vec![
                kv("service.name", s("upstream")),
                kv("service.version", s("2.3.1")),
                kv("deployment.environment.name", s("dev")),
                kv("host.name", s("shop-backend-1")),
                kv("telemetry.sdk.language", s("python")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.version", s("1.29.0")),
            ],
            Service::Webserver => java("kestra-webserver", "kestra-webserver-0"),
            Service::Kestra => java("kestra", "kestra-standalone-0"),
            Service::Downstream => vec![
                kv("service.name", s("downstream")),
                kv("service.version", s("1.8.0")),
                kv("deployment.environment.name", s("dev")),
                kv("host.name", s("orders-api-1")),
                kv("telemetry.sdk.language", s("go")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.version", s("1.33.0")),
            ],
        };
        Resource {
            attributes,
            ..Default::default()
        }
    }
}

pub(crate) fn scope(name: &str, version: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.into(),
        version: version.into(),
        ..Default::default()
    }
}
