#!/bin/sh
# SPDX-License-Identifier: MIT
# The resolver exemption of the preload library, in a mount and network
# namespace of its own (test/test_preload_programs.c runs it with unshare -m -n):
# nothing can leave the machine, and /etc/resolv.conf names a tiny DNS
# responder on 127.0.0.53, an address the rules deny.  Prints one line
# per lookup or send, made under `curlfence run`:
#   getaddrinfo     the system resolver (inside libc)
#   node            Node's own resolver (c-ares: connect and send)
#   query           a DNS query a program sends itself with sendto()
#   other port      the name server's address on port 54: refused
#   other server    port 53 on a host resolv.conf does not name: refused
#   changed         after resolv.conf names another server, the old one
#                   is refused
#   test/preload_resolver.sh CURLFENCE RULES DIR
set -eu
tool=$1 rules=$2 dir=$3

ip link set lo up
cat >"$dir/dns.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.53', 53))
open(sys.argv[1], 'w').close()
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end]:
        end += q[end] + 1
    end += 5
    a = q[end - 4:end - 2] == b'\x00\x01'
    r = (q[:2] + b'\x81\x80' + q[4:6] + (b'\x00\x01' if a else b'\x00\x00') +
         b'\x00\x00\x00\x00' + q[12:end])
    if a:
        r += b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x02'
    s.sendto(r, peer)
PY
printf 'nameserver 127.0.0.53\noptions timeout:5 attempts:1\n' >"$dir/resolv.conf"
printf '127.0.0.1 localhost\n' >"$dir/hosts"
mount --bind "$dir/resolv.conf" /etc/resolv.conf
mount --bind "$dir/hosts" /etc/hosts
/usr/bin/python3 "$dir/dns.py" "$dir/ready" &
dns=$!
trap 'kill $dns' EXIT
while [ ! -e "$dir/ready" ]; do sleep 0.05; done

cat >"$dir/query.py" <<'PY'
import errno, socket, sys
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07sockets\x04test\x00\x00\x01\x00\x01'
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(30)
try:
    u.sendto(q, (sys.argv[1], int(sys.argv[2])))
    r = u.recv(512)
    print(sys.argv[3], '.'.join(str(b) for b in r[-4:]))
except OSError as e:
    print(sys.argv[3], errno.errorcode.get(e.errno, e))
PY
run() {
  "$tool" run -r "$rules" -- "$@"
}
run /usr/bin/python3 -c "import socket
print('getaddrinfo', socket.getaddrinfo('sockets.test', 80, socket.AF_INET)[0][4][0])"
run node -e "require('dns').resolve4('sockets.test', (e, a) => console.log('node', e ? e.code : a.join(',')))"
run /usr/bin/python3 "$dir/query.py" 127.0.0.53 53 query
run /usr/bin/python3 "$dir/query.py" 127.0.0.53 54 "other port"
run /usr/bin/python3 "$dir/query.py" 127.0.0.3 53 "other server"
printf 'nameserver 127.0.0.54\n' >"$dir/resolv.conf"
run /usr/bin/python3 "$dir/query.py" 127.0.0.53 53 changed
