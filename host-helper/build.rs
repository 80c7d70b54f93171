//! Embeds the Zellij plugin (built by scripts/build-plugin.sh) so that `napsh zellij install`
//! works without the source tree. `NAPSH_PLUGIN_WASM` overrides where it is read from; when
//! it is missing an empty file is embedded and the command says how to build it.

use std::path::PathBuf;

fn main() {
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugin/target/wasm32-wasip1/release/napsh.wasm");
    let source = std::env::var_os("NAPSH_PLUGIN_WASM")
        .map(PathBuf::from)
        .unwrap_or(default);
    println!("cargo:rerun-if-env-changed=NAPSH_PLUGIN_WASM");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("napsh.wasm");
    let bytes = std::fs::read(&source).unwrap_or_default();
    std::fs::write(&out, bytes).expect("writing the embedded plugin");
}
