//! `pat2entra trend` in each output format, and the trend charts the HTML scan report shows
//! with `--history`.
//!
//! The charts are inline SVG laid out here (`TrendCharts`: plain shapes with computed
//! coordinates) and drawn by `templates/trend-charts.html`; the page is `templates/trend.html` on
//! the report's `base.html` and stylesheet (print rules included). No script, nothing loaded
//! from elsewhere; every value is printed through the report's HTML escaper.

use super::Format;
use super::escape::{markdown_escape as md, terminal_text};
use super::html::{fill, grid_values, nice_scale, plural, write_page};
use crate::finding::Severity;
use crate::trend::{FindingLife, Point, Trend};
use chrono::NaiveDate;
use std::fmt;
use std::io::{self, Write};

/// Longest-open findings the table, Markdown and HTML list.
const LONGEST_OPEN: usize = 10;

/// Writes the trend in `format`.
pub fn render(trend: &Trend, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table(trend, out),
        Format::Json => super::json::write_pretty(trend, out),
        Format::Csv => csv(trend, out),
        Format::Markdown => markdown(trend, out),
        Format::Html => html(trend, out),
        // `trend -o` offers neither (a trend is no list of findings).
        Format::Ocsf | Format::Junit => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "a trend has no -o ocsf or -o junit form"))
        }
    }
}

fn date(p: &Point) -> String {
    p.as_of.format("%Y-%m-%d").to_string()
}

/// `contoso` or `3 organizations`.
fn scope(trend: &Trend) -> String {
    match trend.organizations.as_slice() {
        [one] => one.clone(),
        many => format!("{} organizations", many.len()),
    }
}

/// The open findings, longest open first (then most severe).
fn longest_open(trend: &Trend) -> Vec<&FindingLife> {
    let mut open: Vec<&FindingLife> = trend.findings.iter().filter(|f| !f.suppressed && f.ended.is_none()).collect();
    open.sort_by(|a, b| (a.first_seen, b.severity).cmp(&(b.first_seen, a.severity)));
    open.truncate(LONGEST_OPEN);
    open
}

fn median_text(days: Option<f64>) -> String {
    days.map_or_else(|| "-".to_string(), |d| format!("{d:.1}"))
}

/// `first -> last (change)` of the active PATs.
fn pats_change(trend: &Trend) -> Option<String> {
    let (first, last) = (trend.points.first()?, trend.points.last()?);
    let change = last.active_pats as i64 - first.active_pats as i64;
    Some(format!("{} -> {} ({change:+})", first.active_pats, last.active_pats))
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    let text = terminal_text(text);
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Notes every format gives under the numbers: what a point counts, and coverage.
fn notes(trend: &Trend) -> Vec<String> {
    let mut notes = Vec::new();
    if trend.organizations.len() > 1 {
        notes.push(
            "Each date counts every organization's latest scan at or before it (* : some counted with an older \
             scan); a credential listed by several organizations counts in each."
                .to_string(),
        );
    }
    let incomplete = trend.incomplete_points();
    if incomplete > 0 {
        notes.push(format!(
            "{incomplete} date{} (!) count{} a scan with coverage gaps: the tokens of some owners were not read, so \
             the numbers miss theirs; their findings stay open until a scan reads them.",
            plural(incomplete),
            if incomplete == 1 { "s" } else { "" }
        ));
    }
    notes
}

fn marks(p: &Point) -> String {
    format!("{}{}", if p.complete { "" } else { "!" }, if p.carried > 0 { "*" } else { "" })
}

// ---- table (80 columns) ------------------------------------------------------------------------

fn table(trend: &Trend, out: &mut dyn Write) -> io::Result<()> {
    let (Some(first), Some(last)) = (trend.points.first(), trend.points.last()) else {
        writeln!(out, "The history holds no scan{}.", if trend.organizations.is_empty() { "" } else { " of it" })?;
        return Ok(());
    };
    writeln!(
        out,
        "Trend of {}: {} scan{}, {} to {}",
        clip(&scope(trend), 30),
        trend.scans,
        plural(trend.scans),
        date(first),
        date(last)
    )?;
    for note in notes(trend) {
        for line in super::wrap(&note, 78) {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "Open findings per scan")?;
    writeln!(
        out,
        "{:<12}{:>9}{:>6}{:>7}{:>6}{:>6}{:>7}{:>9}{:>12}",
        "as of", "critical", "high", "medium", "low", "info", "total", "accepted", "active PATs"
    )?;
    for p in &trend.points {
        let [c, h, m, l, i] = p.open;
        writeln!(
            out,
            "{:<12}{c:>9}{h:>6}{m:>7}{l:>6}{i:>6}{:>7}{:>9}{:>12}",
            format!("{}{}", date(p), marks(p)),
            p.open_total(),
            p.suppressed,
            p.active_pats
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Credentials created and revoked per {}", trend.period.as_str())?;
    writeln!(out, "{:<12}{:>9}{:>9}", trend.period.as_str(), "created", "revoked")?;
    for p in &trend.periods {
        writeln!(out, "{:<12}{:>9}{:>9}", p.label, p.created, p.revoked)?;
    }
    if let Some(start) = trend.periods.first().map(|p| p.start) {
        writeln!(
            out,
            "Before {start}: {} created; {} revoked then or at a time not known.",
            trend.created_before, trend.revoked_before
        )?;
    }
    writeln!(out)?;
    let (open, resolved, accepted) = trend.finding_counts();
    writeln!(out, "Time to remediate (first seen to resolved; open findings, not accepted ones)")?;
    writeln!(out, "{:<10}{:>10}{:>13}{:>12}{:>10}", "severity", "resolved", "median days", "still open", "accepted")?;
    for r in &trend.remediation {
        writeln!(
            out,
            "{:<10}{:>10}{:>13}{:>12}{:>10}",
            r.severity.as_str(),
            r.resolved,
            median_text(r.median_days),
            r.open,
            r.accepted
        )?;
    }
    writeln!(out, "Findings: {} seen; {open} open, {resolved} resolved, {accepted} accepted.", trend.findings.len())?;
    let longest = longest_open(trend);
    if !longest.is_empty() {
        writeln!(out)?;
        writeln!(out, "Longest open findings")?;
        writeln!(out, "{:<12}{:<10}{:<22}owner / credential", "first seen", "severity", "rule")?;
        for f in longest {
            let who = if f.owner.is_empty() {
                format!("({})", f.organization)
            } else {
                format!("{} / {}", f.owner, f.authorization_id)
            };
            writeln!(
                out,
                "{:<12}{:<10}{:<22}{}",
                // A date's Display ignores the width: pad its text.
                f.first_seen.to_string(),
                f.severity.as_str(),
                clip(&f.rule, 21),
                clip(&who, 36)
            )?;
        }
    }
    writeln!(out)?;
    let b = &trend.burndown;
    match b.plan_as_of {
        Some(plan) if !b.waves.is_empty() => {
            let total: usize = b.waves.iter().map(|w| w.pats).sum();
            writeln!(out, "Retirement burn-down: plan of {plan}, {total} active PAT{}", plural(total))?;
            writeln!(out, "{:<12}{:>6}  last due", "wave", "PATs")?;
            for w in &b.waves {
                writeln!(out, "{:<12}{:>6}  {}", w.wave.as_str(), w.pats, w.last_due)?;
            }
        }
        _ => writeln!(out, "Retirement burn-down: no active PAT in the latest scan.")?,
    }
    if let Some(change) = pats_change(trend) {
        writeln!(out, "Active PATs from the first scan to the latest: {change}.")?;
    }
    Ok(())
}

// ---- CSV: one row per date --------------------------------------------------------------------

fn csv(trend: &Trend, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "as_of",
        "organizations_scanned",
        "organizations_carried",
        "coverage_complete",
        "critical",
        "high",
        "medium",
        "low",
        "info",
        "open",
        "accepted",
        "tokens",
        "active_pats",
    ])?;
    for p in &trend.points {
        let mut row = vec![
            p.as_of.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            p.scanned.to_string(),
            p.carried.to_string(),
            p.complete.to_string(),
        ];
        row.extend(p.open.iter().map(usize::to_string));
        row.extend([p.open_total(), p.suppressed, p.tokens, p.active_pats].iter().map(usize::to_string));
        // Numbers, dates and booleans only: nothing a spreadsheet could take for a formula.
        w.write_record(&row)?;
    }
    w.flush()
}

// ---- Markdown ---------------------------------------------------------------------------------

fn markdown(trend: &Trend, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# PAT trend: {}", md(&scope(trend)))?;
    writeln!(out)?;
    let (Some(first), Some(last)) = (trend.points.first(), trend.points.last()) else {
        writeln!(out, "The history holds no scan.")?;
        return Ok(());
    };
    writeln!(out, "{} scan{} from {} to {}.", trend.scans, plural(trend.scans), date(first), date(last))?;
    for note in notes(trend) {
        writeln!(out)?;
        writeln!(out, "_{}_", md(&note))?;
    }
    writeln!(out)?;
    writeln!(out, "## Open findings per scan")?;
    writeln!(out)?;
    writeln!(out, "| as of | critical | high | medium | low | info | total | accepted | active PATs |")?;
    writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    for p in &trend.points {
        let [c, h, m, l, i] = p.open;
        writeln!(
            out,
            "| {}{} | {c} | {h} | {m} | {l} | {i} | {} | {} | {} |",
            date(p),
            md(&marks(p)),
            p.open_total(),
            p.suppressed,
            p.active_pats
        )?;
    }
    writeln!(out)?;
    writeln!(out, "## Credentials created and revoked per {}", trend.period.as_str())?;
    writeln!(out)?;
    writeln!(out, "| {} | created | revoked |", trend.period.as_str())?;
    writeln!(out, "| --- | ---: | ---: |")?;
    for p in &trend.periods {
        writeln!(out, "| {} | {} | {} |", p.label, p.created, p.revoked)?;
    }
    if let Some(start) = trend.periods.first().map(|p| p.start) {
        writeln!(out)?;
        writeln!(
            out,
            "Before {start}: {} created; {} revoked then or at a time not known.",
            trend.created_before, trend.revoked_before
        )?;
    }
    writeln!(out)?;
    writeln!(out, "## Time to remediate")?;
    writeln!(out)?;
    writeln!(
        out,
        "From the first scan that reported a finding to the first later scan that read its owner and no longer reported it. Findings accepted by an exception are not remediated."
    )?;
    writeln!(out)?;
    writeln!(out, "| severity | resolved | median days | still open | accepted |")?;
    writeln!(out, "| --- | ---: | ---: | ---: | ---: |")?;
    for r in &trend.remediation {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.severity,
            r.resolved,
            median_text(r.median_days),
            r.open,
            r.accepted
        )?;
    }
    let longest = longest_open(trend);
    if !longest.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Longest open findings")?;
        writeln!(out)?;
        writeln!(out, "| first seen | severity | rule | organization | owner | credential |")?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
        for f in longest {
            writeln!(
                out,
                "| {} | {} | `{}` | {} | {} | {} |",
                f.first_seen,
                f.severity,
                md(&f.rule).replace('`', "'"),
                md(&f.organization),
                md(&f.owner),
                md(&f.authorization_id)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "## Retirement burn-down")?;
    writeln!(out)?;
    let b = &trend.burndown;
    if let Some(plan) = b.plan_as_of.filter(|_| !b.waves.is_empty()) {
        writeln!(out, "The plan of {plan}, by wave:")?;
        writeln!(out)?;
        writeln!(out, "| wave | PATs | last due |")?;
        writeln!(out, "| --- | ---: | --- |")?;
        for w in &b.waves {
            writeln!(out, "| {} | {} | {} |", w.wave.as_str(), w.pats, w.last_due)?;
        }
    } else {
        writeln!(out, "No active PAT in the latest scan.")?;
    }
    if let Some(change) = pats_change(trend) {
        writeln!(out)?;
        writeln!(out, "Active PATs from the first scan to the latest: {change}.")?;
    }
    Ok(())
}

// ---- HTML -------------------------------------------------------------------------------------

/// `templates/trend.html`: the trend page.
#[derive(askama::Template)]
#[template(path = "trend.html")]
struct TrendPage<'a> {
    title: String,
    scope: String,
    span: String,
    notes: Vec<String>,
    trend: &'a Trend,
    charts: TrendCharts,
    longest: Vec<&'a FindingLife>,
    counts: (usize, usize, usize),
    pats_change: Option<String>,
}

fn html(trend: &Trend, out: &mut dyn Write) -> io::Result<()> {
    let scope = scope(trend);
    let span = match (trend.points.first(), trend.points.last()) {
        (Some(first), Some(last)) => {
            format!("{} scan{} from {} to {}", trend.scans, plural(trend.scans), date(first), date(last))
        }
        _ => "no scan".to_string(),
    };
    let page = TrendPage {
        title: format!("PAT trend: {scope}"),
        scope,
        span,
        notes: notes(trend),
        trend,
        charts: TrendCharts::new(trend),
        longest: longest_open(trend),
        counts: trend.finding_counts(),
        pats_change: pats_change(trend),
    };
    write_page(&page, out)
}

// ---- the charts (what `templates/trend-charts.html` draws) -------------------------------------

/// A coordinate, written with one decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Px(pub(super) f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// The two trend charts: open findings per scan by severity, and the burn-down.
pub(super) struct TrendCharts {
    pub(super) charts: Vec<SvgChart>,
}

/// One chart as plain shapes.
pub(super) struct SvgChart {
    pub(super) id: &'static str,
    pub(super) title: String,
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) grid: Vec<GridLine>,
    pub(super) rects: Vec<RectShape>,
    pub(super) lines: Vec<LineShape>,
    pub(super) dots: Vec<Dot>,
    pub(super) labels: Vec<Label>,
    pub(super) keys: Vec<Key>,
    pub(super) note: String,
    /// Shown instead of the plot when there is nothing to draw.
    pub(super) empty: Option<&'static str>,
}

pub(super) struct GridLine {
    pub(super) x1: Px,
    pub(super) y1: Px,
    pub(super) x2: Px,
    pub(super) y2: Px,
    pub(super) class: &'static str,
}

pub(super) struct RectShape {
    pub(super) x: Px,
    pub(super) y: Px,
    pub(super) width: Px,
    pub(super) height: Px,
    pub(super) fill: &'static str,
    pub(super) title: String,
}

pub(super) struct LineShape {
    /// `x,y x,y …`
    pub(super) points: String,
    pub(super) class: &'static str,
    pub(super) title: String,
}

pub(super) struct Dot {
    pub(super) x: Px,
    pub(super) y: Px,
    pub(super) title: String,
}

pub(super) struct Label {
    pub(super) x: Px,
    pub(super) y: Px,
    pub(super) anchor: &'static str,
    pub(super) text: String,
}

pub(super) struct Key {
    pub(super) x: Px,
    pub(super) y: Px,
    pub(super) text_x: Px,
    pub(super) text_y: Px,
    pub(super) fill: &'static str,
    pub(super) name: String,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;
/// The actual line of the burn-down.
const ACTUAL: &str = "#3f6fb0";
/// The plan's target line.
const TARGET: &str = "#9d0208";

impl TrendCharts {
    pub(super) fn new(trend: &Trend) -> Self {
        TrendCharts { charts: vec![severity_chart(trend), burndown_chart(trend)] }
    }
}

fn keys(items: &[(&'static str, String)]) -> Vec<Key> {
    let mut x = LEFT;
    items
        .iter()
        .map(|(fill, name)| {
            let key = Key { x: Px(x), y: Px(8.0), text_x: Px(x + 15.0), text_y: Px(18.0), fill, name: name.clone() };
            x += 15.0 + name.chars().count() as f64 * 6.8 + 18.0;
            key
        })
        .collect()
}

/// Horizontal grid lines with their values on the left, for values up to `max`; returns the
/// axis maximum.
fn y_axis(chart: &mut SvgChart, max: f64) -> f64 {
    let (axis_max, step) = nice_scale(max);
    let plot_h = HEIGHT - TOP - BOTTOM;
    for value in grid_values(axis_max, step) {
        let y = HEIGHT - BOTTOM - plot_h * value / axis_max;
        chart.grid.push(GridLine { x1: Px(LEFT), y1: Px(y), x2: Px(WIDTH - RIGHT), y2: Px(y), class: "grid" });
        chart.labels.push(Label { x: Px(LEFT - 6.0), y: Px(y + 4.0), anchor: "end", text: value.to_string() });
    }
    axis_max
}

fn empty_chart(id: &'static str, title: &str, note: String, message: &'static str) -> SvgChart {
    SvgChart {
        id,
        title: title.to_string(),
        width: WIDTH,
        height: 80.0,
        grid: Vec::new(),
        rects: Vec::new(),
        lines: Vec::new(),
        dots: Vec::new(),
        labels: Vec::new(),
        keys: Vec::new(),
        note,
        empty: Some(message),
    }
}

/// Every `step`-th of `n` labels is shown (about a dozen at most).
fn label_step(n: usize) -> usize {
    n.div_ceil(12).max(1)
}

fn severity_chart(trend: &Trend) -> SvgChart {
    let title = "Open findings per scan, by severity";
    let note = "Unsuppressed findings each scan reported, stacked by severity; a date with ! counts a scan with \
                coverage gaps."
        .to_string();
    if trend.points.is_empty() {
        return empty_chart("trend-findings", title, note, "No scan in the history.");
    }
    let used: Vec<Severity> = Severity::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| trend.points.iter().any(|p| p.open[*i] > 0))
        .map(|(_, s)| *s)
        .collect();
    let mut chart = SvgChart {
        id: "trend-findings",
        title: title.to_string(),
        width: WIDTH,
        height: HEIGHT,
        grid: Vec::new(),
        rects: Vec::new(),
        lines: Vec::new(),
        dots: Vec::new(),
        labels: Vec::new(),
        keys: keys(&used.iter().map(|s| (fill(*s), s.to_string())).collect::<Vec<_>>()),
        note,
        empty: None,
    };
    let max = trend.points.iter().map(|p| p.open_total()).max().unwrap_or(0) as f64;
    let axis_max = y_axis(&mut chart, max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = HEIGHT - BOTTOM;
    let slot = plot_w / trend.points.len() as f64;
    let bar_w = (slot * 0.62).min(40.0);
    let step = label_step(trend.points.len());
    for (i, p) in trend.points.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = base;
        // Critical at the bottom.
        for (k, severity) in Severity::ALL.iter().enumerate() {
            let n = p.open[k];
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / axis_max;
            y -= h;
            chart.rects.push(RectShape {
                x: Px(x),
                y: Px(y),
                width: Px(bar_w),
                height: Px(h),
                fill: fill(*severity),
                title: format!("{}{}: {n} open {severity} finding{}", date(p), marks(p), plural(n)),
            });
        }
        if i % step == 0 || i + 1 == trend.points.len() {
            chart.labels.push(Label {
                x: Px(x + bar_w / 2.0),
                y: Px(base + 16.0),
                anchor: "middle",
                text: format!("{}{}", p.as_of.format("%m-%d"), marks(p)),
            });
        }
    }
    chart.grid.push(GridLine { x1: Px(LEFT), y1: Px(base), x2: Px(WIDTH - RIGHT), y2: Px(base), class: "baseline" });
    chart.labels.push(Label {
        x: Px(LEFT),
        y: Px(base + 32.0),
        anchor: "start",
        text: trend.points[0].as_of.format("%Y").to_string(),
    });
    chart
}

fn burndown_chart(trend: &Trend) -> SvgChart {
    let title = "Retirement burn-down: active PATs against the plan";
    let b = &trend.burndown;
    let mut note =
        "Active PATs in each scan (solid), and what the latest scan's retirement plan leaves after each due \
                    date (dashed)."
            .to_string();
    if let Some(change) = pats_change(trend) {
        note.push_str(&format!(" From the first scan to the latest: {change}."));
    }
    let (Some(first), Some(last_actual)) = (b.actual.first(), b.actual.last()) else {
        return empty_chart("trend-burndown", title, note, "No scan in the history.");
    };
    let start = first.0;
    // The plan can run for years (tokens replaced at expiry): the chart shows as much of it as
    // of the history, and at least 90 days, so that the history stays readable.
    let history_days = (last_actual.0 - start).num_days().max(0) as u64;
    let horizon = last_actual.0.checked_add_days(chrono::Days::new(history_days.max(90))).unwrap_or(NaiveDate::MAX);
    let end = b.target.last().map_or(last_actual.0, |t| t.0.min(horizon).max(last_actual.0));
    let days = |d: NaiveDate| (d - start).num_days() as f64;
    let span = days(end).max(1.0);
    let mut chart = SvgChart {
        id: "trend-burndown",
        title: title.to_string(),
        width: WIDTH,
        height: HEIGHT,
        grid: Vec::new(),
        rects: Vec::new(),
        lines: Vec::new(),
        dots: Vec::new(),
        labels: Vec::new(),
        keys: keys(&[(ACTUAL, "active PATs".to_string()), (TARGET, "plan target".to_string())]),
        note,
        empty: None,
    };
    let max = b.actual.iter().chain(&b.target).map(|(_, n)| *n).max().unwrap_or(0) as f64;
    let axis_max = y_axis(&mut chart, max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = HEIGHT - BOTTOM;
    let x = |d: NaiveDate| LEFT + plot_w * days(d) / span;
    let y = |n: usize| base - plot_h * n as f64 / axis_max;
    let actual: Vec<String> = b.actual.iter().map(|(d, n)| format!("{},{}", Px(x(*d)), Px(y(*n)))).collect();
    chart.lines.push(LineShape {
        points: actual.join(" "),
        class: "actual",
        title: format!(
            "active PATs: {}",
            b.actual.iter().map(|(d, n)| format!("{d} {n}")).collect::<Vec<_>>().join(", ")
        ),
    });
    for (d, n) in &b.actual {
        chart.dots.push(Dot { x: Px(x(*d)), y: Px(y(*n)), title: format!("{d}: {n} active PAT{}", plural(*n)) });
    }
    // A step line: level until each due date, then down.
    let mut steps: Vec<String> = Vec::new();
    let mut level = None;
    for (d, n) in b.target.iter().filter(|(d, _)| *d <= end) {
        if let Some(previous) = level {
            steps.push(format!("{},{}", Px(x(*d)), Px(y(previous))));
        }
        steps.push(format!("{},{}", Px(x(*d)), Px(y(*n))));
        level = Some(*n);
    }
    if let Some(left) = level.filter(|n| *n > 0) {
        steps.push(format!("{},{}", Px(x(end)), Px(y(left))));
        chart.note.push_str(&format!(
            " The plan runs to {}: {left} PAT{} fall{} due after {end}, beyond this chart.",
            b.target.last().map_or(end, |t| t.0),
            plural(left),
            if left == 1 { "s" } else { "" }
        ));
    }
    if !steps.is_empty() {
        chart.lines.push(LineShape {
            points: steps.join(" "),
            class: "target",
            title: format!(
                "plan target: {}",
                b.target.iter().map(|(d, n)| format!("{n} left after {d}")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    // About six dates along the axis.
    for k in 0..=5 {
        let d = start + chrono::Days::new((span * f64::from(k) / 5.0).round() as u64);
        chart.labels.push(Label {
            x: Px(x(d)),
            y: Px(base + 16.0),
            anchor: if k == 0 {
                "start"
            } else if k == 5 {
                "end"
            } else {
                "middle"
            },
            text: d.format("%Y-%m-%d").to_string(),
        });
    }
    chart.grid.push(GridLine { x1: Px(LEFT), y1: Px(base), x2: Px(WIDTH - RIGHT), y2: Px(base), class: "baseline" });
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trend::{HistoryRows, Period, ScanRow, compute};

    fn scan(day: u32, open: [usize; 5], complete: bool) -> ScanRow {
        ScanRow {
            organization: "contoso <b>".into(),
            as_of: format!("2026-11-{day:02}T00:00:00Z").parse().unwrap(),
            tool_version: "0.1.0".into(),
            coverage_complete: complete,
            owners_listed: 2,
            owners_failed: usize::from(!complete),
            tokens: 10,
            active_tokens: 8,
            active_pats: 8 - day as usize % 3,
            open,
            suppressed: 1,
        }
    }

    fn trend() -> Trend {
        let rows = HistoryRows {
            scans: vec![
                scan(2, [1, 2, 0, 0, 3], true),
                scan(3, [0, 2, 1, 0, 3], false),
                scan(4, [0, 1, 0, 0, 0], true),
            ],
            ..Default::default()
        };
        compute(&rows, Period::Month)
    }

    #[test]
    fn the_table_fits_80_columns_and_marks_incomplete_dates() {
        let mut out = Vec::new();
        render(&trend(), Format::Table, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
        assert!(text.contains("2026-11-03!"), "{text}");
        assert!(text.contains("1 date (!) counts a scan with coverage gaps"), "{text}");
    }

    #[test]
    fn the_html_page_escapes_names_and_draws_both_charts() {
        let mut out = Vec::new();
        render(&trend(), Format::Html, &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.contains("contoso &lt;b&gt;") && !page.contains("contoso <b>"), "escaped");
        assert!(page.contains("id=\"trend-findings\"") && page.contains("id=\"trend-burndown\""));
        assert!(page.contains("<polyline class=\"actual\""));
        assert!(page.contains("@media print"));
        assert!(!page.contains("<script"), "no script on the trend page");
        assert!(page.ends_with("</html>\n"));
    }

    #[test]
    fn an_empty_trend_renders_in_every_format() {
        let empty = compute(&HistoryRows::default(), Period::Week);
        for format in [Format::Table, Format::Json, Format::Csv, Format::Markdown, Format::Html] {
            let mut out = Vec::new();
            render(&empty, format, &mut out).unwrap();
            assert!(!out.is_empty());
        }
    }
}
