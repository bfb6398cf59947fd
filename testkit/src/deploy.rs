//! What the multi-process deployments ([`RedisCluster`](crate::RedisCluster),
//! [`RedisSentinel`](crate::RedisSentinel)) share: their error, their deadline, commands to one
//! node, and waiting for a condition.

use std::fmt::{Display, Write as _};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::server::ServerError;

/// The environment variable naming the `redis-cli` binary to run instead of the one on `PATH`.
pub const CLI_ENV: &str = "REDIS_CLI";

/// The environment variable naming the `redis-sentinel` binary to run instead of the one on
/// `PATH`.
pub const SENTINEL_ENV: &str = "REDIS_SENTINEL";

/// How long a deployment waits for each state it needs (formed, failed over, slot moved): far
/// longer than any of them takes, so a loaded machine never fails a test by being slow.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Every command the launchers send: connect, write and read, each.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a wait checks its condition again.
const POLL: Duration = Duration::from_millis(100);

/// Why a [`RedisCluster`](crate::RedisCluster) or a [`RedisSentinel`](crate::RedisSentinel)
/// could not be started or driven.
///
/// ```
/// use async_breaker_testkit::DeployError;
///
/// let err = DeployError::NotInstalled {
///     tool: "redis-cli",
///     binary: "redis-cli".into(),
///     env: "REDIS_CLI",
///     package: "redis-tools",
/// };
/// assert!(err.to_string().contains("apt-get install -y redis-tools"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// A binary the deployment runs was not found.
    #[error(
        "{tool} not found (looked for `{}`; set {env} to its path): install it, e.g. on Debian \
         or Ubuntu `apt-get install -y {package}`",
        binary.display()
    )]
    NotInstalled {
        /// The binary's name.
        tool: &'static str,
        /// What was looked for.
        binary: PathBuf,
        /// The environment variable that names the binary.
        env: &'static str,
        /// The Debian package that installs it.
        package: &'static str,
    },
    /// A node (or sentinel) did not start.
    #[error("a node did not start: {0}")]
    Server(#[source] ServerError),
    /// A file or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A command to a node failed.
    #[error("{action}: {source}")]
    Redis {
        /// The command and the node.
        action: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A helper command (`redis-cli --cluster create`) exited with a failure.
    #[error("`{command}` failed ({status}); its output: {output}")]
    Command {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
        /// The end of its output.
        output: String,
    },
    /// A state the deployment needs was not reached in time.
    #[error("waited {waited:?} for {what}; last seen: {last}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// Why the last check said no.
        last: String,
    },
    /// The request does not fit the deployment (an unknown port, a replica named as a primary,
    /// a layout Redis Cluster cannot form).
    #[error("{0}")]
    Invalid(String),
}

impl From<ServerError> for DeployError {
    fn from(err: ServerError) -> DeployError {
        match err {
            ServerError::NotInstalled { binary } => crate::tool::REDIS_SERVER.not_installed(binary),
            other => DeployError::Server(other),
        }
    }
}

impl DeployError {
    /// A [`DeployError::Timeout`] with the end of each log of `servers` added to what was
    /// last seen (what the nodes or sentinels were doing says why); other errors unchanged.
    pub(crate) fn with_logs<'a>(
        self,
        servers: impl IntoIterator<Item = &'a crate::RedisServer>,
    ) -> DeployError {
        match self {
            DeployError::Timeout {
                what,
                waited,
                mut last,
            } => {
                for server in servers {
                    let _ = write!(
                        last,
                        "\n  log of port {}: {}",
                        server.port(),
                        server.log(LOG_LINES)
                    );
                }
                DeployError::Timeout { what, waited, last }
            }
            other => other,
        }
    }
}

/// How many lines of each log [`DeployError::with_logs`] adds.
const LOG_LINES: usize = 12;

/// `redis://127.0.0.1:<port>/`.
pub(crate) fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// A connection to one node (or sentinel), every step bounded by [`COMMAND_TIMEOUT`].
pub(crate) struct Conn {
    port: u16,
    con: redis::Connection,
}

impl Conn {
    pub(crate) fn open(port: u16) -> Result<Conn, DeployError> {
        let open = || -> redis::RedisResult<redis::Connection> {
            let client = redis::Client::open(url(port))?;
            let con = client.get_connection_with_timeout(COMMAND_TIMEOUT)?;
            con.set_read_timeout(Some(COMMAND_TIMEOUT))?;
            con.set_write_timeout(Some(COMMAND_TIMEOUT))?;
            Ok(con)
        };
        let con = open().map_err(|source| DeployError::Redis {
            action: format!("connect to port {port}"),
            source,
        })?;
        Ok(Conn { port, con })
    }

    /// Sends `cmd`; the error names the command and the port.
    pub(crate) fn run<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
    ) -> Result<T, DeployError> {
        cmd.query(&mut self.con)
            .map_err(|source| DeployError::Redis {
                action: format!("{} on port {}", describe(cmd), self.port),
                source,
            })
    }
}

/// Sends one command on a fresh connection (nothing stale survives a failover).
pub(crate) fn query<T: redis::FromRedisValue>(
    port: u16,
    cmd: &redis::Cmd,
) -> Result<T, DeployError> {
    Conn::open(port)?.run(cmd)
}

/// A check inside [`wait_for`] says why not yet with a `String`: the errors of the commands it
/// sends become that reason.
pub(crate) trait Why<T> {
    fn why(self) -> Result<T, String>;
}

impl<T> Why<T> for Result<T, DeployError> {
    fn why(self) -> Result<T, String> {
        self.map_err(|err| err.to_string())
    }
}

/// The command's words, for messages.
fn describe(cmd: &redis::Cmd) -> String {
    cmd.args_iter()
        .map(|arg| match arg {
            redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => "<cursor>".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `field:value` lines of an `INFO` or `CLUSTER INFO` reply: the value of `field`.
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.trim_end()
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
    })
}

/// Checks `probe` every [`POLL`] until it returns `Ok`, for at most `deadline`. Its `Err` says
/// why not yet; the last one ends up in the [`DeployError::Timeout`].
pub(crate) fn wait_for<T>(
    what: impl Display,
    deadline: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, DeployError> {
    let started = Instant::now();
    loop {
        match probe() {
            Ok(value) => return Ok(value),
            Err(last) if started.elapsed() >= deadline => {
                return Err(DeployError::Timeout {
                    what: what.to_string(),
                    waited: started.elapsed(),
                    last,
                })
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_found_by_exact_name() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1\r\n";
        assert_eq!(info_field(info, "role"), Some("master"));
        assert_eq!(info_field(info, "connected_slaves"), Some("1"));
        assert_eq!(info_field(info, "slave0"), Some("ip=127.0.0.1"));
        assert_eq!(info_field(info, "connected"), None);
        assert_eq!(info_field(info, "master_link_status"), None);
    }

    #[test]
    fn a_wait_returns_the_first_success_and_times_out_with_the_last_reason() {
        let mut calls = 0;
        let value = wait_for("three calls", Duration::from_secs(60), || {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(format!("call {calls}"))
            }
        })
        .expect("the third call succeeds");
        assert_eq!(value, 3);

        let mut calls = 0;
        let started = Instant::now();
        let err = wait_for("never", Duration::from_millis(300), || -> Result<(), _> {
            calls += 1;
            Err(format!("call {calls}"))
        })
        .expect_err("never succeeds");
        let DeployError::Timeout { what, waited, last } = err else {
            panic!("expected Timeout, got {err:?}");
        };
        assert_eq!(what, "never");
        assert!(waited >= Duration::from_millis(300));
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(last, format!("call {calls}"));
    }

    #[test]
    fn a_timeout_carries_the_end_of_each_log_and_other_errors_are_unchanged() {
        let server = crate::RedisServer::start()
            .unwrap_or_else(|e| panic!("this test needs redis-server: {e}"));
        let timeout = DeployError::Timeout {
            what: "something".into(),
            waited: Duration::from_secs(1),
            last: "not yet".into(),
        }
        .with_logs([&server]);
        let DeployError::Timeout { last, .. } = timeout else {
            panic!("still a timeout: {timeout:?}");
        };
        let (reason, log) = last.split_once('\n').expect("a log line");
        assert_eq!(reason, "not yet");
        assert!(
            log.contains(&format!("log of port {}:", server.port())),
            "{log}"
        );
        assert!(log.contains("Ready to accept connections"), "{log}");

        let invalid = DeployError::Invalid("no".into()).with_logs([&server]);
        assert!(
            matches!(&invalid, DeployError::Invalid(m) if m == "no"),
            "{invalid:?}"
        );
    }

    #[test]
    fn a_server_that_is_not_installed_becomes_a_deploy_error_naming_the_package() {
        let err = DeployError::from(ServerError::NotInstalled {
            binary: "/nowhere/redis-server".into(),
        });
        assert!(
            matches!(
                err,
                DeployError::NotInstalled {
                    package: "redis-server",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("apt-get install -y redis-server"));
    }
}
