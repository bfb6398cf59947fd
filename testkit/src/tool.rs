//! The binaries the launchers run, where they are looked for, and which Debian package has
//! each.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::DeployError;

/// A binary the launchers run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    /// Its name on `PATH`.
    pub(crate) name: &'static str,
    /// The environment variable that names it instead.
    pub(crate) env: &'static str,
    /// The Debian (and Ubuntu) package that installs it.
    pub(crate) package: &'static str,
}

/// The server (and, with `--sentinel`, a sentinel).
pub(crate) const REDIS_SERVER: Tool = Tool {
    name: "redis-server",
    env: crate::server::BINARY_ENV,
    package: "redis-server",
};

/// The command-line client: `--cluster create`.
pub(crate) const REDIS_CLI: Tool = Tool {
    name: "redis-cli",
    env: crate::deploy::CLI_ENV,
    package: "redis-tools",
};

/// The sentinel binary (the server's binary under another name).
pub(crate) const REDIS_SENTINEL: Tool = Tool {
    name: "redis-sentinel",
    env: crate::deploy::SENTINEL_ENV,
    package: "redis-sentinel",
};

impl Tool {
    /// The binary: the path in `$<env>` when set (`env`), else `<name>` on `PATH` (`path`).
    /// The error is what was looked for.
    pub(crate) fn find_in(
        self,
        env: Option<OsString>,
        path: Option<&OsString>,
    ) -> Result<PathBuf, PathBuf> {
        if let Some(path) = env.filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            return if path.is_file() { Ok(path) } else { Err(path) };
        }
        path.iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join(self.name))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| PathBuf::from(self.name))
    }

    /// [`find_in`](Self::find_in) this process' environment, as a [`DeployError`].
    pub(crate) fn find(self) -> Result<PathBuf, DeployError> {
        self.find_in(
            std::env::var_os(self.env),
            std::env::var_os("PATH").as_ref(),
        )
        .map_err(|binary| self.not_installed(binary))
    }

    /// The error for a missing binary.
    pub(crate) fn not_installed(self, binary: PathBuf) -> DeployError {
        DeployError::NotInstalled {
            tool: self.name,
            binary,
            env: self.env,
            package: self.package,
        }
    }
}

/// Runs `binary` with `args` to its end, at most `deadline` (then kills it), its output going to
/// `output` (a file: nothing to drain, nothing to block on). Fails unless it exits with status 0.
pub(crate) fn run(
    tool: Tool,
    binary: &PathBuf,
    args: &[String],
    output: &std::path::Path,
    deadline: Duration,
) -> Result<(), DeployError> {
    let command_line = format!("{} {}", binary.display(), args.join(" "));
    let io = |action: &str, source| DeployError::Io {
        action: format!("{action} `{command_line}`"),
        source,
    };
    let file = std::fs::File::create(output).map_err(|e| io("create the output file of", e))?;
    let stderr = file
        .try_clone()
        .map_err(|e| io("create the output file of", e))?;
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .spawn()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                tool.not_installed(binary.clone())
            } else {
                io("run", source)
            }
        })?;
    let started = Instant::now();
    let output_tail = || crate::server::last_lines(output, 12);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| io("wait for", e))? {
            return if status.success() {
                Ok(())
            } else {
                Err(DeployError::Command {
                    command: command_line.clone(),
                    status: status.to_string(),
                    output: output_tail(),
                })
            };
        }
        if started.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(DeployError::Timeout {
                what: format!("`{command_line}` to finish"),
                waited: started.elapsed(),
                last: output_tail(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_binary_names_its_package_and_variable() {
        for (tool, package) in [
            (REDIS_SERVER, "apt-get install -y redis-server"),
            (REDIS_CLI, "apt-get install -y redis-tools"),
            (REDIS_SENTINEL, "apt-get install -y redis-sentinel"),
        ] {
            let missing = tool
                .find_in(None, Some(&"/nonexistent-dir".into()))
                .expect_err("nothing on that PATH");
            assert_eq!(missing, PathBuf::from(tool.name));
            let message = tool.not_installed(missing).to_string();
            assert!(message.contains(package), "{message}");
            assert!(message.contains(tool.env), "{message}");

            let from_env = tool.find_in(Some("/nonexistent/binary".into()), None);
            assert_eq!(from_env, Err(PathBuf::from("/nonexistent/binary")));
        }
    }

    #[test]
    fn the_environment_variable_wins_over_path_and_path_is_searched_in_order() {
        let dir = crate::server::scratch_dir("tool-test").expect("a directory");
        let (first, second) = (dir.join("a"), dir.join("b"));
        for d in [&first, &second] {
            std::fs::create_dir_all(d).expect("a directory");
            std::fs::write(d.join("redis-cli"), "").expect("a file");
        }
        let path = std::env::join_paths([&first, &second]).expect("a PATH");
        assert_eq!(
            REDIS_CLI.find_in(None, Some(&path)),
            Ok(first.join("redis-cli"))
        );
        let chosen = second.join("redis-cli");
        assert_eq!(
            REDIS_CLI.find_in(Some(chosen.clone().into()), Some(&path)),
            Ok(chosen)
        );
        // An empty variable counts as unset.
        assert_eq!(
            REDIS_CLI.find_in(Some(OsString::new()), Some(&path)),
            Ok(first.join("redis-cli"))
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn run_reports_the_exit_status_and_output_and_kills_at_the_deadline() {
        let dir = crate::server::scratch_dir("tool-test").expect("a directory");
        let sh = PathBuf::from("/bin/sh");
        let out = dir.join("out");
        run(
            REDIS_CLI,
            &sh,
            &["-c".into(), "exit 0".into()],
            &out,
            Duration::from_secs(30),
        )
        .expect("status 0 is success");

        let failed = run(
            REDIS_CLI,
            &sh,
            &["-c".into(), "echo why it failed; exit 3".into()],
            &out,
            Duration::from_secs(30),
        );
        let Err(DeployError::Command { status, output, .. }) = failed else {
            panic!("expected Command, got {failed:?}");
        };
        assert!(status.contains('3'), "{status}");
        assert!(output.contains("why it failed"), "{output}");

        let started = Instant::now();
        let hung = run(
            REDIS_CLI,
            &sh,
            &["-c".into(), "exec sleep 600".into()],
            &out,
            Duration::from_millis(500),
        );
        assert!(
            matches!(&hung, Err(DeployError::Timeout { waited, .. })
                if *waited >= Duration::from_millis(500)),
            "{hung:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(120));

        let missing = run(
            REDIS_CLI,
            &dir.join("no-such-binary"),
            &[],
            &out,
            Duration::from_secs(30),
        );
        assert!(
            matches!(
                &missing,
                Err(DeployError::NotInstalled {
                    package: "redis-tools",
                    ..
                })
            ),
            "{missing:?}"
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
