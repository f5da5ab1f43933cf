#!/bin/sh
# tests/vm/arp.sh — makes the guest kernel build one ARP request, for arp_create tests (owned by tests/vm).
#
# Creates the veth pair v0/v1 with 10.99.0.1/24 on v0 and pings 10.99.0.2, which nobody owns: the
# kernel resolves it with an ARP request from v0, so arp_create fires with src ip 10.99.0.1 and v0's MAC.
# Prints v0's MAC on stdout (the only output), so a test can compare it with what the probe saw.
# Runs inside the VM (tests/vm/run.py), as root. The ping is expected to fail; that is not an error.
set -eu

die() { echo "arp.sh: $*" >&2; exit 1; }
command -v ip >/dev/null || die "ip not found (install iproute2)"

# A previous run in the same VM may have left the pair behind.
ip link del v0 2>/dev/null || true
ip link add v0 type veth peer name v1 || die "cannot create veth pair v0/v1 (is the veth module loaded?)"
ip addr add 10.99.0.1/24 dev v0
ip link set v0 up
ip link set v1 up

# Prefer the host's ping; busybox (static, in busybox-static) has one when iputils is not installed.
if command -v ping >/dev/null; then
    ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1 || true
elif command -v busybox >/dev/null; then
    busybox ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1 || true
else
    die "no ping: install iputils-ping or busybox-static"
fi

cat /sys/class/net/v0/address
