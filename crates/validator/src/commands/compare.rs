//! `compare --control chain:<uid|hotkey> | db:<postgres URL>`: this validator against a control
//! validator (docs/rollout.md). Prints the report (`rollout::report`) and exits 0 on go,
//! [`EXIT_NO_GO`] on no-go, 1 when the comparison could not be made.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::chain::online::OnlineChain;
use crate::chain::rpc::RpcOptions;
use crate::cli::{CompareArgs, GlobalArgs};
use crate::commands::operator::open;
use crate::rollout::compare::{compare_with_chain, CompareError, CompareOptions};
use crate::rollout::control_db::compare_with_db;
use crate::rollout::report::{render, CompareReport};
use crate::rollout::verdict::Thresholds;
use crate::rollout::EXIT_NO_GO;

/// The thresholds and options of the command line.
pub fn options(args: &CompareArgs, our_profile: gaia_scoring::ScoringProfile) -> CompareOptions {
    CompareOptions {
        thresholds: Thresholds {
            min_cosine: args.min_cosine,
            max_l1: args.max_l1,
            max_abs_delta: args.max_abs_delta,
            min_spearman: args.min_spearman,
            min_top_k_overlap: args.min_top_k_overlap,
        },
        top_k: args.top_k,
        our_profile,
        control_profile: args.control_profile,
    }
}

/// Run the subcommand.
pub fn run(global: &GlobalArgs, args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let session = open(global.config.as_deref(), args.database_url.as_deref())?;
    let settings = &session.settings;
    let opts = options(args, settings.weather.scoring_profile);
    let report: CompareReport = if let Some(control) = args.control.strip_prefix("chain:") {
        let c = &settings.chain;
        let rpc = RpcOptions {
            timeout: Duration::from_secs(c.rpc_timeout_s),
            ..RpcOptions::default()
        };
        let chain = OnlineChain::new(&c.endpoint, rpc, c.netuid, None)
            .context("chain client (CHAIN__ENDPOINT)")?;
        session.runtime.block_on(compare_with_chain(
            &session.store,
            &chain,
            c.netuid,
            control,
            &opts,
        ))?
    } else if let Some(url) = args.control.strip_prefix("db:") {
        let now = match &args.now {
            Some(t) => DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--now `{t}` is not RFC 3339"))?
                .to_utc(),
            None => Utc::now(),
        };
        session
            .runtime
            .block_on(compare_with_db(&session.store, url, now, &opts))?
    } else {
        return Err(CompareError::BadControl(args.control.clone()).into());
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.is_go() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NO_GO)
    })
}
