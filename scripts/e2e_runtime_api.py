#!/usr/bin/env python3
"""End-to-end check of the real `bootstrap` binary through the Lambda Runtime API.

`cargo lambda watch --only-lambda-apis` serves a bare Runtime API on loopback; the debug
`bootstrap` polls it, talking to the embedded engine of `devkit serve` (demo data) over HTTP.
Every events/*.json is sent with `cargo lambda invoke`; each answer must have the manifest's
status and code, and each success the same body as the same query sent to the local server.
Then a bootstrap without TABLE_NAME must fail initialisation through the Runtime API's
init-error endpoint with a message naming the setting, not panic.

Usage: scripts/e2e_runtime_api.py  (after `cargo build --workspace`; cargo-lambda on PATH)
"""

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
ROUTE = "/v1/organizations/demo/mdm/windows/enterprise/enrollment-tokens/"
DEV_ENV = {
    "JWT_ISSUER": "https://auth.local.test/",
    "JWT_AUDIENCE": "mdm-api",
    "JWT_DEV_HS256_SECRET": "local-dev-secret-not-for-production",
    "CURSOR_SECRET": "local-cursor-secret-not-for-production",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "_",
    "AWS_LAMBDA_FUNCTION_VERSION": "1",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
}


def comparable(body):
    """The body with each cursor reduced to its presence: cursors carry their time of issue."""
    data = dict(body.get("data", {}))
    for field in ("nextCursor", "prevCursor"):
        if field in data:
            data[field] = data[field] is not None
    return {**body, "data": data}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited early with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{what} did not listen on {port} within {seconds}s")


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class InitErrorStub(http.server.BaseHTTPRequestHandler):
    """A Runtime API that only records what is posted to it."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        InitErrorStub.received.append((self.path, dict(self.headers), body.decode()))
        self.send_response(202)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self):  # an init that wrongly went on to poll for events
        InitErrorStub.received.append((self.path, dict(self.headers), ""))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def check_init_error(failures):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), InitErrorStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "TABLE_NAME"}
    env.update(DEV_ENV)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    run = subprocess.run([BIN / "bootstrap"], env=env, capture_output=True, text=True, timeout=30)
    server.shutdown()
    posts = [r for r in InitErrorStub.received if r[0].endswith("/runtime/init/error")]
    if run.returncode == 0:
        failures.append("init error: bootstrap exited 0 without TABLE_NAME")
    if "panicked" in run.stderr + run.stdout:
        failures.append(f"init error: bootstrap panicked: {run.stderr}")
    if len(posts) != 1:
        failures.append(f"init error: expected one POST to /runtime/init/error, got {InitErrorStub.received}")
        return
    path, headers, body = posts[0]
    error_type = {k.lower(): v for k, v in headers.items()}.get("lambda-runtime-function-error-type")
    message = json.loads(body).get("errorMessage", "")
    if error_type != "Runtime.InitError" or "TABLE_NAME" not in message:
        failures.append(f"init error: {path} {error_type} {message!r}")
    print(f"init error reported: {error_type}: {message}")


def main():
    cargo_lambda = shutil.which("cargo-lambda") or sys.exit("cargo-lambda is not on PATH")
    manifest = json.loads((ROOT / "events" / "manifest.json").read_text())
    http_port, engine_port, runtime_port = free_port(), free_port(), free_port()
    data_dir = tempfile.mkdtemp()
    processes = []
    failures = []
    try:
        devkit_log = open(Path(data_dir) / "devkit.log", "w")
        devkit = subprocess.Popen(
            [BIN / "devkit", "serve", "--port", str(http_port), "--engine-port", str(engine_port),
             "--demo-tokens", "60", "--data-dir", data_dir],
            stdout=devkit_log, stderr=subprocess.DEVNULL)
        processes.append(devkit)
        wait_for_port(http_port, devkit, "devkit serve")
        watch = subprocess.Popen(
            [cargo_lambda, "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1",
             "-P", str(runtime_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(watch)
        wait_for_port(runtime_port, watch, "cargo lambda watch")
        env = dict(os.environ, **DEV_ENV)
        env.update({
            "TABLE_NAME": "enrollment-tokens-local",
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{engine_port}",
            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{runtime_port}/.rt",
        })
        bootstrap_log = open(Path(data_dir) / "bootstrap.log", "w")
        bootstrap = subprocess.Popen([BIN / "bootstrap"], env=env, stdout=bootstrap_log,
                                     stderr=subprocess.STDOUT)
        processes.append(bootstrap)
        token = subprocess.run([BIN / "devkit", "token"], capture_output=True, text=True,
                               check=True).stdout.strip()
        for entry in manifest:
            name = entry["file"]
            failed_before = len(failures)
            invoked = subprocess.run(
                [cargo_lambda, "lambda", "invoke", "-A", "127.0.0.1", "-P", str(runtime_port),
                 "--data-file", str(ROOT / "events" / name), "--output-format", "json", "_"],
                capture_output=True, text=True, timeout=60)
            if invoked.returncode != 0:
                failures.append(f"{name}: invoke failed: {invoked.stderr.strip()}")
                continue
            answer = json.loads(invoked.stdout)
            status, body = answer["statusCode"], json.loads(answer["body"])
            if status != entry["status"]:
                failures.append(f"{name}: status {status}, expected {entry['status']}: {body}")
                continue
            if "sameAs" in entry:
                direct_status, direct = get(
                    f"http://127.0.0.1:{http_port}{ROUTE}?{entry['sameAs']}", token)
                if direct_status != 200 or comparable(direct) != comparable(body):
                    failures.append(f"{name}: body differs from the local server's")
            elif body.get("error", {}).get("code") != entry["code"] or (
                    "parameter" in entry and f"'{entry['parameter']}'" not in body["error"]["message"]):
                failures.append(f"{name}: unexpected error body {body}")
            print(f"{name}: {status}", "ok" if len(failures) == failed_before else "FAILED")
        rss = next((line.split()[1] for line in open(f"/proc/{bootstrap.pid}/status")
                    if line.startswith("VmRSS")), "?")
        print(f"bootstrap (debug build) resident memory after {len(manifest)} invocations: {rss} kB")
        bootstrap_log.flush()
        summaries = [json.loads(line) for line in open(Path(data_dir) / "bootstrap.log")
                     if line.startswith("{") and '"message":"request"' in line]
        if len(summaries) != len(manifest):
            failures.append(f"{len(summaries)} summary log lines for {len(manifest)} invocations")
        check_init_error(failures)
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    for failure in failures:
        print("FAILED:", failure)
    checks = len(manifest) + 2
    print(f"e2e: {checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
