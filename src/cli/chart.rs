//! The port map as text: each instance's footprint (base port up to the highest port it may
//! use) drawn on one shared axis, so a glance shows the gaps between instances. Pure: the same
//! lines serve `clawherd top` and `clawherd ports --chart`.

/// How far above its base port an OpenClaw (or legacy clawdbot) gateway may listen: its
/// derived browser-control and CDP ports end at base+110 (see docs/openclaw.md).
pub(crate) const OPENCLAW_FOOTPRINT: u16 = 110;

/// One instance's ports on the axis: `lo..=hi`, inclusive, and, when known, each of its
/// planned ports inside that span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// The profile.
    pub name: String,
    /// Lowest port (the base port).
    pub lo: u16,
    /// Highest port it may use.
    pub hi: u16,
    /// Its planned ports (a listener, a range such as the CDP ports, a port it connects to);
    /// empty when only the footprint is known, which is then drawn whole.
    pub parts: Vec<Part>,
}

/// One planned port or range of an instance, `lo..=hi` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
    /// A port the instance connects to (a loopback `cdpUrl`) rather than listens on.
    pub connects: bool,
}

impl Span {
    /// The footprint of an instance of `flavor` with base port `base`: base..=base+110 for
    /// `openclaw` and `clawdbot`, the base port alone for a plain `process`.
    pub(crate) fn of(name: &str, flavor: &str, base: u16) -> Span {
        let hi = match flavor {
            "process" => base,
            _ => base.saturating_add(OPENCLAW_FOOTPRINT),
        };
        Span {
            name: name.to_string(),
            lo: base,
            hi,
            parts: Vec::new(),
        }
    }

    /// The span of `parts` (lowest to highest port), drawn part by part; `None` without parts.
    pub(crate) fn of_parts(name: &str, parts: Vec<Part>) -> Option<Span> {
        Some(Span {
            name: name.to_string(),
            lo: parts.iter().map(|p| p.lo).min()?,
            hi: parts.iter().map(|p| p.hi).max()?,
            parts,
        })
    }

    /// The glyph of the cell covering ports `a..=b`: a listener wins over a range, a range
    /// over a port connected to; [`FREE`] when nothing of the span is there.
    fn glyph(&self, a: u16, b: u16) -> char {
        if self.parts.is_empty() {
            return if a <= self.hi && b >= self.lo { USED } else { FREE };
        }
        let touching = self.parts.iter().filter(|p| a <= p.hi && b >= p.lo);
        touching.fold(FREE, |best, p| {
            let g = if p.connects {
                CONNECTS
            } else if u32::from(p.hi) - u32::from(p.lo) < RANGE_FROM {
                USED
            } else {
                RANGE
            };
            if rank(g) > rank(best) { g } else { best }
        })
    }
}

/// A part of this many ports or more is drawn as a range ([`RANGE`]), fewer as listeners.
const RANGE_FROM: u32 = 3;
/// Glyph of a range of ports (e.g. the CDP ports a managed browser may use).
const RANGE: char = '▒';
/// Glyph of a port the instance connects to.
const CONNECTS: char = '◦';

/// Which glyph wins when parts share a cell.
fn rank(g: char) -> u8 {
    match g {
        USED => 3,
        RANGE => 2,
        CONNECTS => 1,
        _ => 0,
    }
}

/// The legend of a chart whose spans have parts.
pub(crate) const LEGEND: &str = "█ listener  ▒ port range  ◦ connects to  · free";

/// Glyph of a cell some instance's footprint covers.
const USED: char = '█';
/// Glyph of a free cell.
const FREE: char = '·';

/// The chart in `width` columns: one line per span (`name │bar│`, in the order given), an axis
/// line with the lowest and highest port, and a line naming the free gaps between footprints.
/// Each bar cell stands for an equal share of the ports from the lowest to the highest; a cell
/// touched by a port of the span is drawn (a listener `█`, a range `▒`, a port connected to
/// `◦`; a span without parts is `█` throughout), so no port is invisible. Empty when there are
/// no spans; a width too small for any bar gives bars of one cell.
pub(crate) fn render(spans: &[Span], width: usize) -> Vec<String> {
    let (Some(lo), Some(hi)) = (spans.iter().map(|s| s.lo).min(), spans.iter().map(|s| s.hi).max()) else {
        return Vec::new();
    };
    let label = spans.iter().map(|s| s.name.chars().count()).max().unwrap_or(0);
    let cells = width.saturating_sub(label + 1).max(1);
    let ports = u32::from(hi) - u32::from(lo) + 1;
    let mut out = Vec::with_capacity(spans.len() + 2);
    // Cell i covers ports [lo + i*ports/cells, lo + (i+1)*ports/cells); a cell narrower than a
    // port (more cells than ports) holds the port it starts in.
    let first = |i: usize| (u64::from(lo) + i as u64 * u64::from(ports) / cells as u64) as u32;
    for s in spans {
        let bar: String = (0..cells)
            .map(|i| {
                let a = first(i).min(u32::from(hi));
                let b = first(i + 1).saturating_sub(1).max(a).min(u32::from(hi));
                s.glyph(a as u16, b as u16)
            })
            .collect();
        out.push(format!("{:<label$} {bar}", s.name));
    }
    let (left, right) = (lo.to_string(), hi.to_string());
    let gap = cells.saturating_sub(left.len() + right.len()).max(1);
    out.push(format!("{:<label$} {left}{}{right}", "", " ".repeat(gap)));
    out.push(gaps_line(spans));
    out
}

/// `free: 18900-19788 (889)`, the ports between footprints, lowest first; `free: none` when the
/// footprints touch or overlap everywhere.
pub(crate) fn gaps_line(spans: &[Span]) -> String {
    let mut sorted: Vec<(u16, u16)> = spans.iter().map(|s| (s.lo, s.hi)).collect();
    sorted.sort_unstable();
    let mut gaps = Vec::new();
    let mut reach: Option<u16> = None;
    for (lo, hi) in sorted {
        if let Some(r) = reach
            && lo > r.saturating_add(1)
        {
            let (a, b) = (r + 1, lo - 1);
            gaps.push(format!("{a}-{b} ({})", u32::from(b) - u32::from(a) + 1));
        }
        reach = Some(reach.map_or(hi, |r| r.max(hi)));
    }
    if gaps.is_empty() {
        "free: none between instances".to_string()
    } else {
        format!("free: {}", gaps.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_two_footprints_with_their_gap() {
        let spans = [Span::of("main", "openclaw", 18789), Span::of("rescue", "openclaw", 19789)];
        let lines = render(&spans, 30);
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("main   █"), "{lines:?}");
        assert!(lines[1].starts_with("rescue ·"), "{lines:?}");
        assert!(lines[1].ends_with('█'), "{lines:?}");
        assert!(lines[2].contains("18789") && lines[2].ends_with("19899"), "{lines:?}");
        assert_eq!(lines[3], "free: 18900-19788 (889)");
        assert!(lines.iter().take(2).all(|l| l.chars().count() == 30));
    }

    #[test]
    fn a_process_is_one_port_and_stays_visible() {
        let spans = [Span::of("a", "openclaw", 20000), Span::of("p", "process", 30000)];
        let lines = render(&spans, 12);
        assert_eq!(lines[1].chars().filter(|c| *c == USED).count(), 1, "{lines:?}");
    }

    #[test]
    fn parts_draw_listeners_ranges_and_connections_apart() {
        let part = |lo, hi, connects| Part { lo, hi, connects };
        let main = Span::of_parts("main", vec![part(100, 100, false), part(111, 210, false), part(250, 250, true)]);
        let main = main.expect("parts");
        assert_eq!((main.lo, main.hi), (100, 250));
        // 151 ports in 151 cells: one port per cell.
        let lines = render(&[main], 156);
        let bar: Vec<char> = lines[0].chars().skip(5).collect();
        assert_eq!(bar.len(), 151, "{lines:?}");
        assert_eq!(bar[0], USED);
        assert!(bar[1..11].iter().all(|c| *c == FREE), "{lines:?}");
        assert!(bar[11..111].iter().all(|c| *c == RANGE), "{lines:?}");
        assert_eq!(bar[150], CONNECTS);
        // Squeezed into 3 cells, the listener wins the first cell.
        let narrow = render(
            &[Span::of_parts("m", vec![part(100, 100, false), part(101, 199, false)]).expect("parts")],
            5,
        );
        assert_eq!(narrow[0], "m █▒▒");
        assert!(Span::of_parts("none", Vec::new()).is_none());
    }

    #[test]
    fn touching_footprints_leave_no_gap() {
        let spans = [Span::of("a", "openclaw", 100), Span::of("b", "openclaw", 211)];
        assert_eq!(gaps_line(&spans), "free: none between instances");
        assert!(render(&[], 40).is_empty());
        // A narrow terminal still gets one cell per bar.
        assert_eq!(render(&spans, 1)[0], "a █");
    }
}
