//! A throwaway local `redis-server` for tests, examples and demos.
//!
//! [`RedisServer::start`] runs the `redis-server` binary (from `PATH`, or the path in the
//! `REDIS_SERVER` environment variable) on a free loopback port, with persistence off
//! (`--save '' --appendonly no`) and its working files in a fresh temporary directory (in
//! memory, under `/dev/shm`, where there is one), and returns once the server answers `PING`.
//! Dropping the [`RedisServer`] kills the server and removes that directory.
//!
//! It also drives the faults a fleet must survive: [`kill`](RedisServer::kill) (`SIGKILL`),
//! [`restart`](RedisServer::restart) (same port, empty data set), and
//! [`pause`](RedisServer::pause) / [`resume`](RedisServer::resume) (`SIGSTOP` / `SIGCONT`,
//! Unix only).
//!
//! A machine without Redis gets [`ServerError::NotInstalled`], whose message names the package
//! to install, never a hang: every wait here has a deadline.
//!
//! The nodes of a [`RedisCluster`](crate::RedisCluster) and of a
//! [`RedisSentinel`](crate::RedisSentinel) deployment are `RedisServer`s too, started with the
//! extra settings those need.
//!
//! ```
//! use async_breaker_testkit::server::RedisServer;
//!
//! let server = RedisServer::start()?;
//! assert!(server.url().starts_with("redis://127.0.0.1:"));
//! assert!(server.ping().is_ok());
//! drop(server); // kills the server
//! # Ok::<(), async_breaker_testkit::server::ServerError>(())
//! ```

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The environment variable naming the `redis-server` binary to run instead of the one on `PATH`.
pub const BINARY_ENV: &str = "REDIS_SERVER";

/// How long [`RedisServer::start`] waits for a fresh server to answer `PING`: generous, so a
/// loaded machine never fails a test by being slow.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How many free ports [`RedisServer::start`] tries when another process takes the chosen port
/// between the probe bind and the server's own bind.
const PORT_ATTEMPTS: u32 = 8;

/// The install hint carried by [`ServerError::NotInstalled`].
pub const INSTALL_HINT: &str = "apt-get install -y redis-server";

/// Why a [`RedisServer`] could not be started or controlled.
///
/// ```
/// use async_breaker_testkit::server::{ServerError, INSTALL_HINT};
///
/// let err = ServerError::NotInstalled { binary: "redis-server".into() };
/// assert!(err.to_string().contains(INSTALL_HINT));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The `redis-server` binary was not found.
    #[error(
        "redis-server not found (looked for `{}`; set {BINARY_ENV} to its path): install it, \
         e.g. on Debian or Ubuntu `{INSTALL_HINT}`",
        binary.display()
    )]
    NotInstalled {
        /// The binary that was looked for.
        binary: PathBuf,
    },
    /// The binary exists but could not be run, or a signal could not be sent.
    #[error("redis-server: {action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server exited before it answered `PING`, on every port tried.
    #[error("redis-server on port {port} exited before answering PING ({status}); log: {log}")]
    Exited {
        /// The loopback port of the last attempt.
        port: u16,
        /// How the server exited.
        status: String,
        /// The end of its log, for the reason.
        log: String,
    },
    /// The server did not answer `PING` within the deadline.
    #[error(
        "redis-server on port {port} did not answer PING within {waited:?} (last error: \
         {last_error})"
    )]
    NotReady {
        /// The loopback port it was started on.
        port: u16,
        /// How long was waited.
        waited: Duration,
        /// The last error seen while pinging.
        last_error: String,
    },
    /// The operation needs a running server, and it has been killed.
    #[error("redis-server is not running (it was killed)")]
    NotRunning,
}

/// A `redis-server` child process on a loopback port, killed when dropped.
///
/// ```
/// use async_breaker_testkit::server::RedisServer;
///
/// let mut server = RedisServer::start()?;
/// let port = server.port();
/// server.kill();
/// assert!(server.ping().is_err());
/// server.restart()?; // same port, empty
/// assert_eq!(server.port(), port);
/// server.ping()?;
/// # Ok::<(), async_breaker_testkit::server::ServerError>(())
/// ```
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    /// The cluster bus port, with [`Setup::cluster_bus`].
    bus_port: Option<u16>,
    dir: PathBuf,
    child: Option<Child>,
    ready_timeout: Duration,
    setup: Setup,
}

/// How a [`RedisServer`] runs beyond a plain server: what the cluster and sentinel launchers
/// add.
#[derive(Debug, Clone, Default)]
pub(crate) struct Setup {
    /// A configuration file, written to the server's directory before each fresh start (not
    /// before a restart) and given as the first argument. Sentinels need one and rewrite it.
    pub(crate) config: Option<String>,
    /// Arguments right after the configuration file (`--sentinel`).
    pub(crate) leading: Vec<OsString>,
    /// Options after the plain server's (they win over them).
    pub(crate) options: Vec<OsString>,
    /// Whether the server needs a cluster bus port (`--cluster-port`), picked like its port.
    pub(crate) cluster_bus: bool,
}

/// The name of a [`Setup::config`] file in the server's directory.
const CONFIG_FILE: &str = "redis.conf";

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// [`ServerError::NotInstalled`] without a `redis-server` binary (the message names the
    /// package), [`ServerError::NotReady`] or [`ServerError::Exited`] if it never came up.
    ///
    /// ```
    /// let server = async_breaker_testkit::server::RedisServer::start()?;
    /// assert_ne!(server.port(), 0);
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn start() -> Result<RedisServer, ServerError> {
        RedisServer::start_with(DEFAULT_READY_TIMEOUT)
    }

    /// Like [`start`](Self::start), waiting at most `ready_timeout` (also for every later
    /// [`restart`](Self::restart)).
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = async_breaker_testkit::server::RedisServer::start_with(Duration::from_secs(30))?;
    /// server.ping()?;
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn start_with(ready_timeout: Duration) -> Result<RedisServer, ServerError> {
        let binary = binary(
            std::env::var_os(BINARY_ENV),
            std::env::var_os("PATH").as_ref(),
        )?;
        RedisServer::start_binary(binary, Setup::default(), ready_timeout)
    }

    /// Starts `binary` (a `redis-server`, or a binary that is one under another name, such as
    /// `redis-sentinel`) with `setup` on free loopback ports.
    pub(crate) fn start_binary(
        binary: PathBuf,
        setup: Setup,
        ready_timeout: Duration,
    ) -> Result<RedisServer, ServerError> {
        let dir = scratch_dir("redis").map_err(|source| ServerError::Io {
            action: "create its temporary directory",
            source,
        })?;
        let mut server = RedisServer {
            binary,
            port: 0,
            bus_port: None,
            dir,
            child: None,
            ready_timeout,
            setup,
        };
        let mut last = None;
        for attempt in 0..PORT_ATTEMPTS {
            if attempt > 0 {
                // A clean slate: an attempt that failed may have written files (a cluster
                // node its node id) for the port it could not have.
                server.clear_dir()?;
            }
            if server.setup.cluster_bus {
                let [port, bus] = free_ports()?;
                server.port = port;
                server.bus_port = Some(bus);
            } else {
                server.port = free_port()?;
            }
            if let Some(config) = &server.setup.config {
                std::fs::write(server.dir.join(CONFIG_FILE), config).map_err(|source| {
                    ServerError::Io {
                        action: "write its configuration file",
                        source,
                    }
                })?;
            }
            match server.launch() {
                Ok(()) => return Ok(server),
                // Someone else took the port: pick another.
                Err(err @ ServerError::Exited { .. }) => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or(ServerError::NotRunning))
    }

    /// The server's URL, `redis://127.0.0.1:<port>/`.
    ///
    /// ```
    /// let server = async_breaker_testkit::server::RedisServer::start()?;
    /// assert_eq!(server.url(), format!("redis://127.0.0.1:{}/", server.port()));
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The loopback port the server listens on (kept across [`restart`](Self::restart)).
    ///
    /// ```
    /// let server = async_breaker_testkit::server::RedisServer::start()?;
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_ok());
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, `None` after [`kill`](Self::kill).
    ///
    /// ```
    /// let mut server = async_breaker_testkit::server::RedisServer::start()?;
    /// assert!(server.pid().is_some());
    /// server.kill();
    /// assert!(server.pid().is_none());
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `PING` and checks for `+PONG`, with a short deadline.
    ///
    /// # Errors
    ///
    /// The connection or protocol error, as text-carrying [`ServerError::Io`].
    ///
    /// ```
    /// let server = async_breaker_testkit::server::RedisServer::start()?;
    /// server.ping()?;
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn ping(&self) -> Result<(), ServerError> {
        ping(self.port, Duration::from_secs(2)).map_err(|source| ServerError::Io {
            action: "PING",
            source,
        })
    }

    /// Kills the server with `SIGKILL` and reaps it: connected clients see the connection drop
    /// and new connections are refused. Does nothing if it is not running.
    ///
    /// ```
    /// let mut server = async_breaker_testkit::server::RedisServer::start()?;
    /// server.kill();
    /// assert!(server.ping().is_err());
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A stopped process still dies of SIGKILL; continue it anyway so nothing lingers.
            let _ = signal(child.id(), "-CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, then starts a fresh, empty one on the same port.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start); [`ServerError::Exited`] if the port was taken meanwhile.
    ///
    /// ```
    /// let mut server = async_breaker_testkit::server::RedisServer::start()?;
    /// server.restart()?;
    /// server.ping()?;
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.kill();
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            match self.launch() {
                // The old socket may linger briefly; retry until the deadline.
                Err(ServerError::Exited { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Stops the server with `SIGSTOP`: it keeps its port and connections but answers nothing
    /// until [`resume`](Self::resume) — a hung server, as clients see it.
    ///
    /// # Errors
    ///
    /// [`ServerError::NotRunning`] after [`kill`](Self::kill), [`ServerError::Io`] if the
    /// signal could not be sent.
    ///
    /// ```
    /// let mut server = async_breaker_testkit::server::RedisServer::start()?;
    /// server.pause()?;
    /// assert!(server.ping().is_err());
    /// server.resume()?;
    /// server.ping()?;
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn pause(&mut self) -> Result<(), ServerError> {
        let pid = self.pid().ok_or(ServerError::NotRunning)?;
        signal(pid, "-STOP").map_err(|source| ServerError::Io {
            action: "SIGSTOP",
            source,
        })
    }

    /// Continues a server stopped by [`pause`](Self::pause) (`SIGCONT`).
    ///
    /// # Errors
    ///
    /// As for [`pause`](Self::pause).
    ///
    /// ```
    /// let mut server = async_breaker_testkit::server::RedisServer::start()?;
    /// server.resume()?; // harmless when not paused
    /// server.ping()?;
    /// # Ok::<(), async_breaker_testkit::server::ServerError>(())
    /// ```
    pub fn resume(&mut self) -> Result<(), ServerError> {
        let pid = self.pid().ok_or(ServerError::NotRunning)?;
        signal(pid, "-CONT").map_err(|source| ServerError::Io {
            action: "SIGCONT",
            source,
        })
    }

    /// The last `lines` lines of the server's log, for the messages of a deployment's
    /// timeouts.
    pub(crate) fn log(&self, lines: usize) -> String {
        last_lines(&self.log_path(), lines)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("redis-{}.log", self.port))
    }

    /// Empties the server's directory.
    fn clear_dir(&self) -> Result<(), ServerError> {
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).map_err(|source| ServerError::Io {
            action: "create its temporary directory",
            source,
        })
    }

    /// Runs the binary on `self.port` and waits for `PING`.
    fn launch(&mut self) -> Result<(), ServerError> {
        let log = self.log_path();
        let mut command = Command::new(&self.binary);
        if self.setup.config.is_some() {
            command.arg(self.dir.join(CONFIG_FILE));
        }
        command
            .args(&self.setup.leading)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--databases", "1"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.setup.options);
        if let Some(bus) = self.bus_port {
            command.arg("--cluster-port").arg(bus.to_string());
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ServerError::NotInstalled {
                    binary: self.binary.clone(),
                }
            } else {
                ServerError::Io {
                    action: "spawn",
                    source,
                }
            }
        })?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(ServerError::Exited {
                        port: self.port,
                        status: status.to_string(),
                        log: log_tail(&log),
                    });
                }
            }
            let Err(err) = ping(self.port, Duration::from_secs(1)) else {
                return Ok(());
            };
            if started.elapsed() >= self.ready_timeout {
                self.kill();
                return Err(ServerError::NotReady {
                    port: self.port,
                    waited: started.elapsed(),
                    last_error: err.to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The binary to run: `$REDIS_SERVER` (`env`), else `redis-server` found on `PATH` (`path`).
fn binary(env: Option<OsString>, path: Option<&OsString>) -> Result<PathBuf, ServerError> {
    crate::tool::REDIS_SERVER
        .find_in(env, path)
        .map_err(|binary| ServerError::NotInstalled { binary })
}

/// A fresh, empty directory named after `what`, this process and a counter, in memory when
/// possible: under `/dev/shm` (tmpfs) if that is a writable directory, else under the system's
/// temporary directory. Sentinels and cluster nodes `fsync` every rewrite of their
/// configuration file, which a busy disk can stall for seconds: long enough for a sentinel to
/// distrust its clock and stop acting for a while (TILT mode), or for a cluster node to look
/// down to the others.
pub(crate) fn scratch_dir(what: &str) -> io::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let unique = format!(
        "async-breaker-testkit-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let in_memory = Path::new("/dev/shm").join(&unique);
    if std::fs::create_dir(&in_memory).is_ok() {
        return Ok(in_memory);
    }
    let dir = std::env::temp_dir().join(unique);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A loopback port that was free a moment ago (the kernel picks it for a port-0 bind).
fn free_port() -> Result<u16, ServerError> {
    let [port] = free_ports()?;
    Ok(port)
}

/// `N` distinct loopback ports that were free a moment ago: all bound at once, so the kernel
/// cannot hand out one twice.
fn free_ports<const N: usize>() -> Result<[u16; N], ServerError> {
    let io = |source| ServerError::Io {
        action: "find a free port",
        source,
    };
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
        *port = listener.local_addr().map_err(io)?.port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// One inline `PING`, expecting `+PONG`, every step bounded by `timeout`.
fn ping(port: u16, timeout: Duration) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0_u8; 64];
    let mut len = 0;
    while !reply[..len].ends_with(b"\r\n") && len < reply.len() {
        let n = stream.read(&mut reply[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    if reply[..len].starts_with(b"+PONG") {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "unexpected reply {:?}",
                String::from_utf8_lossy(&reply[..len])
            ),
        ))
    }
}

/// Sends a signal (`-STOP`, `-CONT`) with the system's `kill` command (the crate forbids
/// `unsafe`, so no `libc::kill`).
fn signal(pid: u32, which: &str) -> io::Result<()> {
    let status = Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("kill {which} {pid}: {status}")))
    }
}

/// The last lines of the server's log file, for error messages.
fn log_tail(path: &Path) -> String {
    last_lines(path, 5)
}

/// The last `n` lines of a file, joined with ` | `.
pub(crate) fn last_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_a_typed_error_naming_the_package() {
        let from_env = binary(Some("/nonexistent/redis-server".into()), None);
        let Err(err @ ServerError::NotInstalled { .. }) = from_env else {
            panic!("expected NotInstalled, got {from_env:?}");
        };
        let message = err.to_string();
        assert!(message.contains(INSTALL_HINT), "{message}");
        assert!(message.contains("/nonexistent/redis-server"), "{message}");

        let from_path = binary(None, Some(&"/nonexistent-dir".into()));
        assert!(
            matches!(from_path, Err(ServerError::NotInstalled { .. })),
            "{from_path:?}"
        );
    }

    #[test]
    fn a_binary_that_vanished_fails_to_start_without_waiting() {
        let started = Instant::now();
        let result = RedisServer::start_binary(
            PathBuf::from("/nonexistent/redis-server"),
            Setup::default(),
            Duration::from_secs(60),
        );
        assert!(
            matches!(result, Err(ServerError::NotInstalled { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn ping_against_a_closed_port_fails() {
        let port = free_port().expect("a free port");
        assert!(ping(port, Duration::from_secs(1)).is_err());
    }

    /// A reply that arrives in pieces is read to its end.
    #[test]
    fn ping_reads_a_reply_split_across_packets() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("address").port();
        let fake = std::thread::spawn(move || {
            let (mut con, _) = listener.accept().expect("accept");
            let mut request = [0_u8; 6];
            con.read_exact(&mut request).expect("the PING");
            con.write_all(b"+PO").expect("first half");
            con.flush().expect("flush");
            // Long enough that the client reads the first half on its own.
            std::thread::sleep(Duration::from_millis(200));
            con.write_all(b"NG\r\n").expect("second half");
        });
        ping(port, Duration::from_secs(10)).expect("the whole reply is read");
        fake.join().expect("the fake server");
    }

    fn start() -> RedisServer {
        RedisServer::start().unwrap_or_else(|e| panic!("these tests need redis-server: {e}"))
    }

    /// The name of the process `pid` runs (Linux), to check a pid before signalling it.
    fn command_of(pid: u32) -> String {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    #[test]
    fn kill_stops_the_server_and_restart_brings_back_an_empty_one_on_the_same_port() {
        let mut server = start();
        let port = server.port();
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/"));
        let pid = server.pid().expect("running");
        let client = redis::Client::open(server.url()).expect("url");
        let mut con = client.get_connection().expect("connect");
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut con)
            .expect("SET");

        server.kill();
        assert_eq!(server.pid(), None);
        assert!(server.ping().is_err(), "a killed server answered");

        server.restart().expect("restart");
        assert_eq!(server.port(), port);
        assert!(server.pid().is_some_and(|p| p != pid));
        server.ping().expect("the restarted server answers");
        let mut con = client.get_connection().expect("reconnect");
        let value: Option<String> = redis::cmd("GET").arg("k").query(&mut con).expect("GET");
        assert_eq!(value, None, "the restarted server is empty");
    }

    #[test]
    fn pause_stops_answering_until_resume() {
        let mut server = start();
        let pid = server.pid().expect("running");
        assert_eq!(
            command_of(pid),
            "redis-server",
            "pid {pid} is not the server"
        );
        server.pause().expect("SIGSTOP");
        assert!(server.ping().is_err(), "a paused server answered");
        server.resume().expect("SIGCONT");
        server.ping().expect("a resumed server answers");
        server.kill();
        assert!(matches!(server.pause(), Err(ServerError::NotRunning)));
        assert!(matches!(server.resume(), Err(ServerError::NotRunning)));
    }

    #[test]
    fn dropping_the_server_kills_it_and_removes_its_directory() {
        let server = start();
        let (port, dir) = (server.port(), server.dir.clone());
        assert!(dir.is_dir());
        drop(server);
        assert!(ping(port, Duration::from_secs(1)).is_err(), "still running");
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }

    /// While something else holds the port, `restart` retries until its ready timeout, then
    /// reports the exit with the end of the server's log (which says why).
    #[test]
    fn restart_on_a_taken_port_retries_until_the_ready_timeout_then_reports_the_log() {
        let ready = Duration::from_secs(3);
        let mut server = RedisServer::start_with(ready)
            .unwrap_or_else(|e| panic!("these tests need redis-server: {e}"));
        let port = server.port();
        server.kill();
        let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("take the port");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = server.restart();
            let _ = tx.send((result, started.elapsed(), server));
        });
        let (result, took, mut server) = rx
            .recv_timeout(ready * 10)
            .expect("restart gave up in the end");
        match result {
            Err(ServerError::Exited { port: p, log, .. }) => {
                assert_eq!(p, port);
                assert!(log.contains(&port.to_string()), "log: {log}");
            }
            other => panic!("expected Exited, got {other:?}"),
        }
        assert!(took >= ready, "gave up after {took:?}, before {ready:?}");

        drop(squatter);
        server.restart().expect("restart once the port is free");
        server.ping().expect("answers");
    }
}
