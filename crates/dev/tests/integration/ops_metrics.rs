//! The operations files agree with the validator: every metric the Grafana dashboard and the
//! Prometheus alert rules name is exported by a live `run` (scraped over HTTP),
//! and every alert carries a runbook line and has promtool unit tests.
//!
//! Metric names are parsed out of the files themselves (dashboard `expr` fields, rule `expr`
//! fields), never kept by hand here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::BIN;
use gaia_dev::harness::{unit, Validator};
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const DASHBOARD: &str = "deploy/grafana/dashboards/gaia-validator.json";
const RULES: &str = "deploy/prometheus/rules/gaia-validator.rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/tests/gaia-validator.rules.test.yml";

/// Series Prometheus makes up itself for every target; a validator never exports them.
const SYNTHESIZED_BY_PROMETHEUS: &[&str] = &[
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Families a default validator does not export: they appear only once a feature that is off by
/// default runs. `gaia_control_agreement` is set by the scheduled comparison
/// (`ROLLOUT__COMPARE_CRON`; `rollout_compare::the_scheduled_comparison_exports_the_agreement`
/// in crates/validator/tests checks it is exported then).
const EXPORTED_ONLY_WHEN_CONFIGURED: &[&str] = &["gaia_control_agreement"];

/// PromQL words that look like identifiers but are not metric names.
const PROMQL_KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "atan2",
    "inf",
    "nan",
];

/// Words followed by a parenthesised list of label names (not metric names).
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Metric names a PromQL expression selects: identifiers outside label matchers (`{...}`),
/// ranges (`[...]`), strings and label lists (`by (...)`), that are neither a function call nor a
/// keyword.
fn promql_metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_group = |i: usize, open: char, close: char| -> usize {
        let mut depth = 0usize;
        let mut j = i;
        while j < chars.len() {
            if chars[j] == open {
                depth += 1;
            } else if chars[j] == close {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            } else if matches!(chars[j], '"' | '\'' | '`') {
                let q = chars[j];
                j += 1;
                while j < chars.len() && chars[j] != q {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
            }
            j += 1;
        }
        panic!("unbalanced {open}{close} in {expr:?}");
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' => i = skip_group(i, '{', '}'),
            '[' => i = skip_group(i, '[', ']'),
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '0'..='9' | '.' => {
                // Numbers and durations (`6h`, `1e3`, `0x1f`).
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut k = i;
                while k < chars.len() && chars[k].is_whitespace() {
                    k += 1;
                }
                let call = k < chars.len() && chars[k] == '(';
                if LABEL_LIST_KEYWORDS.contains(&word.as_str()) {
                    if call {
                        i = skip_group(k, '(', ')');
                    }
                } else if !call && !PROMQL_KEYWORDS.contains(&word.as_str()) {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Every `expr` string anywhere in the dashboard model, with the panel title for messages.
fn dashboard_exprs(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                let title = map
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or(title)
                    .to_string();
                for (k, child) in map {
                    match (k.as_str(), child) {
                        ("expr", Value::String(e)) => out.push((title.clone(), e.clone())),
                        _ => walk(child, &title, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|c| walk(c, title, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, "", &mut out);
    out
}

/// The `expr` of each rule in a Prometheus rule file, keyed by alert name (line-based: plain
/// scalars and `|`/`>` block scalars, which is all the rule files use).
fn rule_exprs(text: &str) -> BTreeMap<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeMap::new();
    let mut alert = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(name) = trimmed.strip_prefix("alert:") {
            alert = name.trim().trim_matches('"').to_string();
        } else if let Some(name) = trimmed.strip_prefix("record:") {
            alert = name.trim().trim_matches('"').to_string();
        } else if let Some(value) = trimmed.strip_prefix("expr:") {
            let value = value.trim();
            let expr = if value.starts_with('|') || value.starts_with('>') {
                let indent = line.len() - line.trim_start().len();
                let mut body = Vec::new();
                while i + 1 < lines.len() {
                    let next = lines[i + 1];
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    body.push(next.trim());
                    i += 1;
                }
                body.join(" ")
            } else {
                value.trim_matches('\'').trim_matches('"').to_string()
            };
            assert!(!alert.is_empty(), "expr before any alert name: {line}");
            out.insert(alert.clone(), expr);
        }
        i += 1;
    }
    out
}

/// What a scrape exports: sample names, and the metric families declared (`# TYPE`).
struct Exposition {
    samples: BTreeSet<String>,
    families: BTreeMap<String, String>,
}

fn parse_exposition(text: &str) -> Exposition {
    let mut samples = BTreeSet::new();
    let mut families = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                families.insert(name.to_string(), kind.to_string());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_string());
        }
    }
    Exposition { samples, families }
}

/// Where a name used in a query stands in a scrape.
#[derive(Debug, PartialEq)]
enum Presence {
    Exported,
    /// The family is registered but has no sample yet (an untouched labelled counter/gauge).
    RegisteredWithoutSamples(String),
    Missing,
}

fn presence(name: &str, e: &Exposition) -> Presence {
    if e.samples.contains(name) {
        return Presence::Exported;
    }
    // The family a sample name belongs to: counters drop `_total`, histograms their suffixes.
    let family = ["_total", "_bucket", "_count", "_sum", "_created"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|f| e.families.contains_key(*f))
        .unwrap_or(name);
    match e.families.get(family) {
        Some(kind) => Presence::RegisteredWithoutSamples(kind.clone()),
        None => Presence::Missing,
    }
}

fn names_used() -> BTreeMap<String, Vec<String>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard is JSON");
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 20, "dashboard queries found: {exprs:?}");
    for (title, expr) in exprs {
        for name in promql_metric_names(&expr) {
            used.entry(name)
                .or_default()
                .push(format!("dashboard panel {title:?}"));
        }
    }
    let rules = rule_exprs(&read(RULES));
    assert!(rules.len() >= 6, "rules found: {rules:?}");
    for (alert, expr) in rules {
        for name in promql_metric_names(&expr) {
            used.entry(name).or_default().push(format!("alert {alert}"));
        }
    }
    used
}

#[test]
fn promql_names_are_parsed_out_of_expressions() {
    let names = |e: &str| promql_metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names("histogram_quantile(0.95, sum by (task, le) (rate(gaia_compute_job_duration_seconds_bucket[5m])))"),
        ["gaia_compute_job_duration_seconds_bucket"]
    );
    assert_eq!(
        names(r#"(time() - a_seconds > 6 * 3600) and (time() - b_seconds > 6 * 3600)"#),
        ["a_seconds", "b_seconds"]
    );
    assert_eq!(
        names(
            r#"min_over_time(x{process=~"compute-.+"}[1h] offset 6h) - on (process) group_left (le) y"#
        ),
        ["x", "y"]
    );
    assert_eq!(
        names(r#"sum(rate(c_total{status!~"a|b"}[$__rate_interval])) by (status) / 1e3"#),
        ["c_total"]
    );
    assert_eq!(names(r#"up{job="gaia-validator"} == 0"#), ["up"]);
}

#[test]
fn every_alert_has_a_runbook_line_and_promtool_tests() {
    let rules = read(RULES);
    let tests = read(RULE_TESTS);
    let alerts: Vec<String> = rule_exprs(&rules).into_keys().collect();
    assert!(alerts.len() >= 6, "{alerts:?}");
    for required in [
        "ValidatorIPCQueueFull",
        "ValidatorEventLoopLagHigh",
        "ValidatorChildRestarting",
        "ValidatorWorkerMemoryBaselineRising",
        "ValidatorNoWeightsSet",
        "ValidatorTargetDown",
    ] {
        assert!(alerts.iter().any(|a| a == required), "missing {required}");
    }
    // Each rule block (from one `- alert:` to the next) has severity and runbook lines.
    for block in rules.split("- alert:").skip(1) {
        let name = block.lines().next().unwrap_or_default().trim();
        assert!(block.contains("severity:"), "{name} has no severity");
        assert!(block.contains("runbook:"), "{name} has no runbook line");
        let anchor = format!("docs/operations.md#{}", name.to_ascii_lowercase());
        assert!(
            block.contains(&anchor),
            "{name}'s runbook should point at {anchor}"
        );
    }
    // promtool tests: for each alert, one evaluation that expects it and one that expects nothing.
    for alert in &alerts {
        let evals: Vec<&str> = tests
            .split("- eval_time:")
            .skip(1)
            .filter(|e| e.contains(&format!("alertname: {alert}\n")))
            .collect();
        assert!(
            evals.iter().any(|e| e.contains("exp_alerts: []")),
            "{alert}: no promtool test where it must stay quiet"
        );
        assert!(
            evals.iter().any(|e| e.contains("exp_labels:")),
            "{alert}: no promtool test where it fires"
        );
    }
    let ops = read("docs/operations.md").to_ascii_lowercase();
    for alert in &alerts {
        assert!(
            ops.contains(&format!("### {}", alert.to_ascii_lowercase())),
            "docs/operations.md has no section for {alert}"
        );
    }
}

#[test]
fn dashboard_uses_the_provisioned_datasource() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let provisioning = read("deploy/grafana/provisioning/datasources/prometheus.yml");
    let uid_line = provisioning
        .lines()
        .find_map(|l| l.trim().strip_prefix("uid:"))
        .expect("datasource uid");
    let uid = uid_line.trim();
    let mut titles = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            titles.insert(panel["title"].as_str().unwrap().to_string());
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for t in panel["targets"].as_array().unwrap() {
            assert_eq!(
                t["datasource"]["uid"], "${datasource}",
                "{}",
                panel["title"]
            );
            let expr = t["expr"].as_str().unwrap();
            assert!(
                expr.contains(r#"instance=~"$instance""#) && expr.contains(r#"job="$job""#),
                "{}: {expr} ignores the instance/job variables",
                panel["title"]
            );
        }
    }
    // One dashboard for any Prometheus and any number of validators: the datasource, job and
    // instance are variables, the datasource defaulting to the provisioned one.
    let variables: BTreeMap<&str, &Value> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    assert_eq!(variables["datasource"]["type"], "datasource");
    assert_eq!(variables["datasource"]["current"]["value"], uid);
    assert_eq!(variables["instance"]["includeAll"], true);
    assert_eq!(variables["job"]["type"], "query");
    for row in [
        "Chain, miners, truth data, disk",
        "Process health",
        "Throughput",
        "IO-Engine health",
        "Weather pipeline",
        "Database",
    ] {
        assert!(titles.contains(row), "no row {row:?} in {titles:?}");
    }
    let exprs: Vec<String> = dashboard_exprs(&dashboard)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert!(exprs.iter().any(
        |e| e.contains("rate(gaia_compute_job_duration_seconds_count{") && e.contains("[5m])")
    ));
    assert!(exprs
        .iter()
        .any(|e| e.starts_with("histogram_quantile(0.95")
            && e.contains("gaia_compute_job_duration_seconds_bucket")));
}

#[test]
fn every_metric_in_the_dashboard_and_rules_is_exported_by_a_live_validator() {
    let used = names_used();
    // The parser found the names of every area (a sanity check of the parsing, not the list).
    for sample in [
        "gaia_ipc_queue_depth",
        "gaia_compute_job_duration_seconds_count",
        "gaia_child_resident_memory_bytes",
        "gaia_weather_runs_total",
        "gaia_weights_last_set_timestamp_seconds",
        "gaia_db_pool_connections",
    ] {
        assert!(used.contains_key(sample), "{sample} not found in {used:?}");
    }
    let v = Validator::start(BIN, &[]);
    // Touch the per-task families (job duration, outcomes) the way real work does.
    let answer = v.dispatch(&unit("ops-1", "sys.echo", json!({"x": 1})));
    assert_eq!(answer["outcome"], "success", "{answer}");
    // The event-loop lag histogram fills from a 100 ms timer; give it a few ticks.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let text = v.metrics();
    let exposition = parse_exposition(&text);
    assert!(exposition.samples.len() > 10, "scrape looks empty:\n{text}");
    let mut missing = Vec::new();
    let mut without_samples = Vec::new();
    for (name, users) in &used {
        if SYNTHESIZED_BY_PROMETHEUS.contains(&name.as_str())
            || EXPORTED_ONLY_WHEN_CONFIGURED.contains(&name.as_str())
        {
            continue;
        }
        match presence(name, &exposition) {
            Presence::Exported => {}
            Presence::RegisteredWithoutSamples(kind) => {
                without_samples.push(format!("{name} ({kind}; used by {})", users.join(", ")))
            }
            Presence::Missing => missing.push(format!("{name} (used by {})", users.join(", "))),
        }
    }
    assert!(
        missing.is_empty() && without_samples.is_empty(),
        "names used by the dashboard/rules but not exported by /metrics:\n  not registered: {missing:#?}\n  registered, no sample yet: {without_samples:#?}\nscrape:\n{text}"
    );
}

/// Environment names of every setting `check-config` prints (`WEATHER__RUN_HOUR_UTC`, ...).
fn setting_names(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            let name = format!("{prefix}{}", k.to_ascii_uppercase());
            match v {
                Value::Object(_) if prefix.is_empty() => {
                    setting_names(v, &format!("{name}__"), out)
                }
                _ => {
                    out.insert(name);
                }
            }
        }
    }
}

#[test]
fn env_example_documents_every_setting_and_only_known_names() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .arg("check-config")
        .current_dir(tmp.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let resolved: Value = serde_json::from_slice(&out.stdout).expect("check-config prints JSON");
    let mut settings = BTreeSet::new();
    setting_names(&resolved, "", &mut settings);
    assert!(settings.len() > 20, "{settings:?}");

    let example = read(".env.example");
    let documented: BTreeSet<String> = example
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix('#').unwrap_or(l);
            let (k, _) = l.split_once('=')?;
            (!k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .then(|| k.to_string())
        })
        .collect();
    let missing: Vec<_> = settings.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        ".env.example does not document {missing:?}"
    );
    // Anything else must be read by docker-compose.yml (`${NAME...}`) or the command line.
    let compose = read("docker-compose.yml");
    let unknown: Vec<_> = documented
        .difference(&settings)
        .filter(|k| !compose.contains(&format!("${{{k}")))
        .filter(|k| !["LOG_FORMAT", "GAIA_CONFIG"].contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        ".env.example names unknown settings {unknown:?}"
    );
}
