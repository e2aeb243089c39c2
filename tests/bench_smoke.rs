//! The benchmark's smoke run: a tiny data set and a few runs through every part of `devkit bench`
//! (seeding and reuse, every scenario, naive baseline, floor, cold start of the real bootstrap,
//! plots, report), so that the benchmark cannot rot between real runs.

use std::path::PathBuf;

use devkit::bench::{self, Binaries, DataShape, Options};

fn options(dir: &std::path::Path, binaries: Option<Binaries>) -> Options {
    Options {
        shape: DataShape::quick(),
        runs: 2,
        data_dir: dir.join("data"),
        out_dir: dir.join("out"),
        binaries,
        cold_starts: 2,
        rss_requests: 20,
        command: "cargo test --test bench_smoke".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quick_benchmark_writes_its_report_and_plots_and_reuses_its_data() {
    let dir = std::env::temp_dir().join(format!("bench-smoke-{}", std::process::id()));
    let bootstrap = PathBuf::from(env!("CARGO_BIN_EXE_bootstrap"));
    let hello = bootstrap.with_file_name("hello_lambda");
    assert!(
        hello.exists(),
        "{} is built by `cargo test --workspace`",
        hello.display()
    );
    bench::run(options(&dir, Some(Binaries { bootstrap, hello })))
        .await
        .expect("the quick benchmark runs");
    let report = std::fs::read_to_string(dir.join("out/benchmarks.md")).unwrap();
    for expected in [
        "## 100k (1200 tokens)",
        "## half-deleted",
        "## all-live",
        "| page 1, limit 10 | 10 | 3 | 2 |",
        "| cursor to page 10 |",
        "| sort state:desc |",
        "## Skipping",
        "## Targets",
        "| page 1, limit 10: ≤ 1.5× floor, ≤ 2 round trips |",
        "| cold init ≤ 1.5× hello-world |",
        "bootstrap after 20 requests",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from\n{report}"
        );
    }
    for plot in ["bench-rcu-by-page.png", "bench-latency-by-size.png"] {
        let bytes = std::fs::read(dir.join("out").join(plot)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{plot}"
        );
    }
    // A second run finds the seeded database and measures again without seeding.
    let kept = |suffix: &str| -> Vec<(String, std::time::SystemTime)> {
        std::fs::read_dir(dir.join("data"))
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(suffix))
            .map(|entry| {
                let modified = entry.metadata().unwrap().modified().unwrap();
                (entry.file_name().to_string_lossy().into_owned(), modified)
            })
            .collect()
    };
    let seeded = kept(".complete");
    assert_eq!(seeded.len(), 1, "{seeded:?}");
    bench::run(options(&dir, None))
        .await
        .expect("the second run reuses the data");
    assert_eq!(kept(".complete"), seeded, "not seeded again");
    assert_eq!(kept(".db").len(), 1);
    std::fs::remove_dir_all(&dir).ok();
}
