#!/bin/sh
# run-tests.sh: every test tier. Tier 1 (unit, snapshot) needs nothing; tiers 2 and 4 need root
# (they load BPF into this kernel and compare with bpftrace 0.17); tier 3 boots a Debian 6.1
# kernel under qemu for kprobes (tests/vm/setup.sh installs and caches it).
set -eu
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
# Tests that need root are #[ignore = "needs root"]: without root `cargo test` lists them by
# name as ignored; as root --include-ignored runs them too.
if [ "$(id -u)" = 0 ]; then
    echo "== tiers 1, 2, 4: cargo test (workspace, with the root-only tests)"
    # Tier 4's second half compares with the bpftrace 0.27.1 oracle, which lives beside the
    # repository (../shared/oracle) and builds its chroot on first use.
    skip=""
    oracle=${RBT_ORACLE:-$(pwd)/../shared/oracle/bpftrace}
    if [ -x "$oracle" ] && "$oracle" --version >/dev/null 2>&1; then
        export RBT_ORACLE="$oracle"
    else
        echo "tier 4: no bpftrace 0.27.1 oracle at $oracle; the tests named *bpftrace_0_27* left out"
        skip="--skip bpftrace_0_27"
    fi
    cargo test --workspace -- --include-ignored $skip
else
    echo "== tier 1: cargo test (workspace); the root-only tiers 2 and 4 are listed as ignored"
    cargo test --workspace
fi
echo "== compat: bpftrace's runtime tests at v0.26.1 (every suite; fails on an unlisted failure)"
if [ "$(id -u)" = 0 ]; then
    cargo build --bins && python3 tests/compat/run.py --bin "${CARGO_TARGET_DIR:-target}/debug/rbt"
else
    echo "skipped: the compat tier needs root"
fi
echo "== tier 3: kprobes in a Debian 6.1 kernel under qemu"
if [ "$(id -u)" = 0 ]; then
    sh tests/vm/setup.sh
    cargo build --bins && sh tests/vm/test-seed-scripts.sh "${CARGO_TARGET_DIR:-target}/debug/rbt"
    sh tests/vm/test-core.sh "${CARGO_TARGET_DIR:-target}/debug/rbt"
else
    echo "skipped: the VM tier needs root"
fi
