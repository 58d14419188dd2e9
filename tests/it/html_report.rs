//! The HTML report: one self-contained page whose four charts are drawn, whose findings table
//! holds every finding, and in which hostile names come out escaped. The page is read back with
//! a small parser that checks every opened tag closes, in order.

use crate::common;

use chrono::{TimeZone, Utc};
use common::{RecordBuilder, TokenBuilder, owner, run};
use pat2entra::inventory::{Owner, OwnerFailure, Token};
use pat2entra::record::ScanRecord;
use pat2entra::report::{self, Format, RenderOptions};
use pat2entra::rules::RuleSet;
use std::collections::{BTreeMap, HashSet};

const HOSTILE: &str = "<script>alert(1)</script>";

fn html_of(record: &ScanRecord) -> String {
    let mut out = Vec::new();
    report::render(record, Format::Html, &RenderOptions::default(), &mut out).unwrap();
    String::from_utf8(out).expect("the page is UTF-8")
}

/// The demo scan, saved as JSON and as HTML by the binary.
fn demo() -> (ScanRecord, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("scan.json");
    let html = dir.path().join("scan.html");
    for (format, path) in [("json", &json), ("html", &html)] {
        let r =
            run(&["scan", "--demo", "--as-of", "2026-11-26", "-q", "-o", format, "--out", path.to_str().unwrap()], &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let record = ScanRecord::load(&json).unwrap();
    (record, std::fs::read_to_string(html).unwrap())
}

// ---- a small HTML reader -------------------------------------------------------------------

/// One element: its name, attributes (unescaped) and where its content lies in the page.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    inner: std::ops::Range<usize>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
    fn has_class(&self, class: &str) -> bool {
        self.attr("class").is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }
}

const VOID: [&str; 14] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn parse_attrs(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attrs = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
            return Err(format!("bad attribute name in `{text}`"));
        }
        rest = rest[name_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let quoted = after.strip_prefix('"').ok_or_else(|| format!("unquoted attribute value in `{text}`"))?;
            let end = quoted.find('"').ok_or_else(|| format!("unclosed attribute value in `{text}`"))?;
            rest = quoted[end + 1..].trim_start();
            unescape(&quoted[..end])
        } else {
            String::new()
        };
        if attrs.insert(name.to_ascii_lowercase(), value).is_some() {
            return Err(format!("duplicate attribute {name} in `{text}`"));
        }
    }
    Ok(attrs)
}

/// Every element of the page, in document order. Fails on a tag that does not close in order,
/// a stray `<`, or markup where only text may be.
fn parse(html: &str) -> Result<Vec<Element>, String> {
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let at = i + offset;
        let rest = &html[at..];
        if rest.starts_with("<!--") {
            i = at + rest.find("-->").ok_or("unclosed comment")? + 3;
            continue;
        }
        if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
            i = at + rest.find('>').ok_or("unclosed doctype")? + 1;
            continue;
        }
        if let Some(closing) = rest.strip_prefix("</") {
            let end = closing.find('>').ok_or("unclosed end tag")?;
            let name = closing[..end].trim().to_ascii_lowercase();
            let top = open.pop().ok_or_else(|| format!("</{name}> at {at} closes nothing"))?;
            if elements[top].name != name {
                return Err(format!("</{name}> at {at} closes <{}>", elements[top].name));
            }
            elements[top].inner.end = at;
            i = at + 2 + end + 1;
            continue;
        }
        if !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!("stray '<' at {at}: {}", &rest[..rest.len().min(40)]));
        }
        // The tag ends at the first '>' outside quotes.
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map(|(j, _)| j)
            .ok_or("unclosed tag")?;
        let body = &rest[1..end];
        let self_closing = body.ends_with('/');
        let body = body.trim_end_matches('/');
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = body[..name_end].to_ascii_lowercase();
        let attrs = parse_attrs(&body[name_end..])?;
        let content = at + end + 1;
        elements.push(Element { name: name.clone(), attrs, inner: content..content });
        i = content;
        if self_closing || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let stop = html[content..].find(&close).ok_or_else(|| format!("unclosed <{name}>"))?;
            elements.last_mut().unwrap().inner.end = content + stop;
            i = content + stop + close.len();
            continue;
        }
        open.push(elements.len() - 1);
    }
    match open.pop() {
        Some(e) => Err(format!("<{}> never closes", elements[e].name)),
        None => Ok(elements),
    }
}

fn inner<'a>(html: &'a str, e: &Element) -> &'a str {
    &html[e.inner.clone()]
}

/// Elements inside `outer`.
fn within<'a>(elements: &'a [Element], outer: &Element) -> impl Iterator<Item = &'a Element> {
    let range = outer.inner.clone();
    elements.iter().filter(move |e| e.inner.start > range.start && e.inner.end <= range.end)
}

fn by_id<'a>(elements: &'a [Element], id: &str) -> &'a Element {
    let found: Vec<&Element> = elements.iter().filter(|e| e.attr("id") == Some(id)).collect();
    assert_eq!(found.len(), 1, "exactly one element with id {id}");
    found[0]
}

/// Numbers shown at the end of a chart's bars.
fn bar_values(html: &str, elements: &[Element], chart: &Element) -> Vec<usize> {
    within(elements, chart)
        .filter(|e| e.name == "text" && e.has_class("value"))
        .map(|e| {
            let text = inner(html, e);
            text.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap_or_else(|_| panic!("{text}"))
        })
        .collect()
}

// ---- the demo organization ---------------------------------------------------------------

#[test]
fn the_demo_report_is_self_contained_balanced_and_matches_its_saved_scan() {
    let (record, html) = demo();
    assert_eq!(html_of(&record), html, "rendering the saved scan gives the page the scan wrote");
    let elements = parse(&html).unwrap_or_else(|e| panic!("the page does not parse: {e}"));
    assert!(html.starts_with("<!DOCTYPE html>"));

    // Nothing from elsewhere: one inline script, no external resources of any kind.
    let lower = html.to_ascii_lowercase();
    for forbidden in ["<script src", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "http://"] {
        assert!(!lower.contains(forbidden), "the page contains {forbidden}");
    }
    let scripts: Vec<&Element> = elements.iter().filter(|e| e.name == "script").collect();
    assert_eq!(scripts.len(), 1);
    assert!(scripts[0].attrs.is_empty(), "the script is inline");
    let csp = elements.iter().find(|e| e.attr("http-equiv") == Some("Content-Security-Policy")).unwrap();
    assert!(csp.attr("content").unwrap().starts_with("default-src 'none'"));

    // Links leave the page only for the guidance's pages; in-page links have a target.
    let ids: HashSet<&str> = elements.iter().filter_map(|e| e.attr("id")).collect();
    for e in &elements {
        assert!(e.attr("src").is_none(), "<{}> loads {:?}", e.name, e.attr("src"));
        if let Some(href) = e.attr("href") {
            match href.strip_prefix('#') {
                Some(target) => assert!(ids.contains(target), "link to a missing #{target}"),
                None => assert!(
                    href.starts_with("https://learn.microsoft.com/") || href.starts_with("https://github.com/"),
                    "external link {href}"
                ),
            }
        }
    }
    // Any other address in the text is one the guidance texts quote (e.g. `https://dev.azure.com/<org>`).
    let quoted: String = record.guidance.iter().flat_map(|g| g.steps.iter().chain(&g.caveats)).cloned().collect();
    for (at, _) in html.match_indices("https://") {
        let url: String = html[at..].chars().take_while(|c| !c.is_whitespace() && !"<\"'&`".contains(*c)).collect();
        let linked = url.starts_with("https://learn.microsoft.com/") || url.starts_with("https://github.com/");
        assert!(linked || quoted.contains(&url), "unexpected address {url}");
    }

    // The summary states the counts of the record.
    let s = &record.summary;
    let summary = inner(&html, by_id(&elements, "summary"));
    assert!(summary.contains(&format!(
        "{} active · {} expired · {} revoked",
        s.active_tokens, s.expired_tokens, s.revoked_tokens
    )));
    for (sev, n) in &s.findings_by_severity {
        assert!(summary.contains(&format!("data-severity=\"{sev}\">{n} {sev}</span>")), "{sev}");
    }
    assert!(summary.contains("Coverage: complete"));
}

#[test]
fn the_demo_report_draws_four_charts_that_add_up() {
    let (record, html) = demo();
    let elements = parse(&html).unwrap();
    for id in ["chart-findings", "chart-lifetimes", "chart-expiry", "chart-owners"] {
        let svg = by_id(&elements, id);
        assert_eq!(svg.name, "svg");
        assert!(svg.has_class("chart") && svg.attr("role") == Some("img"), "{id}");
        assert!(!svg.attr("aria-label").unwrap_or_default().is_empty(), "{id} has no aria-label");
        assert!(within(&elements, svg).any(|e| e.name == "title"), "{id} has no <title>");
        let bars = within(&elements, svg).filter(|e| e.name == "rect" && e.has_class("bar")).count();
        assert!(bars > 0, "{id} draws no bars");
        assert!(inner(&html, svg).contains("<rect"), "{id}");
    }
    let s = &record.summary;
    let open: usize = s.findings_by_severity.values().sum();
    let values = |id| bar_values(&html, &elements, by_id(&elements, id));

    // Findings by rule: one bar per rule with open findings, adding up to every open finding.
    let by_rule = values("chart-findings");
    let rules: HashSet<&str> = record.open_findings().map(|f| f.rule.as_ref()).collect();
    assert_eq!((by_rule.len(), by_rule.iter().sum::<usize>()), (rules.len(), open));

    // Lifetimes: every active token in one bucket.
    assert_eq!(values("chart-lifetimes").iter().sum::<usize>(), s.active_tokens);

    // Expiry: the active tokens of the next 12 months, the rest said below the chart.
    let expiry = by_id(&elements, "chart-expiry");
    let months = within(&elements, expiry).filter(|e| e.name == "g" && e.has_class("col")).count();
    assert_eq!(months, 12);
    let end = Utc.with_ymd_and_hms(2027, 11, 1, 0, 0, 0).unwrap();
    let expected = record
        .tokens
        .iter()
        .filter(|t| t.state(record.as_of) == pat2entra::inventory::TokenState::Active)
        .filter(|t| t.valid_to.is_some_and(|to| to < end))
        .count();
    assert_eq!(values("chart-expiry").iter().sum::<usize>(), expected);
    // The global PAT retirement date of the all-organizations rule is marked, with its label.
    let deadline = record.rules.iter().find(|r| r.id == "all-organizations").and_then(|r| r.deadline).unwrap();
    let marker = by_id(&elements, "retirement-marker");
    assert!(within(&elements, expiry).any(|e| std::ptr::eq(e, marker)), "the marker is in the expiry chart");
    assert!(within(&elements, marker).any(|e| e.name == "line"));
    assert!(
        inner(&html, marker).contains(&format!("Global PATs stop working {deadline}")),
        "as of 2026-11-26 the date is ahead"
    );

    // Owners: the ten highest weighted scores, highest first.
    let mut scores: BTreeMap<&str, usize> = BTreeMap::new();
    for f in record.open_findings() {
        let weight = match f.severity.as_str() {
            "critical" => 10,
            "high" => 5,
            "medium" => 2,
            "low" => 1,
            _ => 0,
        };
        *scores.entry(&f.owner).or_default() += weight;
    }
    let mut top: Vec<usize> = scores.into_values().filter(|s| *s > 0).collect();
    top.sort_unstable_by(|a, b| b.cmp(a));
    top.truncate(10);
    assert_eq!(values("chart-owners"), top);
}

#[test]
fn every_finding_has_a_row_that_links_its_guidance() {
    let (record, html) = demo();
    let elements = parse(&html).unwrap();
    let rows: Vec<&Element> = elements.iter().filter(|e| e.name == "tr" && e.has_class("finding")).collect();
    assert_eq!(rows.len(), record.findings.len());
    let mut shown: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let a = |n| r.attr(n).unwrap_or_else(|| panic!("row without {n}")).to_string();
            (a("data-token"), a("data-rule"), a("data-severity"))
        })
        .collect();
    let mut expected: Vec<(String, String, String)> = record
        .findings
        .iter()
        .map(|f| (f.authorization_id.to_string(), f.rule.to_string(), f.severity.to_string()))
        .collect();
    shown.sort();
    expected.sort();
    assert_eq!(shown, expected);
    for (row, f) in rows.iter().zip(&record.findings) {
        assert!(inner(&html, row).contains(f.authorization_id.as_str()), "the row shows the authorization id");
        let id = f.guidance.as_deref().unwrap();
        let g = record.guidance(id).unwrap();
        let href = format!("#guidance-{id}");
        assert!(within(&elements, row).any(|e| e.name == "a" && e.attr("href") == Some(href.as_str())), "{id}");
        let section = by_id(&elements, &format!("guidance-{id}"));
        let text = inner(&html, section);
        assert!(text.contains(&format!("href=\"{}\"", g.learn)), "{id} links Microsoft Learn");
        assert!(within(&elements, section).filter(|e| e.name == "li").count() >= g.steps.len(), "{id} lists its steps");
    }
    // The controls and the sorting script are there.
    for id in ["filter-text", "filter-severity", "findings-table"] {
        by_id(&elements, id);
    }
    let options: Vec<&str> =
        within(&elements, by_id(&elements, "filter-severity")).filter_map(|e| e.attr("value")).collect();
    assert_eq!(options, ["", "critical", "high", "medium", "low", "info"]);
}

// ---- hostile names, exceptions, coverage gaps ----------------------------------------------

fn token(id: &str, owner: &str, name: &str, scopes: &[&str], global: bool, days_left: i64) -> Token {
    TokenBuilder::new(id, owner)
        .name(name)
        .scopes(scopes)
        .global(global)
        .age_days(200)
        .expires_in_days(days_left)
        .build()
}

const RULES: &str = r#"
extends = "default"

[[exception]]
rule = "full-access"
owner = "alice@contoso.com"
reason = "<script>alert(3)</script> migration tool"
ticket = "SEC-1 \"quoted\""
expires = 2027-01-31

[[exception]]
authorization_id = "old-accepted"
reason = "was accepted <b>last year</b>"
approver = "ciso@contoso.com"
expires = 2026-06-30

[[exception]]
display_name = "nothing matches*"
reason = "stale & forgotten"
ticket = "SEC-3"
expires = 2027-01-01
"#;

fn hostile_record() -> ScanRecord {
    let owner = |d: &str, upn: &str, name: &str| Owner { mail: None, ..owner(d, upn, name) };
    RecordBuilder::new()
        .organization("<b>contoso</b>")
        .owners(vec![
            owner("aad.a", "alice@contoso.com", HOSTILE),
            owner("aad.b", "\"><img src=x onerror=alert(2)>", "Bob' onmouseover='alert(4)"),
        ])
        .tokens(vec![
            token("global-git", "aad.a", HOSTILE, &["vso.code"], true, 40),
            token("full", "aad.a", "migration tool", &["app_token"], false, 40),
            token("old-accepted", "aad.b", "deploy \"x\" & <y>", &["app_token"], false, 20),
            token("</td></tr><tr class=\"finding\">", "aad.b", "feed", &["vso.packaging"], false, 400),
        ])
        .coverage(
            3,
            2,
            vec![OwnerFailure { descriptor: "aad.<c>".into(), error: "HTTP 500 <script>alert(5)</script>".into() }],
        )
        .rules(RuleSet::parse(RULES, "rules.toml").unwrap())
        .build()
}

#[test]
fn hostile_names_come_out_escaped() {
    let record = hostile_record();
    let html = html_of(&record);
    let elements = parse(&html).unwrap_or_else(|e| panic!("the page does not parse: {e}"));
    assert!(!html.contains("<script>alert"), "a hostile name became markup");
    assert!(!html.contains("<img") && !html.contains("<b>"));
    assert!(!html.contains("onmouseover='") && !html.contains("onerror=alert(2)>"));
    assert_eq!(elements.iter().filter(|e| e.name == "script").count(), 1);
    assert!(elements.iter().all(|e| e.attrs.keys().all(|k| !k.starts_with("on"))), "no event handler attributes");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the display name is shown, escaped");
    assert!(html.contains("Bob&#39; onmouseover=&#39;alert(4)"));
    assert!(html.contains("&lt;b&gt;contoso&lt;/b&gt;"));
    // The hostile authorization id is one row's data, not new rows.
    let rows: Vec<&Element> = elements.iter().filter(|e| e.name == "tr" && e.has_class("finding")).collect();
    assert_eq!(rows.len(), record.findings.len());
    assert!(rows.iter().any(|r| r.attr("data-token") == Some("</td></tr><tr class=\"finding\">")));
    // Chart labels and tooltips carry the escaped names too.
    let owners = by_id(&elements, "chart-owners");
    assert!(inner(&html, owners).contains("&lt;script&gt;"));
}

#[test]
fn accepted_findings_exceptions_to_review_and_coverage_gaps_are_shown() {
    let record = hostile_record();
    let html = html_of(&record);
    let elements = parse(&html).unwrap();

    // The suppressed finding is in the table, marked, with its exception's reason.
    let suppressed: Vec<_> = record.findings.iter().filter(|f| f.is_suppressed()).collect();
    assert_eq!(suppressed.len(), 1);
    let row = elements
        .iter()
        .find(|e| e.has_class("finding") && e.attr("data-suppressed") == Some("true"))
        .expect("a row for the accepted finding");
    assert_eq!((row.attr("data-token"), row.attr("data-rule")), (Some("full"), Some("full-access")));
    let text = inner(&html, row);
    assert!(text.contains("accepted") && text.contains("exception #1"), "{text}");
    assert!(text.contains("&lt;script&gt;alert(3)&lt;/script&gt; migration tool"));
    assert!(text.contains("SEC-1 &quot;quoted&quot;"));

    // The expired and the stale exception are listed for review; the active one is not.
    let section = by_id(&elements, "exceptions");
    let review: Vec<&str> = within(&elements, section)
        .filter(|e| e.name == "tr" && e.has_class("exception"))
        .map(|e| e.attr("data-status").unwrap())
        .collect();
    assert_eq!(review, ["expired", "stale"]);
    let text = inner(&html, section);
    assert!(text.contains("was accepted &lt;b&gt;last year&lt;/b&gt;") && text.contains("stale &amp; forgotten"));

    // An incomplete scan says so first, with each gap.
    let coverage = by_id(&elements, "coverage");
    assert_eq!(coverage.attr("role"), Some("alert"));
    let text = inner(&html, coverage);
    assert!(text.contains("Incomplete scan"), "{text}");
    assert!(text.contains("aad.&lt;c&gt;") && text.contains("HTTP 500 &lt;script&gt;alert(5)&lt;/script&gt;"));
    assert!(coverage.inner.start < by_id(&elements, "charts").inner.start, "the gap comes before the charts");

    // The retirement card counts the active global token.
    assert!(inner(&html, by_id(&elements, "summary")).contains("1 active token valid in all organizations"));
}

#[test]
fn the_reader_rejects_unbalanced_pages() {
    assert!(parse("<p><b>x</p></b>").is_err());
    assert!(parse("<div><p>x</p>").is_err());
    assert!(parse("<p>a < b</p>").is_err());
    assert!(parse("<p class=\"a\">x<br>y<svg><rect/></svg></p>").is_ok());
}
