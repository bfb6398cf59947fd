//! The "dependency" the replicas call: a loopback line server, run inside the test process,
//! that records every call (replica, probe flag, arrival time on the test's monotonic clock)
//! and answers `ok` while healthy, `err` while dead.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One call the dependency received.
#[derive(Clone, Debug)]
pub struct Call {
    /// The replica id the caller sent.
    pub replica: String,
    /// Whether the caller's permit was the half-open probe.
    pub probe: bool,
    /// When it arrived (the test process's clock).
    pub at: Instant,
    /// Whether the dependency was healthy when it answered.
    pub healthy: bool,
}

struct Shared {
    healthy: AtomicBool,
    stop: AtomicBool,
    calls: Mutex<Vec<Call>>,
}

/// The running dependency; stops its threads when dropped.
pub struct Dependency {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Dependency {
    /// Starts a healthy dependency on a free loopback port.
    pub fn start() -> Dependency {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the dependency's port");
        let addr = listener.local_addr().expect("the dependency's address");
        let shared = Arc::new(Shared {
            healthy: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            calls: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept_shared);
                std::thread::spawn(move || serve(&stream, &shared));
            }
        });
        Dependency {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:<port>`, for the replicas' `--dependency`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Switches between answering `ok` (healthy) and `err` (dead). Returns the switch time.
    pub fn set_healthy(&self, healthy: bool) -> Instant {
        self.shared.healthy.store(healthy, Ordering::SeqCst);
        Instant::now()
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("calls lock").clone()
    }

    /// How many calls arrived so far.
    pub fn count(&self) -> usize {
        self.shared.calls.lock().expect("calls lock").len()
    }

    /// The calls that arrived at or after `since`.
    pub fn calls_since(&self, since: Instant) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.at >= since).collect()
    }
}

impl Drop for Dependency {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves one connection: one line in, one line out, until the peer closes or the
/// dependency stops.
fn serve(stream: &TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.ends_with('\n') => {}
            Ok(_) => continue,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        let at = Instant::now();
        let healthy = shared.healthy.load(Ordering::SeqCst);
        let mut parts = line.split_whitespace();
        let replica = parts.next().unwrap_or("?").to_string();
        let probe = parts.next() == Some("1");
        shared.calls.lock().expect("calls lock").push(Call {
            replica,
            probe,
            at,
            healthy,
        });
        line.clear();
        let reply: &[u8] = if healthy { b"ok\n" } else { b"err\n" };
        if writer.write_all(reply).is_err() {
            return;
        }
    }
}
