/* SPDX-License-Identifier: MIT */
/*
 * Programs other than curl under the preload library: git, Python,
 * pycurl, and the test programs that reach for their sockets in odd
 * ways.
 */
#include "preload_fixture.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

TU_SUITE_STATIC_ONLY("preload_programs", NULL);
TU_CASE(tc_programs, "programs", 120, setup, teardown);

/* ------------------------------------------------------------------- git */

/* Each of steps, a git command, must succeed. */
static void git_steps(const char *const *const *steps, size_t n)
{
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t",
                        "GIT_AUTHOR_EMAIL=t@example.org",
                        "GIT_COMMITTER_NAME=t",
                        "GIT_COMMITTER_EMAIL=t@example.org", NULL };
  size_t i;

  for(i = 0; i < n; i++) {
    run(res, env, steps[i]);
    ck_assert_msg(res->status == 0, "git %s: status %d\nstdout: %s\n"
                  "stderr: %s", steps[i][1], res->status, res->out,
                  res->err);
  }
}

/* A bare repository with one commit under tmp/srv, served by both servers
 * over git's dumb HTTP protocol (plain files). */
static void make_repo(void)
{
  char srv[PATH_MAX + 8], bare[PATH_MAX + 32], work[PATH_MAX + 8];
  char file[PATH_MAX + 16];
  const char *init[] = { "git", "init", "-q", "--bare", bare, NULL };
  const char *head[] = { "git", "-C", bare, "symbolic-ref", "HEAD",
                         "refs/heads/main", NULL };
  const char *winit[] = { "git", "init", "-q", work, NULL };
  const char *add[] = { "git", "-C", work, "add", "README", NULL };
  const char *commit[] = { "git", "-C", work, "commit", "-qm", "one", NULL };
  const char *push[] = { "git", "-C", work, "push", "-q", bare,
                         "HEAD:refs/heads/main", NULL };
  const char *info[] = { "git", "-C", bare, "update-server-info", NULL };
  const char *const *steps[] = { init, head, winit, add, commit, push, info };

  snprintf(srv, sizeof(srv), "%s/srv", tmp);
  snprintf(bare, sizeof(bare), "%s/repo.git", srv);
  snprintf(work, sizeof(work), "%s/work", tmp);
  ck_assert_int_eq(mkdir(srv, 0700), 0);
  ck_assert_int_eq(mkdir(work, 0700), 0);
  snprintf(file, sizeof(file), "%s/README", work);
  tu_write_text(file, "served over dumb HTTP\n");
  git_steps(steps, sizeof(steps) / sizeof(steps[0]));
  th_set_root(allowed, srv);
  th_set_root(denied, srv);
}

/* git clone -q of the suite's repository from host, under `curlfence
 * run`, into dest (tmp/clone). */
static void git_clone(result *r, const char *host, char *dest, size_t size)
{
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
                        NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--",
                         "git", "clone", "-q", url(host, "/repo.git"),
                         dest, NULL };

  make_repo();
  snprintf(dest, size, "%s/clone", tmp);
  guarded(r, env, argv);
}

TU_TEST(tc_programs, git_clone_denied_host)
{
  char dest[PATH_MAX + 8];

  git_clone(res, "127.0.0.3", dest, sizeof(dest));
  ck_assert_msg(res->status == 128, SAYS(res));
  ck_assert_msg(strstr(res->err, "127.0.0.3") != NULL, SAYS(res));
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

TU_TEST(tc_programs, git_clone_allowed_host)
{
  char dest[PATH_MAX + 8], file[PATH_MAX + 16], text[256];

  git_clone(res, "127.0.0.2", dest, sizeof(dest));
  ck_assert_msg(res->status == 0, SAYS(res));
  snprintf(file, sizeof(file), "%s/README", dest);
  read_file(file, text, sizeof(text));
  ck_assert_str_eq(text, "served over dumb HTTP\n");
  ck_assert_uint_gt(th_requests(allowed), 0);
}
END_TEST

/* ------------------------------------------------ the program's sockets */

/* The lines of the audit file path holding needle. */
static unsigned audit_count(const char *path, const char *needle)
{
  char log[OUT_MAX];
  const char *p;
  unsigned n = 0;

  read_file(path, log, sizeof(log));
  for(p = log; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* libcurl's sockets are decided once, by the open-socket check: its
 * connect() is not decided again.  An allowed transfer gives its open and
 * reused events and no connect event; a denied one a single event. */
TU_TEST(tc_programs, curl_connection_decided_once)
{
  char audit[PATH_MAX + 16];
  const char *ok[] = { tool, "run", "-r", rules, "--audit", audit, "--",
                       "curl", "-sS", url("127.0.0.2", "/x"), NULL };
  const char *no[] = { tool, "run", "-r", rules, "--audit", audit, "--",
                       "curl", "-sS", url("127.0.0.3", "/x"), NULL };

  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  guarded_status(res, NULL, ok, 0);
  ck_assert_uint_eq(audit_count(audit, "\"v\":"), 2);
  ck_assert_uint_eq(audit_count(audit, "\"check\":\"open\""), 1);
  ck_assert_uint_eq(audit_count(audit, "\"check\":\"reused\""), 1);
  ck_assert_int_eq(unlink(audit), 0);
  guarded_status(res, NULL, no, 7);
  ck_assert_uint_eq(audit_count(audit, "\"v\":"), 1);
  ck_assert_uint_eq(audit_count(audit, "\"check\":\"open\""), 1);
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* urllib by name: localhost is 127.0.0.1 (and ::1), which the suite's
 * rules deny by default; a listener there must see nothing.  Only where
 * /etc/hosts maps it, so the system resolver sends nothing. */
TU_TEST(tc_programs, python_urllib_localhost)
{
  th_server *local;
  char u[128], hosts[4096];
  const char *argv[] = { tool, "run", "-r", rules, "--", "/usr/bin/python3",
                         "-c",
                         "import sys, urllib.request\n"
                         "try:\n"
                         "    urllib.request.urlopen(sys.argv[1], "
                         "timeout=30)\n"
                         "    print('fetched')\n"
                         "except OSError as e:\n"
                         "    print(getattr(e, 'reason', e))\n",
                         u, NULL };

  read_file("/etc/hosts", hosts, sizeof(hosts));
  if(!strstr(hosts, "127.0.0.1") || !strstr(hosts, "localhost"))
    return;
  local = th_start("127.0.0.1", "local");
  ck_assert_ptr_nonnull(local);
  snprintf(u, sizeof(u), "http://localhost:%u/x", th_port(local));
  guarded(res, NULL, argv);
  ck_assert_msg(res->status == 0 &&
                !strcmp(res->out, "[Errno 1] Operation not permitted\n"),
                SAYS(res));
  ck_assert_uint_eq(th_connections(local), 0);
  th_stop(local);
}
END_TEST

/* An allowed server's superproject whose .gitmodules names a git://
 * submodule on the denied host: git's own git:// code never goes through
 * libcurl.  The superproject is cloned, the submodule is not, and the
 * denied server sees no connection. */
TU_TEST(tc_programs, git_submodule_on_denied_host)
{
  char super[PATH_MAX + 8], bare[PATH_MAX + 32], work[PATH_MAX + 8];
  char mods[PATH_MAX + 32], text[512], cache[128], dest[PATH_MAX + 8];
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
                        NULL };
  const char *sha[] = { "git", "-C", work, "rev-parse", "HEAD", NULL };
  const char *init[] = { "git", "init", "-q", super, NULL };
  const char *add[] = { "git", "-C", super, "add", ".gitmodules", NULL };
  const char *link[] = { "git", "-C", super, "update-index", "--add",
                         "--cacheinfo", cache, NULL };
  const char *commit[] = { "git", "-C", super, "commit", "-qm", "super",
                           NULL };
  const char *binit[] = { "git", "init", "-q", "--bare", bare, NULL };
  const char *push[] = { "git", "-C", super, "push", "-q", bare,
                         "HEAD:refs/heads/main", NULL };
  const char *head[] = { "git", "-C", bare, "symbolic-ref", "HEAD",
                         "refs/heads/main", NULL };
  const char *info[] = { "git", "-C", bare, "update-server-info", NULL };
  const char *const *steps[] = { init, add, link, commit, binit, push, head,
                                 info };
  const char *clone[] = { tool, "run", "-r", rules, "--", "git", "clone",
                          "-q", "--recurse-submodules",
                          url("127.0.0.2", "/super.git"), dest, NULL };
  struct stat st;

  make_repo();
  snprintf(work, sizeof(work), "%s/work", tmp);
  snprintf(super, sizeof(super), "%s/super", tmp);
  snprintf(bare, sizeof(bare), "%s/srv/super.git", tmp);
  snprintf(dest, sizeof(dest), "%s/clone", tmp);
  run(res, NULL, sha);
  ck_assert_msg(res->status == 0 && strlen(res->out) == 41, SAYS(res));
  res->out[40] = '\0';
  snprintf(cache, sizeof(cache), "160000,%.40s,sub", res->out);
  git_steps(steps, 1);
  snprintf(mods, sizeof(mods), "%s/.gitmodules", super);
  snprintf(text, sizeof(text), "[submodule \"sub\"]\n\tpath = sub\n"
           "\turl = git://127.0.0.3:%u/sub.git\n", port);
  tu_write_text(mods, text);
  git_steps(steps + 1, sizeof(steps) / sizeof(steps[0]) - 1);

  guarded(res, env, clone);
  ck_assert_msg(res->status != 0, SAYS(res));
  ck_assert_msg(strstr(res->err, "127.0.0.3") != NULL, SAYS(res));
  snprintf(mods, sizeof(mods), "%s/.gitmodules", dest);
  ck_assert_msg(stat(mods, &st) == 0, "the superproject was not cloned: "
                SAYS(res));
  ck_assert_uint_gt(th_requests(allowed), 0);
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* The resolver exemption, in a mount and network namespace of its own
 * (test/preload_resolver.sh): port 53 on the name server resolv.conf
 * names is open, on a denied address, to libc's resolver, Node's and a
 * program's own query; the same address on another port, another host's
 * port 53, and the old server once resolv.conf changed are refused. */
TU_TEST(tc_programs, resolver_exemption)
{
  char dir[PATH_MAX + 16];
  const char *argv[] = { "unshare", "-m", "-n", "sh",
                         "test/preload_resolver.sh", tool, rules, dir,
                         NULL };

  /* New namespaces need root (CI runs the suite as root; a package
   * build may not). */
  if(geteuid() != 0) {
    fputs("resolver_exemption: skipped, not root\n", stderr);
    return;
  }
  snprintf(dir, sizeof(dir), "%s/resolver", tmp);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  run(res, NULL, argv);
  ck_assert_msg(res->status == 0 &&
                !strcmp(res->out, "getaddrinfo 127.0.0.2\nnode 127.0.0.2\n"
                                "query 127.0.0.2\nother port EPERM\n"
                                "other server EPERM\nchanged EPERM\n"),
                "(unshare needs root) " SAYS(res));
}
END_TEST

/* ---------------------------------------------------------------- pycurl */

/* Debian's python3 by its path: PATH may put another Python, one without
 * pycurl, first.  With "own", the program sets its own
 * OPENSOCKETFUNCTION, which records each address it is asked to open. */
static void pycurl_run(result *r, int own)
{
  char script[PATH_MAX + 16];
  const char *argv[] = { tool, "run", "-r", rules, "--",
                         "/usr/bin/python3", script, own ? "own" : "plain",
                         url("127.0.0.3", "/x"), url("127.0.0.2", "/x"),
                         NULL };

  snprintf(script, sizeof(script), "%s/fetch.py", tmp);
  tu_write_text(script,
             "import io, socket, sys\n"
             "import pycurl\n"
             "seen = []\n"
             "def opensocket(purpose, a):\n"
             "    seen.append(a[3][0])\n"
             "    return socket.socket(a[0], a[1], a[2])\n"
             "for u in sys.argv[2:]:\n"
             "    c = pycurl.Curl()\n"
             "    b = io.BytesIO()\n"
             "    c.setopt(c.URL, u)\n"
             "    c.setopt(c.WRITEDATA, b)\n"
             "    if sys.argv[1] == 'own':\n"
             "        c.setopt(c.OPENSOCKETFUNCTION, opensocket)\n"
             "    try:\n"
             "        c.perform()\n"
             "        print('ok', b.getvalue().decode().strip())\n"
             "    except pycurl.error as e:\n"
             "        print('error', e.args[0])\n"
             "    c.close()\n"
             "print('opened', ','.join(seen))\n");
  guarded(r, NULL, argv);
}

TU_TEST(tc_programs, pycurl_denied)
{

  pycurl_run(res, 0);
  ck_assert_msg(res->status == 0, SAYS(res));
  ck_assert_str_eq(res->out, "error 7\nok hello from allowed\nopened \n");
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

TU_TEST(tc_programs, pycurl_own_opensocket_runs_only_when_allowed)
{

  pycurl_run(res, 1);
  ck_assert_msg(res->status == 0, SAYS(res));
  ck_assert_str_eq(res->out,
                   "error 7\nok hello from allowed\nopened 127.0.0.2\n");
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST


/* A program that tries to get its handles around the preload library
 * (test/prog/preload_odd.c): every way fails, the denied server sees
 * nothing, a unix server under the rules' implicit "unix deny" neither,
 * and the program's own open callback is never asked for anything but
 * loopback. */
TU_TEST(tc_programs, odd_program_stays_guarded)
{
  static const char *const want[] = {
    "open-null 7\n", "own-open 7\n", "rewrite 7\n", "reset 7\n",
    "duphandle 7\n",
    "allowed 0\n", "proxy-later 7\n", "pre-proxy 7\n",
    "connect-only 7\n", "multi 7\n", "share-allowed 0\n", "share 7\n",
    "connect-to 7\n", "redirect 7\n", "unix 7\n", "dlvsym-default 7\n",
    "dlvsym-next 7\n", "dlvsym-global 7\n", "libcurl-init 7\n",
    "elsewhere 0\n"
  };
  char prog[PATH_MAX + 32], sock[PATH_MAX + 16], to[128];
  const char *env[] = { "ASAN_OPTIONS=verify_asan_link_order=0", NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--", prog,
                         url("127.0.0.2", "/"), url("127.0.0.3", "/"), to,
                         sock, NULL };
  th_server *unix_srv;
  size_t i;

  sibling(prog, sizeof(prog), "preload-odd");
  snprintf(sock, sizeof(sock), "%s/u.sock", tmp);
  snprintf(to, sizeof(to), "127.0.0.2:%u:127.0.0.3:%u", port, port);
  unix_srv = th_start_unix(sock, "unix");
  ck_assert_ptr_nonnull(unix_srv);
  guarded_status(res, env, argv, 0);
  for(i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    ck_assert_msg(strstr(res->out, want[i]) != NULL, "no \"%s\" in %s",
                  want[i], res->out);
  ck_assert_msg(strstr(res->out, "send 0\n") == NULL, SAYS(res));
  ck_assert_uint_eq(th_requests(denied), 0);
  ck_assert_uint_eq(th_connections(denied), 0);
  ck_assert_uint_eq(th_connections(unix_srv), 0);
  th_stop(unix_srv);
}
END_TEST
