//! A loopback TCP proxy to one server that a test can cut (a network partition of the
//! replicas behind it) and heal, while the server itself stays up.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the proxy's threads look at the cut and stop flags.
const CHECK: Duration = Duration::from_millis(10);

pub struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Forwards a fresh loopback port to `127.0.0.1:<target>`.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking accept");
        let port = listener.local_addr().expect("proxy address").port();
        let (cut, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let accepted = Arc::new(AtomicU64::new(0));
        let (c, s, a) = (Arc::clone(&cut), Arc::clone(&stop), Arc::clone(&accepted));
        let acceptor = std::thread::spawn(move || {
            while !s.load(SeqCst) {
                let next = listener.accept();
                if next.is_ok() {
                    a.fetch_add(1, SeqCst);
                }
                match next {
                    Ok((client, _)) if !c.load(SeqCst) => {
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            pump(client, server, &c, &s);
                        }
                    }
                    Ok(_) => {} // cut: the connection is dropped at once
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(CHECK),
                    Err(_) => std::thread::sleep(CHECK),
                }
            }
        });
        Proxy {
            port,
            cut,
            stop,
            accepted,
            acceptor: Some(acceptor),
        }
    }

    /// The URL of the server through this proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// How many connections the proxy accepted so far (those it dropped while cut included).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(SeqCst)
    }

    /// Cuts (`true`: every open connection is closed and new ones are refused) or heals.
    pub fn cut(&self, cut: bool) {
        self.cut.store(cut, SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Copies both ways on two threads until either side closes, the proxy is cut, or stopped.
fn pump(client: TcpStream, server: TcpStream, cut: &Arc<AtomicBool>, stop: &Arc<AtomicBool>) {
    for (mut from, mut to) in [
        (
            client.try_clone().expect("clone"),
            server.try_clone().expect("clone"),
        ),
        (server, client),
    ] {
        let (cut, stop) = (Arc::clone(cut), Arc::clone(stop));
        std::thread::spawn(move || {
            let _ = from.set_read_timeout(Some(CHECK));
            let mut buf = [0u8; 16 * 1024];
            loop {
                if cut.load(SeqCst) || stop.load(SeqCst) {
                    break;
                }
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        });
    }
}
