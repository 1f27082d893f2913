/* SPDX-License-Identifier: MIT */
/*
 * guard.c - the guard's check path: how decisions scale with threads, and
 * what the pre-request check costs against the open-socket check.
 *
 * Inputs: the shipped default rules (RULES-DIR/default.rules) and the
 * generated bgp4-100k table of bench.c (same seed; deny by default), each with
 * 4096 random IPv4 addresses.  The check is cf_guard_open(), what libcurl's
 * open-socket callback runs, with a chained open function that returns a dummy
 * descriptor, so no socket is made: deciding, counting and auditing (none set)
 * are all that is timed.
 *
 *   threads   decisions per second of 2 threads against 1 (each thread
 *             makes the same number of decisions), fastest of ROUNDS.  On a
 *             machine whose other work takes a core the wall figure cannot
 *             show it; the CPU figure (decisions per CPU second of each
 *             thread, times two) is what 2 free cores would do, and
 *             counters shared between the threads show in both.
 *   prereq    ns per pre-request check (numeric text from libcurl) against
 *             ns per open check of the same addresses, one thread.
 *
 *   bench-guard RULES-DIR
 */
#include "guard/guard.h"
#include "gen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 4096
/* smaller under valgrind: cc -DPER_THREAD=20000 -DROUNDS=1 */
#ifndef PER_THREAD
#define PER_THREAD 2000000
#endif
#ifndef ROUNDS
#define ROUNDS 5
#endif
#define SCALE_TARGET 1.8
#define PREREQ_TARGET 1.2

static double clock_s(clockid_t id)
{
  struct timespec ts;

  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *pf(int ok)
{
  return ok ? "PASS" : "MISS";
}

static curl_socket_t fake_open(void *data, curlsocktype purpose,
                               struct curl_sockaddr *a)
{
  (void)data;
  (void)purpose;
  (void)a;
  return 1000;
}

/* One per thread, each on cache lines of its own: a job's result written
 * next to the other thread's fields would be the very sharing this
 * benchmark looks for in the guard. */
typedef struct job {
  _Alignas(CF_CACHE_LINE) curlfence_guard *g;
  const struct curl_sockaddr *keys;
  unsigned long n, allowed;
  double cpu;
  pthread_barrier_t *start;
} job;

static void *run_open(void *arg)
{
  job *j = arg;
  cf_chain chain = { fake_open, NULL, NULL, NULL };
  curlfence_guard *g = j->g;
  const struct curl_sockaddr *keys = j->keys;
  unsigned long n = j->n, allowed = 0;
  double c0;

  pthread_barrier_wait(j->start);
  c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
  for(unsigned long i = 0; i < n; i++) {
    struct curl_sockaddr a = keys[i & (NKEYS - 1)];

    allowed += cf_guard_open(g, CURLSOCKTYPE_IPCXN, &a, 0, &chain, NULL) !=
               CURL_SOCKET_BAD;
  }
  j->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
  j->allowed = allowed;
  return NULL;
}

/* nthreads threads of PER_THREAD decisions each: wall seconds, the CPU
 * seconds per decision averaged over the threads in *cpu, and the share
 * of the wall time both threads ran at once in *together. */
static double round_of(curlfence_guard *g, const struct curl_sockaddr *keys,
                       int nthreads, double *cpu, double *together)
{
  double sum = 0;
  pthread_barrier_t start;
  pthread_t t[2];
  job j[2];
  double w0, wall;
  int i;

  pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
  for(i = 0; i < nthreads; i++) {
    j[i] = (job){ g, keys, PER_THREAD, 0, 0, &start };
    pthread_create(&t[i], NULL, run_open, &j[i]);
  }
  w0 = clock_s(CLOCK_MONOTONIC);
  pthread_barrier_wait(&start);
  *cpu = 0;
  for(i = 0; i < nthreads; i++) {
    pthread_join(t[i], NULL);
    *cpu += j[i].cpu / PER_THREAD / nthreads;
    sum += j[i].cpu;
  }
  wall = clock_s(CLOCK_MONOTONIC) - w0;
  *together = sum > wall ? (sum - wall) / wall : 0;
  pthread_barrier_destroy(&start);
  return wall;
}

static void keys_random(struct curl_sockaddr *k, char (*text)[16],
                        uint64_t seed)
{
  uint64_t s = seed;

  memset(k, 0, NKEYS * sizeof(*k));
  for(unsigned i = 0; i < NKEYS; i++) {
    struct sockaddr_in *in = (struct sockaddr_in *)&k[i].addr;

    k[i].family = AF_INET;
    k[i].socktype = SOCK_STREAM;
    k[i].protocol = IPPROTO_TCP;
    k[i].addrlen = sizeof(*in);
    in->sin_family = AF_INET;
    in->sin_port = htons(443);
    gen_addr_random(0, &s, (uint8_t *)&in->sin_addr);
    inet_ntop(AF_INET, &in->sin_addr, text[i], 16);
  }
}

static int threads(const char *name, curlfence_policy *p,
                   const struct curl_sockaddr *keys)
{
  double w1 = 1e9, w2 = 1e9, c1 = 1e9, c2 = 1e9, w, c, o, best = 0;
  curlfence_guard *g;
  curlfence_stats st;
  int r, ok;

  if(curlfence_guard_new(&g, p))
    return 1;
  for(r = 0; r < ROUNDS; r++) {
    /* alternate, so drift in the machine's load falls on both */
    w = round_of(g, keys, 1, &c, &o);
    w1 = w < w1 ? w : w1;
    c1 = c < c1 ? c : c1;
    w = round_of(g, keys, 2, &c, &o);
    w2 = w < w2 ? w : w2;
    c2 = c < c2 ? c : c2;
    best = o > best ? o : best;
  }
  curlfence_guard_stats(g, &st);
  ok = st.allowed + st.denied == (uint64_t)ROUNDS * 3 * PER_THREAD;
  printf("  %-12s ns per decision: 1 thread %.1f wall, %.1f CPU; 2 threads "
         "%.1f wall, %.1f CPU in each\n", name, w1 * 1e9 / PER_THREAD,
         c1 * 1e9, w2 * 1e9 / (2.0 * PER_THREAD), c2 * 1e9);
  /* below about 90%, other work held a core: the wall figure then
   * measures the machine, and only the CPU figure the guard */
  printf("  %-12s the 2 threads ran at the same time for at most %.0f%% of "
         "a round\n", name, best * 100);
  printf("  %-12s 2 threads against 1: %.2fx wall (target >= %.1f: %s), "
         "%.2fx CPU (target >= %.1f: %s)%s\n", name, 2 * w1 / w2,
         SCALE_TARGET, pf(2 * w1 / w2 >= SCALE_TARGET), 2 * c1 / c2,
         SCALE_TARGET, pf(2 * c1 / c2 >= SCALE_TARGET),
         ok ? "" : "; COUNTS WRONG");
  curlfence_guard_free(g);
  return !ok;
}

static void prereq(curlfence_policy *p, const struct curl_sockaddr *keys,
                   char (*text)[16])
{
  cf_chain chain = { fake_open, NULL, NULL, NULL };
  double t0, topen = 1e9, tpre = 1e9, t;
  curlfence_guard *g;
  unsigned long n = 0;

  if(curlfence_guard_new(&g, p))
    return;
  for(int r = 0; r < ROUNDS; r++) {
    t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for(unsigned long i = 0; i < PER_THREAD; i++) {
      struct curl_sockaddr a = keys[i & (NKEYS - 1)];

      n += cf_guard_open(g, CURLSOCKTYPE_IPCXN, &a, 0, &chain, NULL) !=
           CURL_SOCKET_BAD;
    }
    t = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    topen = t < topen ? t : topen;
    t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for(unsigned long i = 0; i < PER_THREAD; i++)
      n += cf_guard_prereq(g, text[i & (NKEYS - 1)], "10.0.0.2", 443, 40000,
                           0, NULL) == CURL_PREREQFUNC_OK;
    t = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    tpre = t < tpre ? t : tpre;
  }
  printf("  default      open check %.1f ns, pre-request check %.1f ns: "
         "%.2fx (target <= %.1f: %s)\n", topen * 1e9 / PER_THREAD,
         tpre * 1e9 / PER_THREAD, tpre / topen, PREREQ_TARGET,
         pf(tpre / topen <= PREREQ_TARGET));
  if(n == 1)
    puts("");   /* keeps n alive */
  curlfence_guard_free(g);
}

int main(int argc, char **argv)
{
  static struct curl_sockaddr keys[NKEYS];
  static char text[NKEYS][16];
  char path[4096], gen[64];
  curlfence_policy *p;
  curlfence_error err;
  gen_rule *r;
  int bad = 0;

  if(argc != 2) {
    fputs("usage: bench-guard RULES-DIR\n", stderr);
    return 2;
  }
  keys_random(keys, text, 7);
  printf("guard check path (cf_guard_open, no socket), %d decisions per "
         "thread, fastest of %d; 4096 random IPv4 keys\n", PER_THREAD,
         ROUNDS);
  snprintf(path, sizeof(path), "%s/default.rules", argv[1]);
  if(curlfence_policy_load_file(&p, path, &err)) {
    fprintf(stderr, "bench-guard: %s: %s\n", path, err.message);
    return 1;
  }
  bad |= threads("default", p, keys);
  prereq(p, keys, text);
  curlfence_policy_unref(p);
  r = gen_rules(GEN_BGP4, 100000, 0xc0ffee ^ 100000);
  snprintf(gen, sizeof(gen), "/tmp/curlfence-bench-guard-%d.rules",
           (int)getpid());
  if(!r || gen_write_file(gen, r, 100000, 0) ||
     curlfence_policy_load_file(&p, gen, &err)) {
    fprintf(stderr, "bench-guard: bgp4-100k: cannot load\n");
    unlink(gen);
    return 1;
  }
  unlink(gen);
  free(r);
  bad |= threads("bgp4-100k", p, keys);
  curlfence_policy_unref(p);
  return bad;
}
