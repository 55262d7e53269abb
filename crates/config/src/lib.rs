//! Loupe's configuration, in layers of increasing precedence: built-in
//! defaults, a TOML file (the platform config directory's
//! `loupe/config.toml`, or `--config`/`LOUPE_CONFIG`), `LOUPE_*`
//! environment variables, then command-line flags.
//!
//! Each layer is a `toml::Table` merged key by key over the ones before,
//! and every leaf remembers which layer set it, so `loupe config` can say
//! where each value came from. A layer that makes the configuration
//! invalid is named in the error. The result is plain values: `loupe-app`
//! turns it into a running Loupe, so this crate knows nothing of HTTP,
//! sockets or the store's threads.

mod schema;
pub mod secrets;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

pub use schema::{default_data_dir, Analysis, Auth, Config, Forward, Health, Metrics, Receiver};

/// Private files for everything Loupe keeps in its configuration and data
/// directories (tokens, keys, exports): directories 0700, files 0600
/// whatever the umask, written atomically. Defined in the store, which
/// every crate depends on, and re-exported here where the directories are
/// known.
pub use loupe_store::files::{
    create_private_file, ensure_private_dir, tighten_private_file, write_private_file, Tightened,
};

/// The secrets and warnings of the listening mode (SECURITY.md), as read
/// or created by [`Loaded::access`].
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The API and UI's access token, when they listen beyond loopback.
    pub api_token: Option<String>,
    /// The OTLP API key, when a receiver listens beyond loopback.
    pub otlp_key: Option<String>,
    /// Said at every start: a defence turned off on purpose.
    pub warnings: Vec<String>,
}

/// The forwarding protocol named by `forward.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardProtocol {
    Grpc,
    Http,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{source_name}: {message}")]
    Layer {
        source_name: String,
        message: String,
    },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("cannot keep the secret file {path}: {source}")]
    Secret {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The configuration file used when none is named: `config.toml` in the
/// platform config directory (`~/.config/loupe` on Linux).
pub fn default_config_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("loupe").join("config.toml"))
}

/// Which configuration file was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    Read(PathBuf),
    /// The default location, which does not exist (that is fine).
    Absent(PathBuf),
    /// No platform config directory and no `--config`.
    None,
}

/// An override from the command line: the key, the flag's spelling, the value.
pub struct Flag {
    pub key: &'static str,
    pub flag: &'static str,
    pub value: Value,
}

/// The effective configuration and the source of each value.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub file: FileStatus,
    /// Things to tell the user before logging is set up (it is configured
    /// from this): e.g. that the file was readable by other users and has
    /// been made 0600.
    pub warnings: Vec<String>,
    merged: Table,
    sources: BTreeMap<String, Source>,
}

/// The smallest in-flight budget accepted (`receiver.max_in_flight`).
const MIN_IN_FLIGHT: u64 = 1 << 20;

/// The smallest `max_db_size`: an empty database (about 200 KiB of schema)
/// plus the WAL's floor (256 KiB) and two transactions' worth must fit
/// 1.1 × the cap, or the writer would hold every commit and refuse all
/// telemetry (`store::retention::RetentionState::room_for_commit`).
const MIN_DB_SIZE: u64 = 1 << 20;

/// Keys that environment variables cannot set (tables of rules).
const NOT_FROM_ENV: &[&str] = &["filters", "correlation"];

/// The environment variable that sets `key` (`forward.endpoint` →
/// `LOUPE_FORWARD_ENDPOINT`).
pub fn env_name(key: &str) -> String {
    format!("LOUPE_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Leaf keys (dotted) of a table, with their values; arrays are leaves.
fn leaves(t: &Table, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(inner) => leaves(inner, &key, out),
            other => out.push((key, other.clone())),
        }
    }
}

/// Sets a dotted key in a table, creating sections on the way.
fn set(t: &mut Table, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            t.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = t
                .entry(head.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            if let Value::Table(inner) = entry {
                set(inner, rest, value);
            }
        }
    }
}

fn get<'a>(t: &'a Table, key: &str) -> Option<&'a Value> {
    match key.split_once('.') {
        None => t.get(key),
        Some((head, rest)) => get(t.get(head)?.as_table()?, rest),
    }
}

/// An environment variable's text as a value of the default's type.
fn env_value(default: &Value, text: &str) -> Result<Value, String> {
    match default {
        Value::Boolean(_) => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Value::Boolean(true)),
            "0" | "false" | "no" | "off" | "" => Ok(Value::Boolean(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        Value::Integer(_) => text
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("{text:?} is not an integer")),
        Value::Array(_) => Ok(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
        _ => Ok(Value::String(text.to_string())),
    }
}

fn check(t: &Table) -> Result<Config, String> {
    Config::deserialize(Value::Table(t.clone())).map_err(|e| e.to_string().trim().to_string())
}

impl Loaded {
    /// Loads the layers. `file` is `--config` (or `LOUPE_CONFIG`), which
    /// must exist; without it the default location is read if present.
    /// `env` looks up environment variables (a parameter so tests need
    /// not touch the process environment).
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: Vec<Flag>,
    ) -> Result<Loaded, ConfigError> {
        let defaults = Table::try_from(Config::default()).map_err(|e| ConfigError::Layer {
            source_name: "defaults".into(),
            message: e.to_string(),
        })?;
        let mut sources = BTreeMap::new();
        let mut all = Vec::new();
        leaves(&defaults, "", &mut all);
        for (k, _) in &all {
            sources.insert(k.clone(), Source::Default);
        }
        let mut merged = defaults.clone();
        let mut warnings = Vec::new();

        // The file.
        let explicit = file.map(Path::to_path_buf).or_else(|| {
            env("LOUPE_CONFIG")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        let (path, must_exist) = match explicit {
            Some(p) => (Some(p), true),
            None => (default_config_file(), false),
        };
        let status = match path {
            None => FileStatus::None,
            Some(path) => match std::fs::read_to_string(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                    FileStatus::Absent(path)
                }
                Err(source) => return Err(ConfigError::Read { path, source }),
                Ok(text) => {
                    let table: Table = toml::from_str(&text).map_err(|e| ConfigError::File {
                        path: path.clone(),
                        message: e.to_string().trim().to_string(),
                    })?;
                    // Checked alone first, so errors point into the file.
                    toml::from_str::<Config>(&text).map_err(|e| ConfigError::File {
                        path: path.clone(),
                        message: e.to_string().trim().to_string(),
                    })?;
                    // It may hold forwarding headers (API keys): the
                    // user's only, like every file Loupe keeps.
                    match tighten_private_file(&path) {
                        Ok(t) => warnings.extend(t.warning()),
                        Err(e) => warnings.push(format!(
                            "cannot make {} private (0600): {e}",
                            path.display()
                        )),
                    }
                    let mut set_here = Vec::new();
                    leaves(&table, "", &mut set_here);
                    for (k, v) in set_here {
                        set(&mut merged, &k, v);
                        sources.insert(k, Source::File(path.clone()));
                    }
                    FileStatus::Read(path)
                }
            },
        };

        // The environment.
        for (key, default) in &all {
            if NOT_FROM_ENV.contains(&key.as_str()) {
                continue;
            }
            let var = env_name(key);
            let (var, text) = match env(&var) {
                Some(t) => (var, t),
                // `RUST_LOG` is the usual way to set a Rust program's log filter.
                None if key == "log" => match env("RUST_LOG") {
                    Some(t) => ("RUST_LOG".to_string(), t),
                    None => continue,
                },
                None => continue,
            };
            let value = env_value(default, &text).map_err(|message| ConfigError::Layer {
                source_name: format!("environment variable {var}"),
                message,
            })?;
            set(&mut merged, key, value);
            check(&merged).map_err(|message| ConfigError::Layer {
                source_name: format!("environment variable {var}"),
                message,
            })?;
            sources.insert(key.clone(), Source::Env(var));
        }

        // The flags.
        for f in flags {
            set(&mut merged, f.key, f.value);
            check(&merged).map_err(|message| ConfigError::Layer {
                source_name: format!("flag {}", f.flag),
                message,
            })?;
            sources.insert(f.key.to_string(), Source::Flag(f.flag.to_string()));
        }

        let config = check(&merged).map_err(|message| ConfigError::Layer {
            source_name: "configuration".into(),
            message,
        })?;
        Ok(Loaded {
            config,
            file: status,
            warnings,
            merged,
            sources,
        })
    }

    /// Where `key` (dotted) got its value.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.sources.get(key)
    }

    /// The effective configuration as TOML, each value followed by its source.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match &self.file {
            FileStatus::Read(p) => {
                out.push_str(&format!("# configuration file: {}\n", p.display()))
            }
            FileStatus::Absent(p) => out.push_str(&format!(
                "# configuration file: {} (not found; defaults apply)\n",
                p.display()
            )),
            FileStatus::None => out.push_str("# configuration file: none\n"),
        }
        out.push_str("# precedence: default < file < env (LOUPE_*) < flag\n");
        self.render_table(&self.merged, "", &mut out);
        out
    }

    fn render_table(&self, t: &Table, prefix: &str, out: &mut String) {
        let key_of = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        let source = |k: &str| {
            self.sources
                .get(k)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "default".into())
        };
        // Plain values first (TOML requires them before sub-tables).
        for (k, v) in t {
            let is_rules = matches!(v, Value::Array(a) if a.iter().any(Value::is_table));
            if v.is_table() || is_rules || (key_of(k) == "filters") {
                continue;
            }
            out.push_str(&format!("{k} = {v}  # {}\n", source(&key_of(k))));
        }
        for (k, v) in t {
            if let Value::Table(inner) = v {
                out.push_str(&format!("\n[{}]\n", key_of(k)));
                self.render_table(inner, &key_of(k), out);
            }
        }
        for (k, v) in t {
            if let Value::Array(items) = v {
                if key_of(k) != "filters" && !items.iter().any(Value::is_table) {
                    continue;
                }
                out.push_str(&format!(
                    "\n# {} ({} rule(s)): {}\n",
                    key_of(k),
                    items.len(),
                    source(&key_of(k))
                ));
                for item in items {
                    if let Value::Table(rule) = item {
                        out.push_str(&format!("[[{}]]\n", key_of(k)));
                        for (rk, rv) in rule {
                            out.push_str(&format!("{rk} = {rv}\n"));
                        }
                    }
                }
            }
        }
    }

    /// Where the token files live: beside the configuration file in use,
    /// else in the data directory.
    pub fn secrets_dir(&self) -> PathBuf {
        match &self.file {
            FileStatus::Read(p) | FileStatus::Absent(p) => p
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.config.data_dir.clone()),
            FileStatus::None => self.config.data_dir.clone(),
        }
    }

    /// The defences of the mode: in remote mode the access token and the
    /// OTLP API key (created on first use, kept in 0600 files), or a
    /// warning for each that the user turned off. Plain values: the
    /// application (`loupe-app`) turns them into the guards.
    pub fn access(&self) -> Result<Access, ConfigError> {
        let c = &self.config;
        let beyond = |a: &std::net::SocketAddr| c.allow_remote && !a.ip().is_loopback();
        let mut access = Access::default();
        let keep = |name: &str| {
            let path = self.secrets_dir().join(name);
            secrets::load_or_create(&path).map_err(|source| ConfigError::Secret { path, source })
        };
        if beyond(&c.api_addr) {
            if c.auth.api {
                access.api_token = Some(keep(secrets::API_TOKEN_FILE)?);
            } else {
                access.warnings.push(format!(
                    "auth.api = false: anyone who can reach {} can read, export and change everything in Loupe",
                    c.api_addr
                ));
            }
        }
        if beyond(&c.grpc_addr) || beyond(&c.http_addr) {
            if c.auth.otlp {
                access.otlp_key = Some(keep(secrets::OTLP_KEY_FILE)?);
            } else {
                access.warnings.push(format!(
                    "auth.otlp = false: anyone who can reach {} or {} can send telemetry to Loupe",
                    c.grpc_addr, c.http_addr
                ));
            }
        }
        Ok(access)
    }

    /// The filter rules, compiled (the receiver's live set at start-up).
    pub fn filters(&self) -> Result<loupe_otlp::filter::Filters, ConfigError> {
        loupe_otlp::filter::Filters::new(self.config.filters.clone()).map_err(|e| {
            ConfigError::Invalid {
                key: "filters",
                message: e.to_string(),
            }
        })
    }

    /// Checks what the file's types cannot: filter rules compile, the
    /// metrics prefix can start a Prometheus name, the forwarding target
    /// is usable. `loupe config` and start-up both call it, so a mistake is
    /// reported the same way before anything listens.
    pub fn check(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        self.filters()?;
        loupe_model::correlation::JoinRule::check(&c.correlation).map_err(|message| {
            ConfigError::Invalid {
                key: "correlation",
                message,
            }
        })?;
        if c.analysis.run_keys.len() > 8 || c.analysis.run_keys.iter().any(|k| k.trim().is_empty())
        {
            return Err(ConfigError::Invalid {
                key: "analysis.run_keys",
                message: "at most 8 attribute keys, none empty".into(),
            });
        }
        if !loupe_ops::valid_prefix(&c.metrics.prefix) {
            return Err(ConfigError::Invalid {
                key: "metrics.prefix",
                message: format!(
                    "{:?} cannot start a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                    c.metrics.prefix
                ),
            });
        }
        if c.receiver.max_in_flight.bytes < MIN_IN_FLIGHT {
            return Err(ConfigError::Invalid {
                key: "receiver.max_in_flight",
                message: format!(
                    "{:?} is below 1MiB: exporters would be refused almost always",
                    c.receiver.max_in_flight.text
                ),
            });
        }
        if c.max_db_size.bytes < MIN_DB_SIZE {
            return Err(ConfigError::Invalid {
                key: "max_db_size",
                message: format!(
                    "{:?} is below 1MiB: too small for the empty database and one write",
                    c.max_db_size.text
                ),
            });
        }
        self.forward_protocol().map(|_| ())
    }

    /// Where to forward to, checked: `None` when forwarding is off.
    pub fn forward_protocol(&self) -> Result<Option<ForwardProtocol>, ConfigError> {
        let f = &self.config.forward;
        if f.endpoint.is_empty() {
            return Ok(None);
        }
        if !f.endpoint.starts_with("http://") {
            return Err(ConfigError::Invalid {
                key: "forward.endpoint",
                message: format!(
                    "{:?} is not an http:// URL (TLS is not built in; forward through a local Collector)",
                    f.endpoint
                ),
            });
        }
        match f.protocol.as_str() {
            "grpc" => Ok(Some(ForwardProtocol::Grpc)),
            "http" => Ok(Some(ForwardProtocol::Http)),
            other => Err(ConfigError::Invalid {
                key: "forward.protocol",
                message: format!("{other:?} is neither grpc nor http"),
            }),
        }
    }

    /// The value of a dotted key in the effective configuration.
    pub fn value(&self, key: &str) -> Option<&Value> {
        get(&self.merged, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::correlation::JoinRule;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    /// A configuration file others can read is made 0600, and the user is
    /// told; a private one is left without a word.
    #[cfg(unix)]
    #[test]
    fn a_readable_config_file_is_made_private_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = write("log = \"info\"\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("644"), "{:?}", l.warnings);
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn run_keys_come_from_the_file_or_the_environment() {
        let l = Loaded::load(None, &no_env, Vec::new()).expect("load");
        assert_eq!(
            l.config.analysis.run_keys,
            ["kestra.namespace", "kestra.flowId"]
        );
        let (_d, path) = write("[analysis]\nrun_keys = [\"app.job\"]\n");
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        l.check().expect("valid");
        assert_eq!(l.config.analysis.run_keys, ["app.job"]);
        let env = |k: &str| (k == "LOUPE_ANALYSIS_RUN_KEYS").then(|| "a.b, c".to_string());
        let l = Loaded::load(None, &env, Vec::new()).expect("load");
        assert_eq!(l.config.analysis.run_keys, ["a.b", "c"]);
        let (_d, path) = write("[analysis]\nrun_keys = [\"\"]\n");
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        assert!(l.check().is_err());
    }

    #[test]
    fn correlation_rules_from_the_file() {
        let no_env = |_: &str| None;
        let l = Loaded::load(None, &no_env, Vec::new()).expect("load");
        assert_eq!(l.config.correlation, JoinRule::defaults());
        let (_d, path) = write(
            "[[correlation]]\nkey = \"kestra.executionId\"\nenabled = false\n\
             [[correlation]]\nkey = \"kestra.executionId\"\nreference = \"kestra.parentExecutionId\"\n",
        );
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        l.check().expect("valid");
        assert_eq!(l.config.correlation.len(), 2);
        assert!(!l.config.correlation[0].enabled);
        assert_eq!(
            l.config.correlation[1].reference.as_deref(),
            Some("kestra.parentExecutionId")
        );
        let (_d, path) = write("correlation = []\n");
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        assert!(l.config.correlation.is_empty());
        for bad in [
            "[[correlation]]\nkey = \"\"\n",
            "[[correlation]]\nkey = \"a\"\n[[correlation]]\nkey = \"a\"\n",
        ] {
            let (_d, path) = write(bad);
            let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
            assert!(l.check().is_err(), "{bad}");
        }
        let (_d, path) = write("[[correlation]]\nkey = \"a\"\nkeys = \"b\"\n");
        assert!(Loaded::load(Some(&path), &no_env, Vec::new()).is_err());
    }

    /// A cap smaller than an empty database and one write would make the
    /// writer hold every commit: refused at start, with the reason.
    #[test]
    fn max_db_size_below_one_mib_is_refused() {
        let (_d, path) = write("max_db_size = \"512KiB\"\n");
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        let err = l.check().expect_err("refused").to_string();
        assert!(err.contains("below 1MiB"), "{err}");
        let (_d, path) = write("max_db_size = \"1MiB\"\n");
        let l = Loaded::load(Some(&path), &no_env, Vec::new()).expect("load");
        l.check().expect("1MiB is enough");
    }

    #[test]
    fn layers_in_order_with_sources() {
        let (_d, path) = write(
            "grpc_addr = \"127.0.0.1:1111\"\nhttp_addr = \"127.0.0.1:2222\"\nmax_db_size = \"2GiB\"\n\
             [forward]\nendpoint = \"http://up:4317\"\n\
             [[filters]]\nscope = \"io.kestra.core.runners.Executor\"\n",
        );
        let env = |k: &str| match k {
            "LOUPE_HTTP_ADDR" => Some("127.0.0.1:3333".to_string()),
            "LOUPE_API_ADDR" => Some("127.0.0.1:4444".to_string()),
            "LOUPE_CORS_ORIGINS" => Some("http://a:*, http://b:*".to_string()),
            "RUST_LOG" => Some("debug".to_string()),
            _ => None,
        };
        let flags = vec![Flag {
            key: "api_addr",
            flag: "--api-addr",
            value: Value::String("127.0.0.1:5555".into()),
        }];
        let l = Loaded::load(Some(&path), &env, flags).expect("loads");
        assert_eq!(l.config.grpc_addr.port(), 1111);
        assert_eq!(l.config.http_addr.port(), 3333);
        assert_eq!(l.config.api_addr.port(), 5555);
        assert_eq!(l.config.max_db_size.bytes, 2 << 30);
        assert_eq!(l.config.cors_origins, ["http://a:*", "http://b:*"]);
        assert_eq!(l.config.log, "debug");
        assert_eq!(l.config.filters.len(), 1);
        assert_eq!(l.source("grpc_addr"), Some(&Source::File(path.clone())));
        assert_eq!(
            l.source("http_addr"),
            Some(&Source::Env("LOUPE_HTTP_ADDR".into()))
        );
        assert_eq!(
            l.source("api_addr"),
            Some(&Source::Flag("--api-addr".into()))
        );
        assert_eq!(l.source("max_age"), Some(&Source::Default));
        assert_eq!(l.source("log"), Some(&Source::Env("RUST_LOG".into())));
        let text = l.render();
        assert!(
            text.contains("grpc_addr = \"127.0.0.1:1111\"  # file "),
            "{text}"
        );
        assert!(
            text.contains("api_addr = \"127.0.0.1:5555\"  # flag --api-addr"),
            "{text}"
        );
        assert!(
            text.contains("[[filters]]\nscope = \"io.kestra.core.runners.Executor\""),
            "{text}"
        );
        // The rendering is itself a valid configuration file.
        let (_d2, again) = write(
            &text
                .lines()
                .map(|l| l.split("  # ").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let l2 = Loaded::load(Some(&again), &no_env, vec![]).expect("rendered config loads");
        assert_eq!(l2.config.api_addr.port(), 5555);
        assert_eq!(l2.config.filters, l.config.filters);
    }

    #[test]
    fn unknown_keys_are_named() {
        let (_d, path) = write("grpc_adr = \"127.0.0.1:1\"\n");
        let e = Loaded::load(Some(&path), &no_env, vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("grpc_adr"), "{e}");
        let (_d, path) = write("[forward]\nendpont = \"x\"\n");
        let e = Loaded::load(Some(&path), &no_env, vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("endpont"), "{e}");
        let (_d, path) = write("[[filters]]\nscope = \"a\"\nspan = \"b\"\n");
        let e = Loaded::load(Some(&path), &no_env, vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("span"), "{e}");
    }

    #[test]
    fn bad_values_name_their_layer() {
        let env = |k: &str| (k == "LOUPE_MAX_DB_SIZE").then(|| "lots".to_string());
        let e = Loaded::load(None, &env, vec![]).unwrap_err().to_string();
        assert!(e.contains("LOUPE_MAX_DB_SIZE"), "{e}");
        let missing = Path::new("/nonexistent/loupe.toml");
        assert!(matches!(
            Loaded::load(Some(missing), &no_env, vec![]),
            Err(ConfigError::Read { .. })
        ));
    }
}
