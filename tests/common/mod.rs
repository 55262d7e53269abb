//! Test harness: runs the real `loupe serve` binary on free loopback ports
//! with its own data directory, and talks to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Loupe {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub api: SocketAddr,
    pub data_dir: PathBuf,
    child: Child,
    _tmp: Option<tempfile::TempDir>,
}

impl Loupe {
    /// Starts `loupe serve` in a fresh temporary data directory.
    pub fn start() -> Loupe {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut l = Loupe::start_in(&dir, &[]);
        l._tmp = Some(tmp);
        l
    }

    /// Starts `loupe serve` in a fresh temporary data directory, with extra flags.
    pub fn start_with(extra: &[&str]) -> Loupe {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut l = Loupe::start_in(&dir, extra);
        l._tmp = Some(tmp);
        l
    }

    /// Starts `loupe serve` on `dir` (kept after the server stops), with
    /// extra flags (later flags override earlier ones, so `--grpc-addr`
    /// may pin a port).
    pub fn start_in(dir: &Path, extra: &[&str]) -> Loupe {
        let mut child = loupe_command()
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args([
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
                "--api-addr",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn loupe serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut grpc, mut http, mut api) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while grpc.is_none() || http.is_none() || api.is_none() {
            assert!(Instant::now() < deadline, "loupe serve did not start");
            let line = match lines.next() {
                Some(Ok(l)) => l,
                _ => panic!("loupe serve exited before listening"),
            };
            let addr = |l: &str| -> SocketAddr {
                let a = l.rsplit(' ').next().unwrap();
                let a = a.trim_start_matches("http://");
                a.parse().unwrap_or_else(|_| panic!("address in {l:?}"))
            };
            if line.starts_with("loupe: OTLP/gRPC on ") {
                grpc = Some(addr(&line));
            } else if line.starts_with("loupe: OTLP/HTTP on ") {
                http = Some(addr(&line));
            } else if line.starts_with("loupe: API and UI on ") {
                api = Some(addr(&line));
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Loupe {
            grpc: grpc.unwrap(),
            http: http.unwrap(),
            api: api.unwrap(),
            data_dir: dir.to_path_buf(),
            child,
            _tmp: None,
        }
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// GET on the API; panics unless the answer is 200 with JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let resp = reqwest::get(self.api_url(path)).await.expect("GET");
        let status = resp.status();
        let body = resp.text().await.expect("body");
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Stops the server cleanly (SIGTERM) and waits: the writer drains and
    /// checkpoints the WAL into the database file.
    pub fn stop(mut self) -> PathBuf {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let dir = self.data_dir.clone();
        if let Some(tmp) = self._tmp.take() {
            let _ = tmp.keep();
        }
        dir
    }

    /// Stops the server the way a kill would (SIGKILL), for crash tests.
    pub fn kill(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = self.data_dir.clone();
        if let Some(tmp) = self._tmp.take() {
            // Keep the directory: the caller restarts on it.
            let _ = tmp.keep();
        }
        dir
    }
}

/// The `loupe` binary with a clean environment: no user configuration file
/// (the config directory points into a fresh temporary path), no `LOUPE_*`
/// variables from the caller, and quiet logs.
pub fn loupe_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loupe"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LOUPE_") {
            c.env_remove(&k);
        }
    }
    let config_home =
        std::env::temp_dir().join(format!("loupe-test-config-{}", std::process::id()));
    c.env("XDG_CONFIG_HOME", config_home)
        .env("RUST_LOG", "warn");
    c
}

impl Drop for Loupe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a script run by [`run_script`] did: its exit status (`None` when it
/// was killed at the deadline) and its whole output.
pub struct ScriptRun {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` (a Node end-to-end script) in its own process group, collects
/// its output, and kills the whole group (the script, loupe, Chromium,
/// Xvfb, drivers) when it exits or after `timeout`, so nothing outlives the
/// test.
pub fn run_script(mut cmd: Command, timeout: Duration) -> ScriptRun {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let what = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {what} ({e}): the end-to-end tests need Node.js >= 20 on PATH")
        });
    let pgid = child.id();
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever is left of the group (scripts stop what they started, but
    // not after a crash or a timeout).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
    ScriptRun {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// What the Node end-to-end scripts need besides Node itself, each missing
/// piece with the command that provides it: the OpenTelemetry JS SDK of the
/// workload, and a `loupe` binary built with the web UI embedded (checked
/// with `GET /` on a throwaway server).
pub fn e2e_prerequisites(root: &Path, bin: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let mut missing = Vec::new();
    if !root
        .join("tests/e2e/node/node_modules/@opentelemetry/sdk-trace-base/package.json")
        .is_file()
    {
        missing.push(
            "tests/e2e/node/node_modules is missing: run `npm ci --prefix tests/e2e/node`"
                .to_string(),
        );
    }
    let page = {
        let loupe = Loupe::start();
        let mut s = std::net::TcpStream::connect(loupe.api).expect("connect to the API address");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            loupe.api
        )
        .unwrap();
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    };
    if page.contains("built without its web UI") {
        missing.push(format!(
            "{bin} was built without its web UI: run `scripts/build-ui`, then rebuild \
             (`cargo test` rebuilds it; ui/dist is embedded at compile time)"
        ));
    } else if !page.contains("/assets/") {
        missing.push(format!("GET / did not return the built UI:\n{page}"));
    }
    missing
}

/// Every `(path, write methods)` registered with `.route(` in the API's
/// sources, read from the code itself so that a route added later is
/// walked without anyone listing it here.
pub fn api_routes() -> Vec<(String, Vec<&'static str>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["crates/server/src", "crates/mcp/src"] {
        collect_rust_files(&root.join(dir), &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read source");
        let mut rest = text.as_str();
        // `.route(` and `.route_service(` (a whole service, such as `/mcp`,
        // takes every method).
        while let Some((i, needle)) = [".route(", ".route_service("]
            .iter()
            .filter_map(|n| rest.find(n).map(|i| (i, *n)))
            .min()
        {
            rest = &rest[i + needle.len()..];
            let body = rest.trim_start();
            let Some(body) = body.strip_prefix('"') else {
                continue;
            };
            let Some(end) = body.find('"') else { break };
            let path = body[..end].to_string();
            let call = &body[end..];
            let call = &call[..call.find(".route").unwrap_or(call.len())];
            if needle == ".route_service(" {
                out.push((path, vec!["POST", "PUT", "DELETE", "PATCH"]));
                continue;
            }
            let methods = [
                ("post(", "POST"),
                ("put(", "PUT"),
                ("delete(", "DELETE"),
                ("patch(", "PATCH"),
            ]
            .into_iter()
            .filter(|(needle, _)| call.contains(needle))
            .map(|(_, m)| m)
            .collect();
            out.push((path, methods));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn collect_rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Runs `node ui/e2e/<script> <urls…> target/browser-artifacts <args…>`
/// through [`run_script`] and fails with its output: the one way the
/// browser tests run their scripts.
pub fn run_e2e(script: &str, urls: &[&str], args: &[String], timeout: Duration) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("node");
    cmd.arg(root.join("ui/e2e").join(script))
        .args(urls)
        .arg(root.join("target/browser-artifacts"))
        .args(args)
        .current_dir(root);
    let ScriptRun {
        status,
        stdout,
        stderr,
    } = run_script(cmd, timeout);
    println!("{stdout}");
    match status {
        None => panic!("ui/e2e/{script} did not finish within {timeout:?}.\n{stdout}\n{stderr}"),
        Some(s) => assert!(
            s.success(),
            "ui/e2e/{script} failed ({s}); screenshots in target/browser-artifacts.\n{stdout}\n{stderr}"
        ),
    }
}
