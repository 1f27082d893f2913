/* SPDX-License-Identifier: MIT */
/*
 * The guard around a handle's life and the application's own callbacks:
 * late closes, unix sockets, a freed guard, chained callbacks, the audit
 * sinks and metrics, misuse of the API, DoH, and switching the audit
 * while transfers run (guard_fixture.h).
 */
#include "guard_fixture.h"
#include "guard/guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

TU_SUITE("guard_api", NULL);
TU_CASE(tc_curl, "curl", 60, guard_setup, guard_teardown);

/* Pooled connections outlive their easy handles and the guard: closing
 * them in curl_multi_cleanup() must not touch freed memory (ASan and
 * valgrind watch this test). */
static int closes;

static int app_close(void *clientp, curl_socket_t fd)
{
  (void)clientp;
  closes++;
  return close(fd);
}

TU_TEST(tc_curl, test_late_close)
{
  CURLM *m = curl_multi_init();
  char url[128];
  body b = { "", 0 };
  CURL *h;

  ck_assert_int_eq(curlfence_guard_set_chain(guard, NULL, NULL, app_close,
                                             NULL), CURLFENCE_OK);
  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(multi_run(m, h), CURLE_OK);
  curl_easy_cleanup(h);
  ck_assert_str_eq(b.data, "hello from allowed\n");

  curlfence_guard_free(guard);
  curlfence_policy_unref(policy);
  guard = NULL;
  policy = NULL;
  closes = 0;
  curl_multi_cleanup(m);
  ck_assert_int_eq(closes, 1);
}
END_TEST

TU_TEST(tc_curl, test_unix_socket)
{
  char path[64], url[] = "http://localhost/";
  body b = { "", 0 };
  curlfence_guard *g2;
  curlfence_policy *p2;
  th_server *us;
  CURL *h;

  snprintf(path, sizeof(path), "/tmp/curlfence-test-%ld.sock", (long)getpid());
  us = th_start_unix(path, "unix");
  ck_assert_ptr_nonnull(us);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(rec.ev[0].family, AF_UNIX);
  ck_assert_str_eq(rec.ev[0].addr, path);
  ck_assert_str_eq(rec.ev[0].verdict.reason, "unix");
  ck_assert_str_eq(rec.ev[0].verdict.rule, "unix deny (built-in)");
  ck_assert_uint_eq(th_requests(us), 0);

  p2 = tu_load("unix allow\n");
  ck_assert_int_eq(curlfence_guard_new(&g2, p2), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_attach(h, g2, 0), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from unix\n");
  curl_easy_cleanup(h);
  curlfence_guard_free(g2);
  curlfence_policy_unref(p2);
  th_stop(us);
}
END_TEST

/* A unix-socket connection opened by an unguarded handle to a server
 * bound to the relative name path, then reused by a handle guarded by a
 * guard with the given rules.  Returns the guarded transfer's result;
 * *served is how many requests the server saw. */
static CURLcode pooled_unix(const char *path, const char *rules,
                            unsigned *served)
{
  char dir[] = "/tmp/curlfence-unix-XXXXXX", cwd[4096], url[] =
      "http://localhost/";
  body b = { "", 0 };
  curlfence_policy *p = tu_load(rules);
  curlfence_guard *g;
  CURLM *m = curl_multi_init();
  th_server *us;
  CURLcode rc;
  CURL *h;

  ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_int_eq(chdir(dir), 0);
  us = th_start_unix(path, "unix");
  ck_assert_ptr_nonnull(us);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_guard_set_audit(g, tu_record, &rec, CURLFENCE_AUDIT_DENIED);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
  ck_assert_int_eq(multi_run(m, h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from unix\n");
  curl_easy_cleanup(h);

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
  ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
  rc = multi_run(m, h);
  curl_easy_cleanup(h);
  curl_multi_cleanup(m);
  *served = th_requests(us);
  th_stop(us);
  ck_assert_int_eq(chdir(cwd), 0);
  ck_assert_int_eq(rmdir(dir), 0);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  return rc;
}

/* The pre-request check on a pooled unix-socket connection applies the
 * unix setting, whatever the name the server bound to looks like. */
TU_TEST(tc_curl, test_reused_unix_relative)
{
  unsigned served;

  /* Not the IP address 8.8.8.8, though libcurl reports it as the peer. */
  ck_assert_int_eq(pooled_unix("8.8.8.8", "unix deny\nallow 8.8.8.8\n",
                               &served),
                   CURLE_ABORTED_BY_CALLBACK);
  ck_assert_uint_eq(served, 1);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(rec.ev[0].check, CURLFENCE_CHECK_REUSED);
  ck_assert_int_eq(rec.ev[0].family, AF_UNIX);
  ck_assert_str_eq(rec.ev[0].addr, "8.8.8.8");
  ck_assert_str_eq(rec.ev[0].verdict.reason, "unix");
  ck_assert_uint_eq(rec.ev[0].verdict.line, 1);  /* rule text is freed */

  /* Not an unknown address family either. */
  ck_assert_int_eq(pooled_unix("rel.sock", "unix allow\n", &served),
                   CURLE_OK);
  ck_assert_uint_eq(served, 2);
  ck_assert_int_eq(rec.n, 1);
}
END_TEST

/* A guard freed while a handle is still attached (a bug in the caller):
 * with CURLFENCE_KEEP_FREED_GUARDS the memory stays, and the handle's
 * transfers fail closed instead of deciding on freed memory. */
TU_TEST(tc_curl, test_freed_guard_fails_closed)
{
  char url[128];
  body b = { "", 0 };
  curlfence_policy *p = tu_load("default allow\n");
  curlfence_guard *g;
  CURL *h;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  ck_assert_int_eq(atomic_load(&g->magic), CF_GUARD_LIVE);
  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
  ck_assert_int_eq(setenv("CURLFENCE_KEEP_FREED_GUARDS", "1", 1), 0);
  curlfence_guard_free(g);          /* too early: h still uses it */
  unsetenv("CURLFENCE_KEEP_FREED_GUARDS");
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(th_requests(allowed_srv), 0);
  ck_assert_uint_eq(th_connections(allowed_srv), 0);
  ck_assert_int_eq(atomic_load(&g->magic), CF_GUARD_FREED);
  ck_assert_uint_eq(atomic_load(&g->dead_calls), 1);
  curl_easy_cleanup(h);
  free(g);                          /* the tombstone */
}
END_TEST

static int opens;

static curl_socket_t app_open(void *clientp, curlsocktype purpose,
                              struct curl_sockaddr *a)
{
  (void)purpose;
  ck_assert_ptr_eq(clientp, &opens);
  opens++;
  return socket(a->family, a->socktype, a->protocol);
}

TU_TEST(tc_curl, test_chained_callbacks)
{
  char url[128];
  body b = { "", 0 };

  ck_assert_int_eq(curlfence_guard_set_chain(guard, app_open, &opens,
                                             app_close, NULL), CURLFENCE_OK);
  opens = closes = 0;
  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(opens, 0);
  ck_assert_int_eq(closes, 0);
  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from allowed\n");
  ck_assert_int_eq(opens, 1);
  ck_assert_int_eq(closes, 1);
}
END_TEST

TU_TEST(tc_curl, test_ipv6_and_audit_all)
{
  th_server *six = th_start("::1", "six");
  char url[128];
  body b = { "", 0 };

  ck_assert_ptr_nonnull(six);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, tu_record, &rec,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
  url_for(url, sizeof(url), "[::1]", six, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from six\n");
  /* One allow when the socket opens, one before the request. */
  ck_assert_int_eq(rec.n, 2);
  ck_assert_int_eq(rec.ev[0].action, CURLFENCE_ALLOW);
  ck_assert_int_eq(rec.ev[0].check, CURLFENCE_CHECK_OPEN);
  ck_assert_int_eq(rec.ev[0].family, AF_INET6);
  ck_assert_str_eq(rec.ev[0].addr, "::1");
  ck_assert_str_eq(rec.ev[0].verdict.rule, "allow ::1");
  ck_assert_int_eq(rec.ev[1].check, CURLFENCE_CHECK_REUSED);
  ck_assert_str_eq(rec.ev[1].addr, "::1");
  th_stop(six);
}
END_TEST

TU_TEST(tc_curl, test_json_sink)
{
  char url[128], path[64], cmd[512];
  body b = { "", 0 };
  FILE *f;

  snprintf(path, sizeof(path), "/tmp/curlfence-audit-%ld.jsonl",
           (long)getpid());
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, curlfence_audit_json, f,
                                             CURLFENCE_AUDIT_DENIED),
                   CURLFENCE_OK);
  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  fclose(f);
  snprintf(cmd, sizeof(cmd),
           "python3 test/jsonl_check.py %s 1 decision=deny enforced=true "
           "addr=127.0.0.3 port=%u family=inet transport=tcp check=open "
           "default=false reason=rule rule.file=test.rules rule.line=3 "
           "'rule.text=deny 127.0.0.3' generation=1 pid=%ld",
           path, th_port(denied_srv), (long)getpid());
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
}
END_TEST

/* The metrics text, read back with the Prometheus client's parser, counts
 * the decisions the transfers caused: each by decision, check and reason,
 * each by the rule that made it, and what the audit did with them. */
TU_TEST(tc_curl, test_metrics)
{
  char url[128], path[64], cmd[2048];
  body b = { "", 0 };
  curlfence_sink *full;
  FILE *f;

  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_OK);
  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_REPORT_ONLY),
                   CURLE_OK);
  ck_assert_int_eq(rec.n, 3);
  /* a sink that cannot write: the event is failed and lost */
  ck_assert_int_eq(curlfence_sink_open_file(&full, "/dev/full", NULL),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, curlfence_sink_write,
                                             full, CURLFENCE_AUDIT_DENIED),
                   CURLFENCE_OK);
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);

  snprintf(path, sizeof(path), "/tmp/curlfence-metrics-%ld.prom",
           (long)getpid());
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(curlfence_guard_metrics(guard, f), CURLFENCE_OK);
  fclose(f);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, NULL, NULL, 0),
                   CURLFENCE_OK);
  curlfence_sink_free(full);
  snprintf(cmd, sizeof(cmd),
           "python3 test/metrics_check.py %s "
           "'curlfence_decisions_total{decision=\"allow\",check=\"open\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"allow\",check=\"reused\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"deny\",check=\"open\","
           "reason=\"rule\"}=2' "
           "'curlfence_decisions_total{decision=\"deny\",check=\"open\","
           "reason=\"default\"}=0' "
           "'curlfence_decisions_total{decision=\"report\",check=\"open\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"report\",check=\"reused\","
           "reason=\"rule\"}=1' "
           "'curlfence_decisions_total{decision=\"deny\",check=\"open\","
           "reason=\"udp\"}=absent' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"2\","
           "rule=\"allow 127.0.0.2\"}=2' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"3\","
           "rule=\"deny 127.0.0.3\"}=4' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"1\","
           "rule=\"default deny\"}=0' "
           "'curlfence_rule_hits_total{file=\"test.rules\",line=\"4\","
           "rule=\"allow 127.0.0.4\"}=absent' "
           "'curlfence_audit_events_written_total=3' "
           "'curlfence_audit_events_failed_total=1' "
           "'curlfence_audit_events_lost_total=1' "
           "'curlfence_reloads_total{result=\"ok\"}=0' "
           "'curlfence_reloads_total{result=\"failed\"}=0' "
           "'curlfence_policy_generation=1' "
           "'curlfence_policy_rules=4' "
           "'curlfence_policy_load_time_seconds=now'",
           path);
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
  ck_assert_int_eq(curlfence_guard_metrics(NULL, stdout), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_metrics(guard, NULL), CURLFENCE_E_INVAL);
}
END_TEST

TU_TEST(tc_curl, test_api_misuse)
{
  CURL *h = curl_easy_init();
  curlfence_guard *g = (curlfence_guard *)1;
  char url[128];
  body b = { "", 0 };

  ck_assert_int_eq(curlfence_attach(NULL, guard, 0), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_attach(h, NULL, 0), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_attach(h, guard, 0x80), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_detach(NULL), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_new(&g, NULL), CURLFENCE_E_INVAL);
  ck_assert_ptr_null(g);
  ck_assert_int_eq(curlfence_guard_new(NULL, policy), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_audit(NULL, NULL, NULL, 0),
                   CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, NULL, NULL, 7),
                   CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_chain(NULL, NULL, NULL, NULL, NULL),
                   CURLFENCE_E_INVAL);
  curlfence_guard_free(NULL);
  curl_easy_cleanup(h);

  /* Detaching restores plain libcurl: the denied host is reachable. */
  url_for(url, sizeof(url), "127.0.0.3", denied_srv, "/");
  h = new_handle(url, &b);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_detach(h), CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
  ck_assert_str_eq(b.data, "hello from denied\n");
  curl_easy_cleanup(h);
}
END_TEST

/* DoH runs on libcurl's internal handles, which carry no guard: attach
 * turns it off unless told to keep it, and detach turns it off. */
TU_TEST(tc_curl, test_doh_cleared)
{
  char name[256], url[512], doh[128];
  body b = { "", 0 };
  CURL *h;

  tu_loopback_hosts_name(name, sizeof(name));
  ck_assert_msg(name[0], "/etc/hosts names no loopback host but localhost");
  snprintf(url, sizeof(url), "http://%s:%u/", name, th_port(allowed_srv));
  /* libcurl only speaks https to a DoH server: the handshake fails on
   * this plain HTTP server, but the connection is counted. */
  snprintf(doh, sizeof(doh), "https://127.0.0.3:%u/dns-query",
           th_port(denied_srv));

  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_DOH_URL, doh);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  curl_easy_perform(h);
  curl_easy_cleanup(h);
  ck_assert_uint_eq(th_connections(denied_srv), 0);

  /* Kept on request: then the DoH server is reached, unchecked. */
  h = new_handle(url, &b);
  curl_easy_setopt(h, CURLOPT_DOH_URL, doh);
  ck_assert_int_eq(curlfence_attach(h, guard, CURLFENCE_ATTACH_KEEP_DOH),
                   CURLFENCE_OK);
  ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_RESOLVE_HOST);
  ck_assert_uint_ge(th_connections(denied_srv), 1);

  /* Detaching restores the default: no DoH. */
  ck_assert_int_eq(curlfence_attach(h, guard, CURLFENCE_ATTACH_KEEP_DOH),
                   CURLFENCE_OK);
  ck_assert_int_eq(curlfence_detach(h), CURLFENCE_OK);
  b.len = 0;
  {
    unsigned before = th_connections(denied_srv);

    curl_easy_perform(h);
    ck_assert_uint_eq(th_connections(denied_srv), before);
  }
  curl_easy_cleanup(h);
}
END_TEST


/* Switching the audit destination while transfers run.  Each
 * destination knows itself and whether it has been retired (as a sink is
 * freed once curlfence_guard_set_audit() has switched away from it); a
 * callback that gets the other one's data, or runs on a retired one, is
 * wrong.  The callback yields in the middle so that a switch made without
 * waiting for it would catch it running. */
typedef struct audit_dest {
  atomic_int retired;
  atomic_long events;
} audit_dest;

static struct {
  audit_dest a, b;
  atomic_long wrong, transfers;
  atomic_int stop;
  char url[128];
} sw;

static int audit_dest_check(const audit_dest *mine, void *userdata)
{
  audit_dest *d = userdata;

  if(d != mine || atomic_load(&d->retired))
    atomic_fetch_add(&sw.wrong, 1);
  sched_yield();
  if(atomic_load(&d->retired))
    atomic_fetch_add(&sw.wrong, 1);
  atomic_fetch_add(&d->events, 1);
  return 0;
}

static int audit_to_a(const curlfence_event *ev, void *userdata)
{
  (void)ev;
  return audit_dest_check(&sw.a, userdata);
}

static int audit_to_b(const curlfence_event *ev, void *userdata)
{
  (void)ev;
  return audit_dest_check(&sw.b, userdata);
}

static void *switch_worker(void *arg)
{
  (void)arg;
  while(!atomic_load(&sw.stop)) {
    body b = { "", 0 };
    CURL *h = curl_easy_init();

    if(!h || curlfence_attach(h, guard, 0) != CURLFENCE_OK) {
      atomic_fetch_add(&sw.wrong, 1);
      break;
    }
    curl_easy_setopt(h, CURLOPT_URL, sw.url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    if(curl_easy_perform(h) != CURLE_OK ||
       strcmp(b.data, "hello from allowed\n"))
      atomic_fetch_add(&sw.wrong, 1);
    curl_easy_cleanup(h);
    atomic_fetch_add(&sw.transfers, 1);
  }
  return NULL;
}

TU_TEST(tc_curl, test_set_audit_while_transferring)
{
  long want = tu_quick() ? 40 : 400, i, wrong, a, b;
  pthread_t t[3];
  curlfence_stats st;

  memset(&sw, 0, sizeof(sw));
  url_for(sw.url, sizeof(sw.url), "127.0.0.2", allowed_srv, "/");
  atomic_store(&sw.b.retired, 1);
  ck_assert_int_eq(curlfence_guard_set_audit(guard, audit_to_a, &sw.a,
                                             CURLFENCE_AUDIT_ALL),
                   CURLFENCE_OK);
  for(i = 0; i < 3; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, switch_worker, NULL), 0);
  for(i = 0; atomic_load(&sw.transfers) < want; i++) {
    audit_dest *next = i % 2 ? &sw.a : &sw.b, *old = i % 2 ? &sw.b : &sw.a;

    atomic_store(&next->retired, 0);
    ck_assert_int_eq(curlfence_guard_set_audit(guard,
                                               i % 2 ? audit_to_a
                                                     : audit_to_b,
                                               next, CURLFENCE_AUDIT_ALL),
                     CURLFENCE_OK);
    /* From here on nothing may use old: a sink would be freed now. */
    atomic_store(&old->retired, 1);
    sched_yield();
  }
  atomic_store(&sw.stop, 1);
  for(i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  wrong = atomic_load(&sw.wrong);
  a = atomic_load(&sw.a.events);
  b = atomic_load(&sw.b.events);
  ck_assert_msg(wrong == 0, "%ld callbacks with the wrong or a retired "
                "destination (%ld transfers, %ld switches)", wrong,
                (long)atomic_load(&sw.transfers), i);
  ck_assert_int_gt(a, 0);
  ck_assert_int_gt(b, 0);
  /* Every decision reached one of them, and the switches changed no
   * policy generation. */
  ck_assert_int_eq(curlfence_guard_stats(guard, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.allowed, (uint64_t)(a + b));
  ck_assert_uint_eq(st.generation, 1);
}
END_TEST
