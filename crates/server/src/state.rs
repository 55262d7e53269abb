//! The one state every route of the API address is served with.
//!
//! `loupe-app` builds an [`AppState`] once; each handler still names only the
//! part it touches (`State<Arc<Reader>>`, `State<Arc<Ops>>`, …) through
//! axum's `FromRef`, so a handler's signature says what it can reach while
//! the routers are all `Router<AppState>` and are merged without positional
//! wiring.

use std::sync::Arc;

use axum::extract::FromRef;
use loupe_alerting::Alerting;
use loupe_store::{Reader, Store};

use crate::info::Info;
use crate::ops::Ops;

/// Everything the API address serves from: the store, where Loupe listens,
/// the operational state and alerting.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub info: Arc<Info>,
    pub ops: Arc<Ops>,
    pub alerting: Arc<Alerting>,
}

/// The attribute keys that name a run (`analysis.run_keys`): the default of
/// the analysis routes' `runKeys` parameter.
#[derive(Clone)]
pub struct RunKeys(pub Arc<[String]>);

impl FromRef<AppState> for Store {
    fn from_ref(s: &AppState) -> Store {
        s.store.clone()
    }
}

impl FromRef<AppState> for Arc<Reader> {
    fn from_ref(s: &AppState) -> Arc<Reader> {
        s.store.reader.clone()
    }
}

impl FromRef<AppState> for Arc<Info> {
    fn from_ref(s: &AppState) -> Arc<Info> {
        s.info.clone()
    }
}

impl FromRef<AppState> for Arc<Ops> {
    fn from_ref(s: &AppState) -> Arc<Ops> {
        s.ops.clone()
    }
}

impl FromRef<AppState> for Arc<Alerting> {
    fn from_ref(s: &AppState) -> Arc<Alerting> {
        s.alerting.clone()
    }
}

impl FromRef<AppState> for RunKeys {
    fn from_ref(s: &AppState) -> RunKeys {
        RunKeys(s.info.run_keys.clone().into())
    }
}

impl AppState {
    /// A Loupe around `store` with nothing else attached: default receiver
    /// settings, no collectors beyond the API's own, alerting that notifies
    /// nobody and is not evaluating. For tests and tools that need the API's
    /// routes without `loupe-app`'s wiring.
    pub fn standalone(
        store: Store,
        api: std::net::SocketAddr,
    ) -> Result<AppState, loupe_store::StoreError> {
        let alerting = Alerting::start(
            store.alerts.clone(),
            store.reader.clone(),
            api,
            vec![api],
            Arc::new(loupe_alerts::NoNotifier),
        )?;
        let ops = Arc::new(Ops {
            store: store.clone(),
            bound: crate::Bound {
                grpc: api,
                http: api,
                api,
                db: store.path().to_path_buf(),
                login_url: None,
            },
            receiver: Default::default(),
            min_free_disk: 0,
            prefix: "loupe".into(),
            registry: loupe_ops::Registry::new(),
            api_stats: Default::default(),
            log: None,
            health_parts: Vec::new(),
            received: None,
        });
        Ok(AppState {
            store,
            info: Arc::new(Info::new(api, api)),
            ops,
            alerting,
        })
    }
}
