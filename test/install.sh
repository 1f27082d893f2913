#!/bin/sh
# SPDX-License-Identifier: MIT
# make install as a user and as a packager would run it: into a prefix and
# into a DESTDIR staging tree.  A program outside the tree builds against
# each install with nothing but pkg-config, shared and static; the installed
# tool finds the installed rules from any directory; make uninstall leaves
# no file behind.  Environment: MAKE, CC, EXTRA_CFLAGS (sanitizer flags of
# the build under test).  Arguments: the make variables of the build under
# test (BUILD=build-asan CFLAGS=...), given to every make run here.
#
# It installs into and uninstalls from its own temporary directories only.
# make runs with a clean environment and no MAKEFLAGS: the caller's PREFIX,
# DESTDIR, LIBDIR, SYSCONFDIR... (given to `make check` on its command
# line, which reaches this script through MAKEFLAGS, or in the environment)
# once made this test overwrite and then delete the caller's installed
# files.  test/install-isolated.sh checks that they cannot.
set -u
make=${MAKE:-make}
cc=${CC:-cc}
extra=${EXTRA_CFLAGS:-}
top=$(pwd)
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
build_vars=
for a in "$@"; do
  case $a in
    *=*) build_vars="$build_vars $(quote "$a")" ;;
    *) echo "install: not a make variable: $a"; exit 2 ;;
  esac
done
version=$(sed -n 's/^#define CURLFENCE_VERSION "\(.*\)"$/\1/p' include/curlfence.h)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$top/test/expect.sh"
# Lines of the rules that the checks below expect to decide.
# They are in the never-reach list that default.rules includes from its
# own directory.
loop=$(grep -n '^deny 127\.0\.0\.0/8' rules/never-reach.rules | cut -d: -f1)
meta=$(grep -n '^deny 169\.254\.169\.254' rules/never-reach.rules | cut -d: -f1)
[ -n "$loop" ] && [ -n "$meta" ] ||
  { echo "install: rules/never-reach.rules lacks the rules these checks use"; exit 1; }

# run_make ARGS...: make in the source tree with the build's variables
# and ARGS, nothing else; quiet unless it fails.  The environment keeps
# what finds the compiler and libraries, never a make variable.
run_make() {
  eval "set -- $build_vars \"\$@\""
  if env -i PATH="$PATH" HOME="${HOME:-/}" TMPDIR="${TMPDIR:-/tmp}" \
       PKG_CONFIG_PATH="${PKG_CONFIG_PATH:-}" \
       LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" \
       $make -C "$top" "$@" >"$tmp/make.log" 2>&1; then
    ok
  else
    bad "make $*"
    cat "$tmp/make.log"
  fi
}

# The external program: a policy from the installed rules, a decision, and
# a transfer to loopback that the guard refuses before connecting.  It
# defines functions named like the library's internals: a static link must
# not clash with them.
cat >"$tmp/prog.c" <<'EOF'
#include <curlfence.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int cf_table_build(void) { return 1; }
int cf_rules_parse_file(void) { return 2; }

int main(int argc, char **argv)
{
  curlfence_policy *p;
  curlfence_guard *g;
  curlfence_error err;
  curlfence_verdict v;
  curlfence_stats st;
  struct sockaddr_in sin;
  CURL *curl;
  CURLcode rc;

  if(argc != 2 || cf_table_build() + cf_rules_parse_file() != 3)
    return 2;
  if(curlfence_policy_load_file(&p, argv[1], &err)) {
    fprintf(stderr, "%s\n", err.text);
    return 2;
  }
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  inet_pton(AF_INET, "169.254.169.254", &sin.sin_addr);
  if(curlfence_policy_decide(p, (struct sockaddr *)&sin, sizeof(sin), &v) !=
     CURLFENCE_DENY)
    return 3;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl = curl_easy_init();
  if(!curl || curlfence_guard_new(&g, p) || curlfence_attach(curl, g, 0))
    return 4;
  curl_easy_setopt(curl, CURLOPT_URL, "http://127.0.0.1:9/");
  rc = curl_easy_perform(curl);
  curlfence_guard_stats(g, &st);
  printf("curlfence %s: %s:%u: %s; fetch %d, denied %lu\n",
         curlfence_version(), v.file, v.line, v.rule, (int)rc,
         (unsigned long)st.denied);
  curl_easy_cleanup(curl);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  curl_global_cleanup();
  return rc == CURLE_COULDNT_CONNECT && st.denied == 1 ? 0 : 5;
}
EOF

# The static link as README gives it: pkg-config --static, with the
# archive named in place of -lcurlfence.  libcurl stays shared (Debian
# ships no static archives of several of its private libraries).
static_libs() {
  pkg-config --static --libs curlfence | sed 's/-lcurlfence/-l:libcurlfence.a/'
}

# build_and_run NAME LIBDIR RULES: shared and static builds of prog.c with
# the pkg-config in the environment, each run against the install.
build_and_run() {
  name=$1 libdir=$2 rules=$3
  # shellcheck disable=SC2046,SC2086
  if $cc $extra -o "$tmp/$name-shared" "$tmp/prog.c" \
       $(pkg-config --cflags --libs curlfence) 2>"$tmp/cc.log"; then
    ok
  else
    bad "$name: shared build with pkg-config"; cat "$tmp/cc.log"
  fi
  expect 0 "libcurlfence.so.0 => $libdir/libcurlfence.so.0" -- \
    env LD_LIBRARY_PATH="$libdir" ldd "$tmp/$name-shared"
  expect 0 "$(dirname "$rules")/never-reach.rules:$meta: deny 169.254.169.254; fetch 7, denied 1" -- \
    env LD_LIBRARY_PATH="$libdir" "$tmp/$name-shared" "$rules"
  # shellcheck disable=SC2046,SC2086
  if $cc $extra -o "$tmp/$name-static" "$tmp/prog.c" \
       $(pkg-config --cflags curlfence) $(static_libs) 2>"$tmp/cc.log"; then
    ok
  else
    bad "$name: static build with pkg-config --static"; cat "$tmp/cc.log"
  fi
  if readelf -d "$tmp/$name-static" | grep -q 'NEEDED.*libcurlfence'; then
    bad "$name: the static build needs libcurlfence.so"
  else
    ok
  fi
  expect 0 "$(dirname "$rules")/never-reach.rules:$meta: deny 169.254.169.254; fetch 7, denied 1" -- \
    "$tmp/$name-static" "$rules"
}

# no_files DIR: nothing but (empty) directories left, none named curlfence
no_files() {
  left=$(find "$1" ! -type d; find "$1" -type d -name curlfence)
  if [ -z "$left" ]; then ok; else bad "left behind in $1:"; echo "$left"; fi
}

# ------------------------------------------------------------ into PREFIX
p=$tmp/p
run_make install PREFIX="$p"
for f in bin/curlfence include/curlfence.h lib/libcurlfence.so.$version \
         lib/libcurlfence.a lib/pkgconfig/curlfence.pc \
         lib/curlfence/libcurlfence-preload.so etc/curlfence/default.rules \
         etc/curlfence/never-reach.rules \
         lib/curlfence/default.cfimg libexec/curlfence/curlfence-fetch \
         libexec/curlfence/curlfence-commands \
         share/bash-completion/completions/curlfence; do
  [ -f "$p/$f" ] && ok || bad "not installed: $p/$f"
done
[ "$(readlink "$p/lib/libcurlfence.so.0")" = "libcurlfence.so.$version" ] &&
  [ "$(readlink "$p/lib/libcurlfence.so")" = libcurlfence.so.0 ] && ok ||
  bad "shared library links in $p/lib"
expect 0 "SONAME" -- sh -c "readelf -d '$p/lib/libcurlfence.so.$version' | grep 'Library soname: \[libcurlfence.so.0\]'"
expect 0 "SONAME" -- sh -c "readelf -d '$p/lib/curlfence/libcurlfence-preload.so' | grep 'Library soname: \[libcurlfence-preload.so\]'"
# Nothing installed names the build tree: the installed tool and preload
# library know only installed paths, debug information included.
expect 0 "" -- sh -c "! grep -rlaF '$top' '$p'"
for page in docs/*.[1-8]; do
  [ -f "$p/share/man/man${page##*.}/${page##*/}" ] && ok ||
    bad "man page not installed: $page"
done
for ex in rules/examples/*.rules; do
  [ -f "$p/share/curlfence/examples/${ex##*/}" ] && ok ||
    bad "example not installed: $ex"
done
if grep -q '\.\./' "$p"/share/curlfence/examples/*.rules; then
  bad "installed examples still include ../"
else
  ok
fi

# From / and from a directory holding a permissive rules/default.rules:
# the installed tool reads the installed rules either way.
expect 1 "deny 169.254.169.254 ($p/etc/curlfence/never-reach.rules:$meta: deny 169.254.169.254)" -- \
  sh -c "cd / && '$p/bin/curlfence' check 169.254.169.254"
expect 1 "deny 127.0.0.1 ($p/etc/curlfence/never-reach.rules:$loop: deny 127.0.0.0/8)" -- \
  sh -c "cd / && '$p/bin/curlfence' check 127.0.0.1"
mkdir -p "$tmp/cwd/rules"
printf 'default allow\nallow 0.0.0.0/0\nallow ::/0\n' >"$tmp/cwd/rules/default.rules"
expect 1 "deny 127.0.0.1 ($p/etc/curlfence/never-reach.rules:$loop:" -- \
  sh -c "cd '$tmp/cwd' && '$p/bin/curlfence' check 127.0.0.1"
expect 0 "allow 127.0.0.2 port 18080 ($p/share/curlfence/examples/demo.rules:" -- \
  "$p/bin/curlfence" check -r "$p/share/curlfence/examples/demo.rules" 127.0.0.2 18080
expect 1 "deny 127.0.0.1 port 18080 ($p/etc/curlfence/never-reach.rules:$loop:" -- \
  "$p/bin/curlfence" check -r "$p/share/curlfence/examples/demo.rules" 127.0.0.1 18080
# The installed tool links libc alone and leaves the other commands to
# the installed curlfence-commands (above: check), and libcurl to the
# fetch program it runs, which reads the installed rules.
expect 1 "" -- sh -c "readelf -d '$p/bin/curlfence' | grep -E 'libcurl|libcidr|libidn2|libpsl|libjansson'"
expect 1 "" -- sh -c "readelf -d '$p/libexec/curlfence/curlfence-commands' | grep libcurl"
expect 0 "libcurl" -- readelf -d "$p/libexec/curlfence/curlfence-fetch"
expect 7 "blocked 127.0.0.1 port 9 by $p/etc/curlfence/never-reach.rules:$loop" -- \
  sh -c "cd / && '$p/bin/curlfence' fetch http://127.0.0.1:9/"
# curl under the installed preload library, through the installed tool:
# the installed rules refuse loopback before connecting.
if command -v curl >/dev/null; then
  expect 7 "" -- sh -c "cd / && '$p/bin/curlfence' run --audit '$tmp/run.jsonl' -- curl -sS http://127.0.0.1:9/"
  expect 0 '"rule":{"file":"'"$p"'/etc/curlfence/never-reach.rules","line":'"$loop" -- cat "$tmp/run.jsonl"
  # The default rules come from their installed image, which needs no
  # parser: libcidr is never opened.  Once the rules change, the image no
  # longer matches them and the text is read.
  pl() { (cd / && LD_DEBUG=files LD_PRELOAD="$p/lib/curlfence/libcurlfence-preload.so" \
          CURLFENCE_AUDIT="$tmp/pl.jsonl" curl -s http://127.0.0.1:9/ 2>&1); }
  case $(pl) in *libcidr*) bad "the preload opened libcidr with a current image" ;; *) ok ;; esac
  expect 0 '"file":"'"$p"'/etc/curlfence/never-reach.rules","line":'"$loop" -- cat "$tmp/pl.jsonl"
  chmod u+w "$p/etc/curlfence/default.rules"
  echo '# changed' >>"$p/etc/curlfence/default.rules"
  case $(pl) in *libcidr*) ok ;; *) bad "the preload used a stale image" ;; esac
fi
expect 0 "-L$p/lib -lcurlfence" -- env PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --libs curlfence
export PKG_CONFIG_PATH="$p/lib/pkgconfig"
build_and_run prefix "$p/lib" "$p/etc/curlfence/default.rules"
unset PKG_CONFIG_PATH

run_make uninstall PREFIX="$p"
no_files "$p"

# ---------------------------------------- another default rules file
# PRELOAD_RULES names the rules the preload library applies when
# CURLFENCE_RULES is unset; the image installed next to it is compiled
# from default.rules.  That image matches default.rules, not these rules,
# and must not be used for them: it was, and a site's policy was never
# applied.
if command -v curl >/dev/null; then
  o=$tmp/site
  mkdir -p "$o"
  printf 'deny 127.0.0.1\n' >"$o/site.rules"
  run_make install PREFIX="$o" PRELOAD_RULES="$o/site.rules"
  (cd / && LD_PRELOAD="$o/lib/curlfence/libcurlfence-preload.so" \
     CURLFENCE_AUDIT="$tmp/site.jsonl" curl -s http://127.0.0.1:9/)
  expect 0 '"rule":{"file":"'"$o"'/site.rules","line":1' -- cat "$tmp/site.jsonl"
  run_make uninstall PREFIX="$o" PRELOAD_RULES="$o/site.rules"
  rm -f "$o/site.rules"
  no_files "$o"
fi

# ----------------------------------------------------- into DESTDIR, /usr
s=$tmp/stage
run_make install DESTDIR="$s" PREFIX=/usr SYSCONFDIR=/etc
for f in usr/bin/curlfence usr/include/curlfence.h usr/lib/libcurlfence.so.$version \
         usr/lib/libcurlfence.a usr/lib/pkgconfig/curlfence.pc \
         usr/share/man/man1/curlfence.1 etc/curlfence/default.rules \
         etc/curlfence/never-reach.rules usr/lib/curlfence/default.cfimg \
         usr/libexec/curlfence/curlfence-commands \
         usr/share/bash-completion/completions/curlfence; do
  [ -f "$s/$f" ] && ok || bad "not staged: $s/$f"
done
expect 0 "libdir=/usr/lib" -- cat "$s/usr/lib/pkgconfig/curlfence.pc"
expect 0 "include /etc/curlfence/default.rules" -- cat "$s/usr/share/curlfence/examples/demo.rules"
# A staged tool runs the commands where they will be installed: the
# staged commands are run here.
expect 0 "RULES defaults to /etc/curlfence/default.rules" -- "$s/usr/libexec/curlfence/curlfence-commands" --help
expect 1 "deny 169.254.169.254 ($s/etc/curlfence/never-reach.rules:$meta:" -- \
  "$s/usr/libexec/curlfence/curlfence-commands" check -r "$s/etc/curlfence/default.rules" 169.254.169.254
# The staged .pc names /usr; the sysroot maps its paths into the stage,
# where /usr/lib is not a system directory to be left out.
export PKG_CONFIG_PATH="$s/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$s" \
  PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
build_and_run destdir "$s/usr/lib" "$s/etc/curlfence/default.rules"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_LIBS \
  PKG_CONFIG_ALLOW_SYSTEM_CFLAGS

run_make uninstall DESTDIR="$s" PREFIX=/usr SYSCONFDIR=/etc
no_files "$s"

# ------------------------------ the GNU variables, as dh and Meson pass them
g=$tmp/gnu
gv="prefix=/usr libdir=/usr/lib/triplet sysconfdir=/etc mandir=/usr/share/man"
# shellcheck disable=SC2086
run_make install DESTDIR="$g" $gv
for f in usr/bin/curlfence usr/include/curlfence.h \
         usr/lib/triplet/libcurlfence.so.$version usr/lib/triplet/libcurlfence.a \
         usr/lib/triplet/pkgconfig/curlfence.pc \
         usr/lib/triplet/curlfence/libcurlfence-preload.so \
         usr/lib/triplet/curlfence/default.cfimg etc/curlfence/default.rules \
         usr/libexec/curlfence/curlfence-fetch \
         usr/libexec/curlfence/curlfence-commands \
         usr/share/man/man1/curlfence.1 usr/share/man/man7/libcurlfence-preload.7 \
         usr/share/curlfence/examples/demo.rules; do
  [ -f "$g/$f" ] && ok || bad "not staged: $g/$f"
done
expect 0 "libdir=/usr/lib/triplet" -- cat "$g/usr/lib/triplet/pkgconfig/curlfence.pc"
expect 0 "RULES defaults to /etc/curlfence/default.rules" -- "$g/usr/libexec/curlfence/curlfence-commands" --help
expect 0 "" -- grep -qaF /usr/libexec/curlfence/curlfence-commands "$g/usr/bin/curlfence"
# The paths compiled in come from the same variables.
expect 126 "cannot find the preload library (/usr/lib/triplet/curlfence/libcurlfence-preload.so)" -- \
  env -u CURLFENCE_PRELOAD "$g/usr/bin/curlfence" run -- true
# The staged image names its rules by their place relative to it, so it
# matches them where both are installed.
out=$("$g/usr/libexec/curlfence/curlfence-commands" check -r "$g/usr/lib/triplet/curlfence/default.cfimg" 192.0.2.1 2>&1)
case $out in
  *stale*|*"cannot be read"*) bad "the staged image does not find its rules: $out" ;;
  *"deny 192.0.2.1 (default.rules:"*) ok ;;
  *) bad "the staged image: $out" ;;
esac
# shellcheck disable=SC2086
run_make uninstall DESTDIR="$g" $gv
no_files "$g"

summary install
