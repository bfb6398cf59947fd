//! Picks the memory layout of the QEMU machine each target runs on and the runtime's linker
//! script. On any other target (a host `cargo check`) it links nothing extra.
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=memory");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo:rustc-env=QEMU_TESTS_TARGET={target}");
    let memory: &[u8] = match target.as_str() {
        "thumbv6m-none-eabi" => include_bytes!("memory/microbit.x"),
        t if t.starts_with("thumbv7") => include_bytes!("memory/mps2.x"),
        t if t.starts_with("riscv32") => include_bytes!("memory/riscv-virt.x"),
        _ => return,
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), memory).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    if target.starts_with("riscv") {
        // riscv-rt's link.x expects the regions to be defined first.
        println!("cargo:rustc-link-arg=-Tmemory.x");
    } else {
        println!("cargo:rustc-link-arg=--nmagic");
    }
    println!("cargo:rustc-link-arg=-Tlink.x");
}
