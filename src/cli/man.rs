//! `clawherd man`: one complete manual page, clawherd(1). The name, synopsis, description and
//! options come from the clap definition (clap_mangen); then every command with its own synopsis
//! and options, the fleet file's keys (rendered from the key tables of docs/fleet-file.md, built
//! in, so the page and the docs cannot drift apart), and the exit status, environment, files,
//! signals and examples sections a manual page is expected to have.

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};
use std::io::Write;

/// docs/fleet-file.md, whose key tables become the FLEET FILE section.
const FLEET_DOC: &str = include_str!("../../docs/fleet-file.md");

/// Writes the whole page (roff, for `man -l -`) to `w`.
///
/// Errors: only those of writing to `w`.
pub fn render(w: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = super::Cli::command();
    cmd.build();
    let top = clap_mangen::Man::new(cmd.clone()).manual("clawherd manual");
    top.render_title(w)?;
    top.render_name_section(w)?;
    top.render_synopsis_section(w)?;
    top.render_description_section(w)?;
    top.render_options_section(w)?;
    Roff::new().control("SH", ["COMMANDS"]).to_writer(w)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        command(w, sub, "clawherd")?;
    }
    fleet_file(FLEET_DOC).to_writer(w)?;
    static_sections().to_writer(w)
}

/// One command as a `.SS` subsection: its synopsis, its long help and its options; nested
/// commands (`export kubernetes`) follow it, each as its own subsection.
fn command(w: &mut dyn Write, sub: &clap::Command, parent: &str) -> std::io::Result<()> {
    let name = format!("{parent} {}", sub.get_name());
    if sub.has_subcommands() {
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            Roff::new()
                .control("SS", [name.as_str()])
                .text([roman(about.to_string())])
                .to_writer(w)?;
        }
        for inner in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
            command(w, inner, &name)?;
        }
        return Ok(());
    }
    Roff::new().control("SS", [name.as_str()]).to_writer(w)?;
    let page = clap_mangen::Man::new(sub.clone().bin_name(&name));
    let mut buf = Vec::new();
    page.render_synopsis_section(&mut buf)?;
    page.render_description_section(&mut buf)?;
    page.render_options_section(&mut buf)?;
    // The sections of a whole page become paragraphs of this subsection.
    let text = String::from_utf8_lossy(&buf);
    for line in text.lines() {
        writeln!(w, "{}", if line.starts_with(".SH ") { ".PP" } else { line })?;
    }
    Ok(())
}

/// The FLEET FILE section: every row of the key tables of `doc` (rows of five cells: key, type,
/// default, meaning, example) under the heading it stands in.
fn fleet_file(doc: &str) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["FLEET FILE"]).text([roman(
        "A YAML file (version: 1) with fleet-wide settings, defaults: (any profile key) and \
         profiles: (a map of profile name to profile). Each key with its type, default and meaning:",
    )]);
    let mut heading = String::new();
    let mut shown = String::new();
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = plain(h);
            continue;
        }
        let Some(cells) = row(line) else { continue };
        let [key, kind, default, meaning, ..] = cells.as_slice() else {
            continue;
        };
        if heading != shown {
            r.control("SS", [heading.as_str()]);
            shown.clone_from(&heading);
        }
        r.control("TP", [])
            .text([
                bold(plain(key)),
                roman(" ("),
                italic(plain(kind)),
                roman(format!("; default: {})", plain(default))),
            ])
            .text([roman(plain(meaning))]);
    }
    r.text([roman(
        "The whole reference, with examples and ranges: docs/fleet-file.md in the source.",
    )]);
    r
}

/// The cells of a key-table row of five cells (`| `key` | ... |`), `\|` kept inside a cell.
fn row(line: &str) -> Option<Vec<String>> {
    let inner = line.strip_prefix("| `")?.strip_suffix('|')?;
    let cells: Vec<String> = format!("`{inner}")
        .replace("\\|", "\u{0}")
        .split(" | ")
        .map(|c| c.trim().replace('\u{0}', "|"))
        .collect();
    (cells.len() == 5).then_some(cells)
}

/// Markdown inline text as plain text: code ticks and emphasis dropped, `[text](link)` as text.
fn plain(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(open) = rest.find('[') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let link = after
            .find("](")
            .and_then(|close| after.get(close + 2..).and_then(|t| t.find(')')).map(|end| (close, close + 2 + end)));
        match link {
            Some((close, end)) => {
                out.push_str(after.get(1..close).unwrap_or_default());
                rest = after.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push('[');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out.replace("**", "").replace('`', "")
}

/// One hand-written section: its heading, an optional first paragraph, and its terms.
type Section = (&'static str, Option<&'static str>, &'static [(&'static str, &'static str)]);

/// EXIT STATUS, ENVIRONMENT, FILES, SIGNALS and EXAMPLES.
const SECTIONS: &[Section] = &[
    (
        "EXIT STATUS",
        Some("clawherd follows sysexits(3):"),
        &[
            ("0", "done: proved, applied, stopped cleanly."),
            (
                "1",
                "not reached: a start/stop/restart that did not get its state in time, an upgrade rolled back, a file that cannot be written.",
            ),
            ("64", "usage: a bad argument, an unknown profile, no fleet file found."),
            (
                "69",
                "unavailable: the daemon is not running or another clawherd serves this fleet; a change held because its standby was not ready; npm or Node missing.",
            ),
            ("70", "internal software error."),
            (
                "78",
                "configuration: the fleet file (or an OpenClaw config) does not load or does not prove; a reload whose change was rolled back.",
            ),
            ("130", "interrupted by Ctrl-C while waiting (the action goes on in the daemon)."),
        ],
    ),
    (
        "ENVIRONMENT",
        None,
        &[
            (
                "CLAWHERD_FLEET",
                "the fleet file when none is given (before ./fleet.yaml, $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml and the one running daemon).",
            ),
            (
                "CLAWHERD_SOCKET",
                "the control socket of the daemon to talk to, instead of the fleet's.",
            ),
            (
                "CLAWHERD_LOG",
                "the daemon's log filter (tracing syntax, e.g. info or clawherd=debug).",
            ),
            ("NO_COLOR", "no colour in the output."),
            (
                "XDG_RUNTIME_DIR",
                "where a non-root daemon records itself (the registry), so that commands find it.",
            ),
            (
                "INVOCATION_ID, NOTIFY_SOCKET, JOURNAL_STREAM, WATCHDOG_USEC",
                "set by systemd: readiness, STATUS= and watchdog pings, journal fields, the systemd default paths.",
            ),
            (
                "(everything else)",
                "gateways do not inherit clawherd's environment: only an allowlist (PATH, HOME, USER, the locale, TZ, proxies, NODE_*, the provider keys and bot tokens OpenClaw documents) passes, unless the profile's env_inherit says otherwise.",
            ),
        ],
    ),
    (
        "FILES",
        None,
        &[
            (
                "<run_dir>/clawherd.sock",
                "the control API (HTTP over a Unix socket), mode 0600 unless control.group is set.",
            ),
            (
                "<run_dir>/logs/<profile>.log",
                "each gateway's captured output, rotated per logs.max_size and logs.keep.",
            ),
            ("<run_dir>/events.jsonl", "the event stream, one JSON object per line."),
            ("<run_dir>/lkg/<profile>.json", "last-known-good records of the rollout."),
            (
                "<run_dir>/versions/",
                "OpenClaw versions installed side by side by clawherd install, pins.json, snapshots.",
            ),
            (
                "/run/clawherd/, $XDG_RUNTIME_DIR/clawherd/",
                "the registry: one record and lock per running daemon.",
            ),
            ("/etc/clawherd/fleet.yaml", "the fleet file of the system service."),
        ],
    ),
    (
        "SIGNALS",
        None,
        &[
            (
                "SIGTERM, SIGINT",
                "stop every gateway (SIGTERM to its process group, SIGKILL to its whole tree after stop_timeout) and exit 0.",
            ),
            (
                "SIGHUP",
                "reload: re-read and re-prove the fleet file and roll out only the difference; a broken file keeps the running fleet.",
            ),
        ],
    ),
    (
        "EXAMPLES",
        None,
        &[
            (
                "clawherd check fleet.yaml",
                "prove the fleet: paths and real port footprints never overlap.",
            ),
            ("clawherd run fleet.yaml", "run it in the foreground."),
            ("clawherd status", "every instance: state, pid, version, ports, CPU and memory."),
            ("clawherd restart main", "restart main and wait until it is ready."),
            ("clawherd logs -F main rescue", "follow both gateways' output."),
            (
                "clawherd upgrade --all --to openclaw@2026.9.6",
                "upgrade, the rescue bot first as canary.",
            ),
            ("clawherd export kubernetes -o k8s/", "the fleet as OpenClaw operator resources."),
        ],
    ),
];

/// [`SECTIONS`], then SEE ALSO.
fn static_sections() -> Roff {
    let mut r = Roff::new();
    for (heading, intro, terms) in SECTIONS {
        r.control("SH", [*heading]);
        if let Some(text) = intro {
            r.text([roman(*text)]);
        }
        for (term, text) in *terms {
            r.control("TP", []).text([bold(*term)]).text([roman(*text)]);
        }
    }
    r.control("SH", ["SEE ALSO"]).text([roman(
        "systemd.service(5), systemctl(1), openclaw(1); the docs/ folder of the source (/usr/share/doc/clawherd in the package).",
    )]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_become_plain_text() {
        assert_eq!(
            plain("`run_dir` in [docs/x.md](docs/x.md#a) is **bold**"),
            "run_dir in docs/x.md is bold"
        );
        assert_eq!(plain("a [b"), "a [b");
        let cells = row("| `a` | string | `x` \\| `y` | one | `a: 1` |").unwrap_or_default();
        assert_eq!(cells.get(2).map(String::as_str), Some("`x` | `y`"));
        assert!(row("| `a` | b | c |").is_none());
    }

    /// Every key of docs/fleet-file.md's tables is on the page, under its heading.
    #[test]
    fn the_page_carries_every_fleet_key_and_section() {
        let mut out = Vec::new();
        render(&mut out).unwrap_or_else(|e| panic!("render: {e}"));
        let page = String::from_utf8_lossy(&out);
        for key in [
            "run_dir",
            "restart.backoff.initial",
            "health.startup_grace",
            "rollout.soak",
            "openclaw_version",
            "user",
        ] {
            assert!(page.contains(&format!("\\fB{key}\\fR")), "{key} missing");
        }
        for section in [
            "COMMANDS",
            "FLEET FILE",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SIGNALS",
            "EXAMPLES",
        ] {
            assert!(
                page.contains(&format!(".SH \"{section}\"")) || page.contains(&format!(".SH {section}")),
                "{section}"
            );
        }
        assert!(page.contains(".SS \"clawherd export kubernetes\"") || page.contains(".SS clawherd export kubernetes"));
        assert!(!page.contains("clawherd-run(1)"), "no page that does not exist");
    }
}
