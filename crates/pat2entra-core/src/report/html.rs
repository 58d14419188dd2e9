//! HTML: one self-contained page for reviewers. A summary, four inline SVG charts drawn here (no
//! JavaScript charting), every finding in a table that a small inline script sorts and filters,
//! each finding linked to the full text of its guidance, exceptions to review, the rules.
//!
//! Nothing is loaded from elsewhere: no scripts, styles, fonts or images, and a Content Security
//! Policy forbids them too, so the page works offline and can be forwarded. The only links that
//! leave the page are the guidance's own (Microsoft Learn and its "see also" pages). Every text
//! from the record goes through `html_escape`: names come from the directory and are hostile.

use super::escape::html_escape as esc;
use crate::finding::{Finding, Severity};
use crate::guidance::{Confidence, Guidance, USES};
use crate::inventory::TokenState;
use crate::record::ScanRecord;
use crate::rules::{ExceptionReport, ExceptionStatus, RuleInfo};
use chrono::{Datelike, Months, NaiveDate};
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io::{self, Write};

/// How many owners the risk chart shows.
const TOP_OWNERS: usize = 10;
/// Upper bounds (inclusive, in days) of the lifetime histogram's buckets; one more bucket holds
/// everything longer.
const LIFETIME_BUCKETS: [i64; 5] = [7, 30, 90, 180, 365];
/// Calendar months the expiry timeline covers, starting with the as-of month.
const TIMELINE_MONTHS: u32 = 12;
/// The rule whose `deadline` is the global PAT retirement date.
const GLOBAL_RULE: &str = "all-organizations";

/// Nothing but the page itself: inline styles and the inline script, no network of any kind.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                   img-src 'none'; base-uri 'none'; form-action 'none'";

/// Weight of one unsuppressed finding in an owner's risk score.
fn risk_weight(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 10,
        Severity::High => 5,
        Severity::Medium => 2,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

/// Fill colour of a severity (charts and badges), and the text colour that reads on it.
fn severity_colours(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("#9d0208", "#ffffff"),
        Severity::High => ("#dc5f00", "#ffffff"),
        Severity::Medium => ("#e9b200", "#1d2330"),
        Severity::Low => ("#3f7cc4", "#ffffff"),
        Severity::Info => ("#8a94a6", "#ffffff"),
    }
}

fn fill(severity: Severity) -> &'static str {
    severity_colours(severity).0
}

/// Bars that are not about a severity.
const ACCENT: &str = "#3f6fb0";
/// Tokens valid in all organizations (they stop working on the retirement date).
const GLOBAL_FILL: &str = "#9d0208";

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    let mut sink = Sink { buffer: String::with_capacity(SINK_BUFFER * 2), out, error: None };
    let written = Page::new(record).write(&mut sink);
    sink.flush()?;
    match (written, sink.error) {
        (_, Some(e)) => Err(e),
        (Err(_), None) => Err(io::Error::other("the HTML report could not be written")),
        (Ok(()), None) => Ok(()),
    }
}

/// Bytes gathered before they go out: the page is written as it is built, so a report of a
/// large organization never sits whole in memory.
const SINK_BUFFER: usize = 64 * 1024;

/// `fmt::Write` over an `io::Write`, in chunks; remembers the first I/O error.
struct Sink<'w> {
    buffer: String,
    out: &'w mut dyn Write,
    error: Option<io::Error>,
}

impl Sink<'_> {
    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            self.out.write_all(self.buffer.as_bytes())?;
            self.buffer.clear();
        }
        Ok(())
    }
}

impl fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buffer.push_str(s);
        if self.buffer.len() >= SINK_BUFFER
            && let Err(e) = self.flush()
        {
            self.error = Some(e);
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// The record, with the small lookups the page needs besides the record's own index of
/// owners, tokens and usages.
struct Page<'a> {
    r: &'a ScanRecord,
    guidance: HashMap<&'a str, &'a Guidance>,
    rules: HashMap<&'a str, &'a RuleInfo>,
}

impl<'a> Page<'a> {
    fn new(r: &'a ScanRecord) -> Self {
        Page {
            r,
            guidance: r.guidance.iter().map(|g| (g.id.as_str(), g)).collect(),
            rules: r.rules.iter().map(|x| (x.id.as_str(), x)).collect(),
        }
    }

    fn write(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        let title = format!("PAT report: {} (as of {})", r.organization, r.as_of.format("%Y-%m-%d"));
        writeln!(p, "<!DOCTYPE html>")?;
        writeln!(p, "<html lang=\"en\">")?;
        writeln!(p, "<head>")?;
        writeln!(p, "<meta charset=\"utf-8\">")?;
        writeln!(p, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
        writeln!(p, "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">")?;
        writeln!(p, "<meta name=\"generator\" content=\"{} {}\">", esc(&r.tool.name), esc(&r.tool.version))?;
        writeln!(p, "<title>{}</title>", esc(&title))?;
        writeln!(p, "<style>\n{}</style>", style())?;
        writeln!(p, "</head>")?;
        writeln!(p, "<body>")?;
        writeln!(p, "<main>")?;
        self.header(p)?;
        self.charts(p)?;
        self.findings(p)?;
        self.guidance_texts(p)?;
        self.exceptions(p)?;
        self.rules(p)?;
        writeln!(
            p,
            "<footer><p>Generated by {} {} from a saved scan. This page is self-contained: it loads nothing \
             and works offline.</p></footer>",
            esc(&r.tool.name),
            esc(&r.tool.version)
        )?;
        writeln!(p, "</main>")?;
        writeln!(p, "<script>\n{SCRIPT}</script>")?;
        writeln!(p, "</body>")?;
        writeln!(p, "</html>")
    }

    fn owner_name(&self, descriptor: &str) -> (String, String) {
        match self.r.owner(descriptor) {
            Some(o) if !o.display_name.is_empty() => (o.display_name.clone(), o.principal_name.clone()),
            Some(o) if !o.principal_name.is_empty() => (o.principal_name.clone(), String::new()),
            _ => (descriptor.to_string(), String::new()),
        }
    }

    fn retirement_date(&self) -> Option<NaiveDate> {
        self.rules.get(GLOBAL_RULE).and_then(|rule| rule.deadline)
    }

    // ---- summary -------------------------------------------------------------------------

    fn header(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        let s = &r.summary;
        let open: usize = s.findings_by_severity.values().sum();
        writeln!(p, "<header id=\"summary\">")?;
        writeln!(p, "<p class=\"kicker\">Personal access token audit</p>")?;
        writeln!(p, "<h1>{}</h1>", esc(&r.organization))?;
        if let Some(redaction) = &r.redaction {
            writeln!(p, "<p class=\"meta\" id=\"redaction\">Note: {}.</p>", esc(redaction.notice()))?;
        }
        writeln!(
            p,
            "<p class=\"meta\">As of <time datetime=\"{}\">{}</time> · {} {} · {} rules</p>",
            r.as_of.format("%Y-%m-%dT%H:%M:%SZ"),
            r.as_of.format("%Y-%m-%d %H:%M UTC"),
            esc(&r.tool.name),
            esc(&r.tool.version),
            r.rules.len()
        )?;
        writeln!(
            p,
            "<nav class=\"toc\" aria-label=\"Sections\"><a href=\"#charts\">Charts</a> <a href=\"#findings\">Findings \
             ({})</a> <a href=\"#guidance\">Guidance ({})</a> <a href=\"#exceptions\">Exceptions</a> <a \
             href=\"#rules\">Rules</a></nav>",
            r.findings.len(),
            r.guidance.len()
        )?;
        self.coverage(p)?;
        self.coverage_warnings(p)?;

        writeln!(p, "<div class=\"cards\">")?;
        writeln!(
            p,
            "<div class=\"card\"><h2>Tokens</h2><p class=\"big\">{}</p><p>{} active · {} expired · {} revoked<br>{} \
             owners</p></div>",
            s.tokens, s.active_tokens, s.expired_tokens, s.revoked_tokens, s.owners
        )?;
        writeln!(
            p,
            "<div class=\"card\"><h2>Flagged tokens</h2><p class=\"big\">{}</p><p>tokens with at least one open \
             finding</p></div>",
            s.flagged_tokens
        )?;
        write!(p, "<div class=\"card\" id=\"open-findings\"><h2>Open findings</h2><p class=\"big\">{open}</p><p>")?;
        for sev in Severity::ALL {
            let n = s.findings_by_severity.get(&sev).copied().unwrap_or(0);
            write!(p, "<span class=\"sev sev-{sev}\" data-severity=\"{sev}\">{n} {sev}</span> ")?;
        }
        writeln!(p, "</p></div>")?;
        let review = r.exceptions.iter().filter(|e| e.status != ExceptionStatus::Active).count();
        writeln!(
            p,
            "<div class=\"card\"><h2>Accepted</h2><p class=\"big\">{}</p><p>findings suppressed by exceptions{}</p></div>",
            s.suppressed_findings,
            if review > 0 {
                format!("<br><a href=\"#exceptions\">{review} exception{} to review</a>", plural(review))
            } else {
                String::new()
            }
        )?;
        if let Some(date) = self.retirement_date() {
            let days = (date - r.as_of.date_naive()).num_days();
            let when = match days {
                d if d > 0 => format!("in {d} day{}", plural(d as usize)),
                0 => "today".to_string(),
                d => format!("{} day{} ago", -d, plural((-d) as usize)),
            };
            let global =
                r.tokens.iter().filter(|t| t.all_organizations && t.state(r.as_of) == TokenState::Active).count();
            writeln!(
                p,
                "<div class=\"card warn\"><h2>Global PAT retirement</h2><p class=\"big\">{date}</p><p>{when}: {global} \
                 active token{} valid in all organizations {} working</p></div>",
                plural(global),
                if global == 1 { "stops" } else { "stop" }
            )?;
        }
        writeln!(p, "</div>")?;
        writeln!(p, "</header>")
    }

    fn coverage(&self, p: &mut Sink<'_>) -> fmt::Result {
        let c = &self.r.coverage;
        if c.complete {
            return writeln!(
                p,
                "<p class=\"coverage ok\" id=\"coverage\">Coverage: complete; all {} listed owners were scanned.</p>",
                c.owners_listed
            );
        }
        let missed = c.owners_listed.saturating_sub(c.owners_scanned).max(c.owners_failed.len());
        writeln!(p, "<section class=\"alert\" id=\"coverage\" role=\"alert\">")?;
        writeln!(p, "<h2>Incomplete scan: the tokens of {missed} owner{} were not read</h2>", plural(missed))?;
        writeln!(
            p,
            "<p>{} owners listed, {} scanned, {} failed. Counts, charts and findings below miss their tokens: fix \
             the cause and scan again before relying on this report.</p>",
            c.owners_listed,
            c.owners_scanned,
            c.owners_failed.len()
        )?;
        if !c.owners_failed.is_empty() {
            writeln!(p, "<ul class=\"gaps\">")?;
            for gap in &c.owners_failed {
                let (name, upn) = self.owner_name(&gap.descriptor);
                let upn = if upn.is_empty() { String::new() } else { format!(" ({})", esc(&upn)) };
                writeln!(p, "<li><strong>{}</strong>{upn}: {}</li>", esc(&name), esc(&gap.error))?;
            }
            writeln!(p, "</ul>")?;
        }
        writeln!(p, "</section>")
    }

    /// Duplicates resolved and tokens not fully read (the scan may still be complete).
    fn coverage_warnings(&self, p: &mut Sink<'_>) -> fmt::Result {
        let warnings = &self.r.coverage.warnings;
        if warnings.is_empty() {
            return Ok(());
        }
        writeln!(p, "<section class=\"alert\" id=\"coverage-warnings\">")?;
        writeln!(p, "<h2>Coverage warnings: {}</h2>", warnings.len())?;
        writeln!(p, "<p>Read, but resolved (duplicates) or not fully readable (judged as unknown).</p>")?;
        writeln!(p, "<ul class=\"gaps\">")?;
        for w in warnings {
            writeln!(p, "<li><strong>{}</strong>: {}</li>", esc(w.kind.as_str()), esc(&w.message))?;
        }
        writeln!(p, "</ul>")?;
        writeln!(p, "</section>")
    }

    // ---- charts --------------------------------------------------------------------------

    fn charts(&self, p: &mut Sink<'_>) -> fmt::Result {
        writeln!(p, "<section id=\"charts\">")?;
        writeln!(p, "<h2>Charts</h2>")?;
        writeln!(p, "<div class=\"charts\">")?;
        self.chart_findings(p)?;
        self.chart_owners(p)?;
        self.chart_expiry(p)?;
        self.chart_lifetimes(p)?;
        writeln!(p, "</div>")?;
        writeln!(p, "</section>")
    }

    fn chart_findings(&self, p: &mut Sink<'_>) -> fmt::Result {
        let rows = findings_by_rule(self.r);
        let mut used = [false; 5];
        let bars = rows
            .iter()
            .map(|row| {
                let open: usize = row.open.iter().sum();
                let segments = Severity::ALL
                    .iter()
                    .zip(row.open)
                    .enumerate()
                    .filter(|(_, (_, n))| *n > 0)
                    .map(|(i, (sev, n))| {
                        used[i] = true;
                        Segment {
                            value: n as f64,
                            fill: fill(*sev),
                            title: format!("{}: {n} open {sev} finding{}", row.rule, plural(n)),
                        }
                    })
                    .collect();
                let rationale = self.rules.get(row.rule.as_str()).map(|x| x.rationale.as_str()).unwrap_or_default();
                let accepted =
                    if row.suppressed > 0 { format!(" (+{} accepted)", row.suppressed) } else { String::new() };
                Bar {
                    label: row.rule.clone(),
                    sub: String::new(),
                    title: format!("{}: {open} open finding{}{accepted}. {rationale}", row.rule, plural(open)),
                    segments,
                    note: format!("{open}{accepted}"),
                }
            })
            .collect();
        let legend =
            Severity::ALL.iter().zip(used).filter(|(_, u)| *u).map(|(sev, _)| (sev.to_string(), fill(*sev))).collect();
        let chart = Chart {
            id: "chart-findings",
            title: "Open findings by rule and severity",
            legend,
            bars,
            empty: "No open findings.",
        };
        figure(p, &chart, "Unsuppressed findings of each rule; hover a bar for the rule's rationale.", |p| {
            hbar(p, &chart, 150.0)
        })
    }

    fn chart_owners(&self, p: &mut Sink<'_>) -> fmt::Result {
        let risks = owner_risk(self.r);
        let mut used = [false; 5];
        let bars = risks
            .iter()
            .take(TOP_OWNERS)
            .map(|risk| {
                let (name, upn) = self.owner_name(&risk.descriptor);
                let counts: Vec<String> = Severity::ALL
                    .iter()
                    .zip(risk.counts)
                    .filter(|(_, n)| *n > 0)
                    .map(|(sev, n)| format!("{n} {sev}"))
                    .collect();
                let segments = Severity::ALL
                    .iter()
                    .zip(risk.counts)
                    .enumerate()
                    .filter(|(_, (sev, n))| *n > 0 && risk_weight(**sev) > 0)
                    .map(|(i, (sev, n))| {
                        used[i] = true;
                        let points = n as u32 * risk_weight(*sev);
                        Segment {
                            value: f64::from(points),
                            fill: fill(*sev),
                            title: format!("{n} {sev} finding{} = {points} points", plural(n)),
                        }
                    })
                    .collect();
                let who = if upn.is_empty() { name.clone() } else { format!("{name} ({upn})") };
                Bar {
                    label: name,
                    sub: String::new(),
                    title: format!("{who}: risk score {}; open findings: {}", risk.score, counts.join(", ")),
                    segments,
                    note: risk.score.to_string(),
                }
            })
            .collect();
        let legend =
            Severity::ALL.iter().zip(used).filter(|(_, u)| *u).map(|(sev, _)| (sev.to_string(), fill(*sev))).collect();
        let chart = Chart {
            id: "chart-owners",
            title: "Top owners by risk",
            legend,
            bars,
            empty: "No owner has open findings.",
        };
        let note = format!(
            "The {TOP_OWNERS} owners with the highest risk score: open findings weighted critical 10, high 5, medium 2, \
             low 1 ({} owner{} with a score above 0).",
            risks.len(),
            plural(risks.len())
        );
        figure(p, &chart, &note, |p| hbar(p, &chart, 210.0))
    }

    fn chart_expiry(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        let timeline = expiry_timeline(r);
        let bars = timeline
            .months
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let total = m.global + m.scoped;
                let month = m.start.format("%B %Y");
                let mut segments = Vec::new();
                if m.scoped > 0 {
                    segments.push(Segment {
                        value: m.scoped as f64,
                        fill: ACCENT,
                        title: format!("{month}: {} organization-scoped token{}", m.scoped, plural(m.scoped)),
                    });
                }
                if m.global > 0 {
                    segments.push(Segment {
                        value: m.global as f64,
                        fill: GLOBAL_FILL,
                        title: format!("{month}: {} token{} valid in all organizations", m.global, plural(m.global)),
                    });
                }
                Bar {
                    label: m.start.format("%b").to_string(),
                    sub: if i == 0 || m.start.month() == 1 { m.start.year().to_string() } else { String::new() },
                    title: format!("{month}: {total} active token{} expire", plural(total)),
                    segments,
                    note: if total > 0 { total.to_string() } else { String::new() },
                }
            })
            .collect();
        let chart = Chart {
            id: "chart-expiry",
            title: "Active tokens expiring in the next 12 months",
            legend: vec![("this organization".into(), ACCENT), ("all organizations".into(), GLOBAL_FILL)],
            bars,
            empty: "No active tokens.",
        };
        let start = timeline.months.first().map(|m| m.start).unwrap_or_else(|| r.as_of.date_naive());
        let end = start.checked_add_months(Months::new(TIMELINE_MONTHS)).unwrap_or(start);
        let mut marker = None;
        let mut note = format!("Active tokens by month of expiry, from {} on.", r.as_of.format("%Y-%m-%d"));
        if let Some(date) = self.retirement_date() {
            if date >= start && date < end {
                let index = month_index(start, date);
                let month_start = date.with_day(1).unwrap_or(date);
                let days =
                    month_start.checked_add_months(Months::new(1)).map_or(30, |next| (next - month_start).num_days());
                marker = Some(Marker {
                    at: f64::from(index) + f64::from(date.day0()) / days as f64,
                    label: if date > r.as_of.date_naive() {
                        format!("Global PATs stop working {date}")
                    } else {
                        format!("Global PATs retired {date}")
                    },
                });
                note.push_str(&format!(
                    " The dashed line marks the global PAT retirement date ({date}): tokens valid in all \
                     organizations stop working then, whatever their expiry."
                ));
            } else if date < r.as_of.date_naive() {
                note.push_str(&format!(" The global PAT retirement date ({date}) has passed."));
            } else {
                note.push_str(&format!(" The global PAT retirement date ({date}) is beyond this window."));
            }
        }
        if timeline.later > 0 {
            note.push_str(&format!(" {} more expire later.", timeline.later));
        }
        if timeline.no_end > 0 {
            note.push_str(&format!(" {} have no expiry date.", timeline.no_end));
        }
        figure(p, &chart, &note, |p| vbar(p, &chart, marker.as_ref()))
    }

    fn chart_lifetimes(&self, p: &mut Sink<'_>) -> fmt::Result {
        let buckets = lifetime_histogram(self.r);
        let bars = buckets
            .iter()
            .map(|(label, n)| Bar {
                label: label.clone(),
                sub: if label == "unknown" { String::new() } else { "days".into() },
                title: format!(
                    "lifetime {label}{}: {n} active token{}",
                    if label == "unknown" { "" } else { " days" },
                    plural(*n)
                ),
                segments: if *n > 0 {
                    vec![Segment { value: *n as f64, fill: ACCENT, title: format!("{n} token{}", plural(*n)) }]
                } else {
                    Vec::new()
                },
                note: if *n > 0 { n.to_string() } else { String::new() },
            })
            .collect();
        let chart = Chart { id: "chart-lifetimes", title: "Token lifetimes", legend: Vec::new(), bars, empty: "" };
        figure(
            p,
            &chart,
            "Active tokens by total lifetime (valid to minus valid from), in days. Short-lived tokens limit the damage \
             of a leak.",
            |p| vbar(p, &chart, None),
        )
    }

    // ---- findings table ------------------------------------------------------------------

    fn findings(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        writeln!(p, "<section id=\"findings\">")?;
        writeln!(p, "<h2>Findings</h2>")?;
        writeln!(
            p,
            "<p>Every finding, most severe first. Findings accepted by an exception are shown greyed, with the \
             exception. Click a column header to sort; each action links to its full guidance.</p>"
        )?;
        writeln!(p, "<div class=\"controls\" id=\"finding-controls\" hidden>")?;
        writeln!(
            p,
            "<label>Search <input type=\"search\" id=\"filter-text\" placeholder=\"owner, token, rule, message\" \
             autocomplete=\"off\"></label>"
        )?;
        write!(p, "<label>Severity <select id=\"filter-severity\"><option value=\"\">all</option>")?;
        for sev in Severity::ALL {
            write!(p, "<option value=\"{sev}\">{sev}</option>")?;
        }
        writeln!(p, "</select></label>")?;
        writeln!(p, "<label><input type=\"checkbox\" id=\"filter-suppressed\" checked> show accepted</label>")?;
        writeln!(p, "<span id=\"filter-count\" aria-live=\"polite\"></span>")?;
        writeln!(p, "</div>")?;
        if r.findings.is_empty() {
            writeln!(p, "<p class=\"empty\">No findings.</p>")?;
        }
        writeln!(p, "<div class=\"table-wrap\">")?;
        writeln!(p, "<table id=\"findings-table\" class=\"findings\">")?;
        writeln!(
            p,
            "<thead><tr><th scope=\"col\" data-type=\"num\" data-first=\"descending\">Severity</th><th \
             scope=\"col\">Rule</th><th scope=\"col\">Owner</th><th scope=\"col\">Token</th><th \
             scope=\"col\">Expires</th><th scope=\"col\">Why</th><th scope=\"col\">Action</th><th \
             scope=\"col\">Status</th></tr></thead>"
        )?;
        writeln!(p, "<tbody>")?;
        for f in &r.findings {
            self.finding_row(p, f)?;
        }
        writeln!(p, "</tbody>")?;
        writeln!(p, "</table>")?;
        writeln!(p, "</div>")?;
        writeln!(p, "</section>")
    }

    fn finding_row(&self, p: &mut Sink<'_>, f: &Finding) -> fmt::Result {
        let token = self.r.token(&f.owner, &f.authorization_id);
        writeln!(
            p,
            "<tr class=\"finding\" data-severity=\"{}\" data-rule=\"{}\" data-token=\"{}\" data-suppressed=\"{}\">",
            f.severity,
            esc(&f.rule),
            esc(&f.authorization_id),
            f.is_suppressed()
        )?;
        writeln!(
            p,
            "<td data-sort=\"{}\"><span class=\"sev sev-{}\">{}</span></td>",
            f.severity as u8, f.severity, f.severity
        )?;
        writeln!(p, "<td><a href=\"#rule-{}\"><code class=\"rule\">{}</code></a></td>", anchor(&f.rule), esc(&f.rule))?;

        let (name, upn) = self.owner_name(&f.owner);
        let deleted = self.r.owner(&f.owner).is_some_and(|o| o.deleted_in_origin);
        write!(p, "<td>{}", esc(&name))?;
        if !upn.is_empty() {
            // Long addresses break before the domain rather than anywhere.
            write!(p, "<br><span class=\"muted\">{}</span>", esc(&upn).replacen('@', "<wbr>@", 1))?;
        }
        if deleted {
            write!(p, " <span class=\"tag\">deleted</span>")?;
        }
        writeln!(p, "</td>")?;

        match token {
            Some(t) => {
                let scopes = esc(&t.scopes.join(" "));
                if t.display_name.is_empty() {
                    write!(p, "<td><span class=\"muted\" title=\"scopes: {scopes}\">(no name)</span>")?;
                } else {
                    write!(p, "<td><span title=\"scopes: {scopes}\">{}</span>", esc(&t.display_name))?;
                }
                if t.all_organizations {
                    write!(p, " <span class=\"tag global\">all organizations</span>")?;
                }
            }
            None => write!(p, "<td><span class=\"muted\">(token not in the record)</span>")?,
        }
        write!(p, "<br><code class=\"id\">{}</code>", esc(&f.authorization_id))?;
        if let Some(u) = self.r.usage(&f.owner, &f.authorization_id) {
            let used_for =
                USES.iter().find(|(id, _)| *id == u.inference.use_id).map_or(u.inference.use_id.as_str(), |(_, n)| n);
            let confidence = match u.inference.confidence {
                Confidence::High => "high",
                Confidence::Medium => "medium",
                Confidence::Low => "low",
            };
            write!(
                p,
                "<br><span class=\"muted\" title=\"{}\">used for: {} ({confidence} confidence)</span>",
                esc(&u.inference.evidence.join("; ")),
                esc(used_for)
            )?;
        }
        writeln!(p, "</td>")?;

        match token.and_then(|t| t.valid_to) {
            Some(to) => {
                let state = match token.map(|t| t.state(self.r.as_of)) {
                    Some(TokenState::Expired) => " <span class=\"tag\">expired</span>",
                    Some(TokenState::Revoked) => " <span class=\"tag\">revoked</span>",
                    _ => "",
                };
                writeln!(
                    p,
                    "<td data-sort=\"{}\" class=\"nowrap\">{}{state}</td>",
                    to.format("%Y-%m-%d"),
                    to.format("%Y-%m-%d")
                )?
            }
            None => writeln!(p, "<td data-sort=\"9999\" class=\"muted\">none</td>")?,
        }
        writeln!(p, "<td>{}</td>", esc(&f.message))?;
        match f.guidance.as_deref() {
            Some(id) => match self.guidance.get(id) {
                Some(g) => writeln!(
                    p,
                    "<td><a href=\"#guidance-{}\" title=\"{}\">{}</a></td>",
                    anchor(id),
                    esc(&g.title),
                    inline_code(&g.action)
                )?,
                None => writeln!(p, "<td><code>{}</code></td>", esc(id))?,
            },
            None => writeln!(p, "<td></td>")?,
        }
        match &f.suppressed {
            Some(s) => {
                let trace: Vec<String> =
                    [s.ticket.as_deref(), s.approver.as_deref()].into_iter().flatten().map(esc).collect();
                let trace = if trace.is_empty() { String::new() } else { format!(" ({})", trace.join(", ")) };
                writeln!(
                    p,
                    "<td data-sort=\"1\"><span class=\"tag accepted\">accepted</span> exception #{}{trace} until {}: \
                     {}</td>",
                    s.exception,
                    s.expires,
                    esc(&s.reason)
                )?
            }
            None => writeln!(p, "<td data-sort=\"0\">open</td>")?,
        }
        writeln!(p, "</tr>")
    }

    // ---- guidance, exceptions, rules -----------------------------------------------------

    fn guidance_texts(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        let mut findings: HashMap<&str, usize> = HashMap::new();
        for f in &r.findings {
            if let Some(id) = f.guidance.as_deref() {
                *findings.entry(id).or_default() += 1;
            }
        }
        let mut tokens: HashMap<&str, usize> = HashMap::new();
        for u in &r.usage {
            *tokens.entry(u.guidance.as_str()).or_default() += 1;
        }
        writeln!(p, "<section id=\"guidance\">")?;
        writeln!(p, "<h2>Guidance: replacing PATs with Microsoft Entra ID tokens</h2>")?;
        if r.guidance.is_empty() {
            writeln!(p, "<p class=\"empty\">No guidance referenced.</p>")?;
        }
        for g in &r.guidance {
            writeln!(p, "<article class=\"guidance\" id=\"guidance-{}\">", anchor(&g.id))?;
            writeln!(p, "<h3>{} <span class=\"muted\">{}</span></h3>", esc(&g.title), esc(&g.id))?;
            let nf = findings.get(g.id.as_str()).copied().unwrap_or(0);
            let nt = tokens.get(g.id.as_str()).copied().unwrap_or(0);
            writeln!(
                p,
                "<p class=\"action\"><strong>Action:</strong> {}<br><span class=\"muted\">{nf} finding{}, {nt} \
                 token{} by inferred use</span></p>",
                inline_code(&g.action),
                plural(nf),
                plural(nt)
            )?;
            writeln!(p, "<ol>")?;
            for step in &g.steps {
                writeln!(p, "<li>{}</li>", inline_code(step))?;
            }
            writeln!(p, "</ol>")?;
            if !g.caveats.is_empty() {
                writeln!(p, "<p><strong>Caveats</strong></p>")?;
                writeln!(p, "<ul>")?;
                for c in &g.caveats {
                    writeln!(p, "<li>{}</li>", inline_code(c))?;
                }
                writeln!(p, "</ul>")?;
            }
            if let Some(keep) = &g.keep_pat {
                writeln!(
                    p,
                    "<p><strong>If a PAT must stay:</strong> limit it to this organization, scopes {}, at most {} \
                     days.</p>",
                    inline_code(&keep.scopes.join(", ")),
                    keep.max_days
                )?;
            }
            writeln!(p, "<p>Microsoft Learn: {}</p>", link(&g.learn))?;
            for s in &g.see_also {
                writeln!(p, "<p>See also: {}</p>", link(s))?;
            }
            writeln!(p, "</article>")?;
        }
        writeln!(p, "</section>")
    }

    fn exceptions(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        writeln!(p, "<section id=\"exceptions\">")?;
        writeln!(p, "<h2>Exceptions to review</h2>")?;
        let active: Vec<&ExceptionReport> =
            r.exceptions.iter().filter(|e| e.status == ExceptionStatus::Active).collect();
        let review: Vec<&ExceptionReport> =
            r.exceptions.iter().filter(|e| e.status != ExceptionStatus::Active).collect();
        if r.exceptions.is_empty() {
            writeln!(p, "<p class=\"empty\">The rules file has no exceptions.</p>")?;
        } else {
            let accepted: usize = active.iter().map(|e| e.matched_findings).sum();
            writeln!(
                p,
                "<p>{} active exception{} accept{} {accepted} finding{}; {} need{} review.</p>",
                active.len(),
                plural(active.len()),
                if active.len() == 1 { "s" } else { "" },
                plural(accepted),
                review.len(),
                if review.len() == 1 { "s" } else { "" }
            )?;
        }
        if !review.is_empty() {
            writeln!(p, "<table class=\"exceptions\">")?;
            writeln!(
                p,
                "<thead><tr><th scope=\"col\">#</th><th scope=\"col\">Line</th><th scope=\"col\">Status</th><th \
                 scope=\"col\">Reason</th><th scope=\"col\">Ticket</th><th scope=\"col\">Expires</th><th \
                 scope=\"col\">What to do</th></tr></thead>"
            )?;
            writeln!(p, "<tbody>")?;
            for e in review {
                let (status, todo) = match e.status {
                    ExceptionStatus::Expired => (
                        "expired",
                        format!(
                            "Expired: its {} finding{} count again. Fix them, or renew the exception after review.",
                            e.matched_findings,
                            plural(e.matched_findings)
                        ),
                    ),
                    _ => ("stale", "Matches no finding: remove it or fix what it matches.".to_string()),
                };
                writeln!(
                    p,
                    "<tr class=\"exception\" data-status=\"{status}\"><td>{}</td><td>{}</td><td><span class=\"tag \
                     {status}\">{status}</span></td><td>{}</td><td>{}</td><td class=\"nowrap\">{}</td><td>{todo}</td></tr>",
                    e.exception,
                    e.line,
                    esc(&e.reason),
                    esc(e.ticket.as_deref().unwrap_or("")),
                    e.expires
                )?;
            }
            writeln!(p, "</tbody>")?;
            writeln!(p, "</table>")?;
        }
        writeln!(p, "</section>")
    }

    fn rules(&self, p: &mut Sink<'_>) -> fmt::Result {
        let r = self.r;
        let mut open: HashMap<&str, usize> = HashMap::new();
        let mut accepted: HashMap<&str, usize> = HashMap::new();
        for f in &r.findings {
            let counts = if f.is_suppressed() { &mut accepted } else { &mut open };
            *counts.entry(f.rule.as_ref()).or_default() += 1;
        }
        writeln!(p, "<section id=\"rules\">")?;
        writeln!(p, "<h2>Rules</h2>")?;
        writeln!(p, "<table class=\"rules\">")?;
        writeln!(
            p,
            "<thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">Severity</th><th scope=\"col\">Open</th><th \
             scope=\"col\">Accepted</th><th scope=\"col\">Rationale</th></tr></thead>"
        )?;
        writeln!(p, "<tbody>")?;
        for rule in &r.rules {
            let deadline = rule.deadline.map(|d| format!(" <strong>Deadline: {d}.</strong>")).unwrap_or_default();
            writeln!(
                p,
                "<tr id=\"rule-{}\"><td><code class=\"rule\">{}</code></td><td><span class=\"sev sev-{}\">{}</span></td><td>{}</td><td>{}</td><td>{}{deadline}</td></tr>",
                anchor(&rule.id),
                esc(&rule.id),
                rule.severity,
                rule.severity,
                open.get(rule.id.as_str()).copied().unwrap_or(0),
                accepted.get(rule.id.as_str()).copied().unwrap_or(0),
                esc(&rule.rationale)
            )?;
        }
        writeln!(p, "</tbody>")?;
        writeln!(p, "</table>")?;
        writeln!(p, "</section>")
    }
}

// ---- chart data (pure) -------------------------------------------------------------------

/// Findings of one rule: open ones by severity (in `Severity::ALL` order) and accepted ones.
#[derive(Debug, PartialEq)]
struct RuleCounts {
    rule: String,
    open: [usize; 5],
    suppressed: usize,
}

fn severity_index(severity: Severity) -> usize {
    Severity::ALL.iter().position(|s| *s == severity).expect("every severity is in ALL")
}

/// Rules with open findings, worst severity first, then most findings.
fn findings_by_rule(r: &ScanRecord) -> Vec<RuleCounts> {
    let mut by_rule: BTreeMap<&str, RuleCounts> = BTreeMap::new();
    for f in &r.findings {
        let row = by_rule.entry(&f.rule).or_insert_with(|| RuleCounts {
            rule: f.rule.to_string(),
            open: [0; 5],
            suppressed: 0,
        });
        if f.is_suppressed() {
            row.suppressed += 1;
        } else {
            row.open[severity_index(f.severity)] += 1;
        }
    }
    let mut rows: Vec<RuleCounts> = by_rule.into_values().filter(|row| row.open.iter().sum::<usize>() > 0).collect();
    // `open` is in ALL order (critical first): comparing the arrays puts the worst rules first.
    rows.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.rule.cmp(&b.rule)));
    rows
}

/// Active tokens per lifetime bucket (labels with the bounds in days); an `unknown` bucket only
/// when some token lacks a date.
fn lifetime_histogram(r: &ScanRecord) -> Vec<(String, usize)> {
    let mut counts = [0usize; LIFETIME_BUCKETS.len() + 1];
    let mut unknown = 0;
    for t in r.tokens.iter().filter(|t| t.state(r.as_of) == TokenState::Active) {
        match t.lifetime_days() {
            Some(days) => {
                let i = LIFETIME_BUCKETS.iter().position(|max| days <= *max).unwrap_or(LIFETIME_BUCKETS.len());
                counts[i] += 1;
            }
            None => unknown += 1,
        }
    }
    let mut buckets: Vec<(String, usize)> = Vec::with_capacity(counts.len() + 1);
    let mut low = 0;
    for (i, n) in counts.into_iter().enumerate() {
        let label = match LIFETIME_BUCKETS.get(i) {
            Some(max) if low == 0 => format!("≤ {max}"),
            Some(max) => format!("{}–{max}", low + 1),
            None => format!("> {low}"),
        };
        if let Some(max) = LIFETIME_BUCKETS.get(i) {
            low = *max;
        }
        buckets.push((label, n));
    }
    if unknown > 0 {
        buckets.push(("unknown".into(), unknown));
    }
    buckets
}

#[derive(Debug, PartialEq)]
struct MonthCount {
    start: NaiveDate,
    global: usize,
    scoped: usize,
}

#[derive(Debug, PartialEq)]
struct Timeline {
    months: Vec<MonthCount>,
    /// Active tokens expiring after the last month.
    later: usize,
    /// Active tokens without an expiry date.
    no_end: usize,
}

fn month_index(start: NaiveDate, date: NaiveDate) -> i32 {
    (date.year() - start.year()) * 12 + date.month() as i32 - start.month() as i32
}

/// Active tokens by calendar month of expiry, the as-of month first.
fn expiry_timeline(r: &ScanRecord) -> Timeline {
    let today = r.as_of.date_naive();
    let start = today.with_day(1).unwrap_or(today);
    let mut months: Vec<MonthCount> = (0..TIMELINE_MONTHS)
        .filter_map(|i| start.checked_add_months(Months::new(i)))
        .map(|start| MonthCount { start, global: 0, scoped: 0 })
        .collect();
    let (mut later, mut no_end) = (0, 0);
    for t in r.tokens.iter().filter(|t| t.state(r.as_of) == TokenState::Active) {
        let Some(to) = t.valid_to else {
            no_end += 1;
            continue;
        };
        match months.get_mut(month_index(start, to.date_naive()).max(0) as usize) {
            Some(m) if t.all_organizations => m.global += 1,
            Some(m) => m.scoped += 1,
            None => later += 1,
        }
    }
    Timeline { months, later, no_end }
}

#[derive(Debug, PartialEq)]
struct OwnerRisk {
    descriptor: String,
    /// Open findings by severity, in `Severity::ALL` order.
    counts: [usize; 5],
    score: u32,
}

/// Owners with a risk score above zero, highest first (ties by descriptor, for a stable page).
fn owner_risk(r: &ScanRecord) -> Vec<OwnerRisk> {
    let mut by_owner: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for f in r.open_findings() {
        by_owner.entry(&f.owner).or_default()[severity_index(f.severity)] += 1;
    }
    let mut risks: Vec<OwnerRisk> = by_owner
        .into_iter()
        .map(|(descriptor, counts)| {
            let score = Severity::ALL.iter().zip(counts).map(|(sev, n)| risk_weight(*sev) * n as u32).sum();
            OwnerRisk { descriptor: descriptor.to_string(), counts, score }
        })
        .filter(|risk| risk.score > 0)
        .collect();
    risks.sort_by(|a, b| {
        b.score.cmp(&a.score).then_with(|| b.counts.cmp(&a.counts)).then_with(|| a.descriptor.cmp(&b.descriptor))
    });
    risks
}

// ---- SVG drawing ---------------------------------------------------------------------------

struct Segment {
    value: f64,
    fill: &'static str,
    /// Plain text (escaped when drawn).
    title: String,
}

struct Bar {
    label: String,
    /// A second label line (vertical charts).
    sub: String,
    title: String,
    segments: Vec<Segment>,
    /// Text at the end of the bar.
    note: String,
}

struct Chart<'a> {
    id: &'a str,
    title: &'a str,
    legend: Vec<(String, &'static str)>,
    bars: Vec<Bar>,
    /// Shown instead of an empty chart.
    empty: &'a str,
}

/// A labelled vertical line, at a position counted in bar slots from the left.
struct Marker {
    at: f64,
    label: String,
}

const WIDTH: f64 = 640.0;

fn figure(p: &mut Sink<'_>, chart: &Chart, note: &str, draw: impl FnOnce(&mut Sink<'_>) -> fmt::Result) -> fmt::Result {
    writeln!(p, "<figure class=\"chart-box\">")?;
    writeln!(p, "<figcaption>{}</figcaption>", esc(chart.title))?;
    draw(p)?;
    writeln!(p, "<p class=\"note\">{}</p>", esc(note))?;
    writeln!(p, "</figure>")
}

fn open_svg(p: &mut Sink<'_>, chart: &Chart, height: f64) -> fmt::Result {
    writeln!(
        p,
        "<svg class=\"chart\" id=\"{}\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         role=\"img\" aria-label=\"{}\"><title>{}</title>",
        chart.id,
        esc(chart.title),
        esc(chart.title)
    )
}

/// An empty chart says so, instead of drawing nothing.
fn empty_svg(p: &mut Sink<'_>, chart: &Chart) -> fmt::Result {
    open_svg(p, chart, 80.0)?;
    writeln!(
        p,
        "<text class=\"empty\" x=\"{}\" y=\"45\" text-anchor=\"middle\">{}</text>",
        WIDTH / 2.0,
        esc(chart.empty)
    )?;
    writeln!(p, "</svg>")
}

fn legend(p: &mut Sink<'_>, items: &[(String, &'static str)], x: f64, y: f64) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    write!(p, "<g class=\"legend\">")?;
    let mut x = x;
    for (name, fill) in items {
        write!(
            p,
            "<rect class=\"key\" x=\"{x:.1}\" y=\"{:.1}\" width=\"11\" height=\"11\" rx=\"2\" fill=\"{fill}\"/><text \
             x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 10.0,
            x + 15.0,
            esc(name)
        )?;
        x += 15.0 + name.chars().count() as f64 * 6.8 + 18.0;
    }
    writeln!(p, "</g>")
}

/// A round axis maximum at or above `max`, and the step between grid lines (whole numbers).
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 1.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = match raw / magnitude {
        n if n <= 1.0 => 1.0,
        n if n <= 2.0 => 2.0,
        n if n <= 5.0 => 5.0,
        _ => 10.0,
    } * magnitude;
    let step = step.max(1.0);
    ((max / step).ceil() * step, step)
}

fn total(bar: &Bar) -> f64 {
    bar.segments.iter().map(|s| s.value).sum()
}

/// Horizontal stacked bars, one row each, labels on the left.
fn hbar(p: &mut Sink<'_>, chart: &Chart, label_width: f64) -> fmt::Result {
    if chart.bars.is_empty() {
        return empty_svg(p, chart);
    }
    let (row, bar_h) = (26.0, 16.0);
    let top = if chart.legend.is_empty() { 8.0 } else { 30.0 };
    let (left, right) = (label_width, 86.0);
    let plot_w = WIDTH - left - right;
    let plot_h = row * chart.bars.len() as f64;
    let height = top + plot_h + 24.0;
    let (axis_max, step) = nice_scale(chart.bars.iter().map(total).fold(0.0, f64::max));
    open_svg(p, chart, height)?;
    legend(p, &chart.legend, left, 16.0)?;
    write!(p, "<g class=\"axis\">")?;
    let mut v = 0.0;
    while v <= axis_max + 1e-9 {
        let x = left + plot_w * v / axis_max;
        write!(
            p,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\">{v}</text>",
            top - 4.0,
            top + plot_h,
            top + plot_h + 16.0
        )?;
        v += step;
    }
    writeln!(p, "</g>")?;
    let label_chars = ((label_width - 14.0) / 6.9) as usize;
    for (i, bar) in chart.bars.iter().enumerate() {
        let y = top + i as f64 * row + (row - bar_h) / 2.0;
        write!(p, "<g class=\"row\"><title>{}</title>", esc(&bar.title))?;
        write!(
            p,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + bar_h / 2.0 + 4.0,
            esc(&clip(&bar.label, label_chars))
        )?;
        let mut x = left;
        for seg in &bar.segments {
            let w = plot_w * seg.value / axis_max;
            if w <= 0.0 {
                continue;
            }
            write!(
                p,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{}</title></rect>",
                seg.fill,
                esc(&seg.title)
            )?;
            x += w;
        }
        writeln!(
            p,
            "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            x + 6.0,
            y + bar_h / 2.0 + 4.0,
            esc(&bar.note)
        )?;
    }
    writeln!(p, "</svg>")
}

/// Vertical stacked bars, one slot each, labels below; an optional labelled marker line.
fn vbar(p: &mut Sink<'_>, chart: &Chart, marker: Option<&Marker>) -> fmt::Result {
    if chart.bars.is_empty() {
        return empty_svg(p, chart);
    }
    let height = 300.0;
    // Room above the plot: the legend, the marker's label, the value over the tallest bar.
    let top = 24.0 + if chart.legend.is_empty() { 0.0 } else { 22.0 } + if marker.is_some() { 16.0 } else { 0.0 };
    let (left, right, bottom) = (44.0, 14.0, 42.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let slot = plot_w / chart.bars.len() as f64;
    let bar_w = (slot * 0.62).min(64.0);
    let (axis_max, step) = nice_scale(chart.bars.iter().map(total).fold(0.0, f64::max));
    let base = top + plot_h;
    open_svg(p, chart, height)?;
    legend(p, &chart.legend, left, 16.0)?;
    write!(p, "<g class=\"axis\">")?;
    let mut v = 0.0;
    while v <= axis_max + 1e-9 {
        let y = base - plot_h * v / axis_max;
        write!(
            p,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             text-anchor=\"end\">{v}</text>",
            WIDTH - right,
            left - 6.0,
            y + 4.0
        )?;
        v += step;
    }
    writeln!(p, "</g>")?;
    for (i, bar) in chart.bars.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
        let centre = x + bar_w / 2.0;
        write!(p, "<g class=\"col\"><title>{}</title>", esc(&bar.title))?;
        let mut y = base;
        for seg in &bar.segments {
            let h = plot_h * seg.value / axis_max;
            if h <= 0.0 {
                continue;
            }
            y -= h;
            write!(
                p,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}</title></rect>",
                seg.fill,
                esc(&seg.title)
            )?;
        }
        if !bar.note.is_empty() {
            write!(
                p,
                "<text class=\"value\" x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                y - 5.0,
                esc(&bar.note)
            )?;
        }
        write!(
            p,
            "<text class=\"label\" x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            base + 16.0,
            esc(&bar.label)
        )?;
        if !bar.sub.is_empty() {
            write!(
                p,
                "<text class=\"sub\" x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                base + 31.0,
                esc(&bar.sub)
            )?;
        }
        writeln!(p, "</g>")?;
    }
    writeln!(
        p,
        "<line class=\"baseline\" x1=\"{left}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\"/>",
        WIDTH - right
    )?;
    if let Some(m) = marker {
        let x = left + slot * m.at;
        let (tx, anchor) = if x < WIDTH * 0.6 { (x + 6.0, "start") } else { (x - 6.0, "end") };
        writeln!(
            p,
            "<g class=\"marker\" id=\"retirement-marker\"><title>{}</title><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" \
             y2=\"{base:.1}\"/><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></g>",
            esc(&m.label),
            top - 30.0,
            top - 20.0,
            esc(&m.label)
        )?;
    }
    writeln!(p, "</svg>")
}

// ---- text helpers --------------------------------------------------------------------------

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An id usable in `id="…"` and `href="#…"` whatever the record holds.
fn anchor(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Escapes text and shows `backticked` parts as code (the guidance texts mark commands so).
fn inline_code(text: &str) -> String {
    let mut parts: Vec<&str> = text.split('`').collect();
    // An odd number of backticks: the last one is a plain character.
    let tail = if parts.len().is_multiple_of(2) { parts.pop().map(|last| format!("`{last}")) } else { None };
    let mut out = String::with_capacity(text.len() + 32);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&esc(part));
            out.push_str("</code>");
        } else {
            out.push_str(&esc(part));
        }
    }
    if let Some(tail) = tail {
        out.push_str(&esc(&tail));
    }
    out
}

/// A link for an `https://` address; anything else stays text (a saved scan could hold
/// `javascript:` or a plain-text address).
fn link(url: &str) -> String {
    if url.starts_with("https://") && !url.chars().any(char::is_whitespace) {
        format!("<a href=\"{}\" rel=\"noreferrer\">{}</a>", esc(url), esc(url))
    } else {
        esc(url)
    }
}

fn style() -> String {
    let mut css = STYLE.to_string();
    for sev in Severity::ALL {
        let (fill, ink) = severity_colours(sev);
        css.push_str(&format!(
            ".sev-{sev} {{ background: {fill}; color: {ink}; }}\ntr.finding[data-severity=\"{sev}\"] > td:first-child {{ \
             box-shadow: inset 4px 0 0 {fill}; }}\n"
        ));
    }
    css
}

const STYLE: &str = r#":root { --fg: #1d2330; --muted: #5d6675; --line: #dde2ea; --bg: #f5f6f9; --card: #ffffff; --accent: #3f6fb0; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 28px; margin: 0 0 2px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 6px; }
a { color: #1f5fae; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; background: #eef1f6; padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
code.id { font-size: 11px; background: none; padding: 0; color: var(--muted); white-space: nowrap; overflow-wrap: normal; }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: var(--muted); }
.meta { margin: 0 0 10px; color: var(--muted); }
.toc { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 0 0 14px; }
.coverage.ok { display: inline-block; margin: 0 0 14px; padding: 4px 10px; border-radius: 6px; background: #e6f4ea; color: #1e5631; }
.alert { border: 2px solid #9d0208; background: #fdecec; border-radius: 8px; padding: 12px 16px; margin: 0 0 16px; }
.alert h2 { margin: 0 0 6px; border: 0; color: #9d0208; }
.alert ul { margin: 6px 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0; padding: 0; border: 0; }
.card .big { font-size: 30px; font-weight: 650; margin: 2px 0; }
.card p { margin: 0; }
.card.warn { border-color: #9d0208; }
.card.warn .big { color: #9d0208; }
.sev { display: inline-block; padding: 1px 8px; margin: 1px 0; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px; font-weight: 600; background: #e8ebf1; color: #3b4350; white-space: nowrap; }
.tag.global { background: #fbe3e3; color: #9d0208; }
.tag.accepted, .tag.stale { background: #e3ecf9; color: #1f4f8f; }
.tag.expired { background: #fdebd3; color: #8a4a00; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
figure.chart-box { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; break-inside: avoid; }
figcaption { font-weight: 650; margin-bottom: 6px; }
figure .note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
svg.chart { display: block; width: 100%; height: auto; max-width: 760px; }
svg.chart text { font-size: 12px; fill: var(--fg); }
svg.chart .axis text, svg.chart text.sub { fill: var(--muted); font-size: 11px; }
svg.chart text.value { font-weight: 600; }
svg.chart text.empty { fill: var(--muted); font-size: 14px; }
svg.chart line.grid { stroke: #e9ecf1; }
svg.chart line.baseline { stroke: #9aa3b2; }
svg.chart .row:hover text.label, svg.chart .col:hover text.label { font-weight: 700; }
svg.chart rect.bar:hover { opacity: .85; }
svg.chart .marker line { stroke: #9d0208; stroke-width: 2; stroke-dasharray: 6 4; }
svg.chart .marker text { fill: #9d0208; font-weight: 700; paint-order: stroke; stroke: #ffffff; stroke-width: 4px; stroke-linejoin: round; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 18px; margin: 0 0 10px; padding: 8px 12px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
.controls[hidden] { display: none; }
.controls input[type=search] { width: 280px; padding: 4px 8px; font: inherit; }
.controls select { padding: 3px 6px; font: inherit; }
#filter-count { color: var(--muted); margin-left: auto; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
thead th { background: #eceff5; white-space: nowrap; }
table.findings thead th { position: sticky; top: 0; cursor: pointer; user-select: none; z-index: 1; }
table.findings thead th:hover { background: #e0e5ee; }
th[aria-sort=ascending]::after { content: " \25B2"; font-size: 10px; }
th[aria-sort=descending]::after { content: " \25BC"; font-size: 10px; }
code.rule { white-space: nowrap; overflow-wrap: normal; }
table.findings td:nth-child(3) { min-width: 150px; overflow-wrap: break-word; }
table.findings td:nth-child(4) { min-width: 250px; }
table.findings td:nth-child(6) { min-width: 160px; }
table.findings td:nth-child(7) { min-width: 180px; }
table.findings td:nth-child(8) { min-width: 70px; }
tr.finding[data-suppressed="true"] { background: #f7f8fa; color: var(--muted); }
tr.finding[data-suppressed="true"] .sev { opacity: .55; }
tbody tr:hover { background: #f3f6fb; }
article.guidance { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0 0 12px; break-inside: avoid; }
article.guidance:target { outline: 3px solid var(--accent); }
article.guidance ol, article.guidance ul { margin: 4px 0 8px; padding-left: 24px; }
article.guidance li { margin: 2px 0; }
article.guidance p { margin: 4px 0; }
p.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  body { background: #ffffff; font-size: 10pt; }
  main { max-width: none; padding: 0; }
  .toc, .controls { display: none !important; }
  .charts { grid-template-columns: 1fr; }
  svg.chart { max-width: 620px; }
  .card, figure.chart-box, article.guidance, table { border-color: #b8bec9; }
  .table-wrap { overflow: visible; }
  table { font-size: 7.5pt; }
  th, td { padding: 3px 4px; }
  table.findings td { min-width: 0 !important; }
  table.findings td:nth-child(6), table.findings td:nth-child(7) { width: 19%; }
  code { font-size: 7pt; }
  code.id { white-space: normal; overflow-wrap: anywhere; }
  table.findings thead th { position: static; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  tr.finding[hidden] { display: table-row; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Sorting and filtering of the findings table. Reads only the page; no network.
const SCRIPT: &str = r#"(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  rows.forEach(function (row, i) { row.setAttribute("data-order", i); });
  var headers = table.tHead.rows[0].cells;
  function key(row, col) {
    var cell = row.cells[col];
    var value = cell.getAttribute("data-sort");
    return value !== null ? value : cell.textContent.trim().toLowerCase();
  }
  function sortBy(col) {
    var th = headers[col];
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current === "ascending" ? -1 : current === "descending" ? 1 : (th.getAttribute("data-first") === "descending" ? -1 : 1);
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      var c = numeric ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
      return c * dir || a.getAttribute("data-order") - b.getAttribute("data-order");
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  }
  Array.prototype.forEach.call(headers, function (th, col) {
    th.tabIndex = 0;
    th.title = "Sort by " + th.textContent.trim().toLowerCase();
    th.addEventListener("click", function () { sortBy(col); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(col); }
    });
  });
  var text = document.getElementById("filter-text");
  var severity = document.getElementById("filter-severity");
  var accepted = document.getElementById("filter-suppressed");
  var count = document.getElementById("filter-count");
  function filter() {
    var query = text.value.trim().toLowerCase();
    var wanted = severity.value;
    var shown = 0;
    rows.forEach(function (row, i) {
      var visible = (!wanted || row.getAttribute("data-severity") === wanted) &&
        (accepted.checked || row.getAttribute("data-suppressed") !== "true") &&
        (!query || texts[i].indexOf(query) !== -1);
      row.hidden = !visible;
      if (visible) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " findings shown";
  }
  text.addEventListener("input", filter);
  severity.addEventListener("change", filter);
  accepted.addEventListener("change", filter);
  document.getElementById("finding-controls").hidden = false;
  filter();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Coverage, Inventory, Owner, Token};
    use crate::rules::RuleSet;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
    }

    fn token(id: &str, owner: &str, scopes: &[&str], global: bool, lifetime: i64, days_left: i64) -> Token {
        let to = as_of() + Duration::days(days_left);
        Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: format!("token {id}"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            all_organizations: global,
            target_accounts: if global { vec![] } else { vec!["org".into()] },
            valid_from: Some(to - Duration::days(lifetime)),
            valid_to: Some(to),
            is_valid: true,
            unreadable: None,
        }
    }

    fn record(tokens: Vec<Token>) -> ScanRecord {
        let owner = |d: &str| Owner {
            descriptor: d.into(),
            display_name: d.to_uppercase(),
            principal_name: format!("{d}@contoso.com"),
            mail: None,
            origin: "aad".into(),
            deleted_in_origin: false,
        };
        let inventory = Inventory {
            organization: "contoso".into(),
            owners: vec![owner("aad.a"), owner("aad.b")],
            tokens,
            coverage: Coverage::new(2, 2, vec![]),
        };
        ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of())
    }

    #[test]
    fn scales_are_round_and_cover_the_maximum() {
        assert_eq!(nice_scale(0.0), (1.0, 1.0));
        assert_eq!(nice_scale(3.0), (3.0, 1.0));
        assert_eq!(nice_scale(114.0), (150.0, 50.0));
        assert_eq!(nice_scale(20.0), (20.0, 5.0));
        assert_eq!(nice_scale(7.0), (8.0, 2.0));
    }

    #[test]
    fn text_helpers_escape_everything() {
        assert_eq!(inline_code("run `a <b>` now"), "run <code>a &lt;b&gt;</code> now");
        assert_eq!(inline_code("odd ` tick"), "odd ` tick");
        assert_eq!(inline_code("`x` and ` y"), "<code>x</code> and ` y");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(anchor("a b\"><x"), "a_b___x");
        assert_eq!(link("javascript:alert(1)"), "javascript:alert(1)");
        assert!(
            link("https://learn.microsoft.com/x?a=1&b=2")
                .starts_with("<a href=\"https://learn.microsoft.com/x?a=1&amp;b=2\"")
        );
    }

    #[test]
    fn lifetime_buckets_count_active_tokens_by_bound() {
        let mut revoked = token("r", "aad.a", &["vso.code"], false, 5, 10);
        revoked.is_valid = false;
        let record = record(vec![
            token("1", "aad.a", &["vso.code"], false, 7, 3),
            token("2", "aad.a", &["vso.code"], false, 8, 3),
            token("3", "aad.a", &["vso.code"], false, 400, 30),
            token("old", "aad.a", &["vso.code"], false, 5, -1),
            revoked,
        ]);
        let buckets = lifetime_histogram(&record);
        let labels: Vec<&str> = buckets.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["≤ 7", "8–30", "31–90", "91–180", "181–365", "> 365"]);
        let counts: Vec<usize> = buckets.iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, [1, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn the_timeline_counts_months_from_the_as_of_month() {
        let record = record(vec![
            token("nov", "aad.a", &["vso.code"], false, 30, 2),    // 2026-11-28
            token("dec", "aad.a", &["vso.code"], true, 30, 10),    // 2026-12-06, global
            token("oct", "aad.a", &["vso.code"], false, 30, 330),  // 2027-10-22: the 12th month
            token("late", "aad.a", &["vso.code"], false, 30, 370), // 2027-12-01: later
        ]);
        let t = expiry_timeline(&record);
        assert_eq!(t.months.len(), 12);
        assert_eq!(t.months[0].start, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!((t.months[0].scoped, t.months[1].global, t.months[11].scoped), (1, 1, 1));
        assert_eq!((t.later, t.no_end), (1, 0));
    }

    #[test]
    fn owner_risk_weighs_open_findings() {
        let record = record(vec![
            token("g", "aad.a", &["app_token"], true, 30, 20), // critical + high
            token("b", "aad.b", &["vso.code"], false, 30, 20),
        ]);
        let risks = owner_risk(&record);
        assert_eq!(risks[0].descriptor, "aad.a");
        let expected: u32 =
            record.open_findings().filter(|f| f.owner == "aad.a").map(|f| risk_weight(f.severity)).sum();
        assert!(expected >= 15);
        assert_eq!(risks[0].score, expected);
        assert!(risks.iter().all(|r| r.score > 0));
    }

    #[test]
    fn an_empty_record_renders_with_empty_charts() {
        let record = record(vec![]);
        let mut out = Vec::new();
        render(&record, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("No open findings.") && html.contains("No owner has open findings."));
        assert!(html.contains("id=\"chart-lifetimes\"") && html.contains("id=\"chart-expiry\""));
        assert!(html.ends_with("</html>\n"));
    }
}
