//! The span tree as text lines, folded so that a trace with thousands of
//! same-named spans still fits an agent's budget (`get_trace`, `loupe trace`).

use std::collections::{BTreeMap, HashMap};

use crate::fmt::{clip, duration};
use crate::otlp::Span;

/// Sibling runs at least this long are folded into one line.
const FOLD_MIN: usize = 4;
/// Deeper levels are not indented further (a 100k-deep chain stays readable).
const MAX_INDENT: usize = 24;

fn indent(depth: usize) -> String {
    if depth > MAX_INDENT {
        format!("{}[depth {depth}] ", "  ".repeat(MAX_INDENT))
    } else {
        "  ".repeat(depth)
    }
}

fn span_line(s: &Span, depth: usize, with_id: bool) -> String {
    let mut line = format!(
        "{}{} [{}] {}",
        indent(depth),
        s.name,
        s.service,
        duration(s.duration())
    );
    if s.is_error() {
        line.push_str(" ERROR");
        if !s.status_message.is_empty() {
            line.push_str(": ");
            line.push_str(&clip(&s.status_message, 120));
        }
    }
    if with_id {
        line.push_str(" #");
        line.push_str(&s.span_id);
    }
    line
}

enum Node {
    Span(usize, usize),
    Group(Vec<usize>, usize),
}

/// The span tree as indented lines, children by start time. With `fold`,
/// runs of ≥ FOLD_MIN same-named siblings of one service become one line
/// (count, min–max, total, errors) under which only their ERROR spans
/// (with their subtrees) stay. Returns the lines and how many spans were
/// folded away.
pub fn tree_lines(spans: &[Span], fold: bool, with_ids: bool) -> (Vec<String>, usize) {
    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match index.get(s.parent.as_str()) {
            Some(&p) if !s.parent.is_empty() && p != i => children.entry(p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| (spans[i].start, i));
    by_start(&mut roots);
    for v in children.values_mut() {
        by_start(v);
    }
    let entries = |kids: &[usize], depth: usize| -> Vec<Node> {
        if !fold {
            return kids.iter().map(|&i| Node::Span(i, depth)).collect();
        }
        let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for &i in kids {
            groups
                .entry((spans[i].name.as_str(), spans[i].service.as_str()))
                .or_default()
                .push(i);
        }
        let mut out = Vec::new();
        let mut done: std::collections::HashSet<(&str, &str)> = Default::default();
        for &i in kids {
            let key = (spans[i].name.as_str(), spans[i].service.as_str());
            let g = &groups[&key];
            if g.len() >= FOLD_MIN {
                if done.insert(key) {
                    out.push(Node::Group(g.clone(), depth));
                }
            } else {
                out.push(Node::Span(i, depth));
            }
        }
        out
    };
    let mut lines = Vec::new();
    let mut folded = 0usize;
    let mut stack: Vec<Node> = entries(&roots, 0).into_iter().rev().collect();
    // Spans in a cycle of parent IDs are shown once.
    let mut seen = vec![false; spans.len()];
    while let Some(n) = stack.pop() {
        match n {
            Node::Span(i, depth) => {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                lines.push(span_line(&spans[i], depth, with_ids));
                if let Some(kids) = children.get(&i) {
                    stack.extend(entries(kids, depth + 1).into_iter().rev());
                }
            }
            Node::Group(members, depth) => {
                let s = &spans[members[0]];
                let durs: Vec<u64> = members.iter().map(|&i| spans[i].duration()).collect();
                let errors: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| spans[i].is_error())
                    .collect();
                let mut line = format!(
                    "{}{} [{}] ×{} {}…{} (total {})",
                    indent(depth),
                    s.name,
                    s.service,
                    members.len(),
                    duration(durs.iter().copied().min().unwrap_or(0)),
                    duration(durs.iter().copied().max().unwrap_or(0)),
                    duration(durs.iter().sum())
                );
                if !errors.is_empty() {
                    line.push_str(&format!(", {} ERROR (below)", errors.len()));
                }
                line.push_str(" folded");
                lines.push(line);
                let mut hidden = 0;
                for &i in &members {
                    if !spans[i].is_error() {
                        hidden += 1 + descendants(i, &children);
                    }
                }
                folded += hidden;
                stack.extend(errors.into_iter().rev().map(|i| Node::Span(i, depth + 1)));
            }
        }
    }
    // Spans unreachable from a root (parent cycles) are listed at the end.
    for (i, s) in spans.iter().enumerate() {
        if !seen[i] && !fold {
            lines.push(span_line(s, 0, with_ids));
        }
    }
    (lines, folded)
}

fn descendants(i: usize, children: &HashMap<usize, Vec<usize>>) -> usize {
    let mut n = 0;
    let mut stack = vec![i];
    while let Some(x) = stack.pop() {
        if let Some(k) = children.get(&x) {
            n += k.len();
            stack.extend(k.iter().copied());
        }
    }
    n
}
