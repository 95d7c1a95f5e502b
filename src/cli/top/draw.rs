//! Drawing `clawherd top`: [`draw`] turns an [`App`] into one frame and reads nothing else, so a
//! test renders it on ratatui's `TestBackend` and reads the buffer.
//!
//! From top to bottom: a title line (fleet, counts, warnings, connection), the instance table,
//! the fleet's warnings when it has any, the failover pairs beside the port map, the event
//! stream or the followed log, and a line of keys (or the prompt of a confirmation or the filter). Without colours (`NO_COLOR`,
//! monochrome terminals) states and the selection are told apart by bold, dim and reverse.

use super::app::{App, Connection, Mode, Pane};
use crate::cli::chart::{self, Span as PortSpan};
use crate::cli::render::{bytes, exit_kind_word, rollout_note, short_duration, short_exit, short_secs};
use crate::control::protocol::InstanceReport;
use crate::instance::Phase;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState};
use std::time::SystemTime;

/// Glyphs of a sparkline, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// The terminal width from which the failover pairs and the port map sit side by side.
const SIDE_BY_SIDE: u16 = 100;
/// Warnings listed at most (one line each); more are counted on a last line.
const WARNING_LINES: usize = 3;

/// Draws the whole screen for `app`.
pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    let shown = app.shown();
    let pairs = app.pairs();
    let avail = area.height.saturating_sub(2);
    // The table gets its rows (plus border and header) up to half the room; the middle gets
    // what the pairs and the port map need, up to two thirds of the rest; the bottom pane the rest.
    let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let table_h = count(shown.len()).saturating_add(3).min((avail / 2).max(4));
    let warnings = app.status.as_ref().map_or(&[][..], |s| s.warnings.as_slice());
    // The warnings box: one line per warning (and one for the rest), only when there are any.
    let warn_h = match warnings.len() {
        0 => 0,
        n if n > WARNING_LINES => count(WARNING_LINES) + 3,
        n => count(n) + 2,
    }
    .min(avail.saturating_sub(table_h) / 3);
    let ports_h = count(shown.len()).saturating_add(4);
    let pairs_h = count(pairs.len().max(1)).saturating_add(2);
    let mid_want = if area.width >= SIDE_BY_SIDE {
        ports_h.max(pairs_h)
    } else {
        ports_h + pairs_h
    };
    let mid_h = mid_want.min(avail.saturating_sub(table_h + warn_h) * 2 / 3);
    let [title, table, warn, mid, bottom, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table_h),
        Constraint::Length(warn_h),
        Constraint::Length(mid_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_title(app, f, title);
    draw_table(app, &shown, f, table);
    if warn_h > 0 {
        draw_warnings(app, warnings, f, warn);
    }
    if area.width >= SIDE_BY_SIDE {
        let [left, right] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(mid);
        draw_pairs(app, &pairs, f, left);
        draw_ports(&shown, f, right);
    } else {
        let [top, below] = Layout::vertical([Constraint::Length(pairs_h.min(mid.height)), Constraint::Min(0)]).areas(mid);
        draw_pairs(app, &pairs, f, top);
        draw_ports(&shown, f, below);
    }
    match app.pane {
        Pane::Events => draw_events(app, f, bottom),
        Pane::Logs => draw_logs(app, f, bottom),
    }
    draw_keys(app, f, keys);
    if app.mode == Mode::Help {
        draw_help(f, area);
    }
}

fn styled(app: &App, color: Color, mono: Modifier) -> Style {
    if app.color {
        Style::default().fg(color)
    } else {
        Style::default().add_modifier(mono)
    }
}

/// The style of a state: green ready, yellow on the way, red for what needs a look, grey
/// stopped; without colours, bold for what needs a look and dim for stopped.
fn state_style(app: &App, state: Phase) -> Style {
    match state {
        Phase::Ready => styled(app, Color::Green, Modifier::empty()),
        Phase::Starting | Phase::Stopping | Phase::Backoff => styled(app, Color::Yellow, Modifier::empty()),
        Phase::Unready | Phase::CrashLoop | Phase::Parked => styled(app, Color::Red, Modifier::BOLD),
        Phase::Stopped => styled(app, Color::DarkGray, Modifier::DIM),
    }
}

fn draw_title(app: &App, f: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled("clawherd top", Style::default().add_modifier(Modifier::BOLD))];
    if let Some(s) = &app.status {
        let ready = s.instances.iter().filter(|i| i.ready).count();
        spans.push(Span::raw(format!("  {}/{} ready  ", ready, s.instances.len())));
        // Before the daemon and the fleet path, so that a narrow terminal still shows it.
        if !s.warnings.is_empty() {
            let n = s.warnings.len();
            spans.push(Span::styled(
                format!("{n} warning{}", if n == 1 { "" } else { "s" }),
                styled(app, Color::Yellow, Modifier::BOLD),
            ));
            spans.push(Span::raw("  "));
        }
        spans.push(Span::raw(format!("daemon pid {} ({})  ", s.pid, bytes(s.rss_bytes))));
        spans.push(Span::raw(s.fleet.clone()));
    }
    let conn = match &app.connection {
        Connection::Connecting => Span::styled("  connecting…", styled(app, Color::Yellow, Modifier::empty())),
        Connection::Connected => Span::raw(""),
        Connection::Disconnected { error } => Span::styled(
            format!("  disconnected — retrying ({error})"),
            styled(app, Color::Red, Modifier::BOLD | Modifier::REVERSED),
        ),
    };
    // The connection goes first when disconnected, so a narrow terminal still shows it.
    if matches!(app.connection, Connection::Disconnected { .. }) {
        spans.insert(1, conn);
    } else {
        spans.push(conn);
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The fleet's warnings (the proof's, as `check` and `reload` print them), the first line of
/// each: where and what; the note and hint lines are for `clawherd check`.
fn draw_warnings(app: &App, warnings: &[String], f: &mut Frame, area: Rect) {
    let style = styled(app, Color::Yellow, Modifier::empty());
    let mut lines: Vec<Line> = warnings
        .iter()
        .take(WARNING_LINES)
        .map(|w| Line::styled(w.lines().next().unwrap_or_default().to_string(), style))
        .collect();
    if warnings.len() > WARNING_LINES {
        lines.push(Line::raw(format!("… and {} more", warnings.len() - WARNING_LINES)));
    }
    let block = Block::bordered().title(" warnings (`clawherd check` shows each with its hint) ");
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// A table column: header, width, and the cell of an instance.
struct Column {
    header: &'static str,
    width: u16,
    /// Lower draws first when room is short.
    priority: u8,
}

fn draw_table(app: &App, shown: &[&InstanceReport], f: &mut Frame, area: Rect) {
    let name_w = shown.iter().map(|i| i.profile.chars().count()).max().unwrap_or(0).max(7) as u16;
    // (header, width, priority): a lower priority is drawn first when room is short.
    let all: Vec<Column> = [
        ("PROFILE", name_w, 0),
        ("ROLE", 6, 3),
        ("VERSION", 10, 5),
        ("STATE", 10, 0),
        ("PID", 7, 1),
        ("UPTIME", 6, 4),
        ("RST", 3, 4),
        ("LAST EXIT", 19, 5),
        ("RDY/LIV", 7, 2),
        ("CPU", 6, 2),
        ("CPU HISTORY", 12, 6),
        ("RSS", 9, 3),
        ("RSS HISTORY", 12, 7),
        ("NOTES", 30, 8),
    ]
    .into_iter()
    .map(|(header, width, priority)| Column { header, width, priority })
    .collect();
    // Take columns by priority while they fit (borders 2, one space between columns).
    let room = area.width.saturating_sub(2);
    let mut order: Vec<(usize, &Column)> = all.iter().enumerate().collect();
    order.sort_by_key(|(_, c)| c.priority);
    let mut used = 0u16;
    let mut keep = vec![false; all.len()];
    for (i, c) in order {
        let need = c.width + u16::from(used > 0);
        if used + need <= room {
            used += need;
            if let Some(k) = keep.get_mut(i) {
                *k = true;
            }
        }
    }
    let header = Row::new(all.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| Cell::from(c.header)))
        .style(Style::default().add_modifier(Modifier::BOLD));
    let rows = shown.iter().map(|i| {
        let cells = instance_cells(app, i);
        Row::new(cells.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c))
    });
    // The selection is reversed (seen without colours too), and the table scrolls to keep it
    // in view when there are more instances than rows.
    let mut state = TableState::default().with_selected(shown.iter().position(|i| app.selected.as_deref() == Some(i.profile.as_str())));
    let mut widths: Vec<Constraint> = all
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| Constraint::Length(c.width))
        .collect();
    // The last column takes what is left.
    if let Some(last) = widths.last_mut() {
        *last = Constraint::Min(0);
    }
    let mut title = if app.filter.is_empty() {
        " instances ".to_string()
    } else {
        format!(" instances matching '{}' ", app.filter)
    };
    if matches!(app.connection, Connection::Disconnected { .. }) {
        title.push_str("(as last seen) ");
    }
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_stateful_widget(table, area, &mut state);
}

/// Every column's cell for one instance, in the table's column order.
fn instance_cells<'a>(app: &App, i: &'a InstanceReport) -> Vec<Cell<'a>> {
    let running = i.pid.is_some();
    let last_exit = match &i.last_exit {
        Some(e) => {
            let cause = app
                .exit_cause(&i.profile)
                .map_or(String::new(), |k| format!(" {}", exit_kind_word(k)));
            format!("{}{cause}", short_exit(e))
        }
        None => "-".into(),
    };
    let yn = |v: Option<bool>| match v {
        Some(true) => "y",
        Some(false) => "n",
        None => "-",
    };
    let cpu_hist = app.cpu_history.get(&i.profile);
    let rss_hist = app.rss_history.get(&i.profile);
    let signals = match &i.openclaw {
        Some(o) => {
            let mut v = Vec::new();
            if !o.failing.is_empty() {
                v.push(format!("failing {}", o.failing.join(",")));
            }
            if !o.suppressed.is_empty() {
                v.push(format!("suppressed {}", o.suppressed.join(",")));
            }
            if o.event_loop_degraded == Some(true) {
                v.push("event loop degraded".into());
            }
            v.join("; ")
        }
        None => i.reason.clone().unwrap_or_default(),
    };
    // The rollout first: a rollback's reason is what the operator looks for after a change.
    let notes = match rollout_note(i) {
        Some(r) if signals.is_empty() => r,
        Some(r) => format!("{r}; {signals}"),
        None => signals,
    };
    vec![
        Cell::from(i.profile.as_str()),
        Cell::from(i.role.as_str()),
        Cell::from(i.version.as_deref().unwrap_or("-")),
        Cell::from(Span::styled(i.state.as_str(), state_style(app, i.state))),
        Cell::from(i.pid.map_or("-".into(), |p| p.to_string())),
        Cell::from(i.uptime_s.map_or("-".into(), short_secs)),
        Cell::from(i.restarts.to_string()),
        Cell::from(last_exit),
        Cell::from(format!("{}/{}", yn(Some(i.ready)), yn(i.live))),
        Cell::from(if running {
            format!("{:.1}%", i.tree.cpu_percent)
        } else {
            "-".into()
        }),
        Cell::from(cpu_hist.map_or(String::new(), |h| {
            let v: Vec<f64> = h.iter().copied().collect();
            cpu_sparkline(&v, 12)
        })),
        Cell::from(if i.tree.processes > 0 {
            bytes(i.tree.rss_bytes)
        } else {
            "-".into()
        }),
        Cell::from(rss_hist.map_or(String::new(), |h| {
            let v: Vec<f64> = h.iter().map(|b| *b as f64).collect();
            rss_sparkline(&v, 12)
        })),
        Cell::from(notes),
    ]
}

/// The CPU history's scale never shrinks below this (percent of a core), so an idle
/// instance's 0.1 % blips stay low bars.
const CPU_SCALE_MIN: f64 = 10.0;

/// The last `width` samples as bar glyphs, `lo` drawn lowest and `hi` (or the largest sample,
/// if larger) highest.
pub fn sparkline(samples: &[f64], width: usize, lo: f64, hi: f64) -> String {
    let tail = samples.get(samples.len().saturating_sub(width)..).unwrap_or_default();
    let hi = tail.iter().copied().fold(hi, f64::max);
    let span = hi - lo;
    tail.iter()
        .map(|v| {
            let i = if span <= 0.0 || !v.is_finite() {
                0
            } else {
                (((v - lo) / span).clamp(0.0, 1.0) * (BARS.len() - 1) as f64).round() as usize
            };
            BARS.get(i).or(BARS.last()).copied().unwrap_or(' ')
        })
        .collect()
}

/// The CPU history: from 0 to the largest sample, at least [`CPU_SCALE_MIN`] percent.
fn cpu_sparkline(samples: &[f64], width: usize) -> String {
    sparkline(samples, width, 0.0, CPU_SCALE_MIN)
}

/// The RSS history: from the smallest to the largest sample, so growth shows; flat when it
/// moved less than 1 %.
fn rss_sparkline(samples: &[f64], width: usize) -> String {
    let tail = samples.get(samples.len().saturating_sub(width)..).unwrap_or_default();
    let lo = tail.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = tail.iter().copied().fold(0.0, f64::max);
    if !lo.is_finite() || hi - lo < hi * 0.01 {
        return BARS[0].to_string().repeat(tail.len());
    }
    sparkline(tail, width, lo, hi)
}

fn draw_pairs(app: &App, pairs: &[super::app::Pair], f: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for p in pairs {
        let q = if p.known { "" } else { "?" };
        let mut spans = vec![Span::raw(format!("{} covers {} ({}{q})", p.standby, p.covers, p.mode))];
        if p.active {
            spans.push(Span::styled(" ACTIVE", styled(app, Color::Red, Modifier::BOLD)));
        }
        if let Some(s) = p.failover_in_s {
            spans.push(Span::styled(
                format!(" failover in {}", short_secs(s)),
                styled(app, Color::Red, Modifier::BOLD),
            ));
        }
        if let Some(since) = app.down_since(&p.covers) {
            spans.push(Span::styled(
                format!(" {} down {}", p.covers, ago(app.now, since)),
                styled(app, Color::Yellow, Modifier::BOLD),
            ));
        }
        if let Some((kind, ts)) = &p.last {
            spans.push(Span::raw(format!(" last {kind} {} ago", ago(app.now, ts))));
        }
        lines.push(Line::from(spans));
    }
    if lines.is_empty() {
        lines.push(Line::from("no standby in this fleet"));
    }
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" failover ")), area);
}

fn draw_ports(shown: &[&InstanceReport], f: &mut Frame, area: Rect) {
    let spans: Vec<PortSpan> = shown
        .iter()
        .filter_map(|i| {
            let parts = i
                .ports
                .iter()
                .map(|p| chart::Part {
                    lo: p.lo,
                    hi: p.hi,
                    connects: p.connects,
                })
                .collect();
            // An older daemon tells only the base port: its footprint is drawn whole.
            PortSpan::of_parts(&i.profile, parts).or_else(|| i.base_port.map(|b| PortSpan::of(&i.profile, &i.flavor, b)))
        })
        .collect();
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = chart::render(&spans, width).into_iter().map(Line::from).collect();
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" ports ")), area);
}

fn draw_events(app: &App, f: &mut Frame, area: Rect) {
    let rows = area.height.saturating_sub(2) as usize;
    let events = app.shown_events();
    let lines: Vec<Line> = events
        .get(events.len().saturating_sub(rows)..)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let time = e.ts.get(11..19).unwrap_or(&e.ts);
            let style = match e.kind() {
                "exited" | "crash_loop" | "parked" | "failover" | "stuck" | "spawn_failed" | "liveness_failed" | "hook_failed"
                | "reload_refused" => styled(app, Color::Red, Modifier::BOLD),
                "ready" | "failback" | "standby_ready" => styled(app, Color::Green, Modifier::empty()),
                _ => Style::default(),
            };
            Line::from(vec![
                Span::raw(format!("{time} ")),
                Span::styled(format!("{:<17} ", e.kind()), style),
                Span::raw(format!(
                    "{:<10} {}{}",
                    e.profile.as_deref().unwrap_or("-"),
                    e.pid.map_or(String::new(), |p| format!("pid {p}: ")),
                    e.message
                )),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" events ")), area);
}

fn draw_logs(app: &App, f: &mut Frame, area: Rect) {
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .log_lines
        .iter()
        .skip(app.log_lines.len().saturating_sub(rows))
        .map(|l| Line::from(l.as_str()))
        .collect();
    let title = match &app.log_profile {
        Some(p) => format!(" log of {p} (following) "),
        None => " log (select an instance) ".into(),
    };
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
}

fn draw_keys(app: &App, f: &mut Frame, area: Rect) {
    let prompt = Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    let line = match &app.mode {
        Mode::Confirm { profile, action } => Line::from(Span::styled(
            format!("{} {profile} (role main)? y = yes, any other key = no", action.as_str()),
            prompt,
        )),
        Mode::Filter => Line::from(vec![
            Span::styled(format!("/{}", app.filter), prompt),
            Span::raw("  Enter keep, Esc clear"),
        ]),
        _ => {
            let mut spans = vec![Span::raw("↑↓ select  s start  x stop  r restart  l logs  / filter  ? help  q quit")];
            if let Some(n) = &app.notice {
                spans.push(Span::styled(format!("  {n}"), Style::default().add_modifier(Modifier::BOLD)));
            }
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The keys, in the help overlay.
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓ / j k", "select an instance"),
    ("s", "start the selected instance"),
    ("x", "stop it (asks first for a main-role profile)"),
    ("r", "restart it (asks first for a main-role profile)"),
    ("l / Enter", "follow its log in the bottom pane; again for events"),
    ("e", "show the event stream"),
    ("/", "filter instances and events by profile, role or state"),
    ("Esc", "clear the filter; quit when there is none"),
    ("?", "this help; any key closes it"),
    ("q / Ctrl-C", "quit"),
];

fn draw_help(f: &mut Frame, area: Rect) {
    let w = 76.min(area.width);
    let h = (HELP.len() as u16 + 4).min(area.height);
    let rect = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    let mut lines: Vec<Line> = HELP.iter().map(|(k, v)| Line::from(format!("{k:<12} {v}"))).collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        "states: ready, starting, unready, stopping, backoff, crash-loop, parked, stopped",
    ));
    f.render_widget(Clear, rect);
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" keys ")), rect);
}

/// How long before `now` the RFC 3339 time `ts` was (`?` when unreadable).
fn ago(now: SystemTime, ts: &str) -> String {
    humantime::parse_rfc3339_weak(ts)
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .map_or("?".into(), short_duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale() {
        assert_eq!(sparkline(&[0.0, 50.0, 100.0], 10, 0.0, 0.0), "▁▅█");
        assert_eq!(sparkline(&[0.0, 0.0], 10, 0.0, 0.0), "▁▁");
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 4.0], 2, 0.0, 0.0), "▆█");
        // An idle instance's blips stay low; a busy one fills the scale.
        assert_eq!(cpu_sparkline(&[0.0, 0.1, 0.0], 10), "▁▁▁");
        assert_eq!(cpu_sparkline(&[0.0, 64.4], 10), "▁█");
        // RSS: growth from the smallest sample; steady memory is flat.
        assert_eq!(rss_sparkline(&[100e6, 150e6, 200e6], 10), "▁▅█");
        assert_eq!(rss_sparkline(&[100e6, 100.1e6], 10), "▁▁");
        assert_eq!(rss_sparkline(&[], 10), "");
    }
}
