//! An export as the user chose it, in typed values. `GET /api/v1/export`
//! parses its query parameters into an [`ExportRequest`] and `loupe export`
//! fills one from its flags; [`ExportRequest::into_spec`] is the one place
//! those choices become an [`ExportSpec`], so the UI and the command line
//! select and default exactly alike.

use loupe_model::ids::TraceId;
use loupe_model::query::TraceQuery;
use loupe_model::time::NanoRange;

use crate::export::{ExportSpec, Format, Selection, MAX_TRACES};
use crate::redact::Redactor;

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub selection: Selection,
    /// Include the traces' log records (or, for a window, the window's logs).
    pub logs: bool,
    /// Include the metrics of the traces' time window.
    pub metrics: bool,
    /// Mask secrets (on unless the user turns it off).
    pub redact: bool,
    /// The user's own secret patterns, on top of the built-in ones.
    pub redact_patterns: Vec<String>,
    pub format: Format,
}

impl ExportRequest {
    /// A request for `selection` with the defaults: traces only, redacted,
    /// JSON Lines.
    pub fn new(selection: Selection) -> ExportRequest {
        ExportRequest {
            selection,
            logs: false,
            metrics: false,
            redact: true,
            redact_patterns: Vec::new(),
            format: Format::default(),
        }
    }

    /// The spec the exporter runs (the redactor is built here, once).
    pub fn into_spec(self) -> ExportSpec {
        ExportSpec {
            selection: self.selection,
            logs: self.logs,
            metrics: self.metrics,
            redact: self.redact.then(|| Redactor::new(&self.redact_patterns)),
            format: self.format,
        }
    }
}

impl Selection {
    /// These traces; with `linked`, also the traces their span links join.
    pub fn traces(ids: Vec<TraceId>, linked: bool) -> Selection {
        Selection::Traces { ids, linked }
    }

    /// The traces `query` finds. Without a limit the user chose, up to
    /// [`MAX_TRACES`] (a search's own default, 20, is for a page of results,
    /// not for a bundle).
    pub fn search(mut query: TraceQuery, limit: Option<usize>) -> Selection {
        query.limit = limit.unwrap_or(MAX_TRACES);
        Selection::Search(query)
    }

    /// Everything in `range` from `services` (all when empty).
    pub fn window(range: NanoRange, services: Vec<String>) -> Selection {
        Selection::Window { range, services }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_redact_and_search_up_to_the_cap() {
        let spec = ExportRequest::new(Selection::search(TraceQuery::default(), None)).into_spec();
        assert!(spec.redact.is_some());
        assert!(!spec.logs && !spec.metrics);
        assert_eq!(spec.format, Format::JsonLines);
        assert!(matches!(spec.selection, Selection::Search(q) if q.limit == MAX_TRACES));
        let chosen = Selection::search(TraceQuery::default(), Some(5));
        assert!(matches!(chosen, Selection::Search(q) if q.limit == 5));
        let mut r = ExportRequest::new(Selection::window(NanoRange::default(), vec![]));
        r.redact = false;
        assert!(r.into_spec().redact.is_none());
    }
}
