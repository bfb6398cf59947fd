//! `#[circuit]`, tested through the macro: admission and rejection, classification, fallbacks,
//! presets, names, the global registry, the generated accessor, sync and async functions, and
//! the compile-fail cases in `tests/ui/`.
//!
//! Every function here has its own breaker (one per function, created on its first call) and
//! each test uses its own functions, so the tests are independent although they share the
//! process-wide registry.

// Fallbacks have the guarded function's shape: `Result` and, for an `async fn`, `async`, even
// when they would need neither.
#![allow(clippy::unnecessary_wraps, clippy::unused_async)]

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_breaker::{
    circuit, AnyError, CircuitBreaker, Config, ErrorType, ErrorTypes, ManualClock, OpenError,
    Registry, State,
};
use futures::executor::block_on;

/// An error type that can carry a rejection, as `#[circuit]` requires.
#[derive(Debug)]
enum ApiError {
    Rejected(OpenError),
    Io(std::io::Error),
    Parse,
}

impl From<OpenError> for ApiError {
    fn from(rejected: OpenError) -> ApiError {
        ApiError::Rejected(rejected)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Rejected(rejected) => rejected.fmt(f),
            ApiError::Io(e) => e.fmt(f),
            ApiError::Parse => f.write_str("parse error"),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn rejection(result: Result<impl std::fmt::Debug, ApiError>) -> OpenError {
    match result {
        Err(ApiError::Rejected(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn io_error() -> ApiError {
    ApiError::Io(std::io::Error::other("connection reset"))
}

// --- Threshold, rejection without running the body ------------------------------------------

static SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[circuit(failure_threshold = 3)]
fn sync_call(ok: bool) -> Result<u32, ApiError> {
    SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if ok {
        Ok(7)
    } else {
        Err(ApiError::Parse)
    }
}

#[test]
fn sync_fn_opens_at_the_threshold_and_rejects_without_running() {
    assert_eq!(sync_call(true).unwrap(), 7);
    for _ in 0..2 {
        assert!(matches!(sync_call(false), Err(ApiError::Parse)));
    }
    assert!(sync_call_breaker().is_closed());
    assert_eq!(sync_call_breaker().failure_count(), 2);
    // The third consecutive failure opens it; the error itself comes back unchanged.
    assert!(matches!(sync_call(false), Err(ApiError::Parse)));
    assert!(sync_call_breaker().is_open());

    let runs = SYNC_RUNS.load(Ordering::SeqCst);
    let rejected = rejection(sync_call(true));
    assert_eq!(rejected.name(), "macros::sync_call");
    assert_eq!(rejected.failures(), 3);
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(
        SYNC_RUNS.load(Ordering::SeqCst),
        runs,
        "the body ran while open"
    );
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[circuit(failure_threshold = 2, recovery_timeout = 60)]
async fn async_call(ok: bool) -> Result<&'static str, ApiError> {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if !ok {
        // `?` and `return` keep their meaning inside the guarded body.
        Err(io_error())?;
    }
    Ok("pong")
}

#[test]
fn async_fn_opens_at_the_threshold_and_rejects_without_running() {
    block_on(async {
        assert_eq!(async_call(true).await.unwrap(), "pong");
        assert!(matches!(async_call(false).await, Err(ApiError::Io(_))));
        assert!(matches!(async_call(false).await, Err(ApiError::Io(_))));
        let breaker = async_call_breaker();
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.recovery_timeout(), Duration::from_secs(60));

        let runs = ASYNC_RUNS.load(Ordering::SeqCst);
        let rejected = rejection(async_call(true).await);
        assert_eq!(rejected.failures(), 2);
        assert!(rejected.remaining() > Duration::from_secs(50));
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), runs);
    });
}

#[circuit(failure_threshold = 1)]
async fn never_polled() -> Result<(), ApiError> {
    Err(ApiError::Parse)
}

#[test]
fn admission_happens_at_the_first_poll_and_a_dropped_future_records_nothing() {
    // Made but never polled: not admitted, nothing recorded.
    drop(never_polled());
    assert!(never_polled_breaker().is_closed());
    assert_eq!(never_polled_breaker().failure_count(), 0);
    assert!(block_on(never_polled()).is_err());
    assert!(never_polled_breaker().is_open());
}

#[circuit(failure_threshold = 2)]
fn panics(panic: bool) -> Result<(), ApiError> {
    assert!(!panic, "boom");
    Ok(())
}

#[test]
fn a_panic_in_the_body_counts_as_a_failure_and_keeps_unwinding() {
    assert!(std::panic::catch_unwind(|| panics(true)).is_err());
    assert_eq!(panics_breaker().failure_count(), 1);
    assert!(panics(false).is_ok());
    assert_eq!(panics_breaker().failure_count(), 0);
}

// --- Time: a breaker registered beforehand with a manual clock -----------------------------

#[circuit(failure_threshold = 1, name = "macros::recovering")]
async fn recovering(ok: bool) -> Result<u8, ApiError> {
    if ok {
        Ok(1)
    } else {
        Err(ApiError::Parse)
    }
}

#[test]
fn a_breaker_registered_under_the_name_first_is_used_so_tests_can_drive_time() {
    let clock = ManualClock::new();
    let mine = CircuitBreaker::builder()
        .name("macros::recovering")
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .unwrap();
    Registry::global().register(Arc::new(mine)).unwrap();

    block_on(async {
        assert!(recovering(false).await.is_err());
        assert!(recovering_breaker().is_open());
        assert!(rejection(recovering(true).await).remaining() <= Duration::from_secs(30));

        clock.advance(Duration::from_secs(30));
        assert_eq!(recovering_breaker().state(), State::HalfOpen);
        assert_eq!(recovering(true).await.unwrap(), 1, "the probe runs");
        assert!(recovering_breaker().is_closed());
    });
    let registered = Registry::global()
        .get_breaker::<AnyError>("macros::recovering")
        .unwrap();
    assert!(std::ptr::eq(&*registered, recovering_breaker()));
}

// The longest literal: the breaker's whole time range, 2^42 - 1 ms.
#[circuit(recovery_timeout = 4398046511.103)]
fn longest_timeout() -> Result<(), ApiError> {
    Ok(())
}

#[test]
fn a_literal_may_span_the_breaker_s_whole_time_range() {
    let timeout = longest_timeout_breaker().recovery_timeout();
    assert!(
        timeout <= async_breaker::MAX_RECOVERY_TIMEOUT
            && timeout + Duration::from_millis(1) > async_breaker::MAX_RECOVERY_TIMEOUT,
        "{timeout:?}"
    );
    assert!(longest_timeout().is_ok());
}

#[circuit(failure_threshold = 1, recovery_timeout = 0.001)]
fn tiny_timeout(ok: bool) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::Parse)
    }
}

#[test]
fn a_float_recovery_timeout_in_seconds_recovers_on_the_real_clock() {
    assert_eq!(
        tiny_timeout_breaker().recovery_timeout(),
        Duration::from_millis(1)
    );
    assert!(tiny_timeout(false).is_err());
    // Loop until the 1 ms timeout has passed; the deadline is generous and no speed is asserted.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tiny_timeout(true) {
            Ok(()) => break,
            Err(ApiError::Rejected(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => panic!("did not recover: {other:?}"),
        }
    }
    assert!(tiny_timeout_breaker().is_closed());
}

// --- Classification ---------------------------------------------------------------------------

#[circuit(failure_threshold = 1, failure_on = [std::io::Error])]
async fn io_only(error: Option<ApiError>) -> Result<(), ApiError> {
    error.map_or(Ok(()), Err)
}

#[test]
fn failure_on_counts_only_the_listed_types_through_source_chains() {
    block_on(async {
        let types = io_only_breaker().classifier().types();
        assert_eq!(types.len(), 1);
        // A parse error is not the dependency's fault: it counts as a success.
        assert!(matches!(
            io_only(Some(ApiError::Parse)).await,
            Err(ApiError::Parse)
        ));
        assert!(io_only_breaker().is_closed());
        // An io::Error reached through `source()` counts.
        assert!(matches!(
            io_only(Some(io_error())).await,
            Err(ApiError::Io(_))
        ));
        assert!(io_only_breaker().is_open());
        rejection(io_only(None).await);
    });
}

#[derive(Debug)]
struct Timeout;
impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timeout")
    }
}
impl std::error::Error for Timeout {}

#[derive(Debug)]
enum NetError {
    Rejected,
    Timeout(Timeout),
    NotFound,
}
impl From<OpenError> for NetError {
    fn from(_: OpenError) -> NetError {
        NetError::Rejected
    }
}
impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NetError::Timeout(t) => Some(t),
            _ => None,
        }
    }
}

#[circuit(failure_threshold = 2, failure_on = [std::io::Error, Timeout])]
fn several_types(error: NetError) -> Result<(), NetError> {
    Err(error)
}

#[test]
fn failure_on_takes_several_types() {
    assert_eq!(several_types_breaker().classifier().types().len(), 2);
    let _ = several_types(NetError::Timeout(Timeout));
    assert_eq!(several_types_breaker().failure_count(), 1);
    let _ = several_types(NetError::NotFound); // counts as a success: resets the count
    assert_eq!(several_types_breaker().failure_count(), 0);
    let _ = several_types(NetError::Timeout(Timeout));
    let _ = several_types(NetError::Timeout(Timeout));
    assert!(matches!(
        several_types(NetError::NotFound),
        Err(NetError::Rejected)
    ));
}

fn transient(error: &ApiError) -> bool {
    matches!(error, ApiError::Io(_))
}

#[circuit(failure_threshold = 1, failure_if = transient)]
fn predicate(error: ApiError) -> Result<(), ApiError> {
    Err(error)
}

#[circuit(failure_threshold = 1, failure_if = |e: &NetError| matches!(e, NetError::NotFound))]
async fn closure_predicate(error: NetError) -> Result<(), NetError> {
    Err(error)
}

#[test]
fn failure_if_takes_a_function_or_a_capture_free_closure() {
    let _ = predicate(ApiError::Parse);
    assert!(predicate_breaker().is_closed());
    let _ = predicate(io_error());
    assert!(predicate_breaker().is_open());

    block_on(async {
        let _ = closure_predicate(NetError::Timeout(Timeout)).await;
        assert!(closure_predicate_breaker().is_closed());
        let _ = closure_predicate(NetError::NotFound).await;
        assert!(closure_predicate_breaker().is_open());
        assert!(matches!(
            closure_predicate(NetError::NotFound).await,
            Err(NetError::Rejected)
        ));
    });
}

// --- Fallback -----------------------------------------------------------------------------------

thread_local! {
    static FALLBACK_ARGS: Cell<Option<(u32, u32)>> = const { Cell::new(None) };
}

fn cached_sum(a: u32, b: u32) -> Result<u32, String> {
    FALLBACK_ARGS.with(|args| args.set(Some((a, b))));
    Ok(0)
}

// `String` has no `From<OpenError>`: with a fallback it needs none.
#[circuit(failure_threshold = 1, fallback = cached_sum)]
fn sum(a: u32, b: u32) -> Result<u32, String> {
    if a == 0 {
        Err("zero".to_owned())
    } else {
        Ok(a + b)
    }
}

#[test]
fn a_sync_fallback_is_called_with_the_same_arguments_when_rejected() {
    assert_eq!(sum(1, 2), Ok(3));
    assert_eq!(FALLBACK_ARGS.with(Cell::get), None);
    assert_eq!(
        sum(0, 2),
        Err("zero".to_owned()),
        "the body's own error is returned"
    );
    assert_eq!(FALLBACK_ARGS.with(Cell::get), None);
    assert_eq!(sum(4, 5), Ok(0), "rejected: the fallback's value");
    assert_eq!(FALLBACK_ARGS.with(Cell::get), Some((4, 5)));
}

fn label_fallback(name: String, range: (u32, u32)) -> Result<String, String> {
    Ok(name + &format!(" {range:?} (fallback)"))
}

// `ref` and `@` bindings are passed on to the fallback as the values the caller gave.
#[circuit(failure_threshold = 1, fallback = label_fallback)]
fn label(ref name: String, range @ (low, high): (u32, u32)) -> Result<String, String> {
    if name.is_empty() {
        Err("no name".to_owned())
    } else {
        Ok(format!("{name} {low}..{high} of {range:?}"))
    }
}

#[test]
fn binding_patterns_reach_the_fallback_by_value() {
    assert_eq!(
        label("a".to_owned(), (1, 2)),
        Ok("a 1..2 of (1, 2)".to_owned())
    );
    assert_eq!(label(String::new(), (3, 4)), Err("no name".to_owned()));
    assert_eq!(
        label("b".to_owned(), (5, 6)),
        Ok("b (5, 6) (fallback)".to_owned())
    );
}

async fn stale_quote(symbol: String, (low, high): (u32, u32)) -> Result<String, ApiError> {
    Ok(format!("{symbol} {low}..{high} (cached)"))
}

// A pattern parameter is passed on to the fallback too.
#[circuit(failure_threshold = 1, fallback = stale_quote)]
async fn quote(symbol: String, (low, high): (u32, u32)) -> Result<String, ApiError> {
    if symbol.is_empty() {
        return Err(ApiError::Parse);
    }
    Ok(format!("{symbol} {low}..{high}"))
}

#[test]
fn an_async_fallback_is_awaited_with_the_same_arguments() {
    block_on(async {
        assert_eq!(quote("ACME".into(), (1, 2)).await.unwrap(), "ACME 1..2");
        assert!(matches!(
            quote(String::new(), (0, 0)).await,
            Err(ApiError::Parse)
        ));
        assert_eq!(
            quote("ACME".into(), (3, 4)).await.unwrap(),
            "ACME 3..4 (cached)"
        );
    });
}

// --- Methods ------------------------------------------------------------------------------------

struct Client {
    base: String,
    calls: AtomicUsize,
}

impl Client {
    #[circuit(failure_threshold = 1, fallback = Self::offline)]
    async fn get(&self, path: &str) -> Result<String, ApiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if path == "/down" {
            return Err(io_error());
        }
        Ok(format!("{}{path}", self.base))
    }

    async fn offline(&self, path: &str) -> Result<String, ApiError> {
        Ok(format!("offline: {path}"))
    }

    #[circuit(failure_threshold = 1)]
    fn associated(fail: bool) -> Result<(), ApiError> {
        if fail {
            Err(ApiError::Parse)
        } else {
            Ok(())
        }
    }
}

#[test]
fn methods_and_associated_functions_are_guarded_and_their_accessor_is_associated() {
    let client = Client {
        base: "https://api".into(),
        calls: AtomicUsize::new(0),
    };
    block_on(async {
        assert_eq!(client.get("/users").await.unwrap(), "https://api/users");
        assert!(client.get("/down").await.is_err());
        assert_eq!(client.get("/users").await.unwrap(), "offline: /users");
        assert_eq!(client.calls.load(Ordering::SeqCst), 2);
    });
    assert_eq!(Client::get_breaker().name(), "macros::get");
    assert!(Client::get_breaker().is_open());

    assert!(Client::associated(true).is_err());
    assert!(matches!(
        Client::associated(false),
        Err(ApiError::Rejected(_))
    ));
    assert!(Client::associated_breaker().is_open());
}

// --- Presets ------------------------------------------------------------------------------------

const BACKEND: Config<ErrorTypes> = Config::new()
    .failure_threshold(10)
    .recovery_timeout(Duration::from_secs(90))
    .failure_on_types(&[ErrorType::of::<std::io::Error>()]);

#[circuit(preset = BACKEND)]
async fn from_preset(error: Option<ApiError>) -> Result<(), ApiError> {
    error.map_or(Ok(()), Err)
}

#[circuit(preset = BACKEND, failure_threshold = 2, recovery_timeout = Duration::from_millis(1500))]
fn preset_overridden(error: Option<ApiError>) -> Result<(), ApiError> {
    error.map_or(Ok(()), Err)
}

#[test]
fn a_preset_sets_every_setting_and_arguments_override_it() {
    block_on(async {
        let _ = from_preset(None).await;
        let breaker = Registry::global()
            .get_breaker::<ErrorTypes>("macros::from_preset")
            .expect("registered with the preset's classifier type");
        assert_eq!(breaker.failure_threshold(), 10);
        assert_eq!(breaker.recovery_timeout(), Duration::from_secs(90));
        // The preset's classifier: a parse error does not count.
        let _ = from_preset(Some(ApiError::Parse)).await;
        assert_eq!(from_preset_breaker().failure_count(), 0);
        let _ = from_preset(Some(io_error())).await;
        assert_eq!(from_preset_breaker().failure_count(), 1);
    });

    let breaker = preset_overridden_breaker();
    assert_eq!(breaker.failure_threshold(), 2);
    assert_eq!(breaker.recovery_timeout(), Duration::from_millis(1500));
    let _ = preset_overridden(Some(ApiError::Parse));
    assert!(breaker.is_closed());
    let _ = preset_overridden(Some(io_error()));
    let _ = preset_overridden(Some(io_error()));
    assert!(breaker.is_open());
    rejection(preset_overridden(None));
}

// --- Names, registry, accessor -----------------------------------------------------------------

#[circuit]
fn defaults() -> Result<(), ApiError> {
    Ok(())
}

mod nested {
    use super::ApiError;
    use async_breaker::circuit;

    #[circuit(accessor = breaker_of_inner)]
    pub async fn inner() -> std::result::Result<(), ApiError> {
        Ok(())
    }
}

#[test]
fn the_default_name_is_the_module_path_and_the_function_name() {
    let breaker = defaults_breaker();
    assert_eq!(breaker.name(), "macros::defaults");
    assert_eq!(breaker.failure_threshold(), 5);
    assert_eq!(breaker.recovery_timeout(), Duration::from_secs(30));
    assert_eq!(nested::breaker_of_inner().name(), "macros::nested::inner");
}

#[circuit(name = "payments-test")]
fn named() -> Result<(), ApiError> {
    Ok(())
}

#[circuit]
fn lazily_registered() -> Result<(), ApiError> {
    Ok(())
}

#[test]
fn the_breaker_is_created_on_first_call_and_registered_in_the_global_registry() {
    assert!(Registry::global()
        .get("macros::lazily_registered")
        .is_none());
    lazily_registered().unwrap();
    let registered = Registry::global().get("macros::lazily_registered").unwrap();
    assert_eq!(registered.state(), State::Closed);
    let typed = Registry::global()
        .get_breaker::<AnyError>("macros::lazily_registered")
        .unwrap();
    assert!(std::ptr::eq(&*typed, lazily_registered_breaker()));

    named().unwrap();
    assert_eq!(
        Registry::global().get("payments-test").unwrap().name(),
        "payments-test"
    );
    assert!(std::ptr::eq(
        &*Registry::global()
            .get_breaker::<AnyError>("payments-test")
            .unwrap(),
        named_breaker()
    ));
}

#[circuit(failure_threshold = 1, name = "shared-dependency")]
fn shares_a(fail: bool) -> Result<(), ApiError> {
    if fail {
        Err(ApiError::Parse)
    } else {
        Ok(())
    }
}

#[circuit(failure_threshold = 1, name = "shared-dependency")]
fn shares_b() -> Result<(), ApiError> {
    Ok(())
}

#[test]
fn functions_with_the_same_name_and_classifier_type_share_one_breaker() {
    assert!(shares_a(true).is_err());
    assert!(std::ptr::eq(shares_a_breaker(), shares_b_breaker()));
    rejection(shares_b());
}

#[circuit(failure_threshold = 1, name = "taken-by-another-type")]
fn name_taken() -> Result<(), ApiError> {
    Err(ApiError::Parse)
}

#[test]
fn a_name_taken_by_another_type_does_not_panic_the_breaker_works_unregistered() {
    let other = CircuitBreaker::builder()
        .name("taken-by-another-type")
        .failure_on::<std::io::Error>()
        .build()
        .unwrap();
    let other = Arc::new(other);
    Registry::global().register(Arc::clone(&other)).unwrap();

    assert!(matches!(name_taken(), Err(ApiError::Parse)));
    rejection(name_taken());
    assert!(name_taken_breaker().is_open());
    // The registered breaker is still the other one, untouched.
    let registered = Registry::global().get("taken-by-another-type").unwrap();
    assert_eq!(registered.state(), State::Closed);
    assert!(other.is_closed());
}

#[circuit(failure_threshold = 1000)]
fn contended() -> Result<(), ApiError> {
    Ok(())
}

#[test]
fn concurrent_first_calls_create_one_breaker() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                contended().map(|()| std::ptr::from_ref(contended_breaker()) as usize)
            })
        })
        .collect();
    let addresses: Vec<usize> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert!(addresses.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        Registry::global()
            .get_breaker::<AnyError>("macros::contended")
            .map(|b| std::ptr::from_ref::<CircuitBreaker>(&b) as usize),
        Some(addresses[0])
    );
}

// --- Signatures -------------------------------------------------------------------------------

type ApiResult<T> = Result<T, ApiError>;

#[circuit(failure_threshold = 1)]
fn alias(fail: bool) -> ApiResult<u8> {
    if fail {
        Err(ApiError::Parse)
    } else {
        Ok(1)
    }
}

fn io_unavailable() -> std::io::Result<u8> {
    Err(std::io::ErrorKind::WouldBlock.into())
}

// `io::Error` has no `From<OpenError>`, so an `io::Result` function takes a fallback.
#[circuit(failure_threshold = 1, fallback = io_unavailable)]
fn io_alias() -> std::io::Result<u8> {
    Err(std::io::Error::other("down"))
}

#[test]
fn result_aliases_are_accepted() {
    assert_eq!(alias(false).unwrap(), 1);
    assert!(alias(true).is_err());
    rejection(alias(false));

    assert_eq!(io_alias().unwrap_err().kind(), std::io::ErrorKind::Other);
    assert_eq!(
        io_alias().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[circuit(failure_threshold = 2)]
fn generic<T: std::str::FromStr>(s: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError::Parse)
}

#[test]
fn a_generic_function_has_one_breaker_for_every_instantiation() {
    assert_eq!(generic::<u8>("1").unwrap(), 1);
    assert!(generic::<u8>("x").is_err());
    assert!(generic::<i64>("y").is_err());
    assert!(generic_breaker().is_open());
    rejection(generic::<u16>("2"));
}

trait Tuned {
    const THRESHOLD: u32;
}

struct Strict;

impl Tuned for Strict {
    const THRESHOLD: u32 = 1;
}

// A setting that mentions a generic parameter: there is no accessor (it could not name `T`).
#[circuit(failure_threshold = T::THRESHOLD)]
fn tuned<T: Tuned>(ok: bool) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::Parse)
    }
}

#[test]
fn a_setting_may_mention_the_function_s_generic_parameters() {
    assert!(matches!(tuned::<Strict>(false), Err(ApiError::Parse)));
    rejection(tuned::<Strict>(true));
}

#[circuit(failure_threshold = 1)]
async fn borrows<'a>(text: &'a str, _unused: &str) -> Result<&'a str, ApiError> {
    text.split_whitespace().next().ok_or(ApiError::Parse)
}

#[test]
fn borrowed_arguments_and_returns_work() {
    block_on(async {
        assert_eq!(borrows("hello world", "x").await.unwrap(), "hello");
    });
}

#[circuit(failure_threshold = 1)]
fn opaque(fail: bool) -> Result<impl std::fmt::Display, ApiError> {
    if fail {
        return Err(ApiError::Parse);
    }
    Ok(42)
}

#[circuit(failure_threshold = 1)]
async fn opaque_async() -> Result<impl std::fmt::Display, ApiError> {
    Ok("shown")
}

// `impl Trait` nested in the success type, inside parentheses.
#[circuit]
fn opaque_pair() -> Result<(impl std::fmt::Display, u32), ApiError> {
    Ok(("pair", 2))
}

#[test]
fn an_impl_trait_return_type_works() {
    let (shown, n) = opaque_pair().unwrap();
    assert_eq!((shown.to_string(), n), ("pair".to_owned(), 2));
    assert_eq!(opaque(false).unwrap().to_string(), "42");
    assert!(opaque(true).is_err());
    assert!(matches!(opaque(false), Err(ApiError::Rejected(_))));
    assert_eq!(block_on(opaque_async()).unwrap().to_string(), "shown");
}

struct Service;

impl Service {
    const PRESET: Config = Config::new().failure_threshold(1);

    // `Self::PRESET` cannot be checked in a nested `const`; `build()` checks it on first use.
    #[circuit(preset = Self::PRESET, recovery_timeout = 5)]
    fn call(fail: bool) -> Result<(), ApiError> {
        if fail {
            Err(ApiError::Parse)
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_preset_may_be_an_associated_const() {
    assert!(Service::call(true).is_err());
    assert!(Service::call_breaker().is_open());
    assert_eq!(
        Service::call_breaker().recovery_timeout(),
        Duration::from_secs(5)
    );
    rejection(Service::call(false));
}

#[test]
fn compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
