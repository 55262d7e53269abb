//! What an alerting operation can fail with; the API turns each into a
//! status code in one place (`loupe_server::api::error`).

use loupe_alerts::target::TargetError;
use loupe_alerts::RuleError;
use loupe_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// A rule that does not parse or validate, with its line and column.
    #[error("{0}")]
    Rule(RuleError),
    /// A rules file with errors in several rules.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Rules(Vec<RuleError>),
    #[error("{0}")]
    Bad(String),
    /// A webhook target refused when the channel is saved.
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{0} not found")]
    NotFound(String),
    /// Any other storage error (a missing row is [`AlertingError::NotFound`]).
    #[error(transparent)]
    Store(StoreError),
    #[error("the request was interrupted")]
    Interrupted,
}

impl AlertingError {
    /// The rule errors to show beside the editor's lines (one per rule
    /// error; a plain message for the others, none for internal faults).
    pub fn rule_errors(&self) -> Vec<RuleError> {
        match self {
            AlertingError::Rule(e) => vec![e.clone()],
            AlertingError::Rules(v) => v.clone(),
            AlertingError::Bad(_) | AlertingError::Target(_) | AlertingError::NotFound(_) => {
                vec![RuleError::msg(self.to_string())]
            }
            AlertingError::Store(StoreError::Conflict(m)) => vec![RuleError::msg(m.clone())],
            AlertingError::Store(_) | AlertingError::Interrupted => Vec::new(),
        }
    }
}

impl From<StoreError> for AlertingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AlertingError::NotFound(m),
            e => AlertingError::Store(e),
        }
    }
}
