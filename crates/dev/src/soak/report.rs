//! The soak's report: `report.json` (every criterion: name, measured value, threshold, pass;
//! plus the run's figures) and `report.html`, a self-contained page (inline SVG, no script, no
//! CDN) with the criteria table and the plots: RSS per process, event-loop lag p50/p99, IPC
//! queue depth, job rate and latency, restarts (children's and the supervisor's), the chaos
//! events by kind over time (every plot marks them in their kind's colour), and the last weights
//! as a bar chart.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::chaos::{colour, FULL_DISK, KINDS};
use super::criteria::Criterion;
use super::sample::{delta, quantile, ChaosEvent, Sample};

/// Everything the report shows.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Whether every criterion passed.
    pub pass: bool,
    /// The criteria.
    pub criteria: Vec<Criterion>,
    /// Settings and figures of the run (days, miners, scale, wall seconds, jobs, peak RSS …).
    pub figures: serde_json::Value,
    /// Which run the plots show: `chaos` for a full soak, `calm` for a calm-only one.
    pub plotted_run: String,
    /// Samples of the plotted run.
    #[serde(skip)]
    pub samples: Vec<Sample>,
    /// Chaos events.
    pub chaos: Vec<ChaosEvent>,
    /// Last recorded weights (uid order).
    pub weights: Vec<f64>,
}

/// Write `report.json` and `report.html` into `dir`.
pub fn write(dir: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    std::fs::write(dir.join("report.html"), html(report))?;
    Ok(())
}

/// A line chart: `series` of (name, colour, points (x, y)); `marks` are vertical lines (chaos
/// events, each in its kind's colour); `limit`, a criterion's threshold, is drawn as a
/// horizontal line, and the y axis then stops at four times it when a few spikes would
/// otherwise flatten everything (values above are drawn at the top edge, and the caption says
/// so).
fn chart(
    title: &str,
    y_unit: &str,
    series: &[Series<'_>],
    marks: &[(f64, &str)],
    limit: Option<f64>,
) -> String {
    let (w, h, l, b) = (640.0, 220.0, 60.0, 30.0);
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x1, mut y1) = (1e-9f64, 1e-12f64);
    for p in pts {
        x1 = x1.max(p.0);
        y1 = y1.max(p.1);
    }
    let mut title = title.to_owned();
    if let Some(lim) = limit {
        if y1 > 4.0 * lim {
            title.push_str(&format!(
                " (axis cut at {}; peak {})",
                fmt(4.0 * lim, y_unit),
                fmt(y1, y_unit)
            ));
            y1 = 4.0 * lim;
        } else {
            y1 = y1.max(1.25 * lim);
        }
    }
    let sx = |x: f64| l + x / x1 * (w - l - 10.0);
    let sy = |y: f64| h - b - y.min(y1) / y1 * (h - b - 20.0);
    let mut svg = format!(
        "<figure><figcaption>{title}</figcaption><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">\
         <rect x=\"{l}\" y=\"20\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        w - l - 10.0,
        h - b - 20.0
    );
    for (m, c) in marks {
        let _ = write!(svg, "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"20\" y2=\"{1}\" stroke=\"{c}\" stroke-dasharray=\"3,3\"/>", sx(*m), h - b);
    }
    for k in 0..=4 {
        let x = x1 * f64::from(k) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#999\"/>\
             <text x=\"{0:.1}\" y=\"{3}\" font-size=\"10\" text-anchor=\"middle\">{x:.0}</text>",
            sx(x),
            h - b,
            h - b + 4.0,
            h - b + 14.0
        );
    }
    if let Some(lim) = limit {
        let _ = write!(
            svg,
            "<line x1=\"{l}\" x2=\"{0}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#b00\" stroke-width=\"1\"/>\
             <text x=\"{2}\" y=\"{3:.1}\" font-size=\"10\" fill=\"#b00\" text-anchor=\"end\">limit {4}</text>",
            w - 10.0,
            sy(lim),
            w - 12.0,
            sy(lim) - 3.0,
            fmt(lim, y_unit)
        );
    }
    for (name, colour, p) in series {
        let path: Vec<String> = p
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"><title>{name}</title></polyline>",
            path.join(" ")
        );
    }
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"26\" font-size=\"11\">{}</text><text x=\"4\" y=\"{}\" font-size=\"11\">0</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">wall seconds</text>",
        fmt(y1, y_unit),
        h - b,
        w - 10.0,
        h - 2.0,
    );
    let legend: Vec<String> = series
        .iter()
        .map(|(n, c, _)| format!("<span style=\"color:{c}\">■ {n}</span>"))
        .collect();
    let _ = write!(
        svg,
        "</svg><div class=\"legend\">{}</div></figure>",
        legend.join(" ")
    );
    svg
}

/// The chaos events on a time line, one row per kind; a full disk is a band from the ballast
/// to its removal.
fn timeline(chaos: &[ChaosEvent], x_end: f64) -> String {
    let (w, l, row) = (640.0, 130.0, 22.0);
    let h = 30.0 + row * KINDS.len() as f64;
    let x1 = chaos.iter().map(|c| c.t).fold(x_end, f64::max).max(1e-9);
    let sx = |x: f64| l + x / x1 * (w - l - 10.0);
    let mut svg = format!(
        "<figure><figcaption>Chaos events by kind</figcaption><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">"
    );
    for (i, (kind, c)) in KINDS.iter().enumerate() {
        let y = 20.0 + row * i as f64;
        let n = chaos.iter().filter(|e| e.kind == *kind).count();
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"{c}\">{kind} ({n})</text>\
             <line x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>",
            y + 4.0,
            w - 10.0
        );
        for e in chaos.iter().filter(|e| e.kind == *kind) {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\"><title>{:.1} s: {}</title></circle>",
                sx(e.t),
                if e.replaced { c } else { "#000" },
                e.t,
                html_escape(&e.what)
            );
        }
        if *kind == FULL_DISK {
            let ends = chaos.iter().filter(|e| e.kind == super::chaos::DISK_FREED);
            for (from, to) in chaos.iter().filter(|e| e.kind == FULL_DISK).zip(ends) {
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" fill=\"{c}\" opacity=\"0.4\"/>",
                    sx(from.t),
                    y - 4.0,
                    (sx(to.t) - sx(from.t)).max(1.0)
                );
            }
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{x1:.0} s wall</text></svg>\
         <div class=\"legend\">black dot: not recovered</div></figure>",
        w - 10.0,
        h - 4.0
    );
    svg
}

fn fmt(v: f64, unit: &str) -> String {
    match unit {
        "MiB" => format!("{:.0} MiB", v / 1048576.0),
        "ms" => format!("{:.1} ms", v * 1000.0),
        "" => format!("{v:.1}"),
        _ => format!("{v:.1} {unit}"),
    }
}

/// The run's figures as table rows: numbers rounded, byte counts in MiB, nested objects
/// flattened (`peak_rss_bytes.io-engine`).
fn figure_rows(prefix: &str, v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                figure_rows(&key, v, out);
            }
        }
        other => {
            let text = match other.as_f64() {
                Some(x) if prefix.contains("bytes") => format!("{:.1} MiB", x / 1048576.0),
                Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
                Some(x) => format!("{x:.3}"),
                None => other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                html_escape(prefix),
                html_escape(&text)
            );
        }
    }
}

fn bars(weights: &[f64]) -> String {
    let (w, h) = (640.0, 200.0);
    let max = weights.iter().copied().fold(1e-12, f64::max);
    let bw = (w - 20.0) / (weights.len().max(1) as f64);
    let mut svg = format!("<figure><figcaption>Weights of the last day (uid 0 … {})</figcaption><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">", weights.len().saturating_sub(1));
    for (i, v) in weights.iter().enumerate() {
        let bh = v / max * (h - 30.0);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#4a7\"><title>uid {i}: {v:.4}</title></rect>",
            10.0 + i as f64 * bw,
            h - 20.0 - bh,
            (bw - 1.0).max(1.0)
        );
    }
    let note = if weights.iter().any(|v| *v > 0.0) {
        format!("max {max:.4}")
    } else {
        "no weight above zero recorded (no run was scored to the end)".to_owned()
    };
    let _ = write!(
        svg,
        "<text x=\"10\" y=\"12\" font-size=\"11\">{note}</text></svg></figure>"
    );
    svg
}

/// One plotted line: name, colour, points (wall seconds, value).
type Series<'a> = (String, &'a str, Vec<(f64, f64)>);

const COLOURS: [&str; 6] = ["#36c", "#c63", "#393", "#939", "#996", "#699"];

/// The HTML page.
pub fn html(r: &Report) -> String {
    let s = &r.samples;
    let marks: Vec<(f64, &str)> = r.chaos.iter().map(|c| (c.t, colour(&c.kind))).collect();
    let mut names: Vec<String> = s
        .iter()
        .flat_map(|x| x.rss.iter().map(|r| r.0.clone()))
        .collect();
    names.sort();
    names.dedup();
    let rss: Vec<Series<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let pts = s
                .iter()
                .filter_map(|x| x.rss.iter().find(|r| &r.0 == n).map(|r| (x.t, r.2 as f64)))
                .collect();
            (n.clone(), COLOURS[i % COLOURS.len()], pts)
        })
        .collect();
    let (mut p50, mut p99, mut rate, mut latency) = (vec![], vec![], vec![], vec![]);
    for w in s.windows(2) {
        let d = delta(&w[0].lag_buckets, &w[1].lag_buckets);
        p50.push((w[1].t, quantile(&d, 0.5)));
        p99.push((w[1].t, quantile(&d, 0.99)));
        let dt = (w[1].t - w[0].t).max(1e-3);
        let jobs = (w[1].jobs - w[0].jobs).max(0.0);
        rate.push((w[1].t, jobs / dt));
        let (ds, dn) = (
            w[1].job_seconds.0 - w[0].job_seconds.0,
            w[1].job_seconds.1 - w[0].job_seconds.1,
        );
        if dn > 0.0 && ds >= 0.0 {
            latency.push((w[1].t, ds / dn));
        }
    }
    let depth: Vec<(f64, f64)> = s.iter().map(|x| (x.t, x.queue_depth)).collect();
    let restarts: Vec<(f64, f64)> = s.iter().map(|x| (x.t, x.restarts as f64)).collect();
    let supervisor: Vec<(f64, f64)> = s
        .iter()
        .map(|x| (x.t, x.supervisor_restarts as f64))
        .collect();
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Soak report</title><style>\
         body{font-family:sans-serif;margin:20px;max-width:700px}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}.pass{color:#070}.fail{color:#b00;font-weight:bold}\
         figure{margin:16px 0}table.figures{margin-bottom:12px}figcaption{font-weight:bold}.legend{font-size:12px}</style></head><body>",
    );
    let mut figures = String::new();
    figure_rows("", &r.figures, &mut figures);
    let _ = write!(
        page,
        "<h1>Soak: {}</h1><table class=\"figures\">{figures}</table><table><tr><th>criterion</th><th>measured</th><th>threshold</th><th>pass</th><th>detail</th></tr>",
        if r.pass { "<span class=\"pass\">PASS</span>" } else { "<span class=\"fail\">FAIL</span>" },
    );
    for c in &r.criteria {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{:.6}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            c.name,
            c.value,
            c.threshold,
            if c.pass { "pass" } else { "fail" },
            if c.pass { "yes" } else { "NO" },
            html_escape(&c.detail)
        );
    }
    page.push_str(if r.plotted_run == "chaos" {
        "</table><p>Plots: the chaos run (memory criteria are judged on the calm run, whose samples are in calm/samples.json). Dashed lines: chaos events, coloured by kind as in the time line of chaos events.</p>"
    } else {
        "</table><p>Plots: the calm run (this soak ran no chaos run, so there are no chaos events).</p>"
    });
    page.push_str(&chart(
        "Resident memory per process",
        "MiB",
        &rss,
        &marks,
        None,
    ));
    page.push_str(&chart(
        "Event-loop lag",
        "ms",
        &[
            ("p50".into(), COLOURS[0], p50),
            ("p99".into(), COLOURS[1], p99),
        ],
        &marks,
        Some(super::criteria::LAG_P99_LIMIT_S),
    ));
    page.push_str(&chart(
        "IPC queue depth (largest queue)",
        "",
        &[("depth".into(), COLOURS[2], depth)],
        &marks,
        Some(super::criteria::QUEUE_DEPTH_LIMIT),
    ));
    page.push_str(&chart(
        "Compute jobs per second",
        "/s",
        &[("jobs/s".into(), COLOURS[3], rate)],
        &marks,
        None,
    ));
    page.push_str(&chart(
        "Compute job latency (mean)",
        "ms",
        &[("latency".into(), COLOURS[4], latency)],
        &marks,
        None,
    ));
    page.push_str(&chart(
        "Child restarts, recycles included (cumulative)",
        "",
        &[("child restarts".into(), COLOURS[5], restarts)],
        &marks,
        None,
    ));
    page.push_str(&chart(
        "Supervisor restarts after the harness's SIGKILL (cumulative)",
        "",
        &[(
            "supervisor restarts".into(),
            colour("kill_supervisor"),
            supervisor,
        )],
        &marks,
        None,
    ));
    page.push_str(&timeline(&r.chaos, s.last().map_or(0.0, |x| x.t)));
    page.push_str("<h2>Chaos events</h2><ul>");
    for c in &r.chaos {
        let _ = write!(
            page,
            "<li>{:.1} s <b style=\"color:{}\">{}</b>: {} ({})</li>",
            c.t,
            colour(&c.kind),
            c.kind,
            html_escape(&c.what),
            if c.replaced {
                "replaced"
            } else {
                "NOT replaced"
            }
        );
    }
    page.push_str("</ul>");
    page.push_str(&bars(&r.weights));
    page.push_str("</body></html>");
    page
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_the_table_every_plot_and_the_bars() {
        let samples: Vec<Sample> = (0..5)
            .map(|i| Sample {
                t: f64::from(i),
                rss: vec![("io-engine".into(), 1, 1 << 20)],
                lag_buckets: vec![(0.001, f64::from(i)), (1.0, f64::from(i * i))],
                jobs: f64::from(i),
                job_seconds: (f64::from(i), f64::from(i)),
                ..Sample::default()
            })
            .collect();
        let r = Report {
            pass: false,
            criteria: vec![Criterion {
                name: "zero_crashes".into(),
                value: 1.0,
                threshold: 0.0,
                pass: false,
                detail: "<x>".into(),
            }],
            figures: serde_json::json!({"days": 2}),
            plotted_run: "chaos".into(),
            samples,
            chaos: vec![
                ChaosEvent {
                    t: 2.0,
                    kind: "kill_child".into(),
                    what: "kill io-engine".into(),
                    replaced: true,
                },
                ChaosEvent {
                    t: 3.0,
                    kind: FULL_DISK.into(),
                    what: "disk full".into(),
                    replaced: false,
                },
                ChaosEvent {
                    t: 4.0,
                    kind: "disk_freed".into(),
                    what: "space back".into(),
                    replaced: true,
                },
            ],
            weights: vec![0.1, 0.5],
        };
        assert!(bars(&[0.0, 0.0]).contains("no weight above zero"));
        let page = html(&r);
        assert_eq!(page.matches("<svg").count(), 9);
        assert!(page.contains("<td>days</td><td>2</td>") && page.contains("limit 50.0 ms"));
        assert!(page.contains("axis cut at 200.0 ms") && page.contains("limit 10.0<"));
        assert!(page.contains("full_disk (1)") && page.contains("kill_supervisor (0)"));
        assert!(page.contains("opacity=\"0.4\""), "the full disk's band");
        assert!(
            page.contains("fill=\"#000\""),
            "an unrecovered event is black"
        );
        assert!(
            page.contains("FAIL") && page.contains("&lt;x&gt;") && page.contains("uid 1: 0.5000")
        );
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &r).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap())
                .unwrap();
        assert_eq!(json["criteria"][0]["name"], "zero_crashes");
        assert_eq!(json["pass"], false);
        assert!(page.contains("Plots: the chaos run"));
        // A calm-only soak's page says that its plots are of the calm run.
        let calm = Report {
            plotted_run: "calm".into(),
            chaos: Vec::new(),
            ..r
        };
        let page = html(&calm);
        assert!(page.contains("Plots: the calm run") && !page.contains("the chaos run"));
    }
}
