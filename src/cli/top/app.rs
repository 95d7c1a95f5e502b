//! The state of `clawherd top`: a plain value changed only by messages ([`App::on_status`],
//! [`App::on_event`], [`App::on_key`], ...). It does no I/O: what it wants done (an action on an
//! instance, another log to follow, quitting) comes back as [`Effect`]s for the caller to carry
//! out, so every key and every answer of the daemon can be tested without a terminal or socket.

use crate::control::protocol::{InstanceReport, StatusResponse};
use crate::instance::Phase;
use crate::observe::events::{FleetEvent, What};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

/// Events kept for the event pane.
pub const EVENTS_KEPT: usize = 200;
/// Log lines kept for the log pane.
pub const LOG_LINES_KEPT: usize = 500;
/// Samples kept per instance for the CPU and RSS histories (one per status answer, about one
/// a second).
pub const HISTORY: usize = 30;

/// An action on an instance, as the control API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `POST /v1/instances/{profile}/start`.
    Start,
    /// `POST /v1/instances/{profile}/stop`.
    Stop,
    /// `POST /v1/instances/{profile}/restart`.
    Restart,
}

impl Action {
    /// The route's last segment: `start`, `stop`, `restart`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
        }
    }
}

/// What the app asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send `action` for `profile` (without waiting for its outcome).
    Act {
        /// The profile.
        profile: String,
        /// What to do.
        action: Action,
    },
    /// Follow this profile's log from now on (`None`: follow none).
    FollowLogs(Option<String>),
    /// Leave `top`.
    Quit,
}

/// Whether the daemon answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// No answer yet.
    Connecting,
    /// The last status call was answered.
    Connected,
    /// The last status call failed; the caller retries with backoff.
    Disconnected {
        /// Why, in one line.
        error: String,
    },
}

/// What the keyboard is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Keys are commands.
    Normal,
    /// Typing the filter after `/`.
    Filter,
    /// Waiting for `y` to confirm an action on a main-role instance.
    Confirm {
        /// The profile.
        profile: String,
        /// The action asked for.
        action: Action,
    },
    /// The help overlay.
    Help,
}

/// What the bottom pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The event stream.
    Events,
    /// The followed log of the selected instance.
    Logs,
}

/// How an instance's last exit came about: the status answer's `last_exit_kind`, else told
/// from the `exited` (and `restart_handoff`) events (a daemon that predates the field).
pub use crate::instance::ExitKind as ExitCause;

/// A standby and the profile it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The standby profile.
    pub standby: String,
    /// The profile it stands by for.
    pub covers: String,
    /// `hot` or `cold`.
    pub mode: String,
    /// Whether `covers` and `mode` come from a `failover`/`failback` event (else they are
    /// inferred from roles and states, and shown with a `?`).
    pub known: bool,
    /// The last `failover` or `failback` seen: kind and RFC 3339 time.
    pub last: Option<(String, String)>,
    /// Whether the standby has taken over (a `failover` not yet followed by a `failback`).
    pub active: bool,
    /// Seconds until the failover as of the last status answer, while the covered profile is
    /// not ready (the status answer's `standby.failover_in_s`).
    pub failover_in_s: Option<f64>,
}

/// Facts about one standby gathered from events.
#[derive(Debug, Clone, Default, PartialEq)]
struct StandbyFacts {
    covers: Option<String>,
    mode: Option<String>,
    last: Option<(String, String)>,
    active: bool,
}

/// The whole state of `top`.
#[derive(Debug, Clone)]
pub struct App {
    /// The last status answer.
    pub status: Option<StatusResponse>,
    /// Whether the daemon answers.
    pub connection: Connection,
    /// The time of the last message that carried one (drives "ago" and down clocks).
    pub now: SystemTime,
    /// CPU percent samples per profile, oldest first.
    pub cpu_history: BTreeMap<String, VecDeque<f64>>,
    /// RSS samples (bytes) per profile, oldest first.
    pub rss_history: BTreeMap<String, VecDeque<u64>>,
    /// The latest events, oldest first.
    pub events: VecDeque<FleetEvent>,
    /// The followed log: whose, and its lines, oldest first.
    pub log_profile: Option<String>,
    /// Lines of the followed log.
    pub log_lines: VecDeque<String>,
    /// The bottom pane.
    pub pane: Pane,
    /// The selected profile.
    pub selected: Option<String>,
    /// Instances (and events) shown are those whose profile, role or state contains this.
    pub filter: String,
    /// Keyboard mode.
    pub mode: Mode,
    /// One line about the last thing done (an action sent, its refusal).
    pub notice: Option<String>,
    /// Colours allowed (`NO_COLOR` unset and a terminal that has them).
    pub color: bool,
    /// Per standby, what events told.
    standbys: BTreeMap<String, StandbyFacts>,
    /// Per profile, how its last exit came about.
    exit_causes: BTreeMap<String, ExitCause>,
    /// Per profile, when it was last seen to stop being ready (RFC 3339 of the event).
    down_since: BTreeMap<String, String>,
}

impl App {
    /// A fresh app: nothing known yet; `color` as the terminal allows.
    pub fn new(color: bool) -> App {
        App {
            status: None,
            connection: Connection::Connecting,
            now: SystemTime::UNIX_EPOCH,
            cpu_history: BTreeMap::new(),
            rss_history: BTreeMap::new(),
            events: VecDeque::new(),
            log_profile: None,
            log_lines: VecDeque::new(),
            pane: Pane::Events,
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            notice: None,
            color,
            standbys: BTreeMap::new(),
            exit_causes: BTreeMap::new(),
            down_since: BTreeMap::new(),
        }
    }

    /// A status answer arrived at `now`: it replaces the last one, adds a history sample per
    /// instance, and keeps the selection on the same profile (or the first one shown).
    pub fn on_status(&mut self, status: StatusResponse, now: SystemTime) {
        self.now = now;
        self.connection = Connection::Connected;
        for i in &status.instances {
            let cpu = self.cpu_history.entry(i.profile.clone()).or_default();
            cpu.push_back(if i.pid.is_some() { i.tree.cpu_percent.max(0.0) } else { 0.0 });
            if cpu.len() > HISTORY {
                cpu.pop_front();
            }
            let rss = self.rss_history.entry(i.profile.clone()).or_default();
            rss.push_back(i.tree.rss_bytes);
            if rss.len() > HISTORY {
                rss.pop_front();
            }
            if i.ready {
                self.down_since.remove(&i.profile);
            }
        }
        let known: Vec<&str> = status.instances.iter().map(|i| i.profile.as_str()).collect();
        self.cpu_history.retain(|p, _| known.contains(&p.as_str()));
        self.rss_history.retain(|p, _| known.contains(&p.as_str()));
        self.status = Some(status);
        self.fix_selection();
    }

    /// A status call failed: the daemon is unreachable (or answered nonsense).
    pub fn on_disconnected(&mut self, error: String, now: SystemTime) {
        self.now = now;
        self.connection = Connection::Disconnected { error };
    }

    /// The event stream (re)connected and will replay its recent events: forget the old ones so
    /// none is shown twice.
    pub fn on_events_replay(&mut self) {
        self.events.clear();
    }

    /// An event arrived: kept for the event pane, and read for exit causes, failover pairs and
    /// down clocks.
    pub fn on_event(&mut self, event: FleetEvent) {
        if let Some(p) = event.profile.clone() {
            match &event.what {
                What::Exited { requested, exit_kind, .. } => {
                    let cause = exit_kind.unwrap_or(if *requested { ExitCause::Requested } else { ExitCause::Crash });
                    self.exit_causes.insert(p.clone(), cause);
                    self.down_since.entry(p).or_insert_with(|| event.ts.clone());
                }
                What::Unready => {
                    self.down_since.entry(p).or_insert_with(|| event.ts.clone());
                }
                What::Ready { .. } => {
                    self.down_since.remove(&p);
                }
                What::RestartHandoff { .. } => {
                    self.exit_causes.insert(p, ExitCause::Handoff);
                }
                What::Failover { standby_for, mode, .. } => {
                    let f = self.standbys.entry(p).or_default();
                    f.covers = Some(standby_for.clone());
                    f.mode = Some(mode.clone());
                    f.last = Some(("failover".into(), event.ts.clone()));
                    f.active = true;
                }
                What::Failback { standby_for, mode } => {
                    let f = self.standbys.entry(p).or_default();
                    f.covers = Some(standby_for.clone());
                    f.mode = Some(mode.clone());
                    f.last = Some(("failback".into(), event.ts.clone()));
                    f.active = false;
                }
                _ => {}
            }
        }
        self.events.push_back(event);
        if self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
    }

    /// The log stream of `profile` (re)connected and replays its last lines: start afresh.
    pub fn on_log_replay(&mut self, profile: &str) {
        if self.log_profile.as_deref() == Some(profile) {
            self.log_lines.clear();
        }
    }

    /// A line of `profile`'s log arrived (dropped when that log is no longer followed).
    pub fn on_log_line(&mut self, profile: &str, line: String) {
        if self.log_profile.as_deref() != Some(profile) {
            return;
        }
        self.log_lines.push_back(line);
        if self.log_lines.len() > LOG_LINES_KEPT {
            self.log_lines.pop_front();
        }
    }

    /// The outcome of an action, in one line.
    pub fn on_notice(&mut self, notice: String) {
        self.notice = Some(notice);
    }

    /// A key was pressed. Returns what to do.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        if ctrl_c {
            return vec![Effect::Quit];
        }
        match self.mode.clone() {
            Mode::Help => {
                // Any key closes the help; q still quits.
                self.mode = Mode::Normal;
                if key.code == KeyCode::Char('q') {
                    return vec![Effect::Quit];
                }
                Vec::new()
            }
            Mode::Confirm { profile, action } => {
                self.mode = Mode::Normal;
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.notice = Some(format!("{} {profile}: sent", action.as_str()));
                    vec![Effect::Act { profile, action }]
                } else {
                    self.notice = Some(format!("{} {profile}: cancelled", action.as_str()));
                    Vec::new()
                }
            }
            Mode::Filter => {
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        self.filter.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Backspace => {
                        self.filter.pop();
                    }
                    KeyCode::Char(c) => self.filter.push(c),
                    _ => {}
                }
                self.fix_selection();
                self.follow_selected()
            }
            Mode::Normal => self.normal_key(key),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('q') => vec![Effect::Quit],
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.fix_selection();
                self.follow_selected()
            }
            KeyCode::Esc => vec![Effect::Quit],
            KeyCode::Char('?') | KeyCode::F(1) => {
                self.mode = Mode::Help;
                Vec::new()
            }
            KeyCode::Char('/') => {
                self.mode = Mode::Filter;
                Vec::new()
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.move_selection(1);
                self.follow_selected()
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.move_selection(-1);
                self.follow_selected()
            }
            KeyCode::Char('s') => self.ask(Action::Start),
            KeyCode::Char('x') => self.ask(Action::Stop),
            KeyCode::Char('r') => self.ask(Action::Restart),
            KeyCode::Char('l') | KeyCode::Enter => {
                if self.pane == Pane::Logs {
                    self.pane = Pane::Events;
                    self.log_profile = None;
                    self.log_lines.clear();
                    vec![Effect::FollowLogs(None)]
                } else {
                    self.pane = Pane::Logs;
                    self.log_profile = None;
                    self.follow_selected()
                }
            }
            KeyCode::Char('e') => {
                self.pane = Pane::Events;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// An action on the selected instance: at once, or after a confirmation for a main-role
    /// profile when it would take that instance down (stop, restart).
    fn ask(&mut self, action: Action) -> Vec<Effect> {
        let Some(inst) = self.selected_instance() else {
            self.notice = Some("no instance selected".into());
            return Vec::new();
        };
        let profile = inst.profile.clone();
        if inst.role == "main" && action != Action::Start {
            self.mode = Mode::Confirm { profile, action };
            return Vec::new();
        }
        self.notice = Some(format!("{} {profile}: sent", action.as_str()));
        vec![Effect::Act { profile, action }]
    }

    /// While the log pane is shown, the followed log is the selected instance's.
    fn follow_selected(&mut self) -> Vec<Effect> {
        if self.pane != Pane::Logs || self.log_profile == self.selected {
            return Vec::new();
        }
        self.log_profile = self.selected.clone();
        self.log_lines.clear();
        vec![Effect::FollowLogs(self.log_profile.clone())]
    }

    fn move_selection(&mut self, by: isize) {
        let shown: Vec<String> = self.shown().iter().map(|i| i.profile.clone()).collect();
        if shown.is_empty() {
            self.selected = None;
            return;
        }
        let at = self.selected.as_ref().and_then(|s| shown.iter().position(|p| p == s)).unwrap_or(0) as isize;
        let next = (at + by).clamp(0, shown.len() as isize - 1) as usize;
        self.selected = shown.get(next).cloned();
    }

    /// Keeps the selection on a shown profile: the same one if still shown, else the first.
    fn fix_selection(&mut self) {
        let shown = self.shown();
        let still = self.selected.as_ref().is_some_and(|s| shown.iter().any(|i| &i.profile == s));
        if !still {
            self.selected = shown.first().map(|i| i.profile.clone());
        }
    }

    /// Whether `text` passes the filter (case-insensitive substring; an empty filter passes all).
    fn passes(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }

    /// The instances shown: those whose profile, role or state passes the filter.
    pub fn shown(&self) -> Vec<&InstanceReport> {
        match &self.status {
            Some(s) => s
                .instances
                .iter()
                .filter(|i| self.passes(&i.profile) || self.passes(&i.role) || self.passes(i.state.as_str()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The events shown: fleet-wide ones, and those of a profile that passes the filter.
    pub fn shown_events(&self) -> Vec<&FleetEvent> {
        self.events
            .iter()
            .filter(|e| e.profile.as_deref().is_none_or(|p| self.passes(p)))
            .collect()
    }

    /// The selected instance, if any.
    pub fn selected_instance(&self) -> Option<&InstanceReport> {
        let sel = self.selected.as_ref()?;
        self.status.as_ref()?.instances.iter().find(|i| &i.profile == sel)
    }

    /// How `profile`'s last exit came about: as the last status answer says, else as events
    /// told (the replayed events may no longer hold the exit).
    pub fn exit_cause(&self, profile: &str) -> Option<ExitCause> {
        let reported = self.status.as_ref().and_then(|s| s.instances.iter().find(|i| i.profile == profile));
        reported
            .and_then(|i| i.last_exit_kind)
            .or_else(|| self.exit_causes.get(profile).copied())
    }

    /// Since when (RFC 3339) `profile` has not been ready, when an event told and it is still
    /// not ready.
    pub fn down_since(&self, profile: &str) -> Option<&str> {
        self.down_since.get(profile).map(String::as_str)
    }

    /// The failover pairs: each standby with the profile it covers. What the status answer
    /// says (`standby`) wins, then what `failover`/`failback` events told (an older daemon);
    /// otherwise a `rescue`-role profile covers the fleet's only `main`-role
    /// profile (the fleet file's default), hot unless it is stopped while that main runs.
    pub fn pairs(&self) -> Vec<Pair> {
        let Some(status) = &self.status else { return Vec::new() };
        let mains: Vec<&InstanceReport> = status.instances.iter().filter(|i| i.role == "main").collect();
        let mut out = Vec::new();
        for i in &status.instances {
            let facts = self.standbys.get(&i.profile);
            if let Some(sb) = &i.standby {
                out.push(Pair {
                    standby: i.profile.clone(),
                    covers: sb.covers.clone(),
                    mode: sb.mode.clone(),
                    known: true,
                    last: facts.and_then(|f| f.last.clone()),
                    active: sb.failed_over,
                    failover_in_s: sb.failover_in_s,
                });
                continue;
            }
            let covers_known = facts.and_then(|f| f.covers.clone());
            let covers = match (&covers_known, i.role.as_str(), mains.as_slice()) {
                (Some(c), _, _) => c.clone(),
                (None, "rescue", [only]) => only.profile.clone(),
                _ => continue,
            };
            let main_running = status.instances.iter().any(|m| m.profile == covers && m.pid.is_some());
            let mode = match facts.and_then(|f| f.mode.clone()) {
                Some(m) => m,
                None if i.state == Phase::Stopped && main_running => "cold".into(),
                None => "hot".into(),
            };
            out.push(Pair {
                standby: i.profile.clone(),
                covers,
                known: covers_known.is_some() && facts.is_some_and(|f| f.mode.is_some()),
                mode,
                last: facts.and_then(|f| f.last.clone()),
                active: facts.is_some_and(|f| f.active),
                failover_in_s: None,
            });
        }
        out
    }
}
