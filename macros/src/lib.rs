//! The `#[circuit]` attribute for [`async-breaker`](https://docs.rs/async-breaker). Use it through
//! the main crate's `macros` feature (`async_breaker::circuit`), not directly.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Error, Expr, ExprLit, ExprUnary, FnArg, Ident, ItemFn, Lit, LitBool, Pat, ReturnType, Token,
    Type, UnOp,
};

/// Guards a function that returns `Result<T, E>` with a circuit breaker: the counterpart of the
/// Python original's `@circuit` decorator. Works on `async fn` and on plain `fn`, free or in an
/// `impl` block. Needs the `macros` feature of `async-breaker`.
///
/// ```ignore
/// use async_breaker::{circuit, OpenError};
///
/// #[derive(Debug)]
/// enum ApiError {
///     Rejected(OpenError),
///     Io(std::io::Error),
/// }
/// impl From<OpenError> for ApiError {
///     fn from(rejected: OpenError) -> Self {
///         ApiError::Rejected(rejected)
///     }
/// }
///
/// #[circuit(failure_threshold = 3, recovery_timeout = 10)]
/// async fn fetch_user(id: u64) -> Result<String, ApiError> {
///     // ... a real network call ...
///     Ok(format!("user {id}"))
/// }
///
/// // The breaker is reachable from outside, for tests and monitoring:
/// assert!(fetch_user_breaker().is_closed());
/// ```
///
/// # What a call does
///
/// Each call asks the function's breaker for admission first (for an `async fn`: when the
/// returned future is first polled).
///
/// - **Admitted**: the body runs; `Ok` counts as a success, `Err` is classified (by default
///   every `Err` is a failure) and returned **unchanged**. A panic in the body counts as a
///   failure and keeps unwinding. Dropping the future of an `async fn` before it completes
///   records nothing (a half-open probe frees its slot).
/// - **Rejected** (open, or half-open with its one probe in flight): the body does **not** run.
///   The function returns `Err(E::from(rejected))`, where `rejected` is an
///   [`OpenError`](https://docs.rs/async-breaker/latest/async_breaker/struct.OpenError.html)
///   (name, failure count, time left). So the error type `E` must implement
///   `From<async_breaker::OpenError>`; if it does not, the compiler says that
///   `From<OpenError>` is not implemented for `E`, pointing at the return type. With
///   `fallback`, the fallback's result is returned instead and `E` needs no `From`.
///
/// # Arguments
///
/// All optional, in any order, each at most once.
///
/// | argument | value | default |
/// |---|---|---|
/// | `failure_threshold` | consecutive failures that open the breaker: an integer literal `1..=65535` or a `const` `u32` expression | 5 |
/// | `recovery_timeout` | how long it stays open before one probe: seconds as an integer or float literal (`30`, `0.5`), or a `const` `Duration` expression | 30 s |
/// | `probe_deadline` | how long a probe may run before it is presumed lost; same forms | the recovery timeout |
/// | `failure_on` | the error types that count as failures, found through `source()` chains: `[A, B]` or one type | every `Err` counts |
/// | `failure_if` | a predicate `fn(&E) -> bool` (a path, or a closure that captures nothing): `true` counts as a failure | every `Err` counts |
/// | `name` | the breaker's name, a `&'static str` | `module_path!()::fn_name` |
/// | `fallback` | a function called with the same arguments instead of the body when the call is rejected (an `async fn` for an `async fn`) | `Err(E::from(rejected))` |
/// | `preset` | a `const` [`Config<C>`](https://docs.rs/async-breaker/latest/async_breaker/struct.Config.html): the seed's `cls=`; `failure_threshold`, `recovery_timeout` and `probe_deadline` given here override it | `Config::new()` |
/// | `accessor` | the name of the generated accessor, or `false` for none | `<fn_name>_breaker` |
///
/// An error that does not count as a failure (with `failure_on` or `failure_if`) counts as a
/// success, as in the original: the dependency answered. `failure_on` and `failure_if` exclude
/// each other, and neither combines with `preset` (put the classifier in the preset).
///
/// Every value is checked at compile time: a literal out of range (`failure_threshold = 0`,
/// `recovery_timeout = 0`) is an error on that literal; a `preset` or an expression is
/// evaluated in a `const`, so an invalid one fails the build, and an expression must therefore
/// be a constant one (`Duration::from_millis(500)`, a `const` item).
///
/// ```ignore
/// use std::time::Duration;
/// use async_breaker::{circuit, Config, ErrorType, ErrorTypes};
///
/// #[circuit] // 5 failures open it for 30 s
/// fn parse(s: &str) -> Result<u8, MyError> { /* ... */ }
///
/// #[circuit(failure_threshold = 10, recovery_timeout = 60)]
/// async fn charge(cents: u64) -> Result<Receipt, MyError> { /* ... */ }
///
/// #[circuit(recovery_timeout = Duration::from_millis(500), probe_deadline = 2.5)]
/// async fn ping() -> Result<(), MyError> { /* ... */ }
///
/// #[circuit(failure_on = [std::io::Error, Timeout])] // other errors count as successes
/// async fn read() -> Result<Vec<u8>, MyError> { /* ... */ }
///
/// fn transient(e: &MyError) -> bool { e.is_transient() }
/// #[circuit(failure_if = transient)]
/// async fn write(buf: Vec<u8>) -> Result<(), MyError> { /* ... */ }
///
/// #[circuit(name = "payments")]
/// async fn refund(cents: u64) -> Result<Receipt, MyError> { /* ... */ }
///
/// async fn cached_price(sku: &str) -> Result<u64, MyError> { Ok(999) }
/// #[circuit(fallback = cached_price)] // called as cached_price(sku) when rejected
/// async fn price(sku: &str) -> Result<u64, MyError> { /* ... */ }
///
/// const BACKEND: Config<ErrorTypes> = Config::new()
///     .failure_threshold(10)
///     .recovery_timeout(Duration::from_secs(60))
///     .failure_on_types(&[ErrorType::of::<std::io::Error>()]);
/// #[circuit(preset = BACKEND, failure_threshold = 3)] // BACKEND, but 3 failures
/// async fn users() -> Result<Vec<User>, MyError> { /* ... */ }
/// ```
///
/// For a method, `fallback = Self::cached` is called as `Self::cached(self, args..)`.
///
/// # The breaker: one per function, named, registered, reachable
///
/// The first call creates the function's breaker (it lives in a `static` inside the function:
/// one breaker per function, shared by all callers, threads and, for a generic function, all
/// instantiations) and registers it in
/// [`Registry::global()`](https://docs.rs/async-breaker/latest/async_breaker/struct.Registry.html)
/// under its name: `name`, or else `module_path!()` + `::` + the function's name (for
/// `fn fetch_user` in `my_app::api`: `"my_app::api::fetch_user"`). Afterwards each call costs a
/// load of that `static` (plus one `TypeId` comparison with `preset` or `failure_if`) and the
/// breaker's own admission.
///
/// The name identifies the breaker. If a breaker with that name **and the same classifier type**
/// is already registered when the function's breaker is created, the function uses it instead
/// of building one; so:
///
/// - functions given the same `name` (and the same classifier type) share one breaker: the one
///   guarding the same dependency (give them the same settings, e.g. one `preset`; the settings
///   of whichever is created first apply);
/// - a test can register its own breaker under the function's name before the first call (for
///   example with a `ManualClock`) and the function will use it.
///
/// A name taken by a breaker of **another** classifier type never panics: the function builds
/// its own breaker and uses it, unregistered (the accessor below still reaches it). Unregistering
/// a function's breaker later does not detach the function from it.
///
/// The attribute also generates a sibling accessor, `<fn_name>_breaker()` (rename it with
/// `accessor = other_name`, or turn it off with `accessor = false`, e.g. in a trait impl where no
/// extra item may be added), with the function's visibility and `#[cfg]`s. It returns the
/// function's breaker (creating it if the function has not been called yet) as
/// `&'static CircuitBreaker<C>`. `C` is `AnyError` by default and `ErrorTypes` with
/// `failure_on`; with `preset` or `failure_if` the macro cannot name it, so it is opaque
/// (`impl Send + Sync`): enough for `state()`, `failure_count()`, `open_remaining()`, `name()`,
/// `metrics()`. The concrete breaker is `Registry::global().get_breaker::<C>(name)`, with `C` the
/// preset's classifier type, or `fn(&E) -> bool` for `failure_if`. In an `impl` block the
/// accessor is an associated function (`Client::fetch_breaker()`). A generic function whose
/// settings mention its type parameters gets no accessor.
///
/// # Errors at compile time
///
/// Pointing at the offending tokens: a function that does not return a `Result` (any type named
/// `Result` or `...Result`, such as `io::Result<T>`, is accepted), a `const fn`, an unknown
/// argument, a repeated or conflicting argument, a value of the wrong kind
/// (`failure_threshold = "ten"`) or out of range, an error type without `From<OpenError>`, and
/// an `async fn` whose fallback is not async (or the reverse).
#[proc_macro_attribute]
pub fn circuit(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as Args);
    let item = syn::parse_macro_input!(item as ItemFn);
    match expand(&args, item) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

const KNOWN: &str = "failure_threshold, recovery_timeout, probe_deadline, failure_on, \
                     failure_if, name, fallback, preset, accessor";

/// The largest failure threshold (the breaker's `MAX_FAILURE_THRESHOLD`).
const MAX_THRESHOLD: u64 = 65_535;
/// The longest span in milliseconds (the breaker's `MAX_RECOVERY_TIMEOUT`).
const MAX_SPAN_MS: u128 = (1 << 42) - 1;

/// A setting given as a checked literal or as an expression checked in a `const`.
enum Value {
    Literal(TokenStream2),
    Expr(Expr),
}

impl Value {
    fn tokens(&self) -> TokenStream2 {
        match self {
            Value::Literal(tokens) => tokens.clone(),
            Value::Expr(expr) => quote!((#expr)),
        }
    }
}

enum Accessor {
    Named(Ident),
    Off,
}

#[derive(Default)]
struct Args {
    failure_threshold: Option<Value>,
    recovery_timeout: Option<Value>,
    probe_deadline: Option<Value>,
    failure_on: Option<(Ident, Vec<Type>)>,
    failure_if: Option<(Ident, Expr)>,
    name: Option<Expr>,
    fallback: Option<Expr>,
    preset: Option<(Ident, Expr)>,
    accessor: Option<Accessor>,
}

fn set<T>(slot: &mut Option<T>, key: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(Error::new(
            key.span(),
            format!("`{key}` is given more than once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

impl Parse for Args {
    #[allow(clippy::too_many_lines)] // one arm per argument
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let mut args = Args::default();
        while !input.is_empty() {
            let key = Ident::parse_any(input)?;
            if !input.peek(Token![=]) {
                return Err(Error::new(
                    key.span(),
                    format!("expected `{key} = <value>`: every argument takes a value"),
                ));
            }
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "failure_threshold" => {
                    let value = threshold(input.parse()?)?;
                    set(&mut args.failure_threshold, &key, value)?;
                }
                "recovery_timeout" | "probe_deadline" => {
                    let value = span_value(&key, input.parse()?)?;
                    if key == "recovery_timeout" {
                        set(&mut args.recovery_timeout, &key, value)?;
                    } else {
                        set(&mut args.probe_deadline, &key, value)?;
                    }
                }
                "failure_on" => {
                    let types = if input.peek(syn::token::Bracket) {
                        let content;
                        syn::bracketed!(content in input);
                        let types = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
                        if types.is_empty() {
                            return Err(Error::new(
                                key.span(),
                                "`failure_on` needs at least one error type: `failure_on = [std::io::Error]`",
                            ));
                        }
                        types.into_iter().collect()
                    } else {
                        vec![input.parse::<Type>()?]
                    };
                    set(&mut args.failure_on, &key, (key.clone(), types))?;
                }
                "failure_if" => {
                    let expr: Expr = input.parse()?;
                    not_literal(&key, &expr, "a predicate `fn(&E) -> bool`")?;
                    set(&mut args.failure_if, &key, (key.clone(), expr))?;
                }
                "name" => {
                    let expr: Expr = input.parse()?;
                    match &expr {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(name),
                            ..
                        }) if name.value().is_empty() => {
                            return Err(Error::new(name.span(), "`name` must not be empty"));
                        }
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(_), ..
                        }) => {}
                        _ => not_literal(&key, &expr, "a string, e.g. `name = \"payments\"`")?,
                    }
                    set(&mut args.name, &key, expr)?;
                }
                "fallback" => {
                    let expr: Expr = input.parse()?;
                    not_literal(&key, &expr, "a function, e.g. `fallback = cached`")?;
                    set(&mut args.fallback, &key, expr)?;
                }
                "preset" => {
                    let expr: Expr = input.parse()?;
                    not_literal(&key, &expr, "a `const` `Config`, e.g. `preset = BACKEND`")?;
                    set(&mut args.preset, &key, (key.clone(), expr))?;
                }
                "accessor" => {
                    let value = if input.peek(syn::LitBool) {
                        let flag: LitBool = input.parse()?;
                        if flag.value {
                            return Err(Error::new(
                                flag.span(),
                                "`accessor` takes a name or `false`; the accessor is on by default",
                            ));
                        }
                        Accessor::Off
                    } else {
                        Accessor::Named(input.parse()?)
                    };
                    set(&mut args.accessor, &key, value)?;
                }
                _ => return Err(unknown(&key)),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if let (Some((on, _)), Some((_, _))) = (&args.failure_on, &args.failure_if) {
            return Err(Error::new(
                on.span(),
                "`failure_on` and `failure_if` exclude each other: use one",
            ));
        }
        if let Some((preset, _)) = &args.preset {
            let classifier = args
                .failure_on
                .as_ref()
                .map(|(key, _)| key)
                .or(args.failure_if.as_ref().map(|(key, _)| key));
            if let Some(key) = classifier {
                let mut error = Error::new(
                    key.span(),
                    format!("`{key}` cannot be combined with `preset`: the preset sets the classifier (use `Config::failure_on_types` or `Config::failure_if` in it)"),
                );
                error.combine(Error::new(preset.span(), "the preset is given here"));
                return Err(error);
            }
        }
        Ok(args)
    }
}

/// An unknown argument, with a hint: the Python original's name for it, or a near spelling.
fn unknown(key: &Ident) -> Error {
    let key_str = key.to_string();
    let hint = match key_str.as_str() {
        "expected_exception" => {
            Some("`failure_on = [ErrorType, ..]` for error types, `failure_if = predicate` for a predicate".to_owned())
        }
        "cls" => Some("`preset = CONST_CONFIG`".to_owned()),
        "fallback_function" => Some("`fallback = function`".to_owned()),
        _ => KNOWN
            .split(", ")
            .map(|known| (distance(&key_str, known), known))
            .filter(|(distance, _)| *distance <= 3)
            .min()
            .map(|(_, known)| format!("`{known}`")),
    };
    let hint = hint.map_or_else(String::new, |hint| format!("; did you mean {hint}?"));
    Error::new(
        key.span(),
        format!("unknown argument `{key}`{hint}\nthe arguments are: {KNOWN}"),
    )
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn kind(lit: &Lit) -> &'static str {
    match lit {
        Lit::Str(_) => "a string",
        Lit::ByteStr(_) => "a byte string",
        Lit::CStr(_) => "a C string",
        Lit::Byte(_) => "a byte",
        Lit::Char(_) => "a character",
        Lit::Int(_) => "an integer",
        Lit::Float(_) => "a float",
        Lit::Bool(_) => "a boolean",
        _ => "a literal",
    }
}

fn not_literal(key: &Ident, expr: &Expr, expected: &str) -> syn::Result<()> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Err(Error::new(
            lit.span(),
            format!("`{key}` expects {expected}, found {}", kind(lit)),
        )),
        _ => Ok(()),
    }
}

fn negative(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) if matches!(**inner, Expr::Lit(_)) => Some(expr),
        _ => None,
    }
}

fn threshold(expr: Expr) -> syn::Result<Value> {
    const RANGE: &str = "`failure_threshold` must be an integer between 1 and 65535";
    if let Some(neg) = negative(&expr) {
        return Err(Error::new_spanned(neg, RANGE));
    }
    let Expr::Lit(ExprLit { lit, .. }) = &expr else {
        return Ok(Value::Expr(expr));
    };
    let Lit::Int(int) = lit else {
        return Err(Error::new(
            lit.span(),
            format!("{RANGE}, found {}", kind(lit)),
        ));
    };
    match int.base10_parse::<u64>() {
        Ok(n @ 1..=MAX_THRESHOLD) => {
            let n = u32::try_from(n).map_err(|_| Error::new(int.span(), RANGE))?;
            Ok(Value::Literal(quote_spanned!(int.span()=> #n)))
        }
        Ok(0) => Err(Error::new(
            int.span(),
            format!("{RANGE}: a breaker that opens after 0 failures would never admit a call"),
        )),
        _ => Err(Error::new(
            int.span(),
            format!("{RANGE} (the breaker's limit)"),
        )),
    }
}

fn span_value(key: &Ident, expr: Expr) -> syn::Result<Value> {
    let range = format!(
        "`{key}` must be a number of seconds between 0.001 and {} (or a const `Duration` expression)",
        MAX_SPAN_MS / 1000
    );
    if let Some(neg) = negative(&expr) {
        return Err(Error::new_spanned(neg, range));
    }
    let Expr::Lit(ExprLit { lit, .. }) = &expr else {
        return Ok(Value::Expr(expr));
    };
    let nanos: u128 = match lit {
        Lit::Int(int) => int
            .base10_parse::<u64>()
            .map(|secs| u128::from(secs) * 1_000_000_000)
            .map_err(|_| Error::new(int.span(), &range))?,
        Lit::Float(float) => {
            let secs = float
                .base10_parse::<f64>()
                .map_err(|_| Error::new(float.span(), &range))?;
            let duration = std::time::Duration::try_from_secs_f64(secs)
                .map_err(|_| Error::new(float.span(), &range))?;
            duration.as_nanos()
        }
        other => {
            return Err(Error::new(
                other.span(),
                format!("{range}, found {}", kind(other)),
            ))
        }
    };
    if nanos == 0 || nanos.div_ceil(1_000_000) > MAX_SPAN_MS {
        return Err(Error::new(lit.span(), range));
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| Error::new(lit.span(), &range))?;
    let subsec =
        u32::try_from(nanos % 1_000_000_000).map_err(|_| Error::new(lit.span(), &range))?;
    Ok(Value::Literal(
        quote_spanned!(lit.span()=> ::core::time::Duration::new(#secs, #subsec)),
    ))
}

/// Whether `tokens` mention one of `names` (the function's type and const parameters), or, if
/// `with_self`, `Self`: settings that cannot be evaluated in a nested `const` (neither) or in a
/// non-generic sibling accessor (generic parameters only).
fn mentions(tokens: TokenStream2, names: &[Ident], with_self: bool) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => (with_self && ident == "Self") || names.contains(&ident),
        TokenTree::Group(group) => mentions(group.stream(), names, with_self),
        _ => false,
    })
}

fn contains_impl_trait(ty: &Type) -> bool {
    ty.to_token_stream()
        .into_iter()
        .any(|tree| contains_impl_token(&tree))
}

fn contains_impl_token(tree: &TokenTree) -> bool {
    match tree {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => group.stream().into_iter().any(|t| contains_impl_token(&t)),
        _ => false,
    }
}

fn result_type(item: &ItemFn) -> syn::Result<&Type> {
    const NEEDS: &str = "#[circuit] needs a function that returns `Result<T, E>`";
    let ty = match &item.sig.output {
        ReturnType::Type(_, ty) => &**ty,
        ReturnType::Default => {
            return Err(Error::new(
                item.sig.ident.span(),
                format!(
                    "{NEEDS}; `{}` returns `()`, so there is no failure to count",
                    item.sig.ident
                ),
            ))
        }
    };
    let named_result = match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident.to_string().ends_with("Result")),
        _ => false,
    };
    if named_result {
        Ok(ty)
    } else {
        Err(Error::new_spanned(
            ty,
            format!(
                "{NEEDS}, so that a failure can be counted and a rejection returned as `Err(E::from(OpenError))`; found `{}`",
                ty.to_token_stream()
            ),
        ))
    }
}

#[allow(clippy::too_many_lines)]
fn expand(args: &Args, mut item: ItemFn) -> syn::Result<TokenStream2> {
    if let Some(constness) = &item.sig.constness {
        return Err(Error::new(
            constness.span(),
            "#[circuit] cannot guard a `const fn`: a breaker changes state at run time",
        ));
    }
    if let Some(variadic) = &item.sig.variadic {
        return Err(Error::new_spanned(
            variadic,
            "#[circuit] cannot guard a variadic function",
        ));
    }
    let ret = result_type(&item)?.clone();
    let is_async = item.sig.asyncness.is_some();
    let fn_name = item.sig.ident.unraw();
    let fn_name_str = fn_name.to_string();
    let generics: Vec<Ident> = item
        .sig
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(ty) => Some(ty.ident.clone()),
            syn::GenericParam::Const(c) => Some(c.ident.clone()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();

    let krate = quote!(::async_breaker);
    let private = quote!(#krate::__private);

    let name = args.name.as_ref().map_or_else(
        || quote!(::core::concat!(::core::module_path!(), "::", #fn_name_str)),
        ToTokens::to_token_stream,
    );

    // The settings, as `Config` (const) methods and as `Builder` methods: same names.
    let mut settings = TokenStream2::new();
    let mut needs_const_check = args.preset.is_some();
    for (method, value) in [
        ("failure_threshold", &args.failure_threshold),
        ("recovery_timeout", &args.recovery_timeout),
        ("probe_deadline", &args.probe_deadline),
    ] {
        if let Some(value) = value {
            let method = Ident::new(method, Span::call_site());
            let tokens = value.tokens();
            settings.extend(quote!(.#method(#tokens)));
            needs_const_check |= matches!(value, Value::Expr(_));
        }
    }

    let (base, classifier, slot_ty, accessor_classifier) = if let Some((_, preset)) = &args.preset {
        (
            quote!((#preset)),
            quote!(),
            quote!(#private::AnySlot),
            quote!(impl ::core::marker::Send + ::core::marker::Sync + 'static),
        )
    } else if let Some((_, predicate)) = &args.failure_if {
        (
            quote!(#krate::Config::new().failure_if(#predicate)),
            quote!(),
            quote!(#private::AnySlot),
            quote!(impl ::core::marker::Send + ::core::marker::Sync + 'static),
        )
    } else if let Some((_, types)) = &args.failure_on {
        (
            quote!(#krate::Config::new()),
            quote!(#(.failure_on::<#types>())*),
            quote!(#private::Slot<#krate::ErrorTypes>),
            quote!(#krate::ErrorTypes),
        )
    } else {
        (
            quote!(#krate::Config::new()),
            quote!(),
            quote!(#private::Slot<#krate::AnyError>),
            quote!(#krate::AnyError),
        )
    };
    let builder = quote!(#base.builder() #classifier #settings);

    // The settings that are not checked literals are evaluated in a `const`, so a bad preset or
    // duration fails the build (where the const can be written: not if it mentions `Self` or a
    // generic parameter; then `build()` checks them on the first call).
    let settings_tokens = {
        let mut tokens = settings.clone();
        if let Some((_, preset)) = &args.preset {
            tokens.extend(preset.to_token_stream());
        }
        tokens
    };
    let check_base = args.preset.as_ref().map_or_else(
        || quote!(#krate::Config::new()),
        |(_, preset)| quote!((#preset)),
    );
    let const_check = if needs_const_check && !mentions(settings_tokens, &generics, true) {
        // Point a failed evaluation at the preset, or else at the first expression.
        let span = args.preset.as_ref().map_or_else(
            || {
                [
                    &args.failure_threshold,
                    &args.recovery_timeout,
                    &args.probe_deadline,
                ]
                .into_iter()
                .find_map(|value| match value {
                    Some(Value::Expr(expr)) => Some(expr.span()),
                    _ => None,
                })
                .unwrap_or_else(Span::call_site)
            },
            |(_, preset)| preset.span(),
        );
        quote_spanned! {span=>
            const _: () = ::async_breaker::__private::check(#check_base #settings);
        }
    } else {
        quote!()
    };

    let config_tokens = {
        let mut tokens = builder.clone();
        tokens.extend(name.clone());
        tokens
    };
    let accessor = match &args.accessor {
        Some(Accessor::Off) => None,
        Some(Accessor::Named(ident)) => Some(ident.clone()),
        None => Some(format_ident!("{}_breaker", fn_name)),
    };
    let accessor = match accessor {
        Some(ident) if mentions(config_tokens.clone(), &generics, false) => {
            if matches!(args.accessor, Some(Accessor::Named(_))) {
                return Err(Error::new(
                    ident.span(),
                    "no accessor can be generated: the settings mention the function's generic parameters",
                ));
            }
            None
        }
        other => other,
    };

    let breaker = Ident::new("__async_breaker_breaker", Span::mixed_site());
    let admitted = Ident::new("__async_breaker_admitted", Span::mixed_site());
    let rejected = Ident::new("__async_breaker_rejected", Span::mixed_site());
    let slot = Ident::new("__ASYNC_BREAKER_SLOT", Span::mixed_site());

    // The fallback gets the same arguments; a parameter that is a pattern is renamed so it can
    // be passed on, and destructured at the top of the body instead.
    let mut call_args = Vec::new();
    let mut destructure = Vec::new();
    if args.fallback.is_some() {
        for (index, input) in item.sig.inputs.iter_mut().enumerate() {
            match input {
                FnArg::Receiver(receiver) => {
                    let token = receiver.self_token;
                    call_args.push(quote!(#token));
                }
                FnArg::Typed(typed) => match &*typed.pat {
                    Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                        let ident = &ident.ident;
                        call_args.push(quote!(#ident));
                    }
                    _ => {
                        let renamed = format_ident!(
                            "__async_breaker_arg{}",
                            index,
                            span = Span::mixed_site()
                        );
                        let pat = std::mem::replace(
                            &mut *typed.pat,
                            Pat::Ident(syn::PatIdent {
                                attrs: Vec::new(),
                                by_ref: None,
                                mutability: None,
                                ident: renamed.clone(),
                                subpat: None,
                            }),
                        );
                        destructure.push(quote!(let #pat = #renamed;));
                        call_args.push(quote!(#renamed));
                    }
                },
            }
        }
    }

    let block = &item.block;
    let body = quote!({ #(#destructure)* #block });
    let annotate = !contains_impl_trait(&ret);
    let run = match (is_async, annotate) {
        (true, true) => quote!(#admitted.run_async::<#ret, _>(async move #body).await),
        (true, false) => quote!(#admitted.run_async(async move #body).await),
        (false, true) => quote!(#admitted.run::<#ret, _>(move || -> #ret #body)),
        (false, false) => quote!(#admitted.run(move || #body)),
    };
    let on_reject = if let Some(fallback) = &args.fallback {
        let span = fallback.span();
        if is_async {
            quote_spanned!(span=> { let _ = #rejected; (#fallback)(#(#call_args),*).await })
        } else {
            quote_spanned!(span=> { let _ = #rejected; (#fallback)(#(#call_args),*) })
        }
    } else {
        let span = ret.span();
        quote_spanned!(span=> ::async_breaker::__private::reject(#rejected))
    };

    let site = quote! {
        ::core::concat!(
            ::core::module_path!(), "::", #fn_name_str, " at ",
            ::core::file!(), ":", ::core::line!(), ":", ::core::column!()
        )
    };
    let get_breaker = quote! {
        {
            static #slot: #slot_ty = <#slot_ty>::new();
            #slot.get(#site, #name, || #builder)
        }
    };

    let attrs = &item.attrs;
    let vis = &item.vis;
    let sig = &item.sig;
    let guarded = quote! {
        #(#attrs)*
        #vis #sig {
            #const_check
            let #breaker = #get_breaker;
            match #private::admit(#breaker) {
                ::core::result::Result::Ok(#admitted) => #run,
                ::core::result::Result::Err(#rejected) => #on_reject,
            }
        }
    };

    let accessor = accessor.map(|ident| {
        let doc = format!(
            " The circuit breaker guarding `{fn_name_str}` (generated by `#[circuit]`), \
             created on first use and registered in `Registry::global()`."
        );
        let cfgs = item.attrs.iter().filter(|attr| attr.path().is_ident("cfg"));
        quote! {
            #(#cfgs)*
            #[doc = #doc]
            #[allow(dead_code)]
            #[must_use]
            #vis fn #ident() -> &'static #krate::CircuitBreaker<#accessor_classifier> {
                #get_breaker
            }
        }
    });

    Ok(quote! {
        #guarded
        #accessor
    })
}

#[cfg(test)]
mod tests {
    use super::{distance, kind, unknown, Args};
    use proc_macro2::Span;
    use syn::{Ident, Lit};

    /// The edit distance behind "did you mean": insertions, deletions and substitutions.
    #[test]
    fn distance_counts_single_character_edits() {
        for (a, b, edits) in [
            ("", "", 0),
            ("name", "name", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("failure_treshold", "failure_threshold", 1),
            ("kitten", "sitting", 3),
            ("flaw", "lawn", 2),
            ("accesor", "accessor", 1),
            ("presets", "preset", 1),
        ] {
            assert_eq!(distance(a, b), edits, "{a:?} -> {b:?}");
            assert_eq!(distance(b, a), edits, "{b:?} -> {a:?}");
        }
    }

    /// A literal of the wrong kind is named in the error.
    #[test]
    fn every_literal_kind_is_named() {
        for (source, named) in [
            ("\"x\"", "a string"),
            ("b\"x\"", "a byte string"),
            ("c\"x\"", "a C string"),
            ("b'x'", "a byte"),
            ("'x'", "a character"),
            ("7", "an integer"),
            ("7.5", "a float"),
            ("true", "a boolean"),
        ] {
            let lit: Lit = syn::parse_str(source).unwrap();
            assert_eq!(kind(&lit), named, "{source}");
        }
    }

    /// An unknown argument's error suggests the Python original's counterpart, or a known
    /// argument within three edits, or nothing.
    #[test]
    fn an_unknown_argument_gets_a_hint_when_one_fits() {
        let message = |key: &str| unknown(&Ident::new(key, Span::call_site())).to_string();
        for (key, hint) in [
            ("expected_exception", "; did you mean `failure_on = [ErrorType, ..]` for error types, `failure_if = predicate` for a predicate?"),
            ("cls", "; did you mean `preset = CONST_CONFIG`?"),
            ("fallback_function", "; did you mean `fallback = function`?"),
            ("failure_treshold", "; did you mean `failure_threshold`?"),
            ("nmae", "; did you mean `name`?"),
            ("timeout", ""),
        ] {
            assert!(
                message(key).starts_with(&format!("unknown argument `{key}`{hint}\nthe arguments are: ")),
                "{key}: {}",
                message(key)
            );
        }
    }

    /// A breaker's name may be any string but the empty one.
    #[test]
    fn an_empty_name_is_refused() {
        let error = syn::parse_str::<Args>(r#"name = """#).err().unwrap();
        assert_eq!(error.to_string(), "`name` must not be empty");
        assert!(syn::parse_str::<Args>(r#"name = "payments""#).is_ok());
    }
}
