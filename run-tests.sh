#!/bin/sh
# run-tests.sh: every test tier. Tier 1 (unit, snapshot) needs nothing; tiers 2 and 4 need root
# (they load BPF into this kernel and compare with bpftrace 0.17); tier 3 boots a Debian 6.1
# kernel under qemu for kprobes (tests/vm/setup.sh installs and caches it).
set -eu
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
echo "== tiers 1, 2, 4: cargo test (workspace)"
cargo test --workspace
echo "== tier 3: kprobes in a Debian 6.1 kernel under qemu"
if [ "$(id -u)" = 0 ]; then
    sh tests/vm/setup.sh
    cargo build --bin rbt && sh tests/vm/test-seed-scripts.sh "${CARGO_TARGET_DIR:-target}/debug/rbt"
else
    echo "skipped: the VM tier needs root"
fi
