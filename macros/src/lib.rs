//! The `#[circuit]` attribute for `async-breaker` (work in progress).
use proc_macro::TokenStream;

/// Guards a function with a circuit breaker (work in progress).
#[proc_macro_attribute]
pub fn circuit(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
