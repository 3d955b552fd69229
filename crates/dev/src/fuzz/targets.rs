//! The fuzz targets, one per parser of outside bytes. Each maps an input onto the entry point
//! the validator calls with a miner's, truth server's, chain node's, worker's or operator's bytes.

use std::io::Cursor;
use std::net::IpAddr;

use gaia_ipc::frame::{read_frame, write_frame, Message};
use gaia_ipc::WorkUnit;
use gaia_protocol::{pyjson, Manifest};
use gaia_scoring::zarr::{check_chunk, parse_document, Compression, OpenOptions};
use gaia_testkit::fuzz::Target;
use gaia_validator::chain::{metadata, rpc, storage};
use gaia_validator::miners::client::KerchunkAnswer;
use gaia_validator::miners::fiber::{classify_answer, wire};
use gaia_validator::miners::url_policy::{MinerAddress, UrlPolicy};
use gaia_validator::truth::gfs::{dds, xdr};
use serde_json::Value;

use super::{label_of, seeds};

fn ok_or_label<T, E: std::fmt::Debug>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => label_of(e),
    }
}

fn ipc_frame(input: &[u8]) -> Result<String, String> {
    let out = read_frame(&mut Cursor::new(input), 1 << 20);
    if let Ok(Some(m)) = &out {
        let mut again = Vec::new();
        write_frame(&mut again, m).map_err(|e| format!("a read message does not write: {e}"))?;
        let back = read_frame(&mut Cursor::new(&again), usize::MAX)
            .map_err(|e| format!("re-read: {e}"))?;
        if back.as_ref() != Some(m) {
            return Err(format!("round-trip changed {m:?} into {back:?}"));
        }
    }
    Ok(ok_or_label(&out))
}

fn ipc_seeds() -> Vec<Vec<u8>> {
    let work = WorkUnit::new(
        "weather.day1:3",
        "weather.score.day1",
        serde_json::json!({"lead_hours": [24, 48]}),
    );
    [
        Message::Hello {
            protocol_version: 1,
            pid: 42,
            name: "compute-1".into(),
        },
        Message::Work(work),
        Message::Shutdown,
    ]
    .iter()
    .map(|m| {
        let mut f = Vec::new();
        let _ = write_frame(&mut f, m);
        f
    })
    .collect()
}

fn manifest(input: &[u8]) -> Result<String, String> {
    let out = Manifest::parse(input);
    if let Ok(m) = &out {
        let bytes = m.to_python_bytes();
        let back =
            Manifest::parse(&bytes).map_err(|e| format!("written manifest does not parse: {e}"))?;
        if &back != m || back.to_python_bytes() != bytes {
            return Err("manifest round-trip differs".into());
        }
    }
    Ok(ok_or_label(&out))
}

fn py_json(input: &[u8]) -> Result<String, String> {
    let Ok(v) = serde_json::from_slice::<Value>(input) else {
        return Ok("not json".into());
    };
    let text = pyjson::dumps_sorted_indent4(&v);
    let back: Value = serde_json::from_str(&text)
        .map_err(|e| format!("pyjson wrote invalid JSON ({e}): {text}"))?;
    if back != v || !text.is_ascii() {
        return Err(format!("pyjson round-trip differs: {text}"));
    }
    Ok("ok".into())
}

fn zarr_meta(input: &[u8]) -> Result<String, String> {
    let options = OpenOptions::default();
    let mut labels = Vec::new();
    for key in [".zmetadata", "zarr.json", "2t/zarr.json", "2t/.zarray"] {
        let out = parse_document(key, input, Some(seeds::ZATTRS.as_bytes()), &options);
        // A single array's document: its error names the array. (A consolidated document's
        // arrays are named by its own keys, which the mutations change.)
        if let (Err(e), true) = (&out, key.starts_with("2t/")) {
            let text = e.to_string();
            if !text.contains("2t") {
                return Err(format!("error for `{key}` does not name the array: {text}"));
            }
        }
        labels.push(ok_or_label(&out));
    }
    Ok(labels.join(","))
}

fn zarr_meta_seeds() -> Vec<Vec<u8>> {
    vec![
        seeds::ZARRAY.into(),
        seeds::ZARR_JSON.into(),
        seeds::zmetadata().into_bytes(),
        seeds::v3_root().into_bytes(),
    ]
}

fn zarr_guard(input: &[u8]) -> Result<String, String> {
    let Some((&selector, bytes)) = input.split_first() else {
        return Ok("empty".into());
    };
    let codec = [
        Compression::None,
        Compression::Blosc,
        Compression::Zstd,
        Compression::Gzip,
        Compression::Zlib,
    ][usize::from(selector % 5)];
    let out = check_chunk("2t/0.0.0", bytes, codec, 4096);
    if out.is_ok() && matches!(codec, Compression::Gzip | Compression::Zlib) {
        use std::io::Read;
        let mut sink = Vec::new();
        let n = match codec {
            Compression::Gzip => flate2::read::GzDecoder::new(bytes)
                .take(8192)
                .read_to_end(&mut sink),
            _ => flate2::read::ZlibDecoder::new(bytes)
                .take(8192)
                .read_to_end(&mut sink),
        };
        if n.is_ok_and(|n| n > 4096 + 64) {
            return Err(format!(
                "guard passed a {codec:?} chunk decoding past its size"
            ));
        }
    }
    Ok(format!("{codec:?}:{}", ok_or_label(&out)))
}

fn zarr_guard_seeds() -> Vec<Vec<u8>> {
    let raw: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8).collect();
    let mut out = vec![[&[0u8][..], &raw].concat()];
    if let Ok(z) = gaia_scoring::zarr::write::compress(&raw) {
        out.push([&[2u8][..], &z].concat());
    }
    if let Ok(b) = gaia_scoring::zarr::write::Compressor::PRODUCTION_VALUES.compress(&raw, 4) {
        out.push([&[1u8][..], &b].concat());
    }
    let mut gz = flate2::write::GzEncoder::new(vec![3u8], flate2::Compression::fast());
    let _ = std::io::Write::write_all(&mut gz, &raw);
    out.extend(gz.finish().ok());
    out
}

fn fiber_answer(input: &[u8]) -> Result<String, String> {
    let status = if input.first().is_some_and(|b| b % 3 == 0) {
        401
    } else {
        200
    };
    let out = classify_answer("/weather-kerchunk-request", status, input);
    match &out {
        Ok(v) => {
            if let Ok(KerchunkAnswer {
                zarr_store_url: Some(url),
                ..
            }) = serde_json::from_value::<KerchunkAnswer>(v.clone())
            {
                let miner = MinerAddress {
                    ip: IpAddr::from([203, 0, 113, 7]),
                    port: 8091,
                    scheme: "https",
                };
                if let Ok(resolved) = (UrlPolicy {
                    allow_private: true,
                })
                .resolve_store_url(&miner, &url)
                {
                    let path = resolved.trim_start_matches("https://203.0.113.7:8091");
                    if !path.starts_with("/forecasts/")
                        || path.split('/').any(|s| s == "..")
                        || resolved.contains(['?', '#', '%', '\\'])
                    {
                        return Err(format!("store URL {url:?} resolved to {resolved}"));
                    }
                    return Ok("url ok".into());
                }
                return Ok("url refused".into());
            }
        }
        Err(e)
            if !e.to_string().contains("/weather-kerchunk-request")
                && !matches!(
                    e,
                    gaia_validator::miners::fiber::FiberError::KeyExchangeRefused { .. }
                ) =>
        {
            return Err(format!("error does not name the endpoint: {e}"));
        }
        Err(_) => {}
    }
    Ok(ok_or_label(&out))
}

fn fiber_pem(input: &[u8]) -> Result<String, String> {
    Ok(ok_or_label(&wire::parse_public_key(
        &String::from_utf8_lossy(input),
    )))
}

fn dds_das(input: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(input);
    let d = dds::Dds::parse(&text);
    if let Ok(d) = &d {
        for name in ["tmp2m", "hgtprs", "time"] {
            if let Some(a) = d.array(name) {
                let _ = a.element_count();
            }
        }
    }
    let a = dds::Das::parse(&text);
    Ok(format!("{},{}", ok_or_label(&d), ok_or_label(&a)))
}

fn dods(input: &[u8]) -> Result<String, String> {
    let out = xdr::decode(input, 100_000);
    if let Ok((_, vars)) = &out {
        if let Some(v) = vars.iter().find(|v| v.values.len() > 100_000) {
            return Err(format!(
                "{} holds {} values, over the limit",
                v.name,
                v.values.len()
            ));
        }
    }
    Ok(ok_or_label(&out))
}

fn chain_metadata(input: &[u8]) -> Result<String, String> {
    let out = metadata::parse(input);
    Ok(match &out {
        Ok(facts) => ok_or_label(&metadata::check(facts)),
        Err(e) => label_of(e),
    })
}

fn chain_rpc(input: &[u8]) -> Result<String, String> {
    let out = rpc::parse_response("state_getStorage", input);
    if let Err(e) = &out {
        if !e.to_string().contains("state_getStorage") {
            return Err(format!("error does not name the method: {e}"));
        }
    }
    if let Ok(Value::String(s)) = &out {
        return Ok(format!(
            "hex {}",
            ok_or_label(&gaia_validator::chain::node::from_hex("m", s))
        ));
    }
    Ok(ok_or_label(&out))
}

fn chain_rpc_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"jsonrpc":"2.0","id":1,"result":"0xb3040000"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"result":{"specVersion":312,"transactionVersion":1}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found","data":{"x":1}}}"#.to_vec(),
    ]
}

fn chain_storage(input: &[u8]) -> Result<String, String> {
    let labels = [
        ok_or_label(&storage::decode::<u16>("SubnetworkN", input)),
        ok_or_label(&storage::decode::<Vec<bool>>("ValidatorPermit", input)),
        ok_or_label(&storage::decode::<Vec<u64>>("LastUpdate", input)),
        ok_or_label(&storage::decode::<Vec<(u16, u16)>>("Weights", input)),
        ok_or_label(&storage::AxonInfo::decode(input).map(|a| a.ip_text())),
    ];
    Ok(labels.join(","))
}

fn config_toml(input: &[u8]) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let path = dir.path().join("validator.toml");
    std::fs::write(&path, input).map_err(|e| format!("write: {e}"))?;
    let out = gaia_validator::config::load_with_env(Some(&path), Vec::new());
    check_config(&out, "pw@")
}

fn config_env(input: &[u8]) -> Result<String, String> {
    let pairs: Vec<(String, String)> = dotenvy::from_read_iter(input)
        .filter_map(Result::ok)
        .collect();
    let out = gaia_validator::config::load_with_env(None, pairs);
    check_config(&out, "pw@")
}

fn check_config(
    out: &Result<gaia_validator::config::LoadedSettings, gaia_validator::config::ConfigError>,
    secret: &str,
) -> Result<String, String> {
    if let Err(e) = out {
        // Another setting's garbage is echoed as given; the URL's own errors must hide it.
        let about_the_url = !matches!(e, gaia_validator::config::ConfigError::Invalid { key, .. } if key != "DATABASE_URL");
        if about_the_url && e.to_string().contains(secret) {
            return Err(format!("the database password leaks: {e}"));
        }
    }
    Ok(match out {
        Ok(_) => "ok".into(),
        Err(gaia_validator::config::ConfigError::Invalid { key, .. }) => format!("Invalid {key}"),
        Err(e) => label_of(e),
    })
}

fn one(seed: &str) -> Vec<Vec<u8>> {
    vec![seed.as_bytes().to_vec()]
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target {
        name: "ipc-frame",
        seeds: ipc_seeds,
        run: ipc_frame,
    },
    Target {
        name: "manifest",
        seeds: || vec![seeds::manifest()],
        run: manifest,
    },
    Target {
        name: "pyjson",
        seeds: || vec![seeds::manifest(), seeds::zmetadata().into_bytes()],
        run: py_json,
    },
    Target {
        name: "zarr-meta",
        seeds: zarr_meta_seeds,
        run: zarr_meta,
    },
    Target {
        name: "zarr-guard",
        seeds: zarr_guard_seeds,
        run: zarr_guard,
    },
    Target {
        name: "fiber-answer",
        seeds: seeds::miner_answers,
        run: fiber_answer,
    },
    Target {
        name: "fiber-pem",
        seeds: || one(seeds::MINER_PEM),
        run: fiber_pem,
    },
    Target {
        name: "dds",
        seeds: || {
            vec![
                seeds::GRADS_DDS.into(),
                seeds::PYDAP_DDS.into(),
                seeds::DAS.into(),
            ]
        },
        run: dds_das,
    },
    Target {
        name: "dods",
        seeds: || vec![seeds::dods_body()],
        run: dods,
    },
    Target {
        name: "chain-metadata",
        seeds: || seeds::chain_fixture("metadata"),
        run: chain_metadata,
    },
    Target {
        name: "chain-rpc",
        seeds: chain_rpc_seeds,
        run: chain_rpc,
    },
    Target {
        name: "chain-storage",
        seeds: || seeds::chain_fixture("storage"),
        run: chain_storage,
    },
    Target {
        name: "config-toml",
        seeds: || one(seeds::SETTINGS_TOML),
        run: config_toml,
    },
    Target {
        name: "config-env",
        seeds: || one(seeds::SETTINGS_ENV),
        run: config_env,
    },
];

/// The target named `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
