#!/bin/sh
# SPDX-License-Identifier: MIT
# Names for the program's own sockets, in a mount and network namespace
# of its own (test/test_preload_names.c runs it with unshare -m -n):
# nothing can leave the machine, /etc/hosts names a.example and b.example
# at 127.0.0.2 and resolv.conf names no reachable server.  A listener on
# 127.0.0.2:PORT counts connections.  Prints one line per Python program
# run under `curlfence run` with RULES (which allow the host a.example):
#   a         resolves a.example and connects: "a ok"
#   b         resolves b.example and connects: "b EPERM"
#   literal   connects to 127.0.0.2 without a lookup: "literal EPERM"
#   both      resolves a.example and b.example, then connects: "both
#             EPERM" (two names for one address: no name)
#   ghbn      gethostbyname("a.example") through ctypes, then connects
#   udp       resolves a.example, sendto() to it: "udp ok"
# then "connections N", what the listener accepted.
#   test/preload_names.sh CURLFENCE RULES DIR PORT AUDIT
set -eu
tool=$1 rules=$2 dir=$3 port=$4 audit=$5

ip link set lo up
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
printf '127.0.0.1 localhost\n127.0.0.2 a.example\n127.0.0.2 b.example\n' \
  >"$dir/hosts"
printf 'hosts: files\n' >"$dir/nsswitch.conf"
mount --bind "$dir/resolv.conf" /etc/resolv.conf
mount --bind "$dir/hosts" /etc/hosts
mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf

cat >"$dir/listen.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.2', int(sys.argv[1])))
s.listen(16)
open(sys.argv[2], 'w').close()
n = 0
while True:
    c, _ = s.accept()
    if c.recv(16) == b'count':
        c.sendall(str(n).encode())
    else:
        n += 1
    c.close()
PY
/usr/bin/python3 "$dir/listen.py" "$port" "$dir/ready" &
listener=$!
trap 'kill $listener' EXIT
while [ ! -e "$dir/ready" ]; do sleep 0.05; done

cat >"$dir/client.py" <<'PY'
import ctypes, errno, socket, sys
what, port = sys.argv[1], int(sys.argv[2])
try:
    if what == 'literal':
        addr = '127.0.0.2'
    elif what == 'both':
        socket.getaddrinfo('b.example', port, socket.AF_INET)
        addr = socket.getaddrinfo('a.example', port, socket.AF_INET)[0][4][0]
    elif what == 'ghbn':
        libc = ctypes.CDLL(None)
        libc.gethostbyname.restype = ctypes.c_void_p
        if not libc.gethostbyname(b'a.example'):
            raise SystemExit('ghbn lookup failed')
        addr = '127.0.0.2'
    elif what == 'udp':
        addr = socket.getaddrinfo('a.example', port, socket.AF_INET)[0][4][0]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b'x', (addr, port))
        print(what, 'ok')
        sys.exit(0)
    else:
        addr = socket.getaddrinfo(what + '.example', port,
                                  socket.AF_INET)[0][4][0]
    s = socket.create_connection((addr, port))
    s.sendall(b'hello')
    s.close()
    print(what, 'ok')
except OSError as e:
    print(what, errno.errorcode.get(e.errno, e))
PY
for what in a b literal both ghbn udp; do
  "$tool" run -r "$rules" --audit "$audit" -- \
    /usr/bin/python3 "$dir/client.py" "$what" "$port"
done
/usr/bin/python3 -c "import socket, sys, time
time.sleep(0.2)
s = socket.create_connection(('127.0.0.2', int(sys.argv[1])))
s.sendall(b'count')
print('connections', s.recv(16).decode())" "$port"
