//! The README's demo lives in `examples/demo.rs`: `cargo run --example demo` from the
//! repository root.
