//! The trace search language of `q=`: attribute conditions combined with
//! AND, OR, NOT and parentheses.
//!
//! ```text
//! expr   := term (OR term)*
//! term   := factor (AND factor)*
//! factor := NOT factor | '(' expr ')' | link '(' expr ')' | cond
//! link   := linked | links_to | linked_from
//! cond   := key op value | key            -- a bare key means "exists"
//! op     := = | != | > | >= | < | <=
//! value  := "quoted \"string\"" | bare-token
//! ```
//!
//! Keywords are case-insensitive. `service` means `service.name`, `name`
//! the span name and `scope` the instrumentation scope name;
//! `span.status = error` holds for a trace with an ERROR span. A link
//! operator holds for a trace when another trace joined to it by a span
//! link meets the inner expression: `linked` in either direction,
//! `links_to` where this trace's spans carry the link, `linked_from` where
//! the other trace's do (the names of the trace view's link chips). A link
//! word not followed by `(` is an ordinary attribute key. Errors carry the
//! character offset they are about, so the UI can point at it.
//!
//! An expression arrives from the network (any web page can make the
//! browser send `GET /api/v1/traces?q=…`), and the parser is recursive
//! descent, so both its input and its recursion are bounded: at most
//! [`MAX_EXPR_LEN`] bytes, checked before lexing, and at most
//! [`MAX_EXPR_DEPTH`] nested `(` or `NOT`, checked before each recursive
//! step. Everything that walks a parsed [`Expr`] afterwards (the store's
//! evaluator, `Drop`) recurses no deeper than that. A link operator costs
//! the store a pass over link rows, so there are at most
//! [`MAX_LINK_OPS`] of them, nested at most [`MAX_LINK_DEPTH`] deep.

use loupe_model::query::{
    AttrCondition, AttrOp, Expr, LinkDir, SCOPE_NAME_KEY, SPAN_NAME_KEY, SPAN_STATUS_KEY,
};

/// Longest expression accepted, in bytes: far beyond anything typed into
/// the search box (the UI sends the box's text verbatim), small enough that
/// lexing and parsing it is instant.
pub const MAX_EXPR_LEN: usize = 4096;

/// Deepest nesting accepted: `(` and `NOT` each count one level. The parser
/// uses three stack frames per level, so this keeps it far from the end of
/// even a 2 MiB thread stack (10,000 levels overflowed it).
pub const MAX_EXPR_DEPTH: usize = 64;

/// Most link operators (`linked`, `links_to`, `linked_from`) in one
/// search, all `q`s of a request together: each is at most one pass over
/// the store's link rows, so this bounds a search's work to a small
/// multiple of the store's size whatever the text.
pub const MAX_LINK_OPS: usize = 8;

/// Deepest nesting of link operators (`linked(linked(linked(…)))` is 3):
/// three hops cover parent, child and grandchild executions.
pub const MAX_LINK_DEPTH: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// Character offset into the expression.
    pub position: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '=' | '!' | '<' | '>' | '"')
}

/// Iterative (no recursion); linear in the input, which [`parse_expr`] has
/// already bounded by [`MAX_EXPR_LEN`].
fn lex(s: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    // Positions are character offsets, and `i` indexes characters.
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                out.push((at, Tok::Open));
                i += 1;
            }
            ')' => {
                out.push((at, Tok::Close));
                i += 1;
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('!', Some('=')) => ("!=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('=', Some('=')) => ("=", 2),
                    ('=', _) => ("=", 1),
                    ('>', _) => (">", 1),
                    ('<', _) => ("<", 1),
                    _ => {
                        return Err(ExprError {
                            position: at,
                            message: "`!` must be followed by `=` (use NOT to negate)".into(),
                        })
                    }
                };
                out.push((at, Tok::Op(op)));
                i += len;
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i).copied() {
                        None => {
                            return Err(ExprError {
                                position: at,
                                message: "unterminated quoted string".into(),
                            })
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            match chars.get(i + 1).copied() {
                                Some(e) => v.push(e),
                                None => {
                                    return Err(ExprError {
                                        position: at,
                                        message: "unterminated quoted string".into(),
                                    })
                                }
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            v.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((at, Tok::Quoted(v)));
            }
            _ => {
                let start = i;
                while i < chars.len() && !ends_word(chars[i]) {
                    i += 1;
                }
                let w: String = chars[start..i].iter().collect();
                out.push((at, Tok::Word(w)));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
    end: usize,
    /// `(` and `NOT` currently open; never above [`MAX_EXPR_DEPTH`].
    depth: usize,
    /// Link operators open, and seen so far.
    link_depth: usize,
    links: usize,
}

/// The link operator a word names, if any.
fn link_dir(w: &str) -> Option<LinkDir> {
    [
        ("linked", LinkDir::Any),
        ("links_to", LinkDir::To),
        ("linked_from", LinkDir::From),
    ]
    .into_iter()
    .find(|(k, _)| w.eq_ignore_ascii_case(k))
    .map(|(_, d)| d)
}

fn keyword(t: Option<&Tok>, k: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.1)
    }

    fn at(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |t| t.0)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            position: self.at(),
            message: message.into(),
        })
    }

    /// Recursion: `expr` → `term` → `factor` → `expr`/`factor` again only
    /// through [`Parser::nest`], which refuses more than [`MAX_EXPR_DEPTH`].
    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut items = vec![self.term()?];
        while keyword(self.peek(), "OR") {
            self.i += 1;
            items.push(self.term()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut items = vec![self.factor()?];
        while keyword(self.peek(), "AND") {
            self.i += 1;
            items.push(self.factor()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    /// Enters one level of `(` or `NOT`: the bound on the parser's
    /// recursion, checked before recursing.
    fn nest(&mut self) -> Result<(), ExprError> {
        if self.depth >= MAX_EXPR_DEPTH {
            return self.err(format!(
                "the expression nests deeper than the limit of {MAX_EXPR_DEPTH} levels of parentheses and NOT"
            ));
        }
        self.depth += 1;
        Ok(())
    }

    /// Bounded by [`MAX_EXPR_DEPTH`]: both recursive calls below come after
    /// [`Parser::nest`].
    fn factor(&mut self) -> Result<Expr, ExprError> {
        if keyword(self.peek(), "NOT") {
            self.nest()?;
            self.i += 1;
            let inner = self.factor()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if let (Some(Tok::Word(w)), Some((_, Tok::Open))) = (self.peek(), self.toks.get(self.i + 1))
        {
            if let Some(dir) = link_dir(w) {
                return self.linked(dir);
            }
        }
        match self.peek() {
            Some(Tok::Open) => {
                self.nest()?;
                self.i += 1;
                let e = self.expr()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::Close) {
                    return self.err("expected `)`");
                }
                self.i += 1;
                Ok(e)
            }
            Some(Tok::Word(_)) | Some(Tok::Quoted(_)) => self.cond(),
            Some(Tok::Close) => self.err("unexpected `)`"),
            Some(Tok::Op(op)) => self.err(format!("expected an attribute key before `{op}`")),
            None => self.err("expected a condition"),
        }
    }

    /// `link '(' expr ')'`, the link word at the cursor. Bounded like `(`
    /// by [`Parser::nest`], and by [`MAX_LINK_OPS`] and [`MAX_LINK_DEPTH`].
    fn linked(&mut self, dir: LinkDir) -> Result<Expr, ExprError> {
        if self.links >= MAX_LINK_OPS {
            return self.err(format!(
                "the expression has more than the limit of {MAX_LINK_OPS} link operators (linked, links_to, linked_from)"
            ));
        }
        if self.link_depth >= MAX_LINK_DEPTH {
            return self.err(format!(
                "link operators nest deeper than the limit of {MAX_LINK_DEPTH} levels"
            ));
        }
        self.nest()?;
        self.links += 1;
        self.link_depth += 1;
        self.i += 2;
        let e = self.expr()?;
        self.depth -= 1;
        self.link_depth -= 1;
        if self.peek() != Some(&Tok::Close) {
            return self.err("expected `)`");
        }
        self.i += 1;
        Ok(Expr::Linked(dir, Box::new(e)))
    }

    fn cond(&mut self) -> Result<Expr, ExprError> {
        let key = match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.clone(),
            _ => return self.err("expected an attribute key"),
        };
        if ["AND", "OR", "NOT"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            && matches!(self.peek(), Some(Tok::Word(_)))
        {
            return self.err(format!("expected a condition, found `{key}`"));
        }
        let key_at = self.at();
        self.i += 1;
        if key == "span.status" {
            return self.status(key_at);
        }
        let key = match key.as_str() {
            "service" => "service.name".to_string(),
            "name" => SPAN_NAME_KEY.to_string(),
            "scope" => SCOPE_NAME_KEY.to_string(),
            _ => key,
        };
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => {
                return Ok(Expr::Cond(AttrCondition {
                    key,
                    op: AttrOp::Exists,
                }))
            }
        };
        self.i += 1;
        let value_at = self.at();
        let value = match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.clone(),
            _ => return self.err(format!("expected a value after `{op}`")),
        };
        self.i += 1;
        let number = || -> Result<f64, ExprError> {
            value
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or(ExprError {
                    position: value_at,
                    message: format!("`{op}` compares with a number, not {value:?}"),
                })
        };
        let op = match op {
            "=" => AttrOp::Eq(value),
            "!=" => AttrOp::Ne(value),
            ">" => AttrOp::Gt(number()?),
            ">=" => AttrOp::Ge(number()?),
            "<" => AttrOp::Lt(number()?),
            _ => AttrOp::Le(number()?),
        };
        Ok(Expr::Cond(AttrCondition { key, op }))
    }
}

impl Parser {
    /// `span.status = error`, the key already taken: the one status a
    /// search can answer from the index (`NOT span.status = error` for
    /// traces without errors).
    fn status(&mut self, key_at: usize) -> Result<Expr, ExprError> {
        let wrong = |at| {
            ExprError {
            position: at,
            message: "`span.status` is compared only as `span.status = error` (NOT span.status = error: traces without errors)".into(),
        }
        };
        if self.peek() != Some(&Tok::Op("=")) {
            return Err(wrong(key_at));
        }
        self.i += 1;
        let value_at = self.at();
        match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) if w.eq_ignore_ascii_case("error") => {
                self.i += 1;
                Ok(Expr::Cond(AttrCondition {
                    key: SPAN_STATUS_KEY.into(),
                    op: AttrOp::Eq("error".into()),
                }))
            }
            _ => Err(wrong(value_at)),
        }
    }
}

/// Parses a `q=` expression of at most [`MAX_EXPR_LEN`] bytes and
/// [`MAX_EXPR_DEPTH`] levels of nesting; beyond either it is an error that
/// names the limit.
pub fn parse_expr(s: &str) -> Result<Expr, ExprError> {
    if s.len() > MAX_EXPR_LEN {
        return Err(ExprError {
            position: 0,
            message: format!(
                "the expression is {} bytes long, more than the limit of {MAX_EXPR_LEN} bytes",
                s.len()
            ),
        });
    }
    let toks = lex(s)?;
    let mut p = Parser {
        toks,
        i: 0,
        end: s.chars().count(),
        depth: 0,
        link_depth: 0,
        links: 0,
    };
    let e = p.expr()?;
    if p.i < p.toks.len() {
        return p.err("expected AND, OR or the end of the expression");
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(k: &str, v: &str) -> Expr {
        Expr::Cond(AttrCondition {
            key: k.into(),
            op: AttrOp::Eq(v.into()),
        })
    }

    #[test]
    fn precedence_and_grouping() {
        let e = parse_expr(r#"kestra.namespace = "company.team" and (a >= 5 OR not b)"#).unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                eq("kestra.namespace", "company.team"),
                Expr::Or(vec![
                    Expr::Cond(AttrCondition {
                        key: "a".into(),
                        op: AttrOp::Ge(5.0)
                    }),
                    Expr::Not(Box::new(Expr::Cond(AttrCondition {
                        key: "b".into(),
                        op: AttrOp::Exists
                    }))),
                ]),
            ])
        );
        // AND binds tighter than OR.
        assert_eq!(
            parse_expr("a=1 OR b=2 AND c=3").unwrap(),
            Expr::Or(vec![
                eq("a", "1"),
                Expr::And(vec![eq("b", "2"), eq("c", "3")])
            ])
        );
    }

    #[test]
    fn aliases_and_quoting() {
        assert_eq!(
            parse_expr(
                r#"service=kestra AND name="EXECUTOR - io.kestra.plugin.core.flow.Subflow""#
            )
            .unwrap(),
            Expr::And(vec![
                eq("service.name", "kestra"),
                eq(
                    SPAN_NAME_KEY,
                    "EXECUTOR - io.kestra.plugin.core.flow.Subflow"
                ),
            ])
        );
        assert_eq!(
            parse_expr(r#"msg="say \"hi\"""#).unwrap(),
            eq("msg", "say \"hi\"")
        );
        assert_eq!(
            parse_expr("url=http://x/a?b").unwrap(),
            eq("url", "http://x/a?b")
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse_expr("a = 1 AND").unwrap_err();
        assert_eq!(e.position, 9);
        assert_eq!(e.message, "expected a condition");
        let e = parse_expr("(a = 1").unwrap_err();
        assert_eq!((e.position, e.message.as_str()), (6, "expected `)`"));
        let e = parse_expr("a > big").unwrap_err();
        assert_eq!(e.position, 4);
        let e = parse_expr("a = \"open").unwrap_err();
        assert_eq!(e.position, 4);
        let e = parse_expr("a = 1 b = 2").unwrap_err();
        assert_eq!(e.position, 6);
        assert!(parse_expr("").is_err());
        assert!(parse_expr("= 3").is_err());
        assert!(parse_expr("a ! b").is_err());
        let e = parse_expr("é = 1 OR").unwrap_err();
        assert_eq!(e.position, 8, "positions count characters, not bytes");
        let e = parse_expr("é = \"x").unwrap_err();
        assert_eq!(e.position, 4);
    }

    #[test]
    fn nesting_up_to_the_limit_parses() {
        let ok = format!(
            "{}a=1{}",
            "(".repeat(MAX_EXPR_DEPTH),
            ")".repeat(MAX_EXPR_DEPTH)
        );
        assert_eq!(parse_expr(&ok).unwrap(), eq("a", "1"));
        let nots = format!("{}a", "NOT ".repeat(MAX_EXPR_DEPTH));
        assert!(parse_expr(&nots).is_ok());
        // Mixed: the levels add up, closing a group gives its level back.
        let mixed =
            format!("{}(a) AND {}b", "NOT (".repeat(30), "NOT ".repeat(4)) + &")".repeat(30);
        assert!(parse_expr(&mixed).is_ok(), "{:?}", parse_expr(&mixed));
    }

    #[test]
    fn stack_overflow_from_deep_nesting_is_a_limit_error() {
        for deep in [
            format!("{}a=1{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("{}a", "NOT ".repeat(10_000)),
            format!("{}a", "NOT (".repeat(5_000)),
            "(".repeat(MAX_EXPR_DEPTH + 1) + "a" + &")".repeat(MAX_EXPR_DEPTH + 1),
        ] {
            let e = parse_expr(&deep).unwrap_err();
            assert!(
                e.message.contains(&format!("{MAX_EXPR_LEN} bytes"))
                    || e.message.contains(&format!("{MAX_EXPR_DEPTH} levels")),
                "{}",
                e.message
            );
        }
        let e = parse_expr(&"(".repeat(MAX_EXPR_DEPTH + 1)).unwrap_err();
        assert_eq!(e.position, MAX_EXPR_DEPTH);
        assert!(e.message.contains("64 levels"), "{}", e.message);
    }

    fn linked(dir: LinkDir, e: Expr) -> Expr {
        Expr::Linked(dir, Box::new(e))
    }

    fn failed() -> Expr {
        Expr::Cond(AttrCondition {
            key: SPAN_STATUS_KEY.into(),
            op: AttrOp::Eq("error".into()),
        })
    }

    #[test]
    fn link_operators_parse_in_each_direction() {
        // The seed's API calls whose execution (a trace linking back to the
        // call) failed.
        assert_eq!(
            parse_expr(r#"name = "POST /api/v1/executions/{namespace}/{id}" AND linked_from(span.status = error)"#)
                .unwrap(),
            Expr::And(vec![
                eq(SPAN_NAME_KEY, "POST /api/v1/executions/{namespace}/{id}"),
                linked(LinkDir::From, failed()),
            ])
        );
        assert_eq!(
            parse_expr("LINKS_TO(kestra.flowId = parent) or Linked(NOT span.status = ERROR)")
                .unwrap(),
            Expr::Or(vec![
                linked(LinkDir::To, eq("kestra.flowId", "parent")),
                linked(LinkDir::Any, Expr::Not(Box::new(failed()))),
            ])
        );
        assert_eq!(
            parse_expr("linked_from(linked_from(a = 1 OR b = 2))").unwrap(),
            linked(
                LinkDir::From,
                linked(LinkDir::From, Expr::Or(vec![eq("a", "1"), eq("b", "2")]))
            )
        );
        // Without `(` a link word is an attribute key like any other.
        assert_eq!(parse_expr("linked = yes").unwrap(), eq("linked", "yes"));
        assert_eq!(
            parse_expr("linked").unwrap(),
            Expr::Cond(AttrCondition {
                key: "linked".into(),
                op: AttrOp::Exists
            })
        );
    }

    #[test]
    fn link_and_status_errors_point_at_the_problem() {
        let e = parse_expr("linked(a = 1").unwrap_err();
        assert_eq!((e.position, e.message.as_str()), (12, "expected `)`"));
        let e = parse_expr("linked()").unwrap_err();
        assert_eq!(e.position, 7);
        let e = parse_expr("span.status = ok").unwrap_err();
        assert_eq!(e.position, 14);
        assert!(e.message.contains("span.status = error"), "{}", e.message);
        let e = parse_expr("a AND span.status").unwrap_err();
        assert_eq!(e.position, 6);
        assert!(parse_expr("span.status = \"Error\"").is_ok());
    }

    #[test]
    fn link_operators_are_bounded() {
        let three = "linked(linked(linked(a)))";
        assert_eq!(parse_expr(three).unwrap().link_ops(), (3, 3));
        let e = parse_expr("linked(links_to(linked_from(linked(a))))").unwrap_err();
        assert_eq!(e.position, 28, "at the fourth operator");
        assert!(e.message.contains("limit of 3 levels"), "{}", e.message);
        let eight = ["linked(a)"; MAX_LINK_OPS].join(" OR ");
        assert_eq!(parse_expr(&eight).unwrap().link_ops(), (MAX_LINK_OPS, 1));
        let nine = format!("{eight} OR linked(a)");
        let e = parse_expr(&nine).unwrap_err();
        assert!(
            e.message.contains("limit of 8 link operators"),
            "{}",
            e.message
        );
        assert_eq!(e.position, nine.len() - "linked(a)".len());
        // A link operator's parenthesis counts toward the nesting limit too.
        let deep = format!(
            "{}linked(a){}",
            "(".repeat(MAX_EXPR_DEPTH - 1),
            ")".repeat(MAX_EXPR_DEPTH - 1)
        );
        assert!(parse_expr(&deep).is_ok());
        let deeper = format!(
            "{}linked(a){}",
            "(".repeat(MAX_EXPR_DEPTH),
            ")".repeat(MAX_EXPR_DEPTH)
        );
        let e = parse_expr(&deeper).unwrap_err();
        assert_eq!(e.position, MAX_EXPR_DEPTH);
        assert!(e.message.contains("64 levels"), "{}", e.message);
    }

    #[test]
    fn overlong_expression_is_refused_before_lexing() {
        let long = "a=1 AND ".repeat(600) + "a=1";
        assert!(long.len() > MAX_EXPR_LEN);
        let e = parse_expr(&long).unwrap_err();
        assert_eq!(e.position, 0);
        assert!(e.message.contains("limit of 4096 bytes"), "{}", e.message);
        assert!(parse_expr(&long[..MAX_EXPR_LEN - 7]).is_ok());
    }
}
