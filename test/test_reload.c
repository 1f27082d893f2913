/* SPDX-License-Identifier: MIT */
/*
 * Live reload, by hand and by the watcher, against real libcurl transfers
 * (reload_fixture.h).
 */
#include "reload_fixture.h"
#include "guard/guard.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

TU_SUITE_STATIC_ONLY("reload", NULL);
TU_CASE(tc_reload, "reload", 120, reload_setup, reload_teardown);

TU_TEST(tc_reload, test_reload)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  curlfence_error err;
  curlfence_stats st;
  tu_recorder r = { 0 };
  uint64_t gen;
  curlfence_policy *p;

  curlfence_guard_set_audit(g, tu_record, &r, CURLFENCE_AUDIT_ALL);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(r.ev[0].generation, 1);

  tu_write_text(app_rules, allow_rules);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  ck_assert_int_eq(r.ev[1].action, CURLFENCE_ALLOW);
  ck_assert_uint_eq(r.ev[1].generation, 2);
  ck_assert_str_eq(r.ev[1].verdict.rule, "allow 127.0.0.3");

  /* A broken file keeps the rules in force and says where it broke. */
  tu_write_text(app_rules, "default deny\nallow 127.0.0.3/33\n");
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_ADDRESS);
  ck_assert_str_eq(err.file, app_rules);
  ck_assert_uint_eq(err.line, 2);
  ck_assert_uint_eq(err.column, 17);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  p = curlfence_guard_policy(g, &gen);
  ck_assert_uint_eq(gen, 2);
  curlfence_policy_unref(p);
  curlfence_guard_stats(g, &st);
  ck_assert_uint_eq(st.reloads, 1);
  ck_assert_uint_eq(st.reload_failures, 1);
  ck_assert_int_eq(st.last_reload_error.code, CURLFENCE_E_ADDRESS);
  ck_assert_uint_eq(st.last_reload_error.line, 2);

  /* A missing file too. */
  ck_assert_int_eq(unlink(app_rules), 0);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_IO);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  curlfence_guard_free(g);
}
END_TEST

TU_TEST(tc_reload, test_reload_needs_file)
{
  curlfence_policy *p = tu_load("deny 127.0.0.3\n");
  curlfence_guard *g;
  curlfence_error err;

  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_INVAL);
  ck_assert_ptr_nonnull(strstr(err.message, "not loaded from a file"));
  ck_assert_int_eq(curlfence_guard_set_policy(g, NULL), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_policy(g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  curlfence_guard_free(g);
}
END_TEST

/* Four threads run guarded transfers and lookups while the rules flip
 * between deny (odd generations) and allow (even ones).  Every decision
 * must belong to exactly one generation's rules. */
typedef struct race {
  curlfence_guard *g;
  atomic_int stop;
  atomic_long decisions, wrong, transfers;
} race;

static int check_event(const curlfence_event *ev, void *userdata)
{
  race *rc = userdata;
  curlfence_action want = ev->generation % 2 ? CURLFENCE_DENY
                                             : CURLFENCE_ALLOW;

  atomic_fetch_add(&rc->decisions, 1);
  if(ev->action != want || ev->verdict.line != 2)
    atomic_fetch_add(&rc->wrong, 1);
  return 0;
}

static void *race_worker(void *arg)
{
  race *rc = arg;
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, "127.0.0.3", 80);

  while(!atomic_load(&rc->stop)) {
    CURLcode res = transfer(rc->g, 0, NULL);
    uint64_t gen;
    curlfence_policy *p;
    curlfence_verdict v;

    if(res != CURLE_OK && res != CURLE_COULDNT_CONNECT &&
       res != CURLE_ABORTED_BY_CALLBACK)
      atomic_fetch_add(&rc->wrong, 1);
    atomic_fetch_add(&rc->transfers, 1);
    p = curlfence_guard_policy(rc->g, &gen);
    curlfence_policy_decide(p, (struct sockaddr *)&ss, len, &v);
    if(v.action != (gen % 2 ? CURLFENCE_DENY : CURLFENCE_ALLOW))
      atomic_fetch_add(&rc->wrong, 1);
    curlfence_policy_unref(p);
  }
  return NULL;
}

TU_TEST(tc_reload, test_reload_under_load)
{
  race rc;
  pthread_t t[4];
  curlfence_error err;
  int i, flips = tu_quick() ? 6 : 40;

  memset(&rc, 0, sizeof(rc));
  rc.g = guard_from_file(deny_rules);
  curlfence_guard_set_audit(rc.g, check_event, &rc, CURLFENCE_AUDIT_ALL);
  for(i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, race_worker, &rc), 0);
  for(i = 0; i < flips; i++) {
    struct timespec ts = { 0, 5000000 };
    nanosleep(&ts, NULL);
    tu_write_text(app_rules, i % 2 ? deny_rules : allow_rules);
    ck_assert_int_eq(curlfence_guard_reload(rc.g, &err), CURLFENCE_OK);
  }
  atomic_store(&rc.stop, 1);
  for(i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  ck_assert_int_gt(atomic_load(&rc.transfers), 0);
  ck_assert_int_gt(atomic_load(&rc.decisions), 0);
  ck_assert_int_eq(atomic_load(&rc.wrong), 0);
  {
    curlfence_stats st;
    curlfence_guard_stats(rc.g, &st);
    ck_assert_uint_eq(st.generation, (uint64_t)flips + 1);
  }
  curlfence_guard_free(rc.g);
}
END_TEST

/* ---------------------------------------------------------- auto reload */

/* Wait up to 5 s for the guard to reach generation gen. */
/* Wait up to 5 s for the guard's stats to satisfy done; st holds the last
 * reading.  Returns whether they did. */
static int wait_stats(curlfence_guard *g, curlfence_stats *st,
                      int (*done)(const curlfence_stats *, uint64_t),
                      uint64_t arg)
{
  int i;

  for(i = 0; i < 500; i++) {
    struct timespec ts = { 0, 10000000 };

    curlfence_guard_stats(g, st);
    if(done(st, arg))
      return 1;
    nanosleep(&ts, NULL);
  }
  return 0;
}

static int reached_generation(const curlfence_stats *st, uint64_t gen)
{
  return st->generation >= gen;
}

static int reload_failed(const curlfence_stats *st, uint64_t unused)
{
  (void)unused;
  return st->reload_failures != 0;
}

static int wait_generation(curlfence_guard *g, uint64_t gen)
{
  curlfence_stats st;

  return wait_stats(g, &st, reached_generation, gen);
}

TU_TEST(tc_reload, test_watch_rename_and_rewrite)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  char tmp[160];
  curlfence_stats st;

  ck_assert_int_eq(curlfence_guard_watch(g, 20), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  /* Replaced by rename(2), as editors and deploy tools do. */
  snprintf(tmp, sizeof(tmp), "%s/app.rules.new", reload_dir);
  tu_write_text(tmp, allow_rules);
  ck_assert_int_eq(rename(tmp, app_rules), 0);
  ck_assert(wait_generation(g, 2));
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);

  /* Rewritten in place. */
  tu_write_text(app_rules, deny_rules);
  ck_assert(wait_generation(g, 3));
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  /* A broken version is not taken, and is reported. */
  tu_write_text(app_rules, "default allow\ndeny 127.0.0.3/40\n");
  wait_stats(g, &st, reload_failed, 0);
  ck_assert_uint_eq(st.reload_failures, 1);
  ck_assert_uint_eq(st.generation, 3);
  ck_assert_uint_eq(st.last_reload_error.line, 2);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  curlfence_guard_unwatch(g);
  curlfence_guard_free(g);
}
END_TEST

/* One version of a ConfigMap volume: the directory dir/NAME holding
 * app.rules with text. */
static void configmap_version(const char *name, const char *text)
{
  char path[200];

  snprintf(path, sizeof(path), "%s/%s", reload_dir, name);
  ck_assert_int_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/%s/app.rules", reload_dir, name);
  tu_write_text(path, text);
}

/* Kubernetes ConfigMap volumes: app.rules -> ..data/app.rules, and ..data
 * is a symlink to a timestamped directory that is swapped atomically. */
TU_TEST(tc_reload, test_watch_configmap)
{
  char link_tmp[200], data[200];
  curlfence_policy *p;
  curlfence_guard *g;
  curlfence_error err;

  configmap_version("..2026_11_25_a", deny_rules);
  snprintf(data, sizeof(data), "%s/..data", reload_dir);
  ck_assert_int_eq(symlink("..2026_11_25_a", data), 0);
  unlink(app_rules);
  ck_assert_int_eq(symlink("..data/app.rules", app_rules), 0);

  ck_assert_msg(curlfence_policy_load_file(&p, app_rules, &err) == 0, "%s",
                err.text);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  ck_assert_int_eq(curlfence_guard_watch(g, 20), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  configmap_version("..2026_11_25_b", allow_rules);
  snprintf(link_tmp, sizeof(link_tmp), "%s/..data_tmp", reload_dir);
  ck_assert_int_eq(symlink("..2026_11_25_b", link_tmp), 0);
  ck_assert_int_eq(rename(link_tmp, data), 0);

  ck_assert(wait_generation(g, 2));
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  curlfence_guard_free(g);   /* stops the watcher too */
}
END_TEST

/* Whether the guard's policy in force denies addr. */
static int denies(curlfence_guard *g, const char *addr)
{
  curlfence_policy *p = curlfence_guard_policy(g, NULL);
  int deny = tu_decide(p, addr, 80, NULL) == CURLFENCE_DENY;

  curlfence_policy_unref(p);
  return deny;
}

static uint64_t mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A file rewritten in place in two steps is never loaded half-written:
 * cut at the slash, "deny 10.0.0.0/8" is the valid "deny 10.0.0.0",
 * which lets 10.1.2.3 (and the rest of 10/8) through.  The promise holds
 * for a writer that finishes within the settle time; a round in which the
 * scheduler stretched the 5 ms pause past it proves nothing either way,
 * so only the final policy is checked then. */
TU_TEST(tc_reload, test_watch_half_written)
{
  static const char half[] = "default allow\ndeny 10.0.0.0";
  curlfence_guard *g = guard_from_file("default allow\n");
  int round, rounds = tu_quick() ? 2 : 5, strict = 0;

  ck_assert_int_eq(curlfence_guard_watch(g, 1), CURLFENCE_OK);
  for(round = 0; round < rounds; round++) {
    struct timespec pause = { 0, 5000000 };   /* 5 ms: five intervals */
    curlfence_stats before, st;
    uint64_t t0, took;
    int fd, i;

    ck_assert_int_eq(curlfence_guard_stats(g, &before), CURLFENCE_OK);
    fd = open(app_rules, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    t0 = mono_ms();
    ck_assert_int_eq(write(fd, half, sizeof(half) - 1), sizeof(half) - 1);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(write(fd, "/8\n", 3), 3);
    took = mono_ms() - t0;
    ck_assert_int_eq(close(fd), 0);
    ck_assert(wait_generation(g, before.generation + 1));
    for(i = 0; i < 5000 && !denies(g, "10.1.2.3"); i++)
      nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    ck_assert(denies(g, "10.1.2.3"));
    ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
    ck_assert_uint_eq(st.reload_failures, 0);
    if(took >= CF_WATCH_SETTLE_MS)
      continue;            /* the writer was slower than the settle time */
    /* nothing else was published on the way */
    ck_assert_uint_eq(st.generation, before.generation + 1);
    ck_assert_uint_eq(st.reloads, before.reloads + 1);
    strict++;
  }
  ck_assert_msg(strict > 0, "every round was too slow to say anything");
  curlfence_guard_free(g);
}
END_TEST

/* A reload reads the file while it is being rewritten: what it read is
 * not published, and the failure says why. */
static void rewrite_file(curlfence_guard *g)
{
  (void)g;
  tu_write_text(app_rules, "default deny\n");
}

TU_TEST(tc_reload, test_reload_changed_while_read)
{
  curlfence_guard *g = guard_from_file(allow_rules);
  curlfence_error err;
  curlfence_stats st;

  g->reload_loaded_hook = rewrite_file;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_IO);
  ck_assert_ptr_nonnull(strstr(err.text, "changed while it was being read"));
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.generation, 1);
  ck_assert_uint_eq(st.reload_failures, 1);
  g->reload_loaded_hook = NULL;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_OK);
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);
  curlfence_guard_free(g);
}
END_TEST

static curlfence_policy *emergency;

static void set_emergency(curlfence_guard *g)
{
  ck_assert_int_eq(curlfence_guard_set_policy(g, emergency), CURLFENCE_OK);
}

/* An application's set_policy that lands while a reload reads the file
 * stays: the reload, which started from the older policy, loses. */
TU_TEST(tc_reload, test_reload_loses_to_set_policy)
{
  curlfence_guard *g = guard_from_file(allow_rules);
  curlfence_policy *p;
  curlfence_error err;
  curlfence_stats st;
  uint64_t gen;

  emergency = tu_load("default deny\n");
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_OK);
  g->reload_loaded_hook = set_emergency;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_SUPERSEDED);
  ck_assert_int_eq(err.code, CURLFENCE_E_SUPERSEDED);
  ck_assert_ptr_nonnull(strstr(err.text, "newer policy stays"));
  p = curlfence_guard_policy(g, &gen);
  ck_assert_ptr_eq(p, emergency);
  ck_assert_uint_eq(gen, 2);
  curlfence_policy_unref(p);
  ck_assert_int_eq(curlfence_guard_stats(g, &st), CURLFENCE_OK);
  ck_assert_uint_eq(st.reloads, 1);          /* the set_policy */
  ck_assert_uint_eq(st.reload_failures, 0);  /* the file was fine */
  ck_assert_int_eq(transfer(g, 0, NULL), CURLE_COULDNT_CONNECT);

  /* set_policy always wins: it is the application's word. */
  g->reload_loaded_hook = NULL;
  ck_assert_int_eq(curlfence_guard_reload(g, &err), CURLFENCE_E_INVAL);
  ck_assert_int_eq(curlfence_guard_set_policy(g, emergency), CURLFENCE_OK);
  curlfence_guard_free(g);
  curlfence_policy_unref(emergency);
}
END_TEST

static pthread_barrier_t go;

static void *unwatch_thread(void *arg)
{
  pthread_barrier_wait(&go);
  curlfence_guard_unwatch(arg);
  return NULL;
}

static void *watch_thread(void *arg)
{
  pthread_barrier_wait(&go);
  ck_assert_int_eq(curlfence_guard_watch(arg, 1), CURLFENCE_OK);
  return NULL;
}

/* Two unwatch calls at once each return with the watcher stopped (both
 * used to join the same thread and hang); a watch racing them starts a
 * new watcher only after the old one is gone. */
TU_TEST(tc_reload, test_unwatch_concurrent)
{
  curlfence_guard *g = guard_from_file(deny_rules);
  int i, rounds = tu_quick() ? 10 : 50;

  for(i = 0; i < rounds; i++) {
    pthread_t t[3];
    int j, n = i % 2 ? 3 : 2;

    ck_assert_int_eq(curlfence_guard_watch(g, 1), CURLFENCE_OK);
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, (unsigned)n), 0);
    for(j = 0; j < n; j++)
      ck_assert_int_eq(pthread_create(&t[j], NULL, j < 2 ? unwatch_thread
                                                         : watch_thread, g),
                       0);
    for(j = 0; j < n; j++)
      pthread_join(t[j], NULL);
    pthread_barrier_destroy(&go);
    if(n == 2)
      ck_assert_int_eq(g->watch.state, CF_WATCH_IDLE);
    else
      ck_assert_int_ne(g->watch.state, CF_WATCH_STOPPING);
  }
  curlfence_guard_free(g);
}
END_TEST
