/* SPDX-License-Identifier: MIT */
/*
 * hosts.c - decisions with a host name against decisions without one, on
 * the same policy: the shipped rules and 100,000 host rules, half of them
 * wildcards.  The addresses are public ones no address rule matches, so
 * every decision with a name asks the host rules (step 4 of the
 * precedence, docs/rules.md 5.2): a third of the names are exact rules, a
 * third lie below a wildcard, a third match nothing and are probed for
 * every suffix a wildcard could have.  Target: with a name <= 2x without,
 * for a program that talks to a thousand names (their entries cached, as
 * a program's own names are).  The target is measured on prepared names
 * (cf_hostprep): a connection's name is decided at least twice (open and
 * pre-request checks) and a program talks to few names, so the guards
 * keep each name prepared, with the index entries it hits, and a decision
 * only reads those entries; that is the "prepared name" line, which
 * carries PASS/MISS.  The full cost, each decision preparing its name
 * from the string (as curlfence_policy_decide_name() does), is printed
 * next to it, with no target.  The same
 * with every decision for another of 65,536 names is printed too: there
 * each name's slot and entry come from memory (two cache misses), which
 * no index of 100,000 names keeps in cache.  Under BENCH_CACHESIM (make
 * bench-misses) one pass each way is counted by callgrind instead of
 * timed: instructions per decision, steady where times on a shared
 * machine are not.
 */
#include "engine/engine.h"
#include "gen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#define NRULES 100000
#define NKEYS (1u << 16)
#define ROUNDS 8

typedef struct hkey {
  struct sockaddr_in sin;
  char name[64];
} hkey;

static volatile unsigned long sink;

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass over the keys through cf_decide, as a guard decides: without
 * a name (named 0), with the name as a string (1: key i takes the name of
 * key i % names), or with that name prepared (2: prep[i % names]). */
static double pass(const curlfence_policy *p, const hkey *k, int named,
                   size_t names, cf_hostprep *prep)
{
  unsigned long acc = 0;
  double t0 = now();

  for(size_t i = 0; i < NKEYS; i++) {
    cf_decision d;

    cf_dest_init(&d.dest, (const struct sockaddr *)&k[i].sin,
                 sizeof(k[i].sin));
    d.dest.host = named ? k[i % names].name : NULL;
    d.dest.prep = named == 2 ? &prep[i % names] : NULL;
    cf_decide(p, &d, 0);
    acc += d.action;
  }
  sink += acc;
  return now() - t0;
}

/* Under callgrind (BENCH_CACHESIM, bench/misses.sh): the instructions
 * and cache misses of one pass each way, which a loaded machine does not
 * blur; the untimed pass before each fills the model's caches. */
static void cachesim_hosts(const curlfence_policy *p, const hkey *k,
                           cf_hostprep *prep)
{
  static const char *const what[] = { "address only", "with a name",
                                      "with a prepared name" };
  char label[128];

  CALLGRIND_START_INSTRUMENTATION;
  for(int named = 0; named < 3; named++) {
    pass(p, k, named, 1024, prep);
    CALLGRIND_ZERO_STATS;
    pass(p, k, named, 1024, prep);
    snprintf(label, sizeof(label), "hosts %s decide lookups=%u",
             what[named], NKEYS);
    CALLGRIND_DUMP_STATS_AT(label);
  }
  CALLGRIND_STOP_INSTRUMENTATION;
}

int bench_hosts(void)
{
  size_t cap = (size_t)NRULES * 48 + 64, off;
  char *text = malloc(cap);
  hkey *k = calloc(NKEYS, sizeof(*k));
  cf_hostprep *prep = calloc(NKEYS, sizeof(*prep));
  uint64_t seed = 18;
  curlfence_policy *p = NULL;
  curlfence_error err;
  double best[3], ratio;

  if(!text || !k || !prep) {
    fprintf(stderr, "bench: out of memory\n");
    free(text);
    free(k);
    free(prep);
    return -1;
  }
  off = (size_t)snprintf(text, cap, "include rules/default.rules\n");
  for(size_t i = 0; i < NRULES; i++)
    off += (size_t)snprintf(text + off, cap - off,
                            i % 2 ? "allow host *.w%zu.example.test\n"
                                  : "allow host h%zu.example.test port 443\n",
                            i);
  if(curlfence_policy_load_string(&p, text, off, "hosts.rules", &err)) {
    fprintf(stderr, "bench: %s\n", err.text);
    free(text);
    free(k);
    free(prep);
    return -1;
  }
  for(size_t i = 0; i < NKEYS; i++) {
    uint32_t a = (uint32_t)rnd_next(&seed);
    size_t r = (size_t)(rnd_next(&seed) % NRULES);

    /* 11.0.0.0/8 .. 99.0.0.0/8 except 10/8 and 100.64/10: public */
    a = (a & 0x00ffffffu) | ((uint32_t)(11 + a % 89) << 24);
    k[i].sin.sin_family = AF_INET;
    k[i].sin.sin_port = htons(443);
    k[i].sin.sin_addr.s_addr = htonl(a);
    switch(i % 3) {
    case 0:
      snprintf(k[i].name, sizeof(k[i].name), "h%zu.example.test", r & ~1u);
      break;
    case 1:
      snprintf(k[i].name, sizeof(k[i].name), "api.w%zu.example.test", r | 1);
      break;
    default:
      snprintf(k[i].name, sizeof(k[i].name), "x%zu.other.example.test", r);
    }
  }
  for(size_t i = 0; i < NKEYS; i++)
    cf_hostprep_init(&prep[i], k[i].name);
  if(getenv("BENCH_CACHESIM"))
    cachesim_hosts(p, k, prep);
  for(int hot = 1; hot >= 0 && !getenv("BENCH_CACHESIM"); hot--) {
    size_t names = hot ? 1024 : NKEYS;

    best[0] = best[1] = best[2] = 1e30;
    for(int round = 0; round < ROUNDS; round++)
      for(int named = 0; named < 3; named++) {
        double t;

        pass(p, k, named, names, prep);
        t = pass(p, k, named, names, prep);
        best[named] = t < best[named] ? t : best[named];
      }
    ratio = best[2] / best[0];
    printf("hosts (default.rules + %d host rules, half wildcards, %zu names) "
           "decide ns: address only %6.1f  with a prepared name %6.1f  "
           "with a name, prepared each time %6.1f\n", NRULES, names,
           best[0] * 1e9 / NKEYS, best[2] * 1e9 / NKEYS,
           best[1] * 1e9 / NKEYS);
    if(hot)
      printf("  target with a prepared name <= 2x address only: %.2fx %s "
             "(preparing each time: %.2fx, no target)\n", ratio,
             ratio <= 2.0 ? "PASS" : "MISS", best[1] / best[0]);
    else
      printf("  every name another (memory-bound, no target): prepared "
             "%.2fx, preparing each time %.2fx\n", ratio,
             best[1] / best[0]);
  }
  fflush(stdout);
  curlfence_policy_unref(p);
  free(text);
  free(k);
  free(prep);
  return 0;
}
