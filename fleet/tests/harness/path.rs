//! A replica's own network path to the dependency: a loopback TCP proxy, run inside the test
//! process, that relays the dependency's line protocol (one request line, one reply line) and
//! that the test can cut for that replica alone.
//!
//! A cut path reads each request and closes the connection without an answer, as a reset
//! connection would: the replica's call fails at once, probes included, and never reaches
//! the dependency. The proxy records each refused request (probe flag and arrival), so a test
//! can see a sick replica's probes fail without the dependency seeing them.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request a cut path refused.
#[derive(Clone, Debug)]
pub struct Refused {
    /// Whether the caller's permit was the half-open probe.
    pub probe: bool,
    /// When it arrived (the test process's clock).
    pub at: Instant,
}

struct Shared {
    upstream: SocketAddr,
    cut: AtomicBool,
    stop: AtomicBool,
    refused: Mutex<Vec<Refused>>,
}

/// One replica's path; stops accepting when dropped (open connections end within 200 ms).
pub struct Path {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Path {
    /// Starts a path to `upstream` (the dependency's address) on a free loopback port.
    pub fn start(upstream: &str) -> Path {
        let upstream: SocketAddr = upstream.parse().expect("the dependency's address");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a path's port");
        let addr = listener.local_addr().expect("the path's address");
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            refused: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept_shared);
                std::thread::spawn(move || relay(&stream, &shared));
            }
        });
        Path {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:<port>`, for the replica's `--dependency`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Breaks (`true`) or mends (`false`) the path from now on.
    pub fn set_cut(&self, cut: bool) {
        self.shared.cut.store(cut, Ordering::SeqCst);
    }

    /// Whether the path is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// The requests refused at or after `since`.
    pub fn refused_since(&self, since: Instant) -> Vec<Refused> {
        self.shared
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|r| r.at >= since)
            .cloned()
            .collect()
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Relays one replica connection: a request line to the dependency, its reply back, until
/// either side closes, the path is cut (the connection is closed without an answer), or the
/// path stops.
fn relay(client: &TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = client.set_nodelay(true);
    let Ok(mut client_writer) = client.try_clone() else {
        return;
    };
    let mut client_reader = BufReader::new(client);
    let mut upstream: Option<(TcpStream, BufReader<TcpStream>)> = None;
    let mut line = String::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match client_reader.read_line(&mut line) {
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
        if shared.cut.load(Ordering::SeqCst) {
            let probe = line.split_whitespace().nth(1) == Some("1");
            shared
                .refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Refused {
                    probe,
                    at: Instant::now(),
                });
            return; // closes the connection: the caller reads end of file
        }
        if upstream.is_none() {
            let Ok(stream) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(2))
            else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(reader) = stream.try_clone() else {
                return;
            };
            upstream = Some((stream, BufReader::new(reader)));
        }
        let Some((writer, reader)) = upstream.as_mut() else {
            return;
        };
        let mut reply = String::new();
        if writer.write_all(line.as_bytes()).is_err()
            || reader.read_line(&mut reply).is_err()
            || reply.is_empty()
        {
            return;
        }
        line.clear();
        if client_writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
