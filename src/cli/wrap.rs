//! Long lines wrapped to the terminal: `check`'s problems and plan, `status`'s notes. Output to a
//! pipe or a file is never wrapped (scripts read whole lines, or `--json`).

/// Narrowest width wrapped to: below it, lines are left whole.
const MIN_WIDTH: usize = 40;

/// The terminal's width in columns when `tty` (the stream written to is a terminal), else
/// `None`.
pub(crate) fn width(tty: bool) -> Option<usize> {
    tty.then(|| ratatui::crossterm::terminal::size().ok())
        .flatten()
        .map(|(w, _)| usize::from(w))
        .filter(|w| *w >= MIN_WIDTH)
}

/// `text` with each line longer than `width` characters broken at spaces; continuation lines
/// are indented by the line's own indentation plus four spaces. A word longer than the room
/// left stands alone on its line (never cut). `None` leaves the text as it is.
pub(crate) fn wrap(text: &str, width: Option<usize>) -> String {
    let Some(width) = width else { return text.to_string() };
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        out.push_str(&wrap_line(line, width, indent + 4));
    }
    out
}

/// One line of [`wrap`], continuation lines indented by `indent` spaces.
pub(crate) fn wrap_line(line: &str, width: usize, indent: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let lead = line.len() - line.trim_start_matches(' ').len();
    let mut out = String::with_capacity(line.len() + 16);
    out.push_str(line.get(..lead).unwrap_or_default());
    let mut used = lead;
    let mut first = true;
    for word in line.get(lead..).unwrap_or_default().split(' ') {
        let n = word.chars().count();
        if !first && used + 1 + n > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            used = indent;
        } else if !first {
            out.push(' ');
            used += 1;
        }
        out.push_str(word);
        used += n;
        first = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_with_an_indent() {
        let line = "fleet.yaml:3:9: warning: defaults.port: `defaults.port` gives every profile the same base port";
        let got = wrap(&format!("{line}\n  hint: short"), Some(40));
        assert!(got.lines().all(|l| l.chars().count() <= 40), "{got}");
        assert_eq!(got.replace("\n    ", " "), format!("{line}\n  hint: short"));
        assert_eq!(wrap(line, None), line);
        assert_eq!(wrap_line("  a bb ccc", 6, 2), "  a bb\n  ccc");
        let long = "x".repeat(50);
        assert_eq!(wrap_line(&format!("a {long} b"), 10, 2), format!("a\n  {long}\n  b"));
    }
}
