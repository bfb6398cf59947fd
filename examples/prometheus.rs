//! A breaker watched by Prometheus: `cargo run --example prometheus --features metrics`.
//!
//! Starts `metrics-exporter-prometheus`'s HTTP listener on a free loopback port, then puts a
//! breaker named `payments` in front of a flaky dependency and walks it through an outage:
//! healthy, down (the breaker trips and turns calls away), back up (a probe closes it again).
//! After each phase it scrapes its own `/metrics` endpoint over plain HTTP and prints the
//! breaker's series. With `-- --serve` it then keeps the outage cycle going and the endpoint
//! up until interrupted, for a real Prometheus to scrape.
//!
//! tests/prometheus.rs drives the same pieces with a manual clock.

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_breaker::{CircuitBreaker, Clock, ConfigError, QuantaClock};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

/// How long the breaker stays open before it lets a probe through.
pub const RECOVERY: Duration = Duration::from_millis(500);

/// The breaker in front of the dependency: opens after 3 consecutive failures, reports through
/// the `metrics` facade (to the Prometheus recorder installed by [`start_exporter`]).
///
/// # Errors
///
/// None: the configuration is valid.
pub fn payments(clock: impl Clock) -> Result<CircuitBreaker, ConfigError> {
    CircuitBreaker::builder()
        .name("payments")
        .failure_threshold(3)
        .recovery_timeout(RECOVERY)
        .clock(clock)
        .export_metrics()
        .build()
}

/// A dependency that answers while it is up and fails while it is down.
#[derive(Debug, Default)]
pub struct Dependency {
    down: AtomicBool,
}

impl Dependency {
    /// Takes it down or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// One request.
    ///
    /// # Errors
    ///
    /// While it is down.
    pub fn charge(&self, amount: u64) -> io::Result<u64> {
        if self.down.load(Ordering::Relaxed) {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "payments timed out",
            ))
        } else {
            Ok(amount)
        }
    }
}

/// Installs the Prometheus recorder globally and serves it on a free port of 127.0.0.1.
/// Returns the address to scrape.
///
/// The exporter takes an address, not a listener, so a free port is found by binding port 0
/// and letting go of it; should another process take it in between, the next one is tried.
///
/// # Errors
///
/// If no port could be bound after a few tries, or a recorder is already installed.
pub fn start_exporter() -> Result<SocketAddr, BuildError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let started = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|free| free.local_addr())
            .map_err(|e| BuildError::FailedToCreateHTTPListener(e.to_string()))
            .and_then(|addr| {
                PrometheusBuilder::new()
                    .with_http_listener(addr)
                    .install()
                    .map(|()| addr)
            });
        match started {
            Err(BuildError::FailedToCreateHTTPListener(_)) if attempts < 5 => {}
            started => return started,
        }
    }
}

/// `GET /metrics` over plain HTTP/1.1; the body of a 200 response.
///
/// # Errors
///
/// If the connection fails or the answer is not a 200 with a body.
pub fn scrape(addr: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of headers"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!("scrape answered {status:?}")));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err(io::Error::other("a chunked body is not expected"));
    }
    Ok(body.to_owned())
}

/// The samples of a text exposition, keyed `name{label="value",...}` with the labels in name
/// order (comments and blank lines skipped).
///
/// # Errors
///
/// A line that is not `series value`, or a value that is not a number.
pub fn parse(exposition: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut samples = BTreeMap::new();
    for line in exposition.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("no value in {line:?}"))?;
        let value: f64 = value
            .parse()
            .map_err(|e| format!("bad value in {line:?}: {e}"))?;
        let key = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .ok_or_else(|| format!("unclosed labels in {line:?}"))?;
                let mut pairs =
                    split_labels(labels).ok_or_else(|| format!("bad labels in {line:?}"))?;
                pairs.sort();
                format!("{name}{{{}}}", pairs.join(","))
            }
        };
        samples.insert(key, value);
    }
    Ok(samples)
}

/// `a="x",b="y"` into `["a=\"x\"", "b=\"y\""]`, honouring escaped quotes in values.
fn split_labels(labels: &str) -> Option<Vec<String>> {
    let mut pairs = Vec::new();
    let mut rest = labels;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        pairs.push(format!("{key}=\"{}\"", &after[..end]));
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    Some(pairs)
}

/// The breaker's lines of a scrape, sorted: its series with their `# HELP` and `# TYPE`
/// comments.
pub fn breaker_lines(exposition: &str) -> String {
    let mut lines: Vec<&str> = exposition
        .lines()
        .filter(|l| {
            l.starts_with("circuit_breaker_")
                || l.starts_with("# HELP circuit_breaker_")
                || l.starts_with("# TYPE circuit_breaker_")
        })
        .collect();
    // Comments first within each metric, then its series in order.
    lines.sort_by_key(|l| {
        let series = l
            .trim_start_matches("# HELP ")
            .trim_start_matches("# TYPE ");
        let name = series
            .split(['{', ' '])
            .next()
            .unwrap_or_default()
            .to_owned();
        (name, !l.starts_with('#'), series.to_owned())
    });
    lines.join("\n")
}

/// The samples whose value differs between two parsed scrapes, one `series value` a line.
pub fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> String {
    after
        .iter()
        .filter(|(series, value)| before.get(*series) != Some(value))
        .map(|(series, value)| format!("{series} {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One outage: 10 calls while healthy, 10 while down, and 5 once healthy again after the
/// recovery timeout (`wait` lets it pass). Prints the first scrape's series, then what moved.
fn outage(
    breaker: &CircuitBreaker,
    dependency: &Dependency,
    addr: SocketAddr,
    wait: impl Fn(),
) -> Result<(), Box<dyn Error>> {
    let mut last: Option<BTreeMap<String, f64>> = None;
    let mut phase = |title: &str| -> Result<(), Box<dyn Error>> {
        let body = scrape(addr)?;
        let now = parse(&body)?;
        println!("\n## {title}: the breaker is {}\n", breaker.state());
        match &last {
            None => println!("{}", breaker_lines(&body)),
            Some(last) => println!("{}", moved(last, &now)),
        }
        last = Some(now);
        Ok(())
    };
    phase("before any call")?;

    dependency.set_down(false);
    for amount in 0..10 {
        breaker.call(|| dependency.charge(amount))?;
    }
    phase("10 calls while healthy")?;

    dependency.set_down(true);
    for amount in 0..10 {
        let _ = breaker.call(|| dependency.charge(amount));
    }
    phase("10 calls while down: 3 fail, then the breaker turns 7 away")?;

    dependency.set_down(false);
    wait();
    for amount in 0..5 {
        breaker.call(|| dependency.charge(amount))?;
    }
    phase("after the recovery timeout, 5 calls while healthy; the first is the probe")?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let addr = start_exporter()?;
    println!("serving the metrics on http://{addr}/metrics");
    let breaker = payments(QuantaClock::new())?;
    let dependency = Dependency::default();
    let wait = || std::thread::sleep(RECOVERY + Duration::from_millis(100));
    outage(&breaker, &dependency, addr, wait)?;
    if std::env::args().any(|a| a == "--serve") {
        println!("\nserving until interrupted; an outage every 10 s");
        loop {
            std::thread::sleep(Duration::from_secs(10));
            outage(&breaker, &dependency, addr, wait)?;
        }
    }
    Ok(())
}
