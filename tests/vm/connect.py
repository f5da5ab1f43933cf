#!/usr/bin/env python3
"""tests/vm/connect.py HOST PORT: one TCP connect() to HOST:PORT, for tcpconnect.bt tests.

Nothing needs to listen: the kernel sends the SYN (tcp_connect runs) and the refusal is
expected. Runs inside the VM (tests/vm/run.py); loopback is up there (tests/vm/init.sh)."""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family, socket.SOCK_STREAM) as s:
    s.settimeout(2)
    s.connect_ex((host, port))
