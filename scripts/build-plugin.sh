#!/usr/bin/env bash
# Builds the Zellij plugin (plugin/ → plugin/target/wasm32-wasip1/release/napsh.wasm).
# napsh embeds this file when it is built afterwards, so `napsh zellij install` works anywhere.
set -euo pipefail
cd "$(dirname "$0")/../plugin"
cargo build --release --locked -q
ls -l target/wasm32-wasip1/release/napsh.wasm | awk '{print "plugin: " $NF " (" $5 " bytes)"}' >&2
