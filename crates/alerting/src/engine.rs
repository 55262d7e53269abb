//! The evaluation loop of a running Loupe: loads rules from the store,
//! evaluates them once a second on a blocking task of its own (reading
//! through the store's `Reader`, so evaluation never blocks ingest), keeps
//! group states and history in the store, and hands notifications to the
//! delivery queue and the desktop `Notifier`.
//!
//! Span rules see the span chunks committed since a watermark (chunk IDs
//! only grow). Log records are keyed by their own timestamps, which may be
//! late, so log rules look back `LOG_GRACE` behind the newest record seen
//! and skip records already seen. Watermarks are kept in the store, so a
//! restart neither misses nor repeats what was evaluated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loupe_alerts::deliver::{Attempt, Channel, ChannelKind, Deliverer, Job, RetryPolicy};
use loupe_alerts::eval::{self, GroupState, Matcher, State, Transition};
use loupe_alerts::metric;
use loupe_alerts::template::{default_text, render, Notice};
use loupe_alerts::{Notifier, Rule, Signal};
use loupe_model::ids::TraceId;
use loupe_model::query::LogQuery;
use loupe_model::time::{now_ns, NanoRange};
use loupe_redact::Redactor;
use loupe_store::alerts::{
    AlertDb, ChannelRow, DeliveryRow, EvalCommit, HistoryRow, LogRow, StateRow,
};

use crate::items::{log_items, span_items};
use crate::linked::linked_matches;
use loupe_store::{Reader, StoreError};

/// How often rules are evaluated.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// How far behind the newest log record log rules look for late records.
const LOG_GRACE_NS: u64 = 30_000_000_000;
/// Span chunks read per evaluation at most (the rest next time).
const SPAN_CHUNKS_PER_TICK: usize = 5_000;
const LOGS_PER_TICK: usize = 20_000;
/// Notifications wait this long before they are written, so the trace's
/// error logs (often sent just after its spans) make it into the message.
const NOTICE_DELAY: Duration = Duration::from_millis(1500);

const WM_SPANS: &str = "spans";
const WM_LOGS: &str = "logs";

/// A rule as loaded: its row and parsed form (or why it failed to parse).
#[derive(Clone)]
pub struct LoadedRule {
    pub id: i64,
    pub yaml: String,
    pub rule: Result<Rule, String>,
}

struct Inner {
    rules: Vec<LoadedRule>,
    states: HashMap<i64, Vec<GroupState>>,
    span_wm: i64,
    log_wm: u64,
    seen_logs: HashSet<(u64, i64)>,
    firing: usize,
}

/// The engine; cheap to share.
pub struct Alerting {
    pub(crate) db: Arc<AlertDb>,
    pub(crate) reader: Arc<Reader>,
    inner: Mutex<Inner>,
    deliverer: Deliverer,
    notifier: Arc<dyn Notifier>,
    /// `http://<api address>`, for links to traces.
    pub base_url: String,
    /// Loupe's listening addresses: a channel may never point at them (the
    /// check when a channel is saved; delivery checks again).
    pub(crate) own: Vec<SocketAddr>,
    jobs: AtomicU64,
    firing: AtomicUsize,
}

pub fn channel_of(row: &ChannelRow) -> Channel {
    Channel {
        id: row.id,
        name: row.name.clone(),
        kind: match row.kind.as_str() {
            "slack" => ChannelKind::Slack,
            "desktop" => ChannelKind::Desktop,
            _ => ChannelKind::Webhook,
        },
        url: row.url.clone(),
        allow_private: row.allow_private,
        template: row.template.clone(),
    }
}

/// The payload for a channel: Slack's `{"text"}`, or the whole notice
/// with `text`. The text is the channel's template, or
/// [`default_text`] when it has none.
pub fn payload(ch: &Channel, n: &Notice) -> Vec<u8> {
    let slack = ch.kind == ChannelKind::Slack;
    let text = if ch.template.trim().is_empty() {
        default_text(n, slack)
    } else {
        render(&ch.template, n, slack)
    };
    let body = if slack {
        serde_json::json!({ "text": text })
    } else {
        let mut v = serde_json::to_value(n).unwrap_or_default();
        v["text"] = text.into();
        v
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

impl Alerting {
    /// Loads rules, states and watermarks and starts the delivery queue (on
    /// the current runtime). Call [`Alerting::run`] to evaluate.
    pub fn start(
        db: Arc<AlertDb>,
        reader: Arc<Reader>,
        api: SocketAddr,
        own: Vec<SocketAddr>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Arc<Alerting>, StoreError> {
        let log_db = db.clone();
        let log = Arc::new(move |a: Attempt| {
            let db = log_db.clone();
            let row = DeliveryRow {
                id: 0,
                job: a.job as i64,
                channel: a.channel_id,
                channel_name: a.channel.clone(),
                rule: a.rule.clone(),
                attempt: a.attempt as i64,
                result: a.result.clone(),
                status: a.status.map(i64::from),
                error: a.error.clone(),
                at_ns: a.at_ns,
            };
            if a.result == "delivered" {
                tracing::info!(
                    "loupe: alert {:?} delivered to channel {:?}",
                    a.rule,
                    a.channel
                );
            } else {
                tracing::warn!(
                    "loupe: alert {:?} to channel {:?}: {} (attempt {})",
                    a.rule,
                    a.channel,
                    a.error,
                    a.attempt
                );
            }
            tokio::task::spawn_blocking(move || {
                if let Err(e) = db.add_delivery(&row) {
                    tracing::warn!("loupe: cannot record a delivery: {e}");
                }
            });
        });
        let deliverer = Deliverer::start(RetryPolicy::default(), own.clone(), log);
        let span_wm = match db.meta(WM_SPANS)? {
            Some(v) => v,
            None => reader.last_chunk()?,
        };
        let log_wm = db.meta(WM_LOGS)?.map(|v| v as u64).unwrap_or_else(now_ns);
        let mut states: HashMap<i64, Vec<GroupState>> = HashMap::new();
        for row in db.states()? {
            if let Ok(g) = serde_json::from_str::<GroupState>(&row.body) {
                states.entry(row.rule).or_default().push(g);
            }
        }
        let a = Arc::new(Alerting {
            db,
            reader,
            inner: Mutex::new(Inner {
                rules: Vec::new(),
                states,
                span_wm,
                log_wm,
                seen_logs: HashSet::new(),
                firing: 0,
            }),
            deliverer,
            notifier,
            base_url: format!("http://{api}"),
            own,
            jobs: AtomicU64::new(1),
            firing: AtomicUsize::new(0),
        });
        a.reload()?;
        let n = a.count_firing();
        a.firing.store(n, Ordering::SeqCst);
        a.notifier.firing(n);
        Ok(a)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads the rules (after the API changed them). States of rules
    /// that no longer exist are dropped.
    pub fn reload(&self) -> Result<(), StoreError> {
        let rows = self.db.rules()?;
        let rules: Vec<LoadedRule> = rows
            .into_iter()
            .map(|r| LoadedRule {
                id: r.id,
                rule: loupe_alerts::from_yaml(&r.yaml).map_err(|e| e.to_string()),
                yaml: r.yaml,
            })
            .collect();
        let mut inner = self.lock();
        let ids: HashSet<i64> = rules.iter().map(|r| r.id).collect();
        inner.states.retain(|k, _| ids.contains(k));
        inner.rules = rules;
        Ok(())
    }

    /// Forgets a rule's states (its definition changed).
    pub fn reset(&self, rule: i64) -> Result<(), StoreError> {
        self.lock().states.remove(&rule);
        self.db.commit(&EvalCommit {
            states: vec![(rule, Vec::new())],
            ..Default::default()
        })
    }

    pub fn rules(&self) -> Vec<LoadedRule> {
        self.lock().rules.clone()
    }

    /// Every group not inactive, with its rule.
    pub fn groups(&self) -> Vec<(i64, String, GroupState)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for r in &inner.rules {
            let name = r.rule.as_ref().map(|x| x.name.clone()).unwrap_or_default();
            for g in inner.states.get(&r.id).into_iter().flatten() {
                out.push((r.id, name.clone(), g.clone()));
            }
        }
        out
    }

    pub fn firing_count(&self) -> usize {
        self.firing.load(Ordering::SeqCst)
    }

    fn count_firing(&self) -> usize {
        self.lock()
            .states
            .values()
            .flatten()
            .filter(|g| g.state == State::Firing)
            .count()
    }

    /// Evaluates every enabled rule once, at `now`: reads, steps the pure
    /// evaluator, stores, and returns the notices to send. Blocking.
    pub fn tick(&self, now: u64) -> Result<Vec<(Rule, i64, Transition)>, StoreError> {
        let (rules, span_wm, log_wm) = {
            let inner = self.lock();
            (inner.rules.clone(), inner.span_wm, inner.log_wm)
        };
        let enabled: Vec<(i64, Rule)> = rules
            .into_iter()
            .filter_map(|l| l.rule.ok().map(|r| (l.id, r)))
            .filter(|(_, r)| r.enabled)
            .collect();
        let want_spans = enabled
            .iter()
            .any(|(_, r)| matches!(r.signal, Signal::Spans | Signal::Traces));
        let want_logs = enabled.iter().any(|(_, r)| r.signal == Signal::Logs);

        // New spans since the watermark.
        let (spans, new_span_wm) = if want_spans {
            let batches = self.reader.spans_after(span_wm, SPAN_CHUNKS_PER_TICK)?;
            let wm = batches.last().map(|b| b.chunk).unwrap_or(span_wm);
            (span_items(&batches), wm)
        } else {
            (Vec::new(), self.reader.last_chunk()?)
        };
        // New logs: from the grace window behind the newest seen, minus seen ones.
        let (logs, new_log_wm, seen) = if want_logs {
            let start = log_wm.saturating_sub(LOG_GRACE_NS);
            let rows = self
                .reader
                .logs_between(start, i64::MAX as u64, LOGS_PER_TICK)?;
            let mut seen = std::mem::take(&mut self.lock().seen_logs);
            seen.retain(|(t, _)| *t >= start);
            let fresh: Vec<LogRow> = rows
                .into_iter()
                .filter(|r| seen.insert((r.time_ns, r.hash)))
                .collect();
            let wm = fresh
                .iter()
                .map(|r| r.time_ns)
                .max()
                .unwrap_or(log_wm)
                .max(log_wm);
            (log_items(&fresh), wm, seen)
        } else {
            (Vec::new(), now.max(log_wm), HashSet::new())
        };

        let mut commit = EvalCommit::default();
        let mut notices = Vec::new();
        let prev_states = self.lock().states.clone();
        let mut next_states = prev_states.clone();
        for (id, rule) in &enabled {
            let Ok(m) = Matcher::new(rule) else { continue };
            let prev = prev_states.get(id).cloned().unwrap_or_default();
            let (next, transitions) = match rule.signal {
                Signal::Spans | Signal::Traces => {
                    let matches = match rule.query_expr() {
                        None => m.span_matches(&spans),
                        Some(Ok(expr)) => linked_matches(&self.reader, &m, &expr, &spans)?,
                        Some(Err(_)) => continue,
                    };
                    eval::step_events(rule, &prev, &matches, now)
                }
                Signal::Logs => eval::step_events(rule, &prev, &m.log_matches(&logs), now),
                Signal::Metrics => {
                    let Some(spec) = &rule.metric else { continue };
                    // Twice the window: a cumulative histogram's increase
                    // over the window needs the point before it.
                    let range = NanoRange {
                        start: now.saturating_sub(spec.window.0.saturating_mul(2)),
                        end: now,
                    };
                    let req = self.reader.metric_points(&spec.name, range)?;
                    let series = metric::series_from_otlp(&req);
                    let values = metric::evaluate(rule, &m, &series, now);
                    metric::step_metric_values(rule, &prev, &values, now)
                }
            };
            if next != prev {
                commit.states.push((
                    *id,
                    next.iter()
                        .map(|g| StateRow {
                            rule: *id,
                            group: g.group.clone(),
                            state: g.state.as_str().into(),
                            body: serde_json::to_string(g).unwrap_or_default(),
                        })
                        .collect(),
                ));
            }
            for t in transitions {
                commit.history.push(HistoryRow {
                    id: 0,
                    rule: *id,
                    rule_name: rule.name.clone(),
                    group: t.group.clone(),
                    from: t.from.as_str().into(),
                    to: t.to.as_str().into(),
                    at_ns: t.at_ns,
                    body: serde_json::to_string(&t).unwrap_or_default(),
                });
                notices.push((rule.clone(), *id, t));
            }
            next_states.insert(*id, next);
        }
        commit.meta.push((WM_SPANS.into(), new_span_wm));
        commit.meta.push((WM_LOGS.into(), new_log_wm as i64));
        self.db.commit(&commit)?;
        let firing = {
            let mut inner = self.lock();
            inner.span_wm = new_span_wm;
            inner.log_wm = new_log_wm;
            inner.seen_logs = seen;
            // Keep states of rules the API did not remove meanwhile.
            let ids: HashSet<i64> = inner.rules.iter().map(|r| r.id).collect();
            for (id, s) in next_states {
                if ids.contains(&id) {
                    inner.states.insert(id, s);
                }
            }
            inner.firing = inner
                .states
                .values()
                .flatten()
                .filter(|g| g.state == State::Firing)
                .count();
            inner.firing
        };
        if self.firing.swap(firing, Ordering::SeqCst) != firing {
            self.notifier.firing(firing);
        }
        Ok(notices)
    }

    /// The trace's ERROR-or-worse log bodies (the seed's `errorLogs()`).
    fn error_logs(&self, trace: Option<&str>) -> Vec<String> {
        let Some(id) = trace.and_then(|t| TraceId::parse_hex(t).ok()) else {
            return Vec::new();
        };
        let q = LogQuery {
            trace_id: Some(id),
            span_id: None,
            service: None,
            min_severity: Some(loupe_model::severity::ERROR),
            text: None,
            search: None,
            attrs: Vec::new(),
            range: NanoRange::default(),
            limit: 20,
        };
        match self.reader.logs(&q) {
            Ok(req) => {
                let mut out: Vec<(u64, String)> = req
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .flat_map(|s| &s.log_records)
                    .map(|l| {
                        (
                            l.time_unix_nano,
                            loupe_model::otlp::any_value_text(l.body.as_ref()),
                        )
                    })
                    .collect();
                out.sort();
                out.into_iter().map(|(_, b)| b).collect()
            }
            Err(_) => Vec::new(),
        }
    }

    /// The name of the trace's root span, when the trace is stored.
    fn root_operation(&self, trace: Option<&str>) -> Option<String> {
        let id = TraceId::parse_hex(trace?).ok()?;
        self.reader.trace_summary(id).ok()??.root_name
    }

    /// A notice for a transition (error logs read now), masked by the one
    /// redactor: everything sent from it (Slack, webhook, desktop, every
    /// template variable) is built from this masked copy.
    pub fn notice(&self, rule: &Rule, id: i64, t: &Transition) -> Notice {
        let trace = t.evidence.as_ref().and_then(|e| e.trace_id.clone());
        Notice {
            rule: rule.name.clone(),
            rule_id: id,
            state: t.to,
            group: t.group.clone(),
            labels: t.labels.clone(),
            value: t.value,
            at_ns: t.at_ns,
            evidence: t.evidence.clone(),
            error_logs: self.error_logs(trace.as_deref()),
            root_operation: self.root_operation(trace.as_deref()),
            trace_link: trace.map(|id| format!("{}/trace/{id}", self.base_url)),
        }
        .redacted(&Redactor::default())
    }

    /// Sends a notice to the named channels (and the desktop for firing).
    pub fn dispatch(&self, notice: &Notice, channels: &[String]) -> Result<usize, StoreError> {
        if notice.state == State::Firing {
            let body = match &notice.evidence {
                Some(e) => format!(
                    "{} in {}",
                    e.summary,
                    e.service.as_deref().unwrap_or("an unknown service")
                ),
                None => match notice.value {
                    Some(v) => format!(
                        "{} = {v}",
                        if notice.group.is_empty() {
                            "value"
                        } else {
                            &notice.group
                        }
                    ),
                    None => notice.group.clone(),
                },
            };
            self.notifier
                .notify(&format!("Alert: {}", notice.rule), &body);
        }
        if channels.is_empty() {
            return Ok(0);
        }
        let rows = self.db.channels()?;
        let mut sent = 0;
        for row in rows.iter().filter(|r| channels.contains(&r.name)) {
            let ch = channel_of(row);
            if ch.kind == ChannelKind::Desktop {
                continue;
            }
            let job = Job {
                id: self.jobs.fetch_add(1, Ordering::SeqCst),
                body: payload(&ch, notice),
                channel: ch,
                rule: notice.rule.clone(),
                report: None,
            };
            if self.deliverer.send(job) {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Queues a test message on one channel; its attempts go to `report`
    /// as well as to the log (a desktop channel reports none: the
    /// notification is handed to the shell at once).
    pub fn send_test(
        &self,
        row: &ChannelRow,
        report: Option<tokio::sync::mpsc::UnboundedSender<Attempt>>,
    ) -> bool {
        let ch = channel_of(row);
        let mut attributes = BTreeMap::new();
        attributes.insert("loupe.test".to_string(), "true".to_string());
        let n = Notice {
            rule: "Loupe test notification".into(),
            rule_id: 0,
            state: State::Firing,
            group: String::new(),
            labels: BTreeMap::new(),
            value: None,
            at_ns: now_ns(),
            evidence: Some(eval::Evidence {
                time_ns: now_ns(),
                trace_id: None,
                span_id: None,
                service: Some("loupe".into()),
                summary: "This is a test message".into(),
                attributes,
            }),
            error_logs: Vec::new(),
            trace_link: None,
            root_operation: None,
        }
        .redacted(&Redactor::default());
        if ch.kind == ChannelKind::Desktop {
            self.notifier
                .notify("Loupe test notification", "Desktop notifications work.");
            return true;
        }
        self.deliverer.send(Job {
            id: self.jobs.fetch_add(1, Ordering::SeqCst),
            body: payload(&ch, &n),
            channel: ch,
            rule: n.rule.clone(),
            report,
        })
    }

    /// Evaluates every [`INTERVAL`] until `stop` resolves.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A storage fault (database locked by another process, disk full)
        // lasts many ticks: it is logged when it starts and when it ends,
        // not once a second.
        let mut fault: Option<loupe_store::Fault> = None;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticker.tick() => {}
            }
            let me = self.clone();
            let result = tokio::task::spawn_blocking(move || me.tick(now_ns())).await;
            let notices = match result {
                Ok(Ok(n)) => {
                    if let Some(f) = fault.take() {
                        tracing::info!(
                            "loupe: alert evaluation works again ({} is over)",
                            f.reason()
                        );
                    }
                    n
                }
                Ok(Err(e)) => {
                    match e.fault().filter(|f| f.is_transient()) {
                        Some(f) if fault == Some(f) => {}
                        Some(f) => {
                            fault = Some(f);
                            tracing::warn!(
                                "loupe: alert evaluation paused: {}; it resumes by itself ({e})",
                                f.reason()
                            );
                        }
                        None => tracing::warn!("loupe: alert evaluation failed: {e}"),
                    }
                    continue;
                }
                Err(_) => continue,
            };
            for (rule, id, t) in notices {
                let wanted =
                    t.to == State::Firing || (t.to == State::Resolved && rule.send_resolved);
                if !wanted {
                    continue;
                }
                let me = self.clone();
                tokio::spawn(async move {
                    if t.evidence.as_ref().is_some_and(|e| e.trace_id.is_some()) {
                        tokio::time::sleep(NOTICE_DELAY).await;
                    }
                    let _ = tokio::task::spawn_blocking(move || {
                        let n = me.notice(&rule, id, &t);
                        if let Err(e) = me.dispatch(&n, &rule.notify) {
                            tracing::warn!("loupe: cannot send the alert {:?}: {e}", rule.name);
                        }
                    })
                    .await;
                });
            }
        }
    }
}
