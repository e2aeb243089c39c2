//! `devkit bench`: what each listing costs in DynamoDB reads and time, beside the naive strategy
//! and the floor, plus cold start, memory and binary size; writes docs/benchmarks.md and plots.

mod data;
mod measure;
mod plot;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use enrollment_tokens::api::App;
use enrollment_tokens::config::Config;
use enrollment_tokens::domain::SystemClock;
use enrollment_tokens::store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::bench_process::{cold_start, file_size, warm_run, LambdaProcess};
use crate::dev_token::{self, LIST_PERMISSION};
pub use data::DataShape;
use data::{SeededOrg, TABLE};
use measure::{scenarios, Bench, Measured, Scenario, ROUTE_TAIL};
use plot::Series;

pub struct Options {
    pub shape: DataShape,
    pub runs: usize,
    pub data_dir: PathBuf,
    /// Where benchmarks.md and the plots go.
    pub out_dir: PathBuf,
    /// Release binaries for the cold-start comparison; skipped when absent.
    pub binaries: Option<Binaries>,
    pub cold_starts: usize,
    pub rss_requests: usize,
    /// How the run was started, for the report.
    pub command: String,
}

pub struct Binaries {
    pub bootstrap: PathBuf,
    pub hello: PathBuf,
}

struct Row {
    scenario: Scenario,
    measured: Measured,
}

struct Process {
    bootstrap_ready_ms: f64,
    bootstrap_first_ms: f64,
    hello_ready_ms: f64,
    hello_first_ms: f64,
    rss_kb: u64,
    cpu_ms_per_request: f64,
    bootstrap_bytes: u64,
    hello_bytes: u64,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let (engine, orgs) = data::open(&options.data_dir, &options.shape).await?;
    let config = Config::from_lookup(|name| dev_token::dev_setting(TABLE, name))?;
    let store = Store::new(engine.client(), TABLE);
    let app = App::new(store, &config, Arc::new(SystemClock))?;
    let bench = Bench {
        app: &app,
        client: engine.client(),
        orgs: &orgs,
        runs: options.runs,
    };
    let mut rows = Vec::new();
    for (index, org) in orgs.iter().enumerate() {
        let detailed = matches!(org.name, "1k" | "100k");
        let list = scenarios(index, org, detailed);
        let bar = ProgressBar::new(list.len() as u64).with_style(
            ProgressStyle::with_template("{prefix:>12} {bar:30} {pos}/{len} {msg} ({elapsed})")
                .expect("static template"),
        );
        bar.set_prefix(org.name);
        for scenario in list {
            bar.set_message(scenario.label.clone());
            let measured = bench
                .measure(&scenario, detailed)
                .await
                .with_context(|| format!("{} / {}", org.name, scenario.label))?;
            if let Some(measured) = measured {
                rows.push(Row { scenario, measured });
            }
            bar.inc(1);
        }
        bar.finish_with_message(format!("{} tokens", org.tokens));
    }
    let process = match &options.binaries {
        Some(binaries) => {
            Some(measure_processes(&options, binaries, &engine.endpoint, &orgs).await?)
        }
        None => None,
    };
    std::fs::create_dir_all(&options.out_dir)?;
    plot::load_font()?;
    draw_plots(&options.out_dir, &orgs, &rows)?;
    let report = report(&options, &orgs, &rows, process.as_ref());
    let path = options.out_dir.join("benchmarks.md");
    std::fs::write(&path, &report)?;
    println!("{report}");
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn find<'a>(rows: &'a [Row], orgs: &[SeededOrg], org: &str, label: &str) -> Option<&'a Measured> {
    rows.iter()
        .find(|row| orgs[row.scenario.org].name == org && row.scenario.label == label)
        .map(|row| &row.measured)
}

async fn measure_processes(
    options: &Options,
    binaries: &Binaries,
    endpoint: &str,
    orgs: &[SeededOrg],
) -> anyhow::Result<Process> {
    let org = orgs
        .iter()
        .find(|org| org.name == "100k")
        .unwrap_or(&orgs[0]);
    let event = v2_event(org)?;
    let mut env: Vec<(String, String)> = [
        "TABLE_NAME",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_DEV_HS256_SECRET",
        "CURSOR_SECRET",
    ]
    .iter()
    .filter_map(|name| dev_token::dev_setting(TABLE, name).map(|v| (name.to_string(), v)))
    .collect();
    env.extend(
        [
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let ours = LambdaProcess {
        binary: binaries.bootstrap.clone(),
        env,
        event: event.clone(),
    };
    let hello = LambdaProcess {
        binary: binaries.hello.clone(),
        env: vec![],
        event,
    };
    let (mut ours_starts, mut hello_starts) = (Vec::new(), Vec::new());
    // Alternated, so that machine noise falls on both alike.
    for _ in 0..options.cold_starts {
        ours_starts.push(cold_start(&ours).await?);
        hello_starts.push(cold_start(&hello).await?);
    }
    let median = |starts: &[crate::bench_process::ColdStart],
                  pick: fn(&crate::bench_process::ColdStart) -> Duration| {
        let mut values: Vec<f64> = starts
            .iter()
            .map(|s| pick(s).as_secs_f64() * 1000.0)
            .collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let warm = warm_run(&ours, options.rss_requests).await?;
    Ok(Process {
        bootstrap_ready_ms: median(&ours_starts, |s| s.ready),
        bootstrap_first_ms: median(&ours_starts, |s| s.first_response),
        hello_ready_ms: median(&hello_starts, |s| s.ready),
        hello_first_ms: median(&hello_starts, |s| s.first_response),
        rss_kb: warm.rss_kb,
        cpu_ms_per_request: warm.cpu_per_invocation.as_secs_f64() * 1000.0,
        bootstrap_bytes: file_size(&binaries.bootstrap)?,
        hello_bytes: file_size(&binaries.hello)?,
    })
}

/// An HTTP API (v2) event for page 1 of `org`, from the committed example event.
fn v2_event(org: &SeededOrg) -> anyhow::Result<Value> {
    let template = include_str!("../../../events/apigw-http-list.json");
    let mut event: Value = serde_json::from_str(template)?;
    let path = format!("/v1/organizations/{}/{ROUTE_TAIL}", org.id);
    let token = dev_token::mint(
        &[(org.id.to_string(), vec![LIST_PERMISSION.into()])],
        24 * 3600,
    );
    event["rawPath"] = path.clone().into();
    event["requestContext"]["http"]["path"] = path.into();
    event["rawQueryString"] = "".into();
    event["queryStringParameters"] = serde_json::json!({});
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    if event.get("pathParameters").is_some() {
        event["pathParameters"]["organizationId"] = org.id.to_string().into();
    }
    Ok(event)
}

fn draw_plots(dir: &Path, orgs: &[SeededOrg], rows: &[Row]) -> anyhow::Result<()> {
    let depth = |org: &str, pick: fn(&Measured) -> f64| -> Vec<(f64, f64)> {
        [1u64, 10, 100]
            .iter()
            .filter_map(|page| {
                find(rows, orgs, org, &format!("page {page}, limit 10"))
                    .map(|m| (*page as f64, pick(m)))
            })
            .collect()
    };
    let cursor: Vec<(f64, f64)> = [
        (1u64, "page 1, limit 10"),
        (10, "cursor to page 10"),
        (100, "cursor to page 100"),
    ]
    .iter()
    .filter_map(|(page, label)| {
        find(rows, orgs, "100k", label).map(|m| (*page as f64, m.cost.capacity_units))
    })
    .collect();
    plot::log_log(
        &dir.join("bench-rcu-by-page.png"),
        "Read capacity by page depth (100k tokens, limit 10)",
        "page",
        "RCU per request",
        &[
            Series {
                name: "ours, page=N".into(),
                points: depth("100k", |m| m.cost.capacity_units),
            },
            Series {
                name: "ours, cursor".into(),
                points: cursor,
            },
            Series {
                name: "naive (filter + COUNT + skip by reading)".into(),
                points: depth("100k", |m| m.naive_rcu),
            },
            Series {
                name: "floor".into(),
                points: depth("100k", |m| m.floor_rcu),
            },
        ],
    )?;
    let by_size = |label: &str| -> Series {
        let mut points: Vec<(f64, f64)> = orgs
            .iter()
            .filter_map(|org| find(rows, orgs, org.name, label).map(|m| (org, m)))
            // A page past the end of a small organization is not that page.
            .filter(|(_, m)| m.items > 0 || label.starts_with("limit 0"))
            .map(|(org, m)| (org.tokens as f64, m.p50_ms))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Series {
            name: label.to_string(),
            points,
        }
    };
    plot::log_log(
        &dir.join("bench-latency-by-size.png"),
        "Handler latency p50 by organization size",
        "tokens in the organization",
        "p50 latency (ms)",
        &[
            by_size("page 1, limit 10"),
            by_size("page 100, limit 10"),
            by_size("cursor to page 100"),
            by_size("limit 0 (totals)"),
            by_size("page 1, limit 100"),
        ],
    )?;
    Ok(())
}

/// Two significant digits below 0.1, so that ratios to the naive strategy at 100k do not read as 0.
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        let r = a / b;
        let decimals = if r >= 0.1 || r == 0.0 {
            2
        } else {
            (1.0 - r.log10().floor()) as usize
        };
        format!("{r:.decimals$}")
    } else {
        "–".into()
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}, {}", std::env::consts::ARCH)
}

fn report(
    options: &Options,
    orgs: &[SeededOrg],
    rows: &[Row],
    process: Option<&Process>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Generated by `{}` on {} ({}). Engine: dynoxide embedded in the process, over HTTP on \
         loopback; read capacity is the engine's `ConsumedCapacity` (eventually consistent, 4 KB \
         units). Latency is the handler's, p50/p99 over {} runs of each scenario, so it includes \
         the local engine; compare ratios within one run, not absolute times across machines.\n",
        options.command,
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        options.runs
    );
    let _ = writeln!(out, "Organizations (1,000 users, 50 policies, 30% of tokens with 2–4 policies; users and policies skewed so that filters have deep listings):\n");
    let _ = writeln!(out, "| org | tokens | deleted |\n|---|---:|---:|");
    for (org, shape) in orgs.iter().zip(&options.shape.orgs) {
        let deleted = if shape.live_only {
            "none (the live tokens of a 50%-deleted twin)".to_string()
        } else {
            format!("{}%", shape.deleted_percent)
        };
        let _ = writeln!(out, "| {} | {} | {deleted} |", org.name, org.tokens);
    }
    out.push_str(
        "\nColumns: DynamoDB calls, sequential round trips, read capacity units, items read, \
         handler latency; the floor is 0.5 RCU × (⌈listed token bytes / 4 KB⌉ + distinct users + \
         distinct policies + 1); naive is a Query of the organization with a FilterExpression, \
         `Select=COUNT` for the total, reading past the skipped pages (and reading everything to \
         sort in memory for any order but createdAt), run once (naive ms is that one run).\n",
    );
    for org in orgs {
        let _ = writeln!(out, "\n## {} ({} tokens)\n", org.name, org.tokens);
        let naive = matches!(org.name, "1k" | "100k");
        out.push_str("| scenario | items | calls | round trips | RCU | items read | p50 ms | p99 ms | floor RCU | ours / floor |");
        out.push_str(if naive { " naive RCU | ours / naive | naive ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" } else { "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" });
        for row in rows
            .iter()
            .filter(|row| orgs[row.scenario.org].name == org.name)
        {
            let m = &row.measured;
            let _ = write!(
                out,
                "| {} | {} | {} | {} | {:.1} | {} | {:.2} | {:.2} | {:.1} | {} |",
                row.scenario.label,
                m.items,
                m.cost.calls,
                m.cost.round_trips,
                m.cost.capacity_units,
                m.cost.items_read,
                m.p50_ms,
                m.p99_ms,
                m.floor_rcu,
                ratio(m.cost.capacity_units, m.floor_rcu)
            );
            if naive {
                let _ = write!(
                    out,
                    " {:.1} | {} | {:.0} |",
                    m.naive_rcu,
                    ratio(m.cost.capacity_units, m.naive_rcu),
                    m.naive_ms
                );
            }
            out.push('\n');
        }
    }
    out.push_str(&skip_table(orgs, rows));
    out.push_str(&targets(orgs, rows, process));
    if let Some(p) = process {
        let _ = writeln!(out, "\n## Process\n");
        let _ = writeln!(out, "Release binaries of this run, started fresh {} times each (alternating) against an in-process Runtime API; medians. Ready = exec to the first `/next` poll; first response = exec to the first answer (page 1 of the 100k organization for ours). Ours runs tokio's current-thread runtime (Lambda sends one event at a time); hello-world is the plain `#[tokio::main]` one, with a worker thread per core.\n", options.cold_starts);
        let _ = writeln!(
            out,
            "| binary | ready ms | first response ms | size |\n|---|---:|---:|---:|"
        );
        let _ = writeln!(
            out,
            "| bootstrap | {:.1} | {:.1} | {:.1} MB |",
            p.bootstrap_ready_ms,
            p.bootstrap_first_ms,
            p.bootstrap_bytes as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "| hello-world lambda_http | {:.1} | {:.1} | {:.1} MB |",
            p.hello_ready_ms,
            p.hello_first_ms,
            p.hello_bytes as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "\nbootstrap after {} requests (page 1 of the 100k organization, with its log line \
             and metrics): RSS {:.1} MB, CPU {:.2} ms per request on this machine.",
            options.rss_requests,
            p.rss_kb as f64 / 1024.0,
            p.cpu_ms_per_request
        );
    }
    out.push_str("\n## Plots\n\n![Read capacity by page depth](bench-rcu-by-page.png)\n\n![Latency by organization size](bench-latency-by-size.png)\n");
    out
}

/// (listing, page, skipped, RCU per skipped token) at limit 10 in the 100k organization: page N
/// less the same page reached by cursor, which reads the same page and references but skips nothing.
fn skip_costs(orgs: &[SeededOrg], rows: &[Row]) -> Vec<(&'static str, u64, u64, f64)> {
    let mut costs = Vec::new();
    for (name, prefix) in [
        ("unfiltered", ""),
        ("mdm-user", "mdm-user, "),
        ("win-policy", "win-policy, "),
        ("mdm-user + win-policy", "mdm-user + win-policy, "),
        ("show-deleted", "show-deleted, "),
    ] {
        for page in [10u64, 100] {
            let by_number = match prefix {
                "" => format!("page {page}, limit 10"),
                _ => format!("{prefix}page {page}"),
            };
            let by_cursor = format!("{prefix}cursor to page {page}");
            if let (Some(skipping), Some(direct)) = (
                find(rows, orgs, "100k", &by_number),
                find(rows, orgs, "100k", &by_cursor),
            ) {
                if skipping.items > 0 && skipping.items == direct.items {
                    let skipped = (page - 1) * 10;
                    let per = (skipping.cost.capacity_units - direct.cost.capacity_units)
                        / skipped as f64;
                    costs.push((name, page, skipped, per));
                }
            }
        }
    }
    costs
}

fn skip_table(orgs: &[SeededOrg], rows: &[Row]) -> String {
    let mut out = String::from("\n## Skipping\n\nRCU per skipped token = (RCU of page N − RCU of the same page reached by cursor) / tokens skipped, at limit 10 on the 100k organization: both read the same page and references, only page N skips.\n\n| listing | page | skipped | RCU per skipped token |\n|---|---:|---:|---:|\n");
    for (name, page, skipped, per) in skip_costs(orgs, rows) {
        let _ = writeln!(out, "| {name} | {page} | {skipped} | {per:.4} |");
    }
    out
}

fn targets(orgs: &[SeededOrg], rows: &[Row], process: Option<&Process>) -> String {
    let mut out = String::from(
        "\n## Targets (100k organization)\n\n| target | measured | met |\n|---|---|---|\n",
    );
    let mut check = |target: &str, measured: String, met: bool| {
        let _ = writeln!(
            out,
            "| {target} | {measured} | {} |",
            if met { "yes" } else { "**no**" }
        );
    };
    let rcu = |org: &str, label: &str| find(rows, orgs, org, label).map(|m| m.cost.capacity_units);
    for label in [
        "page 1, limit 10",
        "mdm-user, page 1",
        "win-policy, page 1",
        "mdm-user + win-policy, page 1",
    ] {
        if let Some(m) = find(rows, orgs, "100k", label) {
            let r = m.cost.capacity_units / m.floor_rcu;
            check(
                &format!("{label}: ≤ 1.5× floor, ≤ 2 round trips"),
                format!("{r:.2}× floor, {} round trips", m.cost.round_trips),
                r <= 1.5 && m.cost.round_trips <= 2,
            );
        }
    }
    for limit in [10, 100] {
        if let (Some(deep), Some(first)) = (
            rcu("100k", &format!("page 100, limit {limit}")),
            rcu("100k", &format!("page 1, limit {limit}")),
        ) {
            check(
                &format!("page 100 ≤ 4× page 1 (limit {limit})"),
                format!("{:.2}×", deep / first),
                deep <= 4.0 * first,
            );
        }
    }
    if let Some(first) = rcu("100k", "page 1, limit 10") {
        for page in [10, 100] {
            if let Some(by_cursor) = rcu("100k", &format!("cursor to page {page}")) {
                check(
                    &format!("cursor to page {page} ≤ 1.2× page 1"),
                    format!("{:.2}×", by_cursor / first),
                    by_cursor <= 1.2 * first,
                );
            }
        }
    }
    if let (Some(small), Some(large)) = (
        rcu("1k", "limit 0 (totals)"),
        rcu("100k", "limit 0 (totals)"),
    ) {
        check(
            "totals O(1): limit 0 at 100k = at 1k",
            format!("{large:.1} vs {small:.1} RCU"),
            large <= small,
        );
    }
    for label in [
        "page 1, limit 10",
        "page 100, limit 10",
        "page 1, limit 100",
    ] {
        if let (Some(half), Some(live)) = (rcu("half-deleted", label), rcu("all-live", label)) {
            check(
                &format!("50% deleted ≤ 1.1× all-live ({label})"),
                format!("{:.2}×", half / live),
                half <= 1.1 * live,
            );
        }
    }
    let skips = skip_costs(orgs, rows);
    if let Some(worst) = skips.iter().map(|(_, _, _, per)| *per).reduce(f64::max) {
        check(
            "skipping ≤ 0.03 RCU per skipped token, every filter",
            format!("at most {worst:.4}"),
            worst <= 0.03,
        );
    }
    if let Some(m) = find(rows, orgs, "100k", "page 10, limit 10") {
        let fewer = m.naive_rcu / m.cost.capacity_units;
        check(
            "≥ 100× fewer RCU than naive at page 10",
            format!("{fewer:.0}× fewer"),
            fewer >= 100.0,
        );
    }
    if let Some(p) = process {
        let r = p.bootstrap_ready_ms / p.hello_ready_ms;
        check(
            "cold init ≤ 1.5× hello-world",
            format!(
                "{r:.2}× ({:.1} vs {:.1} ms)",
                p.bootstrap_ready_ms, p.hello_ready_ms
            ),
            r <= 1.5,
        );
        let mb = p.rss_kb as f64 / 1024.0;
        check("RSS ≤ 30 MB", format!("{mb:.1} MB"), mb <= 30.0);
        let size = p.bootstrap_bytes as f64 / 1e6;
        check(
            "stripped binary ≤ 10 MB",
            format!("{size:.1} MB"),
            size <= 10.0,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ratio;

    #[test]
    fn small_ratios_keep_two_significant_digits() {
        assert_eq!(ratio(11.0, 11098.5), "0.00099");
        assert_eq!(ratio(5.0, 100.0), "0.050");
        assert_eq!(ratio(3.0, 2.0), "1.50");
        assert_eq!(ratio(0.0, 2.0), "0.00");
        assert_eq!(ratio(1.0, 0.0), "–");
    }
}
