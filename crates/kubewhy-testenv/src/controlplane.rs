//! Running the control plane: spawning the Go program, waiting for its ready line, and stopping it.
//!
//! The child is started with `--exit-on-stdin-eof` and its standard input is a pipe held by this process, so
//! however this process ends (a test panic, `exit`, SIGKILL) the pipe closes and the control plane shuts itself
//! down: no process outlives the test run.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::{Error, binary};

/// Why a started control plane did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state file it wrote cannot be read.
    #[error("{} is not a control-plane state file", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// It announced readiness in a form this crate does not understand.
    #[error("unexpected ready line: {line}")]
    ReadyLine {
        /// The line.
        line: String,
    },
    /// It exited before it was ready.
    #[error("the control plane exited before it was ready ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        /// Its exit status, as far as known.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// It was not ready in time (and was stopped).
    #[error("the control plane was not ready within {timeout_s}s; last lines of {}:\n{tail}", log.display())]
    NotReady {
        /// The timeout, in seconds.
        timeout_s: u64,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
}

/// Static-token users every control plane started here knows (name, groups).
pub const DEFAULT_USERS: &[(&str, &str)] = &[("alice", ""), ("bob", "dev-team"), ("carol", "")];

/// Environment variable naming the state directory of a running control plane to reuse instead of starting one.
pub const REUSE_ENV: &str = "KUBEWHY_CONTROLPLANE";

/// What the Go program writes to `<dir>/state.json` once ready.
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    /// `https://127.0.0.1:<port>`
    pub server: String,
    /// PEM file of the CA that signed the serving certificate.
    pub ca_file: PathBuf,
    /// Admin kubeconfig (user `admin`, group `system:masters`).
    pub kubeconfig: PathBuf,
    /// Bearer token of the admin.
    pub admin_token: String,
    /// Bearer tokens of the static-token users, by name.
    pub users: BTreeMap<String, String>,
    /// Process id of the control plane.
    pub pid: u32,
    /// State directory (certificates, tokens, kubeconfig).
    pub dir: PathBuf,
    /// etcd's data directory.
    pub data_dir: PathBuf,
    /// The Kubernetes version the binary was built from.
    pub version: String,
}

impl State {
    /// Reads `<dir>/state.json`.
    pub fn load(dir: &Path) -> Result<State, Error> {
        let path = dir.join("state.json");
        let data = fs::read(&path).map_err(|e| {
            Error::io(
                format!(
                    "reading {} (is a control plane running there?)",
                    path.display()
                ),
                e,
            )
        })?;
        serde_json::from_slice(&data).map_err(|e| {
            Error::Start(StartError::StateFile {
                path: path.clone(),
                source: e,
            })
        })
    }
}

/// Options for [`ControlPlane::start`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep state (certificates, tokens, etcd data) and the control plane's log (`<dir>/logs/`) here instead of a
    /// temporary directory and `<target>/controlplane/logs`; the directory is kept after shutdown, so a control
    /// plane can be restarted on the same data, and nothing of it is written anywhere else.
    pub dir: Option<PathBuf>,
    /// Preferred API server port (a free one is picked when it is taken or 0).
    pub port: u16,
    /// Static-token users (name, comma-separated groups).
    pub users: Vec<(String, String)>,
    /// Extra kube-apiserver flags.
    pub apiserver_args: Vec<String>,
    /// How long to wait for readiness.
    pub ready_timeout: Duration,
    /// Stop the control plane when this process's handle is dropped or this process dies.
    pub exit_with_parent: bool,
    /// Also run the workload controllers (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job) and the scheduler,
    /// so workloads get pods on the nodes KWOK plays ([`crate::kwok`]).
    pub workloads: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dir: None,
            port: 0,
            users: DEFAULT_USERS
                .iter()
                .map(|(u, g)| (u.to_string(), g.to_string()))
                .collect(),
            apiserver_args: Vec::new(),
            ready_timeout: Duration::from_secs(120),
            exit_with_parent: true,
            workloads: false,
        }
    }
}

/// A running control plane started by this process (or reused from [`REUSE_ENV`]).
#[derive(Debug)]
pub struct ControlPlane {
    state: State,
    process: Option<Process>,
    log: Option<PathBuf>,
    ready_after: Duration,
}

/// The child process; dropping it stops it.
#[derive(Debug)]
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Process {
    /// Closes stdin (a clean shutdown with `--exit-on-stdin-eof`), else sends SIGTERM; SIGKILL after 40 s.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if self.stdin.take().is_none() {
            terminate(self.child.id());
        }
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) | Err(_) => {
                    if let Err(e) = self.child.kill() {
                        eprintln!(
                            "kubewhy-testenv: killing control plane {}: {e}",
                            self.child.id()
                        );
                    }
                    return self.child.wait().ok();
                }
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// Sends SIGTERM through the `kill` command (keeps this crate free of libc bindings).
fn terminate(pid: u32) {
    match Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("kubewhy-testenv: `kill -TERM {pid}` exited with {s}"),
        Err(e) => eprintln!("kubewhy-testenv: could not run `kill -TERM {pid}`: {e}"),
    }
}

impl ControlPlane {
    /// Builds the binary when needed, starts it and waits until it is ready.
    pub fn start(opts: Options) -> Result<ControlPlane, Error> {
        let bin = binary::ensure_built()?;
        Self::start_binary(&bin, opts)
    }

    /// Starts an already built binary and waits until it is ready.
    pub fn start_binary(bin: &Path, opts: Options) -> Result<ControlPlane, Error> {
        let log_dir = match &opts.dir {
            Some(dir) => dir.join("logs"),
            None => binary::output_dir().join("logs"),
        };
        fs::create_dir_all(&log_dir)
            .map_err(|e| Error::io(format!("creating {}", log_dir.display()), e))?;
        prune_logs(&log_dir, 20);
        // Unique per start: several control planes may start from one process within the same second.
        static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let log = log_dir.join(format!(
            "controlplane-{}-{}-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            std::process::id(),
            STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let log_file =
            File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;

        let mut cmd = Command::new(bin);
        cmd.arg(format!("--port={}", opts.port))
            .arg(format!("--ready-timeout={}s", opts.ready_timeout.as_secs()));
        if let Some(dir) = &opts.dir {
            cmd.arg(format!("--dir={}", dir.display()));
        }
        if opts.workloads {
            cmd.arg("--workloads");
        }
        if opts.exit_with_parent {
            cmd.arg("--exit-on-stdin-eof").stdin(Stdio::piped());
        } else {
            cmd.stdin(Stdio::null());
        }
        for (user, groups) in &opts.users {
            if groups.is_empty() {
                cmd.arg(format!("--user={user}"));
            } else {
                cmd.arg(format!("--user={user}:{groups}"));
            }
        }
        if !opts.apiserver_args.is_empty() {
            cmd.arg("--").args(&opts.apiserver_args);
        }
        cmd.stdout(Stdio::piped()).stderr(log_file);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", bin.display()), e))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");

        // Read stdout on a thread so the wait can time out; keep draining it afterwards.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("controlplane-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        // Nobody waits for lines any more: keep reading so the child never blocks on a full pipe.
                        continue;
                    }
                }
            })
            .map_err(|e| Error::io("spawning a thread to read the control plane's output", e))?;

        let deadline = started + opts.ready_timeout + Duration::from_secs(5);
        let mut process = Process { child, stdin };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) if line.starts_with("kubewhy-controlplane: ready") => {
                    let state_path = line
                        .rsplit_once("state ")
                        .map(|(_, p)| PathBuf::from(p.trim()))
                        .ok_or_else(|| {
                            Error::Start(StartError::ReadyLine { line: line.clone() })
                        })?;
                    let dir = state_path.parent().unwrap_or(Path::new("/")).to_path_buf();
                    return Ok(ControlPlane {
                        state: State::load(&dir)?,
                        process: Some(process),
                        log: Some(log),
                        ready_after: started.elapsed(),
                    });
                }
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = process.child.try_wait() {
                        return Err(Error::Start(StartError::Exited {
                            status: status.to_string(),
                            tail: tail(&log, 40),
                            log,
                        }));
                    }
                    if Instant::now() >= deadline {
                        process.stop();
                        return Err(Error::Start(StartError::NotReady {
                            timeout_s: opts.ready_timeout.as_secs(),
                            tail: tail(&log, 40),
                            log,
                        }));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = process.stop();
                    return Err(Error::Start(StartError::Exited {
                        status: status
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "exit status unknown".into()),
                        tail: tail(&log, 40),
                        log,
                    }));
                }
            }
        }
    }

    /// Attaches to a control plane that is already running, from its state directory.
    pub fn reuse(dir: &Path) -> Result<ControlPlane, Error> {
        Ok(ControlPlane {
            state: State::load(dir)?,
            process: None,
            log: None,
            ready_after: Duration::ZERO,
        })
    }

    /// What clients need to reach it.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.state.server
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig(&self) -> &Path {
        &self.state.kubeconfig
    }

    /// Where the control plane's own log goes (None when reused).
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// How long it took from spawn to ready (zero when reused).
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Process id of the control plane.
    pub fn pid(&self) -> u32 {
        self.state.pid
    }

    /// Stops the control plane (when this handle started it) and waits up to 40 s for it to exit.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.process.take().and_then(|mut p| p.stop())
    }

    /// The exit status of a control plane that has exited by itself (it crashed, or was killed), without
    /// waiting; `None` while it runs, or when this handle did not start it.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let process = self.process.as_mut()?;
        match process.child.try_wait() {
            Ok(status) => status,
            Err(e) => {
                // Not knowing is reported as running: the caller's own error still stands.
                eprintln!("kubewhy-testenv: asking whether the control plane exited failed: {e}");
                None
            }
        }
    }

    /// Waits until the control plane exits by itself (e.g. on Ctrl-C, which reaches it directly).
    pub fn wait(&mut self) -> Option<std::process::ExitStatus> {
        let mut process = self.process.take()?;
        process.child.wait().ok()
    }
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let mut text = String::new();
    match File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => {
            let mut lines: VecDeque<&str> = VecDeque::with_capacity(n);
            for line in text.lines() {
                if lines.len() == n {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
            lines.into_iter().map(|l| format!("  | {l}\n")).collect()
        }
        Err(e) => format!("  (could not read the log: {e})"),
    }
}

fn prune_logs(dir: &Path, keep: usize) {
    // Pruning only bounds the disk used by old logs: when it cannot run, say so and carry on.
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!(
                "kubewhy-testenv: not pruning old logs in {}: {e}",
                dir.display()
            );
            return;
        }
    };
    let mut logs = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => logs.push(entry.path()),
            Err(e) => eprintln!(
                "kubewhy-testenv: not pruning an entry of {}: {e}",
                dir.display()
            ),
        }
    }
    if logs.len() <= keep {
        return;
    }
    logs.sort();
    for old in &logs[..logs.len() - keep] {
        // Old logs are only kept for debugging; failing to remove one is harmless. Another test process pruning
        // the same directory may have removed it first: that is what was wanted.
        match fs::remove_file(old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!(
                "kubewhy-testenv: could not remove old log {}: {e}",
                old.display()
            ),
        }
    }
}
