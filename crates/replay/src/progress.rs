//! Progress for `loupe replay`: a bar redrawn in place on a terminal, plain
//! lines (at most one per 10% or per request, whichever is rarer)
//! otherwise, so a log file or CI output is not flooded with redraws.

use std::io::Write;

use crate::Progressed;

pub struct Reporter<W: Write> {
    out: W,
    tty: bool,
    last_tenth: usize,
}

const WIDTH: usize = 30;

impl<W: Write> Reporter<W> {
    pub fn new(out: W, tty: bool) -> Self {
        Reporter {
            out,
            tty,
            last_tenth: 0,
        }
    }

    pub fn update(&mut self, p: Progressed) {
        let done = p.items.min(p.total_items);
        let total = p.total_items.max(1);
        // usize math: item counts are far below usize::MAX / 100.
        let pct = done.saturating_mul(100) / total;
        if self.tty {
            let filled = done.saturating_mul(WIDTH) / total;
            let _ = write!(
                self.out,
                "\r[{}{}] {pct:>3}% {done}/{} items, request {}/{}",
                "#".repeat(filled),
                " ".repeat(WIDTH - filled),
                p.total_items,
                p.step,
                p.steps
            );
            if p.step == p.steps {
                let _ = writeln!(self.out);
            }
        } else {
            let tenth = pct / 10;
            if tenth > self.last_tenth || p.step == p.steps {
                self.last_tenth = tenth;
                let _ = writeln!(
                    self.out,
                    "replay: {pct}% ({done}/{} items, request {}/{})",
                    p.total_items, p.step, p.steps
                );
            }
        }
        let _ = self.out.flush();
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: usize, items: usize) -> Progressed {
        Progressed {
            step,
            steps: 20,
            items,
            total_items: 200,
        }
    }

    #[test]
    fn plain_lines_at_most_one_per_tenth() {
        let mut r = Reporter::new(Vec::new(), false);
        for s in 1..=20 {
            r.update(at(s, s * 10));
        }
        let text = String::from_utf8(r.into_inner()).unwrap();
        assert_eq!(text.lines().count(), 10, "{text}");
        assert!(
            text.ends_with("replay: 100% (200/200 items, request 20/20)\n"),
            "{text}"
        );
        assert!(!text.contains('\r'));
    }

    #[test]
    fn a_terminal_gets_one_redrawn_bar() {
        let mut r = Reporter::new(Vec::new(), true);
        r.update(at(10, 100));
        r.update(at(20, 200));
        let text = String::from_utf8(r.into_inner()).unwrap();
        assert_eq!(text.matches('\r').count(), 2);
        assert!(text.contains(" 50% 100/200 items"), "{text}");
        assert!(
            text.ends_with("100% 200/200 items, request 20/20\n"),
            "{text}"
        );
    }
}
