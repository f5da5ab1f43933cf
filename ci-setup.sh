#!/bin/sh
# ci-setup.sh: installs what building and testing rbt needs on a fresh Debian 12 machine (root).
# Idempotent: packages already present are not reinstalled.
set -eu
# bpftool: bpftrace's suite checks with it which links (uprobe_multi) a run created.
pkgs="llvm-19-dev libpolly-19-dev libelf-dev zlib1g-dev libzstd-dev pkg-config bpftrace systemtap-sdt-dev iproute2 gcc g++ bpftool"
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# tracefs is where tracepoint formats live; mount it if the system did not.
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
