/* SPDX-License-Identifier: MIT */
/*
 * bench/cli.c - the curlfence command on large inputs, as a user runs it.
 *
 *   diff:    two BGP-like 1M-rule IPv4 tables, the second with 1% of its
 *            rules changed (action flipped, or a port list added), timed
 *            as `curlfence diff OLD NEW > /dev/null`.  Target: < 5 s.
 *   check -: 1M addresses (half inside the table's prefixes, half
 *            random) on standard input, `curlfence check -r OLD -`.
 *            Target: >= 2M addresses/s after loading.  With valgrind,
 *            also the instructions per address (callgrind, the first
 *            CG_ADDRS lines against OLD compiled into an image, less
 *            the same run without them): the count does not move with
 *            the machine's load.
 *   report:  a 1 GB audit log (schema 3 lines as the library writes them,
 *            with 1 in 1000 spelled otherwise, which the reader hands to
 *            jansson), `curlfence report LOG`.  Target: >= 100 MB/s.
 *
 * Each command runs BENCH_CLI_RUNS times (default 3) and the fastest run
 * is reported, wall clock, including loading the rules.  Files go to
 * BENCH_DIR (default /tmp).  usage: bench-cli PATH-TO-curlfence
 */
#include "callgrind.h"
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
#define LOG_BYTES (1000ull * 1000 * 1000)
#define REPORT_TARGET_MBS 100.0
#define CG_ADDRS 100000

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

/* Instructions argv ran with stdin from in (callgrind), 0 when valgrind
 * could not count them. */
static unsigned long long instructions(char *const argv[], const char *in,
                                       const char *dir)
{
  char out[4200], opt[4300];
  char *vg[16];
  unsigned long long n = 0;
  posix_spawn_file_actions_t fa;
  int i = 0, st;
  pid_t pid;

  snprintf(out, sizeof(out), "%s/cf-bench-%d.cg", dir, (int)getpid());
  snprintf(opt, sizeof(opt), "--callgrind-out-file=%s", out);
  vg[i++] = "valgrind";
  vg[i++] = "--tool=callgrind";
  /* the tool runs check in curlfence-commands, its exec counted alike */
  vg[i++] = "--trace-children=yes";
  vg[i++] = opt;
  for(int k = 0; argv[k] && i < 15; k++)
    vg[i++] = argv[k];
  vg[i] = NULL;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if(!posix_spawnp(&pid, "valgrind", &fa, NULL, vg, environ) &&
     waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) < 2)
    n = bench_callgrind_totals(out);
  posix_spawn_file_actions_destroy(&fa);
  unlink(out);
  return n;
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

/* An audit log of about LOG_BYTES: mostly denials of 20k addresses on a
 * few ports by 50 rules from 200 processes, times increasing, each open
 * check of an allowed connection followed by its reused check.  Returns
 * its size, or 0 on error. */
static unsigned long long write_log(const char *path)
{
  static const char *const files[] = { "/etc/curlfence/default.rules",
                                       "/srv/app/app.rules" };
  static const unsigned ports[] = { 80, 443, 8080, 5432, 6379 };
  FILE *f = fopen(path, "w");
  unsigned long long size = 0, n = 0;
  uint64_t s = 7;
  uint8_t pool[20000][4];
  char line[1024];

  if(!f)
    return 0;
  for(size_t i = 0; i < 20000; i++)
    gen_addr_random(0, &s, pool[i]);
  while(size < LOG_BYTES) {
    uint64_t r = rnd_next(&s);
    const uint8_t *a = pool[r % 20000];
    int allow = (r >> 20) % 4 == 0, odd = n % 1000 == 999, len;
    unsigned rule = (unsigned)((r >> 24) % 50);
    char addr[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, a, addr, sizeof(addr));
    for(int check = 0; check < 1 + allow; check++, n++) {
      unsigned long long us = 1764000000000000ull + n * 997;
      time_t t = (time_t)(us / 1000000);
      struct tm tm;
      char when[32];

      gmtime_r(&t, &tm);
      strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
      if(odd)   /* keys in another order, as a hand-made line may have */
        len = snprintf(line, sizeof(line),
          "{\"decision\":\"%s\",\"v\":3,\"time\":\"%s.%06uZ\","
          "\"enforced\":%s,\"addr\":\"%s\",\"as\":null,\"port\":%u,"
          "\"family\":\"inet\",\"transport\":\"tcp\",\"socktype\":1,"
          "\"protocol\":6,\"check\":\"%s\",\"default\":false,"
          "\"reason\":\"rule\",\"rule\":{\"file\":\"%s\",\"line\":%u,"
          "\"text\":\"%s 192.0.2.%u\"},\"generation\":1,\"pid\":%u,"
          "\"lost\":0}\n", allow ? "allow" : "deny", when,
          (unsigned)(us % 1000000), (r >> 40) % 3 ? "true" : "false", addr,
          ports[(r >> 32) % 5], check ? "reused" : "open",
          files[rule % 2], 10 + rule, allow ? "allow" : "deny", rule,
          (unsigned)(1000 + (r >> 48) % 200));
      else
        len = snprintf(line, sizeof(line),
          "{\"v\":3,\"time\":\"%s.%06uZ\",\"decision\":\"%s\","
          "\"enforced\":%s,\"addr\":\"%s\",\"as\":null,\"port\":%u,"
          "\"family\":\"inet\",\"transport\":\"tcp\",\"socktype\":1,"
          "\"protocol\":6,\"check\":\"%s\",\"default\":false,"
          "\"reason\":\"rule\",\"rule\":{\"file\":\"%s\",\"line\":%u,"
          "\"text\":\"%s 192.0.2.%u\"},\"generation\":1,\"pid\":%u,"
          "\"lost\":0}\n", when, (unsigned)(us % 1000000),
          allow ? "allow" : "deny", (r >> 40) % 3 ? "true" : "false", addr,
          ports[(r >> 32) % 5], check ? "reused" : "open",
          files[rule % 2], 10 + rule, allow ? "allow" : "deny", rule,
          (unsigned)(1000 + (r >> 48) % 200));
      if(len < 0 || fwrite(line, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        return 0;
      }
      size += (unsigned long long)len;
    }
  }
  return fclose(f) ? 0 : size;
}

/* checksrc: allow LONGFUNC one measured step after another, each printed as
 * it runs: a script read top to bottom */
int main(int argc, char **argv)
{
  const char *dir = getenv("BENCH_DIR"), *r = getenv("BENCH_CLI_RUNS");
  char oldp[4096], newp[4096], addrp[4096], logp[4096], imgp[4096];
  char partp[4096];
  unsigned long long logsize;
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
  snprintf(imgp, sizeof(imgp), "%s/cf-bench-old.cfimg", dir);
  snprintf(partp, sizeof(partp), "%s/cf-bench-part.txt", dir);

  rules = gen_rules(GEN_BGP4, NRULES, 1);
  if(!rules || gen_write_file(oldp, rules, NRULES, 1)) {
    perror("writing the old table");
    return 1;
  }
  for(size_t i = 0; i < NRULES; i++)
    if(rnd_next(&s) % 100 == 0) {
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
      gen_addr_inside(&rules[rnd_next(&s) % NRULES], &s, a);
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
  {
    /* the first CG_ADDRS lines, and none, against the table's image */
    char *cav[] = { argv[1], "compile", oldp, "-o", imgp, NULL };
    char *av[] = { argv[1], "check", "-r", imgp, "-", NULL };
    unsigned long long with, none;
    FILE *in = fopen(addrp, "r"), *part = fopen(partp, "w");
    char line[64];
    int n = 0;

    while(in && part && n < CG_ADDRS && fgets(line, sizeof(line), in)) {
      fputs(line, part);
      n++;
    }
    if(in)
      fclose(in);
    status = -1;
    if(part && !fclose(part) && n == CG_ADDRS)
      run(cav, NULL, &status);
    if(status)
      puts("  instructions: the image or the addresses could not be made");
    else if((with = instructions(av, partp, dir)) &&
            (none = instructions(av, "/dev/null", dir)) && with > none)
      printf("  instructions per address (callgrind, %d addresses): %.0f\n",
             CG_ADDRS, (double)(with - none) / CG_ADDRS);
    else
      puts("  instructions: valgrind could not count them");
    unlink(partp);
    unlink(imgp);
  }
  unlink(oldp);
  unlink(newp);
  unlink(addrp);

  snprintf(logp, sizeof(logp), "%s/cf-bench-audit.jsonl", dir);
  if(!(logsize = write_log(logp))) {
    perror(logp);
    unlink(logp);
    return 1;
  }
  {
    char *av[] = { argv[1], "report", logp, NULL };
    t = best_of(runs, av, NULL, &status);
  }
  printf("curlfence report: a %.2f GB audit log, best of %d\n",
         logsize / 1e9, runs);
  printf("  %.3f s (exit %d), %.0f MB/s  target >= %.0f MB/s: %s\n", t,
         status, logsize / t / 1e6, REPORT_TARGET_MBS,
         status == 0 && logsize / t / 1e6 >= REPORT_TARGET_MBS ? "PASS"
                                                              : "MISS");
  unlink(logp);
  return 0;
}
