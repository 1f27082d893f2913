/* SPDX-License-Identifier: MIT */
/*
 * bench/cli.c - the curlfence command on large inputs, as a user runs it.
 *
 *   diff:    two BGP-like 1M-rule IPv4 tables, the second with 1% of its
 *            rules changed (action flipped, or a port list added), timed
 *            as `curlfence diff OLD NEW > /dev/null`.  Target: < 5 s.
 *   check -: 1M addresses (half inside the table's prefixes, half
 *            random) on standard input, `curlfence check -r OLD -`.
 *
 * Each command runs BENCH_CLI_RUNS times (default 3) and the fastest run
 * is reported, wall clock, including loading the rules.  Files go to
 * BENCH_DIR (default /tmp).  usage: bench-cli PATH-TO-curlfence
 */
#include "gen.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NRULES 1000000
#define NADDRS 1000000
#define DIFF_TARGET_S 5.0

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run argv with stdin from in (NULL: /dev/null), stdout to /dev/null;
 * returns the wall time, and the exit status in *status. */
static double run(char *const argv[], const char *in, int *status)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  double t0;
  int ws;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null", O_RDONLY,
                                   0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  t0 = now();
  if(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)) {
    perror(argv[0]);
    exit(1);
  }
  waitpid(pid, &ws, 0);
  t0 = now() - t0;
  posix_spawn_file_actions_destroy(&fa);
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
  return t0;
}

static double best_of(int runs, char *const argv[], const char *in,
                      int *status)
{
  double best = 1e30;

  for(int i = 0; i < runs; i++) {
    double t = run(argv, in, status);
    if(t < best)
      best = t;
  }
  return best;
}

int main(int argc, char **argv)
{
  const char *dir = getenv("BENCH_DIR"), *r = getenv("BENCH_CLI_RUNS");
  char oldp[4096], newp[4096], addrp[4096];
  int runs = r ? atoi(r) : 3, status, changed = 0;
  uint64_t s = 42;
  gen_rule *rules;
  FILE *f;
  double t;

  if(argc != 2) {
    fputs("usage: bench-cli PATH-TO-curlfence\n", stderr);
    return 2;
  }
  if(!dir || !*dir)
    dir = "/tmp";
  if(runs < 1)
    runs = 1;
  snprintf(oldp, sizeof(oldp), "%s/cf-bench-old.rules", dir);
  snprintf(newp, sizeof(newp), "%s/cf-bench-new.rules", dir);
  snprintf(addrp, sizeof(addrp), "%s/cf-bench-addrs.txt", dir);

  rules = gen_rules(GEN_BGP4, NRULES, 1);
  if(!rules || gen_write_file(oldp, rules, NRULES, 1)) {
    perror("writing the old table");
    return 1;
  }
  for(size_t i = 0; i < NRULES; i++)
    if(gen_rand(&s) % 100 == 0) {
      if(changed++ % 2)
        rules[i].allow = !rules[i].allow;
      else
        rules[i].port = rules[i].port ? 0 : 443;
    }
  if(gen_write_file(newp, rules, NRULES, 1)) {
    perror("writing the new table");
    return 1;
  }
  f = fopen(addrp, "w");
  if(!f) {
    perror(addrp);
    return 1;
  }
  for(size_t i = 0; i < NADDRS; i++) {
    uint8_t a[16];
    char text[INET_ADDRSTRLEN];

    if(i % 2)
      gen_addr_inside(&rules[gen_rand(&s) % NRULES], &s, a);
    else
      gen_addr_random(0, &s, a);
    inet_ntop(AF_INET, a, text, sizeof(text));
    fprintf(f, "%s %u\n", text, (unsigned)(i % 3 ? 443 : 80));
  }
  if(fclose(f)) {
    perror(addrp);
    return 1;
  }
  free(rules);

  printf("curlfence diff: two %d-rule BGP-like IPv4 tables, %d rules "
         "changed (%.1f%%), best of %d\n", NRULES, changed,
         100.0 * changed / NRULES, runs);
  {
    char *av[] = { argv[1], "diff", oldp, newp, NULL };
    t = best_of(runs, av, NULL, &status);
  }
  printf("  %.3f s (exit %d)  target < %.1f s: %s\n", t, status,
         DIFF_TARGET_S, status == 1 && t < DIFF_TARGET_S ? "PASS" : "MISS");
  {
    char *av[] = { argv[1], "check", "-r", oldp, "-", NULL };
    t = best_of(runs, av, addrp, &status);
  }
  printf("curlfence check -: %d addresses with ports on standard input, "
         "against the old table, best of %d\n", NADDRS, runs);
  printf("  %.3f s (exit %d), %.2f M addresses/s, rules load included\n",
         t, status, NADDRS / t / 1e6);
  {
    char *av[] = { argv[1], "check", "-r", oldp, "1.2.3.4", NULL };
    double load = best_of(runs, av, NULL, &status);
    double rate = NADDRS / (t - load);
    printf("  of which loading the table (one address): %.3f s; per "
           "address after it: %.0f ns\n", load, (t - load) / NADDRS * 1e9);
    printf("  after loading: %.2f M addresses/s  target >= 2 M/s: %s\n",
           rate / 1e6, rate >= 2e6 ? "PASS" : "MISS");
  }
  unlink(oldp);
  unlink(newp);
  unlink(addrp);
  return 0;
}
