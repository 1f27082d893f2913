#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of the installed Debian packages (libcurlfence0,
# libcurlfence-dev, curlfence, curlfence-preload), run by CI after it
# installs them: the installed tool decides by the installed default
# rules, `curlfence run -- curl` goes through the installed preload
# library (allowed and refused, against a loopback server this script
# starts), the preload maps the installed image of the default rules, and
# a program builds against the -dev package with pkg-config, shared and
# static.  Traffic goes to 127.0.0.2 only.
set -u
tmp=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/expect.sh"

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
            gcc -print-multiarch)
rules=/etc/curlfence/default.rules
never=/etc/curlfence/never-reach.rules   # default.rules includes it
pkglib=/usr/lib/$multiarch/curlfence
meta=$(grep -n '^deny 169\.254\.169\.254' $never | cut -d: -f1)

# Files where the packages put them; only the rules are configuration.
for f in /usr/bin/curlfence /usr/libexec/curlfence/curlfence-commands \
         $rules $never $pkglib/libcurlfence-preload.so \
         $pkglib/default.cfimg /usr/lib/$multiarch/libcurlfence.so.0 \
         /usr/include/curlfence.h /usr/share/man/man7/libcurlfence-preload.7.gz; do
  [ -e "$f" ] && ok || bad "not installed: $f"
done
expect 0 "$rules" -- dpkg-query -W -f='${Conffiles}' curlfence
conf=$(dpkg-query -W -f='${Conffiles}\n' libcurlfence0 libcurlfence-dev \
         curlfence curlfence-preload | awk 'NF { print $1 }')
[ "$(echo "$conf" | sort)" = "$(printf '%s\n' $rules $never | sort)" ] && ok ||
  bad "conffiles are not only $rules and $never: $conf"

# The installed tool, from any directory, reads the installed rules.
expect 1 "deny 169.254.169.254 ($never:$meta: deny 169.254.169.254)" -- \
  sh -c "cd / && curlfence check 169.254.169.254"
expect 0 "0.2.0" -- sh -c "pkg-config --modversion curlfence"

# A loopback server that records every request it is sent.
cat >"$tmp/httpd.py" <<'EOF'
import http.server, os, sys
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write(self.path + "\n")
        body = b"hello from 127.0.0.2\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.2", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
: >"$tmp/seen"
python3 "$tmp/httpd.py" "$tmp/port" "$tmp/seen" &
srv=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$tmp/port" 2>/dev/null)
[ -n "$port" ] || { echo "deb-smoke: the loopback server did not start"; exit 1; }
url=http://127.0.0.2:$port

# Default rules: loopback is refused before connecting; the server sees
# nothing and the audit event names the installed rules.
expect 7 "" -- sh -c "cd / && curlfence run --audit '$tmp/deny.jsonl' -- curl -sS $url/denied"
expect 0 '"decision":"deny"' -- cat "$tmp/deny.jsonl"
if grep -q denied "$tmp/seen"; then bad "the server saw the refused request"; else ok; fi
# A policy that allows this address and port: the request arrives.
printf 'include %s\nallow 127.0.0.2 port %s\n' $rules "$port" >"$tmp/allow.rules"
expect 0 "hello from 127.0.0.2" -- \
  curlfence run -r "$tmp/allow.rules" -- curl -sS $url/allowed
expect 0 "/allowed" -- cat "$tmp/seen"
# The preload library maps the installed image of the default rules,
# which matches them: libcidr (the parser's) is never opened.  (Not
# through the tool, which links libcidr itself.)
out=$(cd / && LD_DEBUG=files LD_PRELOAD=$pkglib/libcurlfence-preload.so \
      curl -s $url/image 2>&1)
case $out in
  *libcidr*) bad "the installed image was not used (libcidr opened)" ;;
  *) ok ;;
esac
# Once the administrator edits the rules, the image no longer matches
# them and the preload library reads the text (the edit applies at once).
cp $rules "$tmp/rules.orig"
echo "# edited" >>$rules
out=$(cd / && LD_DEBUG=files LD_PRELOAD=$pkglib/libcurlfence-preload.so \
      curl -s $url/edited 2>&1)
cat "$tmp/rules.orig" >$rules
case $out in
  *libcidr*) ok ;;
  *) bad "the preload library used an image its rules no longer match" ;;
esac
if grep -q -e /image -e /edited "$tmp/seen"; then
  bad "the server saw a request the default rules refuse"
else
  ok
fi

# Building against libcurlfence-dev, shared and static as README says.
cat >"$tmp/prog.c" <<'EOF'
#include <curlfence.h>
#include <stdio.h>
int main(void)
{
  curlfence_policy *p;
  curlfence_error err;
  if(curlfence_policy_load_file(&p, "/etc/curlfence/default.rules", &err)) {
    fprintf(stderr, "%s\n", err.text);
    return 1;
  }
  printf("curlfence %s, %zu rules\n", curlfence_version(),
         curlfence_policy_rule_count(p));
  curlfence_policy_unref(p);
  return 0;
}
EOF
# shellcheck disable=SC2046
expect 0 "" -- cc -o "$tmp/shared" "$tmp/prog.c" $(pkg-config --cflags --libs curlfence)
expect 0 "curlfence 0.2.0," -- "$tmp/shared"
# shellcheck disable=SC2046
expect 0 "" -- cc -o "$tmp/static" "$tmp/prog.c" $(pkg-config --cflags curlfence) \
  $(pkg-config --static --libs curlfence | sed 's/-lcurlfence/-l:libcurlfence.a/')
expect 0 "curlfence 0.2.0," -- "$tmp/static"
if readelf -d "$tmp/static" | grep -q 'NEEDED.*libcurlfence'; then
  bad "the static build needs libcurlfence.so"
else
  ok
fi

summary deb-smoke
