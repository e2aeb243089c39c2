//! Cold start and memory of a Lambda binary measured as a real process against the in-process
//! Runtime API ([`crate::runtime_api`]). Each measurement spawns a fresh process and kills it at
//! the end, on success and on error alike.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::runtime_api::RuntimeApi;

/// What to run and with which event.
pub struct LambdaProcess {
    pub binary: PathBuf,
    /// Set after the variables real Lambda always provides (see [`LAMBDA_ENV`]), so they can be
    /// overridden. Nothing is inherited from the caller's environment.
    pub env: Vec<(String, String)>,
    pub event: Value,
}

#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// From just before exec to the first `/invocation/next` poll (the end of init).
    pub ready: Duration,
    /// From just before exec to the first response posted.
    pub first_response: Duration,
}

/// Variables the Lambda service sets in every function's environment. lambda_runtime panics
/// without the function name, memory size and version, so a bare `env_clear()` would never start.
pub const LAMBDA_ENV: &[(&str, &str)] = &[
    ("AWS_LAMBDA_FUNCTION_NAME", "bench-function"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench-function"),
    ("AWS_LAMBDA_LOG_STREAM_NAME", "bench/[$LATEST]0"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("TZ", ":UTC"),
    ("LANG", "en_US.UTF-8"),
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
];

/// How much of each of the process's stdout and stderr is kept for error messages.
const OUTPUT_TAIL: usize = 4096;

/// Runs one fresh process through init and one invocation.
pub async fn cold_start(process: &LambdaProcess) -> anyhow::Result<ColdStart> {
    let api = RuntimeApi::start().await?;
    // Queued before the spawn so the first poll is answered at once and the timing is pure.
    let pending = api.submit(process.event.clone());
    let started = Instant::now();
    let mut running = Running::spawn(process, &api)?;
    let (answered, payload) = running.until_exit(&api, pending.wait()).await?;
    ensure_success(&payload)?;
    let ready = api.first_poll().await?;
    running.kill().await;
    Ok(ColdStart {
        ready: ready - started,
        first_response: answered - started,
    })
}

/// A warm process after a series of invocations.
#[derive(Debug, Clone, Copy)]
pub struct WarmRun {
    /// VmRSS in kB once idle again.
    pub rss_kb: u64,
    /// User + system CPU time the process spent per invocation, init excluded.
    pub cpu_per_invocation: Duration,
}

/// One fresh process through `invocations` successful invocations (0: init only); memory is read
/// once the process is idle again, waiting on its next poll.
pub async fn warm_run(process: &LambdaProcess, invocations: usize) -> anyhow::Result<WarmRun> {
    let api = RuntimeApi::start().await?;
    let mut running = Running::spawn(process, &api)?;
    running.until_exit(&api, api.nth_poll(1)).await?;
    let pid = running
        .child
        .id()
        .ok_or_else(|| anyhow!("process already reaped"))?;
    let cpu_after_init = cpu_ticks(pid)?;
    for n in 1..=invocations {
        let (_, payload) = running
            .until_exit(&api, api.invoke(process.event.clone()))
            .await?;
        ensure_success(&payload).with_context(|| format!("invocation {n} of {invocations}"))?;
    }
    running
        .until_exit(&api, api.nth_poll(invocations + 1))
        .await?;
    let rss_kb = vm_rss_kb(pid)?;
    let ticks = cpu_ticks(pid)? - cpu_after_init;
    running.kill().await;
    Ok(WarmRun {
        rss_kb,
        cpu_per_invocation: Duration::from_secs_f64(
            ticks as f64 / CLOCK_TICKS_PER_SECOND / invocations.max(1) as f64,
        ),
    })
}

/// USER_HZ, which /proc reports CPU times in: 100 on Linux for every mainstream architecture.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected {path}"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line are the 12th and 13th after the name.
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n)
            .ok_or_else(|| anyhow!("short {path}"))?
            .parse()
            .with_context(|| format!("field {n} of {path}"))
    };
    Ok(field(11)? + field(12)?)
}

pub fn file_size(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len())
}

/// Fails unless `payload` is an API Gateway / ALB proxy response with `statusCode` 200.
pub fn ensure_success(payload: &Value) -> anyhow::Result<()> {
    let Some(status) = payload.get("statusCode").and_then(Value::as_u64) else {
        bail!("response has no numeric statusCode: {payload}");
    };
    if status != 200 {
        let body = payload.get("body").cloned().unwrap_or(Value::Null);
        bail!("response status {status}, body {body}");
    }
    Ok(())
}

fn vm_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))?;
    let kb = line.trim().trim_end_matches("kB").trim();
    kb.parse()
        .with_context(|| format!("cannot parse VmRSS {line:?}"))
}

/// A spawned function process whose stdout and stderr are drained in the background.
struct Running {
    child: Child,
    /// Readers of (stdout, stderr), each returning the last [`OUTPUT_TAIL`] bytes.
    output: Vec<(&'static str, JoinHandle<Vec<u8>>)>,
}

impl Running {
    fn spawn(process: &LambdaProcess, api: &RuntimeApi) -> anyhow::Result<Self> {
        let mut command = Command::new(&process.binary);
        command
            .env_clear()
            .envs(LAMBDA_ENV.iter().copied())
            .envs(process.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.runtime_api_env())
            .stdin(Stdio::null())
            // Piped and always drained: a full pipe would stall the process, and the tail
            // explains an early exit (lambda_http's default subscriber logs to stdout).
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", process.binary.display()))?;
        let mut output = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            output.push(("stdout", tokio::spawn(tail(pipe))));
        }
        if let Some(pipe) = child.stderr.take() {
            output.push(("stderr", tokio::spawn(tail(pipe))));
        }
        Ok(Self { child, output })
    }

    /// Runs `work` unless the process exits first, which becomes an error with its exit status,
    /// any init error it posted and the end of its output.
    async fn until_exit<T>(
        &mut self,
        api: &RuntimeApi,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let status = tokio::select! {
            // An answer that is already there wins over an exit right after it.
            biased;
            result = work => return result,
            status = self.child.wait() => status,
        };
        Err(self.exited(api, status).await)
    }

    async fn exited(
        &mut self,
        api: &RuntimeApi,
        status: std::io::Result<ExitStatus>,
    ) -> anyhow::Error {
        let status = match status {
            Ok(status) => status.to_string(),
            Err(error) => format!("unknown status ({error})"),
        };
        let mut message = format!("process exited ({status})");
        if let Some(init) = api.init_error() {
            message.push_str(&format!("; init error: {init}"));
        }
        for (name, mut reader) in std::mem::take(&mut self.output) {
            // EOF follows the exit unless a grandchild holds the pipe; don't wait for that.
            let text = tokio::time::timeout(Duration::from_secs(1), &mut reader)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            reader.abort();
            let text = String::from_utf8_lossy(&text);
            if !text.trim().is_empty() {
                message.push_str(&format!("; {name}: {}", text.trim()));
            }
        }
        anyhow!(message)
    }

    async fn kill(mut self) {
        // kill_on_drop covers error paths; here we also reap the process.
        let _ = self.child.kill().await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for (_, reader) in &self.output {
            reader.abort();
        }
    }
}

/// Reads `pipe` to its end, keeping only the last [`OUTPUT_TAIL`] bytes.
async fn tail(mut pipe: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n @ 1..) = pipe.read(&mut buffer).await {
        tail.extend_from_slice(&buffer[..n]);
        if tail.len() > OUTPUT_TAIL {
            tail.drain(..tail.len() - OUTPUT_TAIL);
        }
    }
    tail
}
