//! Chunk hashing throughput (spec §2.1 hash: SHA-256 over `path ‖ 0x00 ‖ bytes`): criterion
//! figures for in-memory values (what verify-on-read hashes), streamed files and a whole-store
//! manifest, then a printed comparison with `sha256sum` on the same file (goal ≥ 0.9×).
//!
//! Run: `cargo bench -p gaia-protocol --bench hashing`. `GAIA_HASH_BENCH_MIB` sets the size of
//! the comparison file (default 512).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use gaia_protocol::{build_manifest, file_hash, file_hash_streaming};

/// Deterministic pseudo-random bytes (xorshift), like compressed chunk data.
fn bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn in_memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("chunk_hash_in_memory");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    // 160 KiB ~ a small chunk; 4 MiB ~ a 721×1440 float32 chunk compressed; 16 MiB raw float32 level stack.
    for size in [160 << 10, 4 << 20, 16 << 20] {
        let data = bytes(size);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, d| {
            b.iter(|| file_hash(black_box("2t/0.0.0"), black_box(d)))
        });
    }
    g.finish();
}

fn streamed_and_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("chunk");
    std::fs::write(&file, bytes(32 << 20)).expect("write");
    let store = dir.path().join("store.zarr");
    std::fs::create_dir_all(store.join("2t")).expect("mkdir");
    for i in 0..64 {
        std::fs::write(store.join(format!("2t/{i}.0.0")), bytes(1 << 20)).expect("write");
    }
    let mut g = c.benchmark_group("chunk_hash_files");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(32 << 20));
    g.bench_function("streamed_32MiB_file", |b| {
        b.iter(|| file_hash_streaming("chunk", &file).expect("hash"))
    });
    g.throughput(Throughput::Bytes(64 << 20));
    g.bench_function("manifest_64_files_of_1MiB", |b| {
        b.iter(|| {
            build_manifest(&store, "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo")
                .expect("manifest")
        })
    });
    g.finish();
}

criterion_group!(benches, in_memory, streamed_and_store);

fn best_of<F: FnMut() -> Option<Duration>>(runs: usize, mut f: F) -> Option<Duration> {
    (0..runs).filter_map(|_| f()).min()
}

/// Time `sha256sum` and our streaming hash on the same (page-cached) file.
fn compare_with_sha256sum() {
    let mib: usize = std::env::var("GAIA_HASH_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.bin");
    {
        let mut f = std::fs::File::create(&path).expect("create");
        let block = bytes(8 << 20);
        for _ in 0..mib.div_ceil(8) {
            f.write_all(&block).expect("write");
        }
    }
    let size = (mib.div_ceil(8) * 8) as f64;
    // Warm the page cache.
    let _ = std::fs::read(&path);
    let sha256sum = best_of(3, || {
        let t = Instant::now();
        let out = Command::new("sha256sum").arg(&path).output().ok()?;
        out.status.success().then(|| t.elapsed())
    });
    let ours = best_of(3, || {
        let t = Instant::now();
        black_box(file_hash_streaming("data.bin", Path::new(&path)).ok()?);
        Some(t.elapsed())
    });
    println!("\nchunk hashing vs sha256sum on the same {size:.0} MiB file (best of 3):");
    match (sha256sum, ours) {
        (Some(s), Some(o)) => {
            let (ms, mo) = (size / s.as_secs_f64(), size / o.as_secs_f64());
            println!(
                "  sha256sum          {:>8.1} MiB/s  ({:.3} s)",
                ms,
                s.as_secs_f64()
            );
            println!(
                "  gaia file_hash     {:>8.1} MiB/s  ({:.3} s)",
                mo,
                o.as_secs_f64()
            );
            println!("  ratio ours/sha256sum = {:.2}x (goal >= 0.90x)", mo / ms);
        }
        (None, Some(o)) => println!(
            "  sha256sum unavailable; ours {:.1} MiB/s",
            size / o.as_secs_f64()
        ),
        _ => println!("  measurement failed"),
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only under `cargo bench` (which passes `--bench`): test runners list and smoke-run bench
    // targets too, and expect nothing else on stdout.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        compare_with_sha256sum();
    }
}
