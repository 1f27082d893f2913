/* SPDX-License-Identifier: MIT */
/*
 * The preload library in front of real programs: curl, git, PHP and
 * pycurl, started through `curlfence run` against the suite's own
 * servers on 127.0.0.2 (allowed) and 127.0.0.3 (denied by a rule), both on
 * one port.  Each test asserts the program's exit status and output and
 * what each server saw.  A missing program fails the test: CI installs
 * them (tools/install-deps).
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

/* --------------------------------------------------------- one-run cases */

/* A program run once, mostly under `curlfence run`, judged by its exit
 * status, its output, what each server saw and what the guard said.  In
 * every text, @2 and @3 stand for http://127.0.0.2:PORT and
 * http://127.0.0.3:PORT, @P for PORT, @T for this build's curlfence, @R
 * for the suite's rules, @A for the audit file the row may name, @D for
 * tmp, @B for the directory of the test programs and @L for the preload
 * library. */
typedef struct run_row {
  const char *name;
  const char *env[3];            /* extra environment */
  const char *argv[16];
  int status;
  const char *out;               /* all of stdout */
  const char *err;               /* all of stderr */
  const char *err_has[3];        /* in stderr */
  const char *err_lacks;         /* not in stderr */
  const char *audit_has[5];      /* in the audit file @A */
  unsigned allowed, denied;      /* REQUESTS(n) each server saw */
  unsigned denied_connections;   /* REQUESTS(n): connections the denied
                                    server accepted, requests or not */
} run_row;

static const run_row run_rows[] = {
  { .name = "curl_denied_never_reaches_the_server",
    .argv = { "@T", "run", "-r", "@R", "--", "curl", "-sS", "@3/x" },
    .status = 7, .out = "", .denied = REQUESTS(0) },
  { .name = "curl_allowed_gets_the_body",
    .argv = { "@T", "run", "-r", "@R", "--", "curl", "-sS", "@2/x" },
    .status = 0, .out = "hello from allowed\n", .allowed = REQUESTS(1) },
  /* Without -r: the shipped default rules, which deny loopback. */
  { .name = "curl_default_rules_deny_loopback",
    .argv = { "@T", "run", "--", "curl", "-sS", "@2/x" },
    .status = 7, .allowed = REQUESTS(0) },
  { .name = "proxy_from_environment_is_not_used",
    .env = { "http_proxy=@2/" },
    .argv = { "@T", "run", "-r", "@R", "--", "curl", "-sS", "@3/x" },
    .status = 7, .allowed = REQUESTS(0), .denied = REQUESTS(0) },
  { .name = "report_only_lets_it_through_and_says_so",
    .argv = { "@T", "run", "-r", "@R", "--report-only", "--audit", "@A",
              "--", "curl", "-sS", "@3/x" },
    .status = 0, .out = "hello from denied\n",
    .audit_has = { "\"decision\":\"deny\",\"enforced\":false,"
                   "\"addr\":\"127.0.0.3\"" },
    .denied = REQUESTS(1) },
  { .name = "curl_audit_names_the_rule",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "curl", "-s",
              "@2/a", "@3/b" },
    .status = 7,
    .audit_has = {
      "\"decision\":\"deny\",\"enforced\":true,\"addr\":\"127.0.0.3\","
      "\"as\":null,\"port\":@P,",
      "\"rule\":{\"file\":\"@R\",\"line\":3,\"text\":\"deny 127.0.0.3\"}",
      /* coverage: the allowed connection was seen when it was opened */
      "\"decision\":\"allow\",\"enforced\":true,\"addr\":\"127.0.0.2\"",
      "\"check\":\"open\"" },
    .denied = REQUESTS(0) },
  /* Nothing lost, nothing said. */
  { .name = "audit_complete_says_nothing",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "curl", "-s",
              "@3/b" },
    .status = 7, .err = "" },
  /* --audit stderr: one line for people per refusal on the command's
   * standard error, as curlfence fetch prints it; nothing for allowed
   * connections, no JSON. */
  { .name = "curl_audit_stderr_text",
    .argv = { "@T", "run", "-r", "@R", "--audit", "stderr", "--", "curl",
              "-s", "@2/x", "@3/y" },
    .status = 7, .out = "hello from allowed\n",
    .err = "curlfence: blocked 127.0.0.3 port @P by @R:3 (deny 127.0.0.3)\n",
    .denied = REQUESTS(0) },
  /* The open and the pre-request check each let it through. */
  { .name = "curl_audit_stderr_text_report_only",
    .argv = { "@T", "run", "-r", "@R", "--audit", "stderr", "--report-only",
              "--", "curl", "-s", "@3/z" },
    .status = 0,
    .err = "curlfence: would block (report-only) 127.0.0.3 port @P by "
           "@R:3 (deny 127.0.0.3)\n"
           "curlfence: would block (report-only) 127.0.0.3 port @P by "
           "@R:3 (deny 127.0.0.3)\n" },
  /* A metrics file that cannot be written is a setup error: it says so
   * and the guard refuses every connection, as for an audit log. */
  { .name = "metrics_unwritable_fails_closed",
    .env = { "CURLFENCE_METRICS=@D/no/such/dir/m.prom", "CURLFENCE_RULES=@R",
             "LD_PRELOAD=@L" },
    .argv = { "curl", "-sS", "@2/x" },
    .status = 7,
    .err_has = { "CURLFENCE_METRICS: cannot write",
                 "every connection is refused" },
    .allowed = REQUESTS(0) },
  /* `curlfence run` takes the settings that loosen the check from its
   * options only: CURLFENCE_ALLOW_TFTP inherited from its own environment
   * does not reach the command, whose UDP socket is then refused (nothing
   * listens on the UDP port, so nothing would be served either way). */
  { .name = "run_ignores_inherited_allow_tftp",
    .env = { "CURLFENCE_ALLOW_TFTP=1", "CURLFENCE_AUDIT_DENIED=1" },
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "curl", "-sS",
              "--max-time", "5", "tftp://127.0.0.2:@P/x" },
    .status = 7,
    .audit_has = { "\"decision\":\"deny\"", "\"reason\":\"udp\"" } },
  /* Like env or nice, run's options end at COMMAND: "--" is not needed,
   * and what follows is COMMAND's (-s is curl's). */
  { .name = "run_options_end_at_the_command",
    .argv = { "@T", "run", "-r", "@R", "curl", "-sS", "@3/x" },
    .status = 7, .denied = REQUESTS(0) },
  { .name = "run_options_end_at_the_command_after_dashes",
    .argv = { "@T", "run", "-r", "@R", "curl", "-s", "--", "@2/x" },
    .status = 0, .out = "hello from allowed\n", .denied = REQUESTS(0) },
  { .name = "php_curl_exec",
    .argv = { "@T", "run", "-r", "@R", "--", "php", "-r",
              "foreach (['@3/x', '@2/x'] as $u) {"
              " $c = curl_init($u);"
              " curl_setopt($c, CURLOPT_RETURNTRANSFER, true);"
              " $b = curl_exec($c);"
              " echo curl_errno($c), ' ', $b === false ? '-' : $b; }" },
    .status = 0, .out = "7 -0 hello from allowed\n", .denied = REQUESTS(0) },
  /* Names through PHP: each handle's own URL, in canonical form, and a
   * copy (curl_copy_handle, which is curl_easy_duphandle) has its own,
   * never its original's.  Every name is pinned to 127.0.0.2. */
  { .name = "php_names_per_handle",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--", "php", "-r",
              "$c = curl_init('http://u:pw@pHP.Example.:@P/x?secret#f');"
              " curl_setopt($c, CURLOPT_RETURNTRANSFER, true);"
              " curl_setopt($c, CURLOPT_RESOLVE,"
              " ['php.example.:@P:127.0.0.2', 'copy.example:@P:127.0.0.2']);"
              " echo curl_exec($c);"
              " $d = curl_copy_handle($c);"
              " curl_setopt($d, CURLOPT_URL, 'http://copy.example:@P/y');"
              " echo curl_exec($d);" },
    .status = 0, .out = "hello from allowed\nhello from allowed\n",
    .audit_has = { "\"host\":\"php.example\",\"url\":"
                   "\"http://php.example:@P/x\",\"program\":\"php",
                   "\"host\":\"copy.example\",\"url\":"
                   "\"http://copy.example:@P/y\"" },
    .allowed = REQUESTS(2) },
  /* pycurl: a refusal names the host it was for */
  { .name = "pycurl_name_in_refusal",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "/usr/bin/python3", "-c",
              "import pycurl\n"
              "c = pycurl.Curl()\n"
              "c.setopt(c.URL, 'http://Py.Example:@P/x')\n"
              "c.setopt(c.RESOLVE, ['py.example:@P:127.0.0.3'])\n"
              "try:\n"
              "    c.perform()\n"
              "except pycurl.error as e:\n"
              "    print('error', e.args[0])\n" },
    .status = 0, .out = "error 7\n",
    .audit_has = { "\"decision\":\"deny\"",
                   "\"host\":\"py.example\",\"url\":"
                   "\"http://py.example:@P/x\",\"program\":\"python3" },
    .denied = REQUESTS(0) },
  /* Two libcurls in one process: the program's libcurl.so.4 and a library
   * it opens with local scope that uses libcurl-gnutls.so.4 (as Python's
   * pycurl does).  Each handle goes to the libcurl that made it, and both
   * are guarded. */
  { .name = "two_libcurls_in_one_process",
    .env = { "ASAN_OPTIONS=verify_asan_link_order=0" },
    .argv = { "@T", "run", "-r", "@R", "--", "@B/two-libcurls",
              "@B/libtwo-gnutls.so", "@3/x", "@2/x" },
    .status = 0,
    .out = "program 7\nplugin 7\nprogram 0\nplugin 0\n"
           "libcurl libcurl-gnutls\n",
    .allowed = REQUESTS(2), .denied = REQUESTS(0) },
  { .name = "curl_under_memcheck",
    .argv = { "@T", "run", "-r", "@R", "--", "valgrind", "-q",
              "--error-exitcode=99", "--leak-check=full",
              "--show-leak-kinds=definite",
              "--errors-for-leak-kinds=definite", "curl", "-s", "@2/x",
              "@3/y" },
    .status = 7, .out = "hello from allowed\n", .err_lacks = "==" },
  /* The socket calls under memcheck too (make valgrind runs it). */
  { .name = "own_socket_calls_under_memcheck",
    .argv = { "@T", "run", "-r", "@R", "--", "valgrind", "-q",
              "--error-exitcode=99", "--leak-check=full",
              "--show-leak-kinds=definite",
              "--errors-for-leak-kinds=definite", "@B/preload-sockets",
              "calls" },
    .status = 0, .err_lacks = "==" },
  /* Eight threads make, duplicate, reset and free handles at once, under
   * the preload library.  In a sanitizer build the program carries its
   * runtime, which then is not the first library loaded: that is fine. */
  { .name = "threads_under_preload",
    .env = { "ASAN_OPTIONS=verify_asan_link_order=0" },
    .argv = { "@T", "run", "-r", "@R", "--", "@B/preload-threads", "@2/t",
              "@3/t" },
    .status = 0, .out = "preload-threads: 0 wrong\n",
    .denied = REQUESTS(0) },
  /* The same with the preload's objects linked into the program and built
   * like the rest of this build: `make tsan` and `make asan` check the
   * preload's own code this way. */
  { .name = "threads_linked",
    .env = { "CURLFENCE_RULES=@R" },
    .argv = { "@B/preload-threads-linked", "@2/t", "@3/t" },
    .status = 0, .out = "preload-threads: 0 wrong\n",
    .denied = REQUESTS(0) },

  /* ------------------------------------------------ the program's sockets
   * Outside libcurl: decided by the same rules, refused with EPERM, and
   * audited with the call as the check. */
  { .name = "own_socket_calls",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "@B/preload-sockets", "calls" },
    .status = 0,
    .out = "connect tcp EPERM\n__connect tcp EPERM\nlistener accepted none\n"
           "connect udp EPERM\nsendto denied EPERM\nsendto allowed 5\n"
           "sendmsg denied EPERM\nsendmmsg 1\n"
           "sendmmsg from the denied one EPERM\nsendto allowed 4\n"
           "allowed got to-ok mm-one last then none\ndenied got none\n",
    .audit_has = {
      "\"decision\":\"deny\",\"enforced\":true,\"addr\":\"127.0.0.3\","
      "\"as\":null,\"port\":",
      "\"transport\":\"tcp\",\"socktype\":1,\"protocol\":6,"
      "\"check\":\"connect\",\"default\":false,\"reason\":\"rule\","
      "\"rule\":{\"file\":\"@R\",\"line\":3,\"text\":\"deny 127.0.0.3\"}",
      "\"transport\":\"udp\",\"socktype\":2,\"protocol\":17,"
      "\"check\":\"sendto\",\"default\":false,\"reason\":\"rule\","
      "\"rule\":{\"file\":\"@R\",\"line\":3",
      "\"check\":\"sendmsg\",\"default\":false,\"reason\":\"rule\","
      "\"rule\":{\"file\":\"@R\",\"line\":3",
      "\"decision\":\"allow\",\"enforced\":true,\"addr\":\"127.0.0.2\"" } },
  /* A descriptor libcurl's check allowed for one address does not take
   * the program to another: the socket callback's own connect() on it is
   * decided, and libcurl's connection then goes ahead. */
  { .name = "curl_socket_connected_elsewhere_is_decided",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "@B/preload-sockets", "curl", "@2/x", "@P" },
    .status = 0, .out = "own connect EPERM\ncurl 0\n",
    .audit_has = { "\"addr\":\"127.0.0.3\",\"as\":null,\"port\":@P,"
                   "\"family\":\"inet\",\"transport\":\"tcp\","
                   "\"socktype\":1,\"protocol\":6,\"check\":\"connect\"" },
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  { .name = "python_socket_denied",
    .argv = { "@T", "run", "-r", "@R", "--audit", "@A", "--",
              "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "s = socket.create_connection(('127.0.0.2', @P))\n"
              "s.sendall(b'GET /x HTTP/1.0\\r\\n\\r\\n')\n"
              "print(s.makefile().readline().split()[1])\n"
              "try:\n"
              "    socket.create_connection(('127.0.0.3', @P))\n"
              "    print('connected')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "200\nEPERM\n",
    .audit_has = { "\"decision\":\"deny\",\"enforced\":true,"
                   "\"addr\":\"127.0.0.3\",\"as\":null,\"port\":@P,",
                   "\"check\":\"connect\"" },
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  { .name = "python_udp_sendto_denied",
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "try:\n"
              "    u.sendto(b'x', ('127.0.0.3', @P))\n"
              "    print('sent')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "EPERM\n" },
  { .name = "python_urllib",
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import urllib.request\n"
              "for u in ('@3/x', '@2/x'):\n"
              "    try:\n"
              "        print(urllib.request.urlopen(u, timeout=30).read()"
              ".decode(), end='')\n"
              "    except OSError as e:\n"
              "        print(getattr(e, 'reason', e))\n" },
    .status = 0,
    .out = "[Errno 1] Operation not permitted\nhello from allowed\n",
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  /* AF_UNIX is left alone, whatever the rules say of unix sockets. */
  { .name = "python_unix_socket_client",
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import socket\n"
              "l = socket.socket(socket.AF_UNIX)\n"
              "l.bind('@D/u.sock')\n"
              "l.listen()\n"
              "c = socket.socket(socket.AF_UNIX)\n"
              "c.connect('@D/u.sock')\n"
              "c.sendall(b'through')\n"
              "print(l.accept()[0].recv(16).decode())\n" },
    .status = 0, .out = "through\n" },
  { .name = "php_file_get_contents",
    .argv = { "@T", "run", "-r", "@R", "--", "php", "-r",
              "foreach (['@3/x', '@2/x'] as $u) {"
              " $b = @file_get_contents($u);"
              " echo $b === false ? \"false\\n\" : $b; }" },
    .status = 0, .out = "false\nhello from allowed\n",
    .allowed = REQUESTS(1), .denied_connections = REQUESTS(0) },
  { .name = "php_fsockopen",
    .argv = { "@T", "run", "-r", "@R", "--", "php", "-r",
              "$f = @fsockopen('127.0.0.3', @P, $no, $text, 10);"
              " echo $f === false ? \"refused $no\\n\" : \"connected\\n\";" },
    .status = 0, .out = "refused 1\n", .denied_connections = REQUESTS(0) },
  { .name = "node_net_connect",
    .argv = { "@T", "run", "-r", "@R", "--", "node", "-e",
              "const net = require('net');"
              "net.connect(@P, '127.0.0.3')"
              ".on('connect', () => console.log('connected'))"
              ".on('error', e => console.log(e.code));" },
    .status = 0, .out = "EPERM\n", .denied_connections = REQUESTS(0) },
  { .name = "git_protocol_denied",
    .env = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0" },
    .argv = { "@T", "run", "-r", "@R", "--", "git", "clone", "-q",
              "git://127.0.0.3:@P/repo.git", "@D/clone" },
    .status = 128, .err_has = { "Operation not permitted" },
    .denied_connections = REQUESTS(0) },
  { .name = "git_ssh_denied",
    .env = { "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
             "GIT_SSH_COMMAND=ssh -F /dev/null -o BatchMode=yes" },
    .argv = { "@T", "run", "-r", "@R", "--", "git", "ls-remote",
              "ssh://git@127.0.0.3:@P/repo.git" },
    .status = 128, .err_has = { "Operation not permitted" },
    .denied_connections = REQUESTS(0) },
  /* Report-only lets the connection through and says so. */
  { .name = "own_socket_report_only",
    .argv = { "@T", "run", "-r", "@R", "--report-only", "--audit", "@A",
              "--", "/usr/bin/python3", "-c",
              "import socket\n"
              "socket.create_connection(('127.0.0.3', @P))\n"
              "print('connected')\n" },
    .status = 0, .out = "connected\n",
    .audit_has = { "\"decision\":\"deny\",\"enforced\":false,"
                   "\"addr\":\"127.0.0.3\"",
                   "\"check\":\"connect\"" },
    .denied_connections = REQUESTS(1) },
  /* --sockets curl: libcurl's sockets only, as before. */
  { .name = "sockets_curl_leaves_the_program_alone",
    .argv = { "@T", "run", "-r", "@R", "--sockets", "curl", "--",
              "/usr/bin/python3", "-c",
              "import socket\n"
              "socket.create_connection(('127.0.0.3', @P))\n"
              "print('connected')\n" },
    .status = 0, .out = "connected\n", .denied_connections = REQUESTS(1) },
  { .name = "sockets_from_the_environment",
    .env = { "CURLFENCE_SOCKETS=curl" },
    .argv = { "@T", "run", "-r", "@R", "--", "/usr/bin/python3", "-c",
              "import socket\n"
              "socket.create_connection(('127.0.0.3', @P))\n"
              "print('connected')\n" },
    .status = 0, .out = "connected\n", .denied_connections = REQUESTS(1) },
  { .name = "sockets_option_beats_the_environment",
    .env = { "CURLFENCE_SOCKETS=curl" },
    .argv = { "@T", "run", "-r", "@R", "--sockets", "all", "--",
              "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "try:\n"
              "    socket.create_connection(('127.0.0.3', @P))\n"
              "    print('connected')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "EPERM\n", .denied_connections = REQUESTS(0) },
  { .name = "sockets_bad_option",
    .argv = { "@T", "run", "-r", "@R", "--sockets", "some", "--", "true" },
    .status = 2, .err_has = { "--sockets \"some\" is not all or curl" } },
  { .name = "sockets_bad_environment",
    .env = { "CURLFENCE_SOCKETS=libcurl" },
    .argv = { "@T", "run", "-r", "@R", "--", "true" },
    .status = 2,
    .err_has = { "CURLFENCE_SOCKETS \"libcurl\" is not all or curl" } },
  /* Without run, a value the preload does not understand refuses every
   * connection, the program's own too. */
  { .name = "sockets_bad_value_refuses_everything",
    .env = { "LD_PRELOAD=@L", "CURLFENCE_RULES=@R",
             "CURLFENCE_SOCKETS=some" },
    .argv = { "/usr/bin/python3", "-c",
              "import errno, socket\n"
              "try:\n"
              "    socket.create_connection(('127.0.0.2', @P))\n"
              "    print('connected')\n"
              "except OSError as e:\n"
              "    print(errno.errorcode[e.errno])\n" },
    .status = 0, .out = "EPERM\n",
    .err = "curlfence: CURLFENCE_SOCKETS=\"some\" is not all or curl; "
           "every connection is refused\n",
    .allowed = REQUESTS(0) },
};

/* The letters after @ in the rows, in the order of the values expand()
 * is given. */
static const char row_keys[] = "23PTRADBL";

TU_SUITE_STATIC_ONLY("preload", NULL);
TU_CASE(tc_programs, "programs", 120, setup, teardown);

TU_LOOP(tc_programs, run_cases, 0,
        (int)(sizeof(run_rows) / sizeof(run_rows[0])))
{
  const run_row *row = &run_rows[_i];
  static char words[24][PATH_MAX + 256];
  char p[16], audit[PATH_MAX + 16], bin[PATH_MAX + 32], log[OUT_MAX];
  const char *const values[] = { url("127.0.0.2", ""), url("127.0.0.3", ""),
                                 p, tool, rules, audit, tmp, bin, preload };
  const char *env[4] = { NULL }, *argv[17] = { NULL };
  size_t i, w = 0;

  snprintf(p, sizeof(p), "%u", port);
  snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmp);
  sibling(bin, sizeof(bin), "");
  bin[strlen(bin) - 1] = '\0';   /* its trailing slash */
  for(i = 0; i < 3 && row->env[i]; i++)
    env[i] = expand(words[w++], sizeof(words[0]), row->env[i], row_keys,
                    values);
  for(i = 0; i < 16 && row->argv[i]; i++)
    argv[i] = expand(words[w++], sizeof(words[0]), row->argv[i], row_keys,
                     values);
  guarded(res, env, argv);
  ck_assert_msg(res->status == row->status, ROW_SAYS(row, res));
  if(row->out)
    ck_assert_msg(!strcmp(res->out, row->out), ROW_SAYS(row, res));
  if(row->err)
    ck_assert_msg(!strcmp(res->err, expand(words[w], sizeof(words[0]),
                                           row->err, row_keys, values)),
                  "%s: stderr: %s\nwant: %s", row->name, res->err,
                  words[w]);
  for(i = 0; i < 3 && row->err_has[i]; i++)
    ck_assert_msg(strstr(res->err, row->err_has[i]) != NULL,
                  ROW_SAYS(row, res));
  if(row->err_lacks)
    ck_assert_msg(strstr(res->err, row->err_lacks) == NULL,
                  ROW_SAYS(row, res));
  read_file(audit, log, sizeof(log));
  for(i = 0; i < 5 && row->audit_has[i]; i++) {
    const char *want = expand(words[w], sizeof(words[0]), row->audit_has[i],
                              row_keys, values);

    ck_assert_msg(strstr(log, want) != NULL, "%s: no %s in %s", row->name,
                  want, log);
  }
  requests_are(row->name, "allowed", allowed, row->allowed);
  requests_are(row->name, "denied", denied, row->denied);
  if(row->denied_connections) {
    /* The program may exit before the server thread takes its
     * connection off the queue: wait for the count, up to 10 s. */
    for(i = 0; i < 1000 && th_connections(denied) <
                           row->denied_connections - 1; i++)
      usleep(10000);
    ck_assert_msg(th_connections(denied) == row->denied_connections - 1,
                  "%s: the denied server accepted %u connections",
                  row->name, th_connections(denied));
  }
}
END_TEST
