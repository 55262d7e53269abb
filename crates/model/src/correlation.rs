//! Join rules: how traces that share a business identifier, but no span
//! link, are correlated. Context is lost at queues and schedulers (the seed
//! engine does not take `traceparent` from Kafka-triggered executions), yet
//! the traces still carry the same `kestra.executionId`, or one names the
//! other's ID as its parent. A rule turns that into *inferred* links: the
//! store indexes the values at ingest and answers them beside the real
//! span links, marked as inferred.

use serde::{Deserialize, Serialize};

/// One join rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinRule {
    /// What the UI says: "inferred by NAME". Defaults to the key (or
    /// `reference → key`).
    #[serde(default)]
    pub name: String,
    /// The correlation key: an attribute of a span or its resource.
    /// Without `reference`, two traces carrying the same value of it are
    /// joined (both ways).
    pub key: String,
    /// A child-to-parent reference: a trace whose spans carry this
    /// attribute with value V is joined to the traces carrying `key` = V
    /// (it "links to" them, as a child execution's trace links to its
    /// parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reference: Option<String>,
    /// A rule that is off is still indexed, but its links are not answered.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The seed engine's correlation key.
pub const DEFAULT_KEY: &str = "kestra.executionId";

/// Most join rules configured (each costs a look at every span's
/// attributes at ingest).
pub const MAX_RULES: usize = 16;

impl JoinRule {
    /// A shared-key rule named after its key.
    pub fn shared(key: &str) -> JoinRule {
        JoinRule {
            name: key.to_string(),
            key: key.to_string(),
            reference: None,
            enabled: true,
        }
    }

    /// The rules in force when none are configured: `kestra.executionId`.
    pub fn defaults() -> Vec<JoinRule> {
        vec![JoinRule::shared(DEFAULT_KEY)]
    }

    /// The rule with its name filled in.
    pub fn named(mut self) -> JoinRule {
        if self.name.trim().is_empty() {
            self.name = match &self.reference {
                Some(r) => format!("{r} → {}", self.key),
                None => self.key.clone(),
            };
        }
        self
    }

    /// Checks a list of rules: keys present, names distinct, at most
    /// [`MAX_RULES`].
    pub fn check(rules: &[JoinRule]) -> Result<(), String> {
        if rules.len() > MAX_RULES {
            return Err(format!(
                "{} join rules, more than the limit of {MAX_RULES}",
                rules.len()
            ));
        }
        let mut names = Vec::new();
        for r in rules {
            if r.key.trim().is_empty() {
                return Err("a join rule needs a `key`".into());
            }
            if r.reference.as_deref().is_some_and(|x| x.trim().is_empty()) {
                return Err(format!("join rule {:?}: `reference` is empty", r.name));
            }
            let n = r.clone().named().name;
            if names.contains(&n) {
                return Err(format!("two join rules are named {n:?}"));
            }
            names.push(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_checks() {
        assert_eq!(JoinRule::defaults()[0].name, "kestra.executionId");
        let r = JoinRule {
            name: String::new(),
            key: "kestra.executionId".into(),
            reference: Some("kestra.parentExecutionId".into()),
            enabled: true,
        };
        assert_eq!(
            r.clone().named().name,
            "kestra.parentExecutionId → kestra.executionId"
        );
        assert!(JoinRule::check(&[r.clone(), JoinRule::shared("kestra.executionId")]).is_ok());
        assert!(JoinRule::check(&[r.clone(), r.clone()]).is_err());
        assert!(JoinRule::check(&[JoinRule::shared(" ")]).is_err());
        assert!(JoinRule::check(&vec![JoinRule::shared("a"); MAX_RULES + 1]).is_err());
    }
}
