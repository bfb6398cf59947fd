//! The "dependency" the replicas call: a loopback line server, run inside the test process,
//! that records every call (replica, probe flag, arrival time on the test's monotonic clock)
//! and answers `ok` or `err` by its [`Mode`]; it can also hold the next probe unanswered, as a
//! hung dependency would, until the test releases it.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the dependency answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every call succeeds.
    Healthy,
    /// Every call fails.
    Dead,
    /// Calls from this replica fail, and so does every probe; other calls succeed. Only that
    /// replica trips by itself: the others open only if the fleet tells them to.
    DeadFor(String),
    /// The paths of these replicas are broken: every call from them fails, probes included;
    /// every other replica's calls (and probes) succeed.
    Broken(Vec<String>),
}

impl Mode {
    fn answers_ok(&self, replica: &str, probe: bool) -> bool {
        match self {
            Mode::Healthy => true,
            Mode::Dead => false,
            Mode::DeadFor(dead) => !probe && replica != dead,
            Mode::Broken(broken) => !broken.iter().any(|b| b == replica),
        }
    }
}

/// Microseconds since the Unix epoch on the host's clock: comparable with the replicas'
/// `wall_us` stamps (same host).
pub fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One call the dependency received.
#[derive(Clone, Debug)]
pub struct Call {
    /// The replica id the caller sent.
    pub replica: String,
    /// Whether the caller's permit was the half-open probe.
    pub probe: bool,
    /// When it arrived (the test process's clock).
    pub at: Instant,
    /// When it arrived, in microseconds since the Unix epoch (see [`wall_us`]).
    pub wall_us: u64,
    /// Whether it was answered `ok` (for a held probe: what the release answered).
    pub ok: bool,
}

struct Shared {
    mode: Mutex<Mode>,
    stop: AtomicBool,
    calls: Mutex<Vec<Call>>,
    hold: Mutex<Hold>,
    released: Condvar,
}

/// The hang-the-next-probe switch.
#[derive(Default)]
struct Hold {
    /// Hold the next probe that arrives.
    armed: bool,
    /// The held probe: (replica, arrival), once it arrived.
    held: Option<(String, Instant)>,
    /// The answer to give when released.
    release: Option<bool>,
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
            mode: Mutex::new(Mode::Healthy),
            stop: AtomicBool::new(false),
            calls: Mutex::new(Vec::new()),
            hold: Mutex::new(Hold::default()),
            released: Condvar::new(),
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

    /// Switches how calls are answered from now on. Returns the switch time.
    pub fn set_mode(&self, mode: Mode) -> Instant {
        *self.shared.mode.lock().expect("mode lock") = mode;
        Instant::now()
    }

    /// The next probe that arrives is recorded but not answered until [`release`](Self::release).
    pub fn hold_next_probe(&self) {
        let mut hold = self.shared.hold.lock().expect("hold lock");
        *hold = Hold {
            armed: true,
            ..Hold::default()
        };
    }

    /// The held probe's replica and arrival time, once one is held.
    pub fn held_probe(&self) -> Option<(String, Instant)> {
        self.shared.hold.lock().expect("hold lock").held.clone()
    }

    /// Answers the held probe (`ok` or `err`) and disarms the hold.
    pub fn release(&self, ok: bool) {
        let mut hold = self.shared.hold.lock().expect("hold lock");
        hold.armed = false;
        hold.release = Some(ok);
        self.shared.released.notify_all();
    }

    /// Every call answered so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.shared.calls.lock().expect("calls lock").clone();
        calls.sort_by_key(|call| call.at);
        calls
    }

    /// How many calls arrived so far.
    pub fn count(&self) -> usize {
        self.shared.calls.lock().expect("calls lock").len()
    }

    /// How many calls that arrived at or after `since` match `pred` (without copying them).
    pub fn count_since(&self, since: Instant, pred: impl Fn(&Call) -> bool) -> usize {
        let calls = self.shared.calls.lock().expect("calls lock");
        calls.iter().filter(|c| c.at >= since && pred(c)).count()
    }

    /// The calls that arrived at or after `since`.
    pub fn calls_since(&self, since: Instant) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.at >= since).collect()
    }
}

impl Drop for Dependency {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.release(false);
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
        let wall = wall_us();
        let mut parts = line.split_whitespace();
        let replica = parts.next().unwrap_or("?").to_string();
        let probe = parts.next() == Some("1");
        line.clear();
        let ok = if probe && take_hold(shared, &replica, at) {
            wait_release(shared)
        } else {
            shared
                .mode
                .lock()
                .expect("mode lock")
                .answers_ok(&replica, probe)
        };
        shared.calls.lock().expect("calls lock").push(Call {
            replica,
            probe,
            at,
            wall_us: wall,
            ok,
        });
        let reply: &[u8] = if ok { b"ok\n" } else { b"err\n" };
        if writer.write_all(reply).is_err() {
            return;
        }
    }
}

/// Claims the armed hold for this probe, if armed and free.
fn take_hold(shared: &Shared, replica: &str, at: Instant) -> bool {
    let mut hold = shared.hold.lock().expect("hold lock");
    if hold.armed && hold.held.is_none() {
        hold.held = Some((replica.to_string(), at));
        true
    } else {
        false
    }
}

/// Waits (bounded by the dependency's life) for [`Dependency::release`]; its answer.
fn wait_release(shared: &Shared) -> bool {
    let mut hold = shared.hold.lock().expect("hold lock");
    loop {
        if let Some(ok) = hold.release {
            return ok;
        }
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        hold = shared
            .released
            .wait_timeout(hold, Duration::from_millis(100))
            .expect("hold lock")
            .0;
    }
}
