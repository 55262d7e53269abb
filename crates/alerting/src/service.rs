//! Rules, alerts, channels and deliveries as operations that keep the
//! engine consistent by themselves: saving or importing a rule forgets its
//! old states and reloads the rules; deleting reloads; a channel is checked
//! (form, template variables, webhook target) before it is stored. The
//! HTTP layer only parses, calls and answers.
//!
//! Every function blocks on the store: call it from a blocking thread.
//! [`check_channel_target`] resolves names, so it is async.

use std::sync::Arc;

use loupe_alerts::deliver::{mask_url, Attempt, ChannelKind};
use loupe_alerts::eval::{self, GroupState, Matcher, State, Transition};
use loupe_alerts::rule::{file_from_yaml, file_to_yaml};
use loupe_alerts::target::check_target;
use loupe_alerts::{analyse, from_yaml, to_yaml, Analysis, Rule, RuleError, Signal};
use loupe_model::ids::TraceId;
use loupe_model::time::{now_ns, NanoRange};
use loupe_store::alerts::{ChannelRow, DeliveryRow};
use serde::{Deserialize, Serialize};

use crate::engine::Alerting;
use crate::error::AlertingError;
use crate::items::{log_items, span_items};

/// A stored rule as the editor shows it: its YAML, and its parsed form
/// and analysis, or why it does not parse.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub signal: Option<Signal>,
    pub yaml: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rule: Option<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub analysis: Option<Analysis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<RuleError>,
    /// Groups firing now.
    pub firing: usize,
    /// Groups not inactive.
    pub groups: Vec<GroupState>,
}

/// A rule parsed or rendered: the tree, canonical YAML, the analysis.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Rendered {
    pub rule: Rule,
    pub yaml: String,
    pub analysis: Analysis,
}

/// A group not inactive, with its rule.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct AlertGroup {
    pub rule_id: i64,
    pub rule: String,
    #[serde(flatten)]
    #[ts(flatten)]
    pub group: GroupState,
}

/// `GET /alerts`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AlertsSummary {
    pub firing: usize,
    pub pending: usize,
    pub groups: Vec<AlertGroup>,
}

/// One transition in the history.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: i64,
    pub rule: i64,
    pub rule_name: String,
    pub group: String,
    pub from: String,
    pub to: String,
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub at_ns: u64,
    /// The transition as recorded (`null` if it could not be read back).
    pub transition: Option<Transition>,
}

/// A channel as answered: the webhook URL masked (it is a secret).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub allow_private: bool,
    pub template: String,
}

/// A channel as sent by the editor; an update without `url` keeps the
/// stored one.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelInput {
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub allow_private: bool,
    #[serde(default)]
    pub template: String,
}

/// One match a backtest found.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct BacktestMatch {
    pub group: String,
    pub evidence: eval::Evidence,
}

/// How often a rule would have fired over a window, with the matches.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct BacktestReport {
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub start: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub end: u64,
    pub fired: usize,
    pub groups: Vec<String>,
    pub transitions: Vec<Transition>,
    pub match_count: usize,
    /// The newest 200 matches.
    pub matches: Vec<BacktestMatch>,
}

/// A backtest's window when none is given: the last hour.
const BACKTEST_DEFAULT_NS: u64 = 3_600_000_000_000;
/// Matches listed in a backtest report at most (all are counted).
const BACKTEST_SHOWN: usize = 200;

impl RuleView {
    fn of(id: i64, yaml: &str, a: &Alerting) -> RuleView {
        let groups: Vec<GroupState> = a
            .groups()
            .into_iter()
            .filter(|(r, _, _)| *r == id)
            .map(|(_, _, g)| g)
            .collect();
        let firing = groups.iter().filter(|g| g.state == State::Firing).count();
        let mut v = RuleView {
            id,
            name: None,
            enabled: None,
            signal: None,
            yaml: yaml.to_string(),
            rule: None,
            analysis: None,
            error: None,
            firing,
            groups,
        };
        match from_yaml(yaml) {
            Ok(rule) => {
                v.name = Some(rule.name.clone());
                v.enabled = Some(rule.enabled);
                v.signal = Some(rule.signal);
                v.analysis = Some(analyse(rule.when.as_ref(), rule.signal));
                v.rule = Some(rule);
            }
            Err(e) => v.error = Some(e),
        }
        v
    }
}

/// The tree, canonical YAML and never-matches analysis of a rule.
pub fn render(rule: Rule) -> Rendered {
    Rendered {
        yaml: to_yaml(&rule),
        analysis: analyse(rule.when.as_ref(), rule.signal),
        rule,
    }
}

/// YAML → [`Rendered`], with line-numbered errors.
pub fn parse(yaml: &str) -> Result<Rendered, AlertingError> {
    Ok(render(from_yaml(yaml).map_err(AlertingError::Rule)?))
}

impl Alerting {
    pub fn list_rules(&self) -> Vec<RuleView> {
        self.rules()
            .iter()
            .map(|l| RuleView::of(l.id, &l.yaml, self))
            .collect()
    }

    /// Creates (`id` None) or replaces a rule; its groups start afresh.
    pub fn save_rule(&self, id: Option<i64>, rule: &Rule) -> Result<RuleView, AlertingError> {
        let yaml = to_yaml(rule);
        let id = self
            .db
            .save_rule(id, &rule.name, &yaml, rule.enabled, now_ns())?;
        self.reset(id)?;
        self.reload()?;
        Ok(RuleView::of(id, &yaml, self))
    }

    pub fn delete_rule(&self, id: i64) -> Result<(), AlertingError> {
        let found = self.db.delete_rule(id)?;
        self.reload()?;
        if found {
            Ok(())
        } else {
            Err(AlertingError::NotFound(format!("rule {id}")))
        }
    }

    fn stored_rule(&self, id: i64) -> Result<Rule, AlertingError> {
        let l = self
            .rules()
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| AlertingError::NotFound(format!("rule {id}")))?;
        l.rule.map_err(AlertingError::Bad)
    }

    pub fn set_enabled(&self, id: i64, enabled: bool) -> Result<RuleView, AlertingError> {
        let mut rule = self.stored_rule(id)?;
        rule.enabled = enabled;
        self.save_rule(Some(id), &rule)
    }

    /// A disabled copy named "<name> (copy)", numbered if that is taken.
    pub fn duplicate_rule(&self, id: i64) -> Result<RuleView, AlertingError> {
        let names: Vec<String> = self
            .rules()
            .into_iter()
            .filter_map(|l| l.rule.ok().map(|r| r.name))
            .collect();
        let mut rule = self.stored_rule(id)?;
        let base = format!("{} (copy)", rule.name);
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base} {n}");
            n += 1;
        }
        rule.name = name;
        rule.enabled = false;
        self.save_rule(None, &rule)
    }

    /// Every rule as one YAML file (rules only name channels: no URLs).
    pub fn export_rules(&self) -> String {
        let rules: Vec<Rule> = self
            .rules()
            .into_iter()
            .filter_map(|l| l.rule.ok())
            .collect();
        file_to_yaml(&rules)
    }

    /// Imports a YAML file of rules; a rule whose name exists replaces it.
    /// Returns how many were imported.
    pub fn import_rules(&self, text: &str) -> Result<usize, AlertingError> {
        let rules = file_from_yaml(text).map_err(AlertingError::Rules)?;
        let existing = self.db.rules()?;
        for r in &rules {
            let id = existing.iter().find(|e| e.name == r.name).map(|e| e.id);
            let id = self
                .db
                .save_rule(id, &r.name, &to_yaml(r), r.enabled, now_ns())?;
            self.reset(id)?;
        }
        self.reload()?;
        Ok(rules.len())
    }

    /// How often `rule` would have fired over `[start, end]` (default: the
    /// hour before now), reading what is stored.
    pub fn backtest(
        &self,
        rule: &Rule,
        start: Option<u64>,
        end: Option<u64>,
    ) -> Result<BacktestReport, AlertingError> {
        let end = end.unwrap_or_else(now_ns);
        let start = start.unwrap_or(end.saturating_sub(BACKTEST_DEFAULT_NS));
        let m = Matcher::new(rule).map_err(AlertingError::Bad)?;
        let (bt, matches) = match rule.signal {
            Signal::Spans | Signal::Traces => {
                let batches = self.reader.spans_between(start, end, 20_000)?;
                let items: Vec<_> = span_items(&batches)
                    .into_iter()
                    .filter(|s| s.end_ns.max(s.start_ns) >= start && s.start_ns <= end)
                    .collect();
                let mut matches = m.span_matches(&items);
                if let Some(expr) = rule.query_expr() {
                    // The query as the store answers it now.
                    let expr = expr.map_err(AlertingError::Bad)?;
                    let traces: Vec<TraceId> = matches
                        .iter()
                        .filter_map(|x| x.evidence.trace_id.as_deref())
                        .filter_map(|t| TraceId::parse_hex(t).ok())
                        .collect();
                    let hits: Vec<String> = self
                        .reader
                        .traces_matching(&expr, &traces)?
                        .iter()
                        .map(|t| t.to_string())
                        .collect();
                    matches.retain(|x| {
                        x.evidence
                            .trace_id
                            .as_ref()
                            .is_some_and(|t| hits.contains(t))
                    });
                }
                (eval::backtest_events(rule, matches.clone(), end), matches)
            }
            Signal::Logs => {
                let rows = self.reader.logs_between(start, end, 100_000)?;
                let matches = m.log_matches(&log_items(&rows));
                (eval::backtest_events(rule, matches.clone(), end), matches)
            }
            Signal::Metrics => {
                let Some(spec) = &rule.metric else {
                    return Err(AlertingError::Bad("no metric".into()));
                };
                let req = self.reader.metric_points(
                    &spec.name,
                    NanoRange {
                        start: start.saturating_sub(spec.window.0.saturating_mul(2)),
                        end,
                    },
                )?;
                let series = loupe_alerts::metric::series_from_otlp(&req);
                let tick = (spec.window.0 / 2).clamp(1_000_000_000, 60_000_000_000);
                (
                    loupe_alerts::metric::backtest_metric(rule, &series, start, end, tick),
                    Vec::new(),
                )
            }
        };
        Ok(BacktestReport {
            start,
            end,
            fired: bt.fired,
            groups: bt.groups,
            transitions: bt.transitions,
            match_count: matches.len(),
            matches: matches
                .into_iter()
                .rev()
                .take(BACKTEST_SHOWN)
                .map(|m| BacktestMatch {
                    group: m.group,
                    evidence: m.evidence,
                })
                .collect(),
        })
    }

    pub fn alerts(&self) -> AlertsSummary {
        let groups: Vec<AlertGroup> = self
            .groups()
            .into_iter()
            .map(|(rule_id, rule, group)| AlertGroup {
                rule_id,
                rule,
                group,
            })
            .collect();
        let count = |s: State| groups.iter().filter(|g| g.group.state == s).count();
        AlertsSummary {
            firing: count(State::Firing),
            pending: count(State::Pending),
            groups,
        }
    }

    /// The newest `limit` transitions (of one rule, if given).
    pub fn history(
        &self,
        rule: Option<i64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, AlertingError> {
        Ok(self
            .db
            .history(rule, limit)?
            .into_iter()
            .map(|h| HistoryEntry {
                transition: serde_json::from_str(&h.body).ok(),
                id: h.id,
                rule: h.rule,
                rule_name: h.rule_name,
                group: h.group,
                from: h.from,
                to: h.to,
                at_ns: h.at_ns,
            })
            .collect())
    }

    pub fn channels(&self) -> Result<Vec<ChannelView>, AlertingError> {
        Ok(self.db.channels()?.iter().map(ChannelView::of).collect())
    }

    fn channel_row(&self, id: i64) -> Result<Option<ChannelRow>, AlertingError> {
        Ok(self.db.channels()?.into_iter().find(|r| r.id == id))
    }

    /// Stores a channel (`id` 0 creates one) whose target
    /// [`check_channel_target`] accepted.
    pub fn save_channel(&self, id: i64, c: ChannelInput) -> Result<ChannelView, AlertingError> {
        check_channel(&c, id == 0)?;
        let row = ChannelRow {
            id,
            name: c.name,
            kind: match c.kind {
                ChannelKind::Slack => "slack",
                ChannelKind::Desktop => "desktop",
                ChannelKind::Webhook => "webhook",
            }
            .into(),
            url: c.url,
            allow_private: c.allow_private,
            template: c.template,
        };
        let id = self.db.save_channel(&row)?;
        self.channel_row(id)?
            .map(|r| ChannelView::of(&r))
            .ok_or_else(|| AlertingError::NotFound(format!("channel {id}")))
    }

    pub fn delete_channel(&self, id: i64) -> Result<(), AlertingError> {
        if self.db.delete_channel(id)? {
            Ok(())
        } else {
            Err(AlertingError::NotFound(format!("channel {id}")))
        }
    }

    /// Queues a test message on one channel; whether it was queued. Its
    /// attempts go to `report` too ([`test_channel`] waits on them).
    pub fn queue_test(
        &self,
        id: i64,
        report: Option<tokio::sync::mpsc::UnboundedSender<Attempt>>,
    ) -> Result<(bool, ChannelKind), AlertingError> {
        let row = self
            .channel_row(id)?
            .ok_or_else(|| AlertingError::NotFound(format!("channel {id}")))?;
        let kind = crate::engine::channel_of(&row).kind;
        Ok((self.send_test(&row, report), kind))
    }

    /// The newest 200 delivery attempts.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRow>, AlertingError> {
        Ok(self.db.deliveries(200)?)
    }
}

impl ChannelView {
    fn of(c: &ChannelRow) -> ChannelView {
        ChannelView {
            id: c.id,
            name: c.name.clone(),
            kind: c.kind.clone(),
            url: if c.url.is_empty() {
                String::new()
            } else {
                mask_url(&c.url)
            },
            allow_private: c.allow_private,
            template: c.template.clone(),
        }
    }
}

/// The channel's form: a name, known template variables, an http(s) URL.
fn check_channel(c: &ChannelInput, creating: bool) -> Result<(), AlertingError> {
    if c.name.trim().is_empty() {
        return Err(AlertingError::Bad("a channel needs a name".into()));
    }
    let unknown = loupe_alerts::template::unknown_variables(&c.template);
    if !unknown.is_empty() {
        return Err(AlertingError::Bad(format!(
            "unknown template variables: {}",
            unknown.join(", ")
        )));
    }
    if c.kind == ChannelKind::Desktop || (c.url.is_empty() && !creating) {
        return Ok(());
    }
    let u = url::Url::parse(&c.url)
        .map_err(|_| AlertingError::Bad("the webhook URL is not a valid URL".into()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(AlertingError::Bad(
            "the webhook URL must be http(s)://host/…".into(),
        ));
    }
    Ok(())
}

/// How long "send test" waits for a final result (delivered or failed)
/// before answering with the latest attempt: long enough for a slow
/// receiver's timeout and a retry or two, short enough for a button.
pub const TEST_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// What "send test" came to, for the editor to show beside the channel.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Whether the message was queued (a full queue drops it).
    pub queued: bool,
    /// `delivered`, `failed`, or `retrying` when the wait ended while
    /// delivery was still retrying; `null` when no attempt finished in time.
    pub result: Option<String>,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it failed or is retried (never the URL).
    pub error: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// Sends a test message on a channel and waits (at most `wait`) for its
/// delivery to be final, answering the last attempt seen: the button
/// shows "delivered (200)" or the reason, not just "queued".
pub async fn test_channel(
    a: &Arc<Alerting>,
    id: i64,
    wait: std::time::Duration,
) -> Result<TestResult, AlertingError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let me = a.clone();
    let (queued, kind) = tokio::task::spawn_blocking(move || me.queue_test(id, Some(tx)))
        .await
        .map_err(|_| AlertingError::Interrupted)??;
    let mut out = TestResult {
        queued,
        result: None,
        status: None,
        error: String::new(),
        attempts: 0,
    };
    if kind == ChannelKind::Desktop {
        // Handed to the shell's notifier already; nothing goes over HTTP.
        out.result = queued.then(|| "delivered".to_string());
        return Ok(out);
    }
    if !queued {
        out.error = "the delivery queue is full".into();
        return Ok(out);
    }
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(at)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        let last = at.result != "retrying";
        out.result = Some(at.result);
        out.status = at.status;
        out.error = at.error;
        out.attempts = at.attempt;
        if last {
            break;
        }
    }
    Ok(out)
}

/// The webhook target check, at save time: a channel that delivery would
/// refuse (private or special-use without permission, Loupe's own
/// listeners always) is not stored, and the error says why. Delivery
/// checks again on the addresses the name then resolves to. An update
/// without a URL keeps the stored one, which is checked against the new
/// `allowPrivate`.
pub async fn check_channel_target(
    a: &Arc<Alerting>,
    id: i64,
    c: &ChannelInput,
) -> Result<(), AlertingError> {
    if c.kind == ChannelKind::Desktop {
        return Ok(());
    }
    let url = if c.url.is_empty() {
        let me = a.clone();
        let stored = tokio::task::spawn_blocking(move || me.channel_row(id))
            .await
            .map_err(|_| AlertingError::Interrupted)??;
        match stored {
            Some(r) if !r.url.is_empty() => r.url,
            // Unknown: the save answers not found. No URL: nothing to reach.
            _ => return Ok(()),
        }
    } else {
        c.url.clone()
    };
    check_target(&url, c.allow_private, &a.own).await?;
    Ok(())
}
