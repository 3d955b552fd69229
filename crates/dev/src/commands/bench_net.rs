//! `gaia-dev bench net`: the network path of one ERA5 (miner, lead) at 0.25° (issue "real
//! miners"). The honest forecast is written twice by the fixture script — as xarray writes it
//! (one chunk per level) and in the production miner layout (all 13 levels of a step in one
//! chunk) — and served by a loopback HTTP file server that counts requests. For each layout it
//! prints the requests and bytes one lead fetches against the minimum (every needed object once),
//! what per-level reads of a 13-level chunk would fetch, and the wall time over HTTP (unpaced and
//! with the default 240/min budget) next to a local read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use gaia_scoring::era5::{score_era5_lead, Era5Config, Era5Request};
use serde_json::Value;

use super::bench_score::{era5_fixture, median};
use crate::cli::BenchScoreArgs;

/// A static file server on 127.0.0.1 that records every requested path.
struct FileServer {
    base: String,
    requested: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    fn start(root: PathBuf) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let requested = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requested);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, log) = (root.clone(), Arc::clone(&log));
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &log);
                });
            }
        });
        Ok(Self { base, requested })
    }

    /// Paths requested since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requested.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn serve(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(path.clone());
    let rel = path.trim_start_matches('/');
    let body = if rel.split('/').any(|c| c == "..") {
        None
    } else {
        std::fs::File::open(root.join(rel)).ok().and_then(|mut f| {
            let mut b = Vec::new();
            f.read_to_end(&mut b).ok().map(|_| b)
        })
    };
    match body {
        Some(b) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            )?;
            stream.write_all(&b)?;
        }
        None => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    stream.flush()
}

/// Run the benchmark.
pub fn run(args: &BenchScoreArgs) -> anyhow::Result<ExitCode> {
    let (dir, j) = era5_fixture(
        args,
        "net",
        "honest,production_layout",
        "~2 min, 2 GB on disk",
    )?;
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .context("fixture JSON lacks a path")
    };
    let base = Era5Request {
        forecast: String::new(),
        truth: text(&j["truth"])?,
        climatology: text(&j["climatology"])?,
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: text(&j["gfs_init"])?.parse::<DateTime<Utc>>()?,
        lead_hours: j["lead_hours"].as_u64().context("lead_hours")? as u32,
        config: Era5Config::default(),
    };
    let server = FileServer::start(dir.clone())?;
    let runs = args.runs.max(1);
    println!("ERA5 network path, one (miner, lead) at 0.25°, loopback HTTP, median of {runs}");
    for (case, layout, per_level_chunks) in [
        ("honest", "xarray default: one chunk per level", 13),
        ("production_layout", "production: 13 levels per chunk", 1),
    ] {
        let local = text(&j["cases"][case]["forecast"])?;
        let name = Path::new(&local)
            .file_name()
            .and_then(|n| n.to_str())
            .context("store name")?
            .to_owned();
        let mut req = base.clone();
        req.forecast = local;
        let t_local = median(
            (0..runs)
                .map(|_| time(&req))
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
        req.forecast = format!("{}/{name}", server.base);
        req.config.miner_requests_per_minute = 0;
        server.take();
        let mut report = None;
        let mut times = Vec::new();
        for _ in 0..runs {
            let t0 = Instant::now();
            report = Some(score_era5_lead(&req)?);
            times.push(t0.elapsed().as_secs_f64());
        }
        let t_http = median(times);
        let report = report.context("no run")?;
        let requested = server.take();
        let per_run = requested.len() / runs;
        let mut distinct = requested.clone();
        distinct.sort();
        distinct.dedup();
        req.config.miner_requests_per_minute = gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE;
        let t_paced = time(&req)?;
        server.take();
        let chunks = 4 + 5 * per_level_chunks;
        let per_level_reads = 4 + 5 * 13;
        println!("  {case} ({layout})");
        println!(
            "    requests per lead                  {per_run:>6}   (minimum: {} distinct objects)",
            distinct.len()
        );
        println!(
            "    value chunks fetched               {chunks:>6}   (per-level reads of each chunk: {per_level_reads})"
        );
        println!(
            "    bytes per lead                 {:>10.1} MB",
            report.transfer.bytes as f64 / 1e6
        );
        println!("    local read                       {:>8.2} s", t_local);
        println!(
            "    over HTTP, unpaced               {:>8.2} s   ({:.2} x local)",
            t_http,
            t_http / t_local
        );
        println!(
            "    over HTTP, 240/min budget        {:>8.2} s   ({:.2} x local)",
            t_paced,
            t_paced / t_local
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn time(req: &Era5Request) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    score_era5_lead(req)?;
    Ok(t0.elapsed().as_secs_f64())
}
