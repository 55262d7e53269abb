//! `list_services`: the first question about a Loupe (what sends to it),
//! answered with a note when the answer is nothing.

use serde_json::json;

use super::args::Args;
use super::schema::schema;
use super::{from_offset, Ctx, ToolDef, ToolError};
use crate::answer::Page;

pub(super) fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef {
            name: "list_services",
            title: "List services",
            description: "The service.name of every resource that sent traces, logs or metrics to Loupe. Example: {}",
            schema: schema(json!({}), &[]),
        },
    ]
}

pub(super) async fn list_services(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let body = ctx.get_ok("/api/v1/services".into()).await?;
    let items = body["services"].as_array().cloned().unwrap_or_default();
    let mut p = Page::new("services");
    p.set("count", items.len());
    if items.is_empty() {
        p.set(
            "note",
            "Loupe has received no telemetry yet (or retention removed it all).",
        );
    }
    p.set("link", format!("{}/", ctx.ui));
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}
