//! `devkit serve`: the service on http://127.0.0.1:3000 over an embedded engine with demo data.
//! `devkit token`: a dev token for any organization and permissions.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use devkit::bench;
use devkit::demo::{self, DemoShape, DEMO_ORGANIZATION, DEMO_SLUG};
use devkit::dev_token::{self, LIST_PERMISSION};
use devkit::engine::{client_for, remove_database, Engine};
use devkit::fixture::Fixture;
use enrollment_tokens::api::App;
use enrollment_tokens::config::Config;
use enrollment_tokens::domain::{ObjectId, SystemClock};
use enrollment_tokens::store::{Store, LAYOUT_VERSION};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::net::TcpListener;

const TABLE: &str = "enrollment-tokens-local";

#[derive(Parser)]
#[command(about = "Local development kit of the enrollment-tokens service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the endpoint locally on an embedded engine, seeded with demo data or a fixture.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Load this fixture (JSON) into a fresh in-memory engine instead of the demo data.
        #[arg(long)]
        fixture: Option<PathBuf>,
        /// Where the demo database is kept between runs.
        #[arg(long, default_value = ".local-data")]
        data_dir: PathBuf,
        /// Throw the kept demo database away and seed a new one.
        #[arg(long)]
        reset: bool,
        /// Use this DynamoDB-compatible endpoint instead of the embedded engine (table must exist).
        #[arg(long)]
        endpoint: Option<String>,
        /// Port of the embedded engine (0: any free port); other processes may use it too.
        #[arg(long, default_value_t = 0)]
        engine_port: u16,
        /// Tokens in the demo organization.
        #[arg(long, default_value_t = DemoShape::default().tokens)]
        demo_tokens: usize,
    },
    /// Print a dev token (HS256, local secret) granting permissions in organizations.
    Token {
        /// Organization id (repeatable); defaults to the demo organization.
        #[arg(long = "org")]
        organizations: Vec<String>,
        /// Permission (repeatable); defaults to mdm.windows.enrollmentToken.list.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long, default_value_t = 12 * 3600)]
        ttl_seconds: i64,
    },
    /// Measure cost and latency of every scenario; write benchmarks.md and plots (see scripts/bench).
    Bench {
        /// A tiny data set and a few runs: checks that the benchmark works, measures nothing.
        #[arg(long)]
        quick: bool,
        /// Runs of each scenario for the latency percentiles.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Where the seeded database is kept between runs.
        #[arg(long, default_value = ".bench-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "docs")]
        out_dir: PathBuf,
        /// Release bootstrap to measure cold start, memory and size of (with --hello).
        #[arg(long, requires = "hello")]
        bootstrap: Option<PathBuf>,
        /// Hello-world lambda_http binary built with the same profile.
        #[arg(long, requires = "bootstrap")]
        hello: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        cold_starts: usize,
        #[arg(long, default_value_t = 1000)]
        rss_requests: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(matches!(cli.command, Command::Bench { .. }));
    match cli.command {
        Command::Bench {
            quick,
            runs,
            data_dir,
            out_dir,
            bootstrap,
            hello,
            cold_starts,
            rss_requests,
        } => {
            let options = bench::Options {
                shape: if quick {
                    bench::DataShape::quick()
                } else {
                    bench::DataShape::full()
                },
                runs,
                data_dir,
                out_dir,
                binaries: bootstrap
                    .zip(hello)
                    .map(|(bootstrap, hello)| bench::Binaries { bootstrap, hello }),
                cold_starts,
                rss_requests,
                command: std::env::var("BENCH_COMMAND")
                    .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" ")),
            };
            bench::run(options).await
        }
        Command::Token {
            organizations,
            permissions,
            ttl_seconds,
        } => {
            println!("{}", token(organizations, permissions, ttl_seconds)?);
            Ok(())
        }
        Command::Serve {
            port,
            fixture,
            data_dir,
            reset,
            endpoint,
            engine_port,
            demo_tokens,
        } => {
            let shape = DemoShape {
                tokens: demo_tokens,
                ..DemoShape::default()
            };
            let engine = match endpoint {
                Some(endpoint) => EngineChoice::External(endpoint),
                None => EngineChoice::Embedded { port: engine_port },
            };
            serve(port, fixture, data_dir, reset, engine, shape).await
        }
    }
}

/// JSON lines on stdout, as in Lambda; `RUST_LOG` overrides the level. Quiet (warnings only)
/// for the benchmark, whose per-request lines would drown its report.
fn init_logs(quiet: bool) {
    use tracing_subscriber::{fmt, EnvFilter};
    let level = if quiet { "warn" } else { "info" };
    // The engine warns of every error it answers, the first start's expected "no such table"
    // included; a real fault still shows in the request's own log line.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},aws_smithy_runtime=error,aws_sdk_dynamodb=error,aws_smithy_runtime_api=error,aws_smithy_http_client=error,dynoxide=error")));
    fmt()
        .json()
        .with_target(false)
        .flatten_event(true)
        .with_env_filter(filter)
        .init();
}

fn token(
    organizations: Vec<String>,
    permissions: Vec<String>,
    ttl_seconds: i64,
) -> anyhow::Result<String> {
    if let Some(slug) = organizations.iter().find(|o| ObjectId::parse(o).is_err()) {
        anyhow::bail!("--org takes an organization id (24 hex digits), not {slug:?}; the demo's is {DEMO_ORGANIZATION}");
    }
    let organizations = if organizations.is_empty() {
        vec![DEMO_ORGANIZATION.to_string()]
    } else {
        organizations
    };
    let permissions = if permissions.is_empty() {
        vec![LIST_PERMISSION.to_string()]
    } else {
        permissions
    };
    let grants: Vec<(String, Vec<String>)> = organizations
        .into_iter()
        .map(|organization| (organization, permissions.clone()))
        .collect();
    Ok(dev_token::mint(&grants, ttl_seconds))
}

enum EngineChoice {
    Embedded { port: u16 },
    External(String),
}

async fn serve(
    port: u16,
    fixture: Option<PathBuf>,
    data_dir: PathBuf,
    reset: bool,
    engine: EngineChoice,
    shape: DemoShape,
) -> anyhow::Result<()> {
    let database = data_dir.join(format!("demo-v{LAYOUT_VERSION}.db"));
    if reset {
        remove_database(&database)?;
    }
    let (client, _engine) = match engine {
        EngineChoice::External(endpoint) => (client_for(&endpoint), None),
        EngineChoice::Embedded { port } => {
            let file = fixture.is_none().then_some(database.as_path());
            let engine = Engine::start(file, port).await?;
            eprintln!("embedded DynamoDB engine (dynoxide) on {}", engine.endpoint);
            (engine.client(), Some(engine))
        }
    };
    let store = Store::new(client, TABLE);
    let mut data_organization = None;
    if store.table_exists().await? {
        eprintln!(
            "reusing the data in {} (--reset to seed again)",
            database.display()
        );
    } else {
        store.create_table().await?;
        let data = match &fixture {
            Some(path) => Fixture::read(path)?,
            None => demo::demo(shape, Utc::now()),
        };
        if fixture.is_some() {
            data_organization = data.organizations.first().cloned();
        }
        let bar = ProgressBar::new(data.token_count()).with_style(
            ProgressStyle::with_template("seeding {bar:40} {pos}/{len} tokens ({per_sec}, {eta})")
                .expect("static template"),
        );
        data.load(&store, |n| bar.inc(n)).await?;
        bar.finish();
    }
    let config = Config::from_lookup(|name| {
        std::env::var(name)
            .ok()
            .or_else(|| dev_token::dev_setting(TABLE, name))
    })?;
    let app = App::new(store, &config, Arc::new(SystemClock))?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    // The curl names the demo organization, or the fixture's first one.
    let (organization, slug) = match &data_organization {
        Some(first) => (first.id.to_string(), first.slug.clone()),
        None => (DEMO_ORGANIZATION.to_string(), DEMO_SLUG.to_string()),
    };
    let token = token(vec![organization], vec![], 12 * 3600)?;
    let organization = slug;
    eprintln!(
        "\nready on http://127.0.0.1:{port}\n\ncurl -s -H 'Authorization: Bearer {token}' \\\n  'http://127.0.0.1:{port}/v1/organizations/{organization}/mdm/windows/enterprise/enrollment-tokens/?limit=5'\n"
    );
    devkit::server::serve(Arc::new(app), listener).await
}
