/* SPDX-License-Identifier: MIT */
/*
 * Start-up cost of the preload library: wall time of RUNS sequential runs
 * of `curl -s -o /dev/null http://127.0.0.2:PORT/` against a loopback
 * server, without and with LD_PRELOAD=libcurlfence-preload.so and the
 * shipped default rules (plus one line allowing the server, which they
 * deny as loopback).  The two kinds of run take turns, the order flipping
 * each round, so drift in the machine's load falls on both alike; the
 * ratio of the totals is the figure, checked against the target.  Given
 * the curlfence tool, the same rules are also compiled into an image and
 * a third kind of run loads that (what the preload does with the shipped
 * default rules and their installed image), and a fourth is `curlfence
 * run -r IMAGE -- curl ...` (the tool's own start before the exec, then
 * the preload's); the kinds rotate.
 *
 * With valgrind installed, the same commands are also counted in
 * instructions (callgrind, once each: the count barely moves between
 * runs, unlike the time on a shared machine).  `curlfence run` is counted
 * up to its exec of curl, and curl under the preload after it.
 *
 *   preload-start PRELOAD RULES-DIR [RUNS [CURLFENCE-TOOL]]
 */
#include "../test/httpd.h"
#include "callgrind.h"

#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TARGET 1.03
/* curlfence run with the image against curl alone */
#define RUN_TARGET 1.06
/* instructions: the preload with the image against curl alone */
#define IR_TARGET 1.035
#define KINDS 4

extern char **environ;

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds one run of argv took, or -1 when it did not exit 0; *cpu gets
 * the CPU time (user + system) the run used. */
static double timed(char *const *argv, char **env, double *cpu)
{
  double t0 = now();
  struct rusage ru;
  pid_t pid;
  int st;

  if(posix_spawnp(&pid, argv[0], NULL, NULL, argv, env) ||
     wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
    return -1;
  *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return now() - t0;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static const char *const kind_name[KINDS] = {
  "without preload", "with preload, rules text", "with preload, image",
  "with preload, curlfence run"
};

/* Instructions argv ran (callgrind), 0 when valgrind could not count them.
 * With before_exec, only those up to the program's exec (the file
 * callgrind writes then is the last one). */
static unsigned long long instructions(char *const *argv, char **env,
                                       int before_exec)
{
  char out[64], opt[96], file[96];
  char *vg[32];
  unsigned long long n = 0;
  posix_spawn_file_actions_t fa;
  int i = 0, k, st;
  pid_t pid;

  snprintf(out, sizeof(out), "/tmp/curlfence-bench-%d.cg", (int)getpid());
  snprintf(opt, sizeof(opt), "--callgrind-out-file=%s", out);
  vg[i++] = "valgrind";
  vg[i++] = "--tool=callgrind";
  vg[i++] = opt;
  if(before_exec)
    vg[i++] = "--dump-before=execv";
  for(k = 0; argv[k] && i < 31; k++)
    vg[i++] = argv[k];
  vg[i] = NULL;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  k = posix_spawnp(&pid, "valgrind", &fa, NULL, vg, env);
  posix_spawn_file_actions_destroy(&fa);
  if(k || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
    n = 0;
  else {
    snprintf(file, sizeof(file), "%s%s", out, before_exec ? ".1" : "");
    n = bench_callgrind_totals(file);
  }
  unlink(out);
  snprintf(file, sizeof(file), "%s.1", out);
  unlink(file);
  return n;
}

/* Compile rules into img with the curlfence tool; 0 when written. */
static int compile(const char *tool, const char *rules, const char *img,
                   char **env)
{
  char *argv[] = { (char *)tool, "compile", (char *)rules, "-o", (char *)img,
                   NULL };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int st = -1, rc;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  rc = posix_spawn(&pid, tool, &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  if(rc || waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* checksrc: allow LONGFUNC one measured step after another, each printed as
 * it runs: a script read top to bottom */
int main(int argc, char **argv)
{
  char url[64], rules[PATH_MAX], img[PATH_MAX], pre[PATH_MAX + 16];
  char var[2][PATH_MAX + 32], tpre[PATH_MAX + 32];
  char *env[KINDS][68];
  char *curl[] = { "curl", "-s", "-o", "/dev/null", url, NULL };
  char *run[] = { argc > 4 ? argv[4] : "", "run", "-r", img, "--", "curl",
                  "-s", "-o", "/dev/null", url, NULL };
  char *const *cmd[KINDS] = { curl, curl, curl, run };
  double total[KINDS] = { 0 }, cpu[KINDS] = { 0 }, c, *pair[KINDS];
  unsigned long long ir[3];
  th_server *srv;
  FILE *f;
  int runs = argc > 3 ? atoi(argv[3]) : 200, i, j, n = 0;
  int kinds = argc > 4 ? KINDS : 2;

  if(argc < 3 || runs < 1) {
    fputs("usage: preload-start PRELOAD RULES-DIR [RUNS [CURLFENCE-TOOL]]\n",
          stderr);
    return 2;
  }
  srv = th_start("127.0.0.2", "bench");
  if(!srv)
    return 2;
  snprintf(url, sizeof(url), "http://127.0.0.2:%u/", th_port(srv));
  snprintf(rules, sizeof(rules), "/tmp/curlfence-bench-%d.rules",
           (int)getpid());
  snprintf(img, sizeof(img), "/tmp/curlfence-bench-%d.cfimg", (int)getpid());
  f = fopen(rules, "w");
  if(!f)
    return 2;
  fprintf(f, "include %s/default.rules\nallow 127.0.0.2 port %u\n",
          argv[2], th_port(srv));
  fclose(f);
  for(i = 0; environ[i] && n < 62; i++)
    if(strncmp(environ[i], "LD_PRELOAD=", 11) &&
       strncmp(environ[i], "CURLFENCE_", 10))
      env[0][n] = env[1][n] = env[2][n] = env[3][n] = environ[i], n++;
  env[0][n] = NULL;
  /* run finds the preload library measured here */
  snprintf(tpre, sizeof(tpre), "CURLFENCE_PRELOAD=%s", argv[1]);
  env[3][n] = tpre;
  env[3][n + 1] = NULL;
  snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", argv[1]);
  snprintf(var[0], sizeof(var[0]), "CURLFENCE_RULES=%s", rules);
  snprintf(var[1], sizeof(var[1]), "CURLFENCE_RULES=%s", img);
  for(j = 1; j < 3; j++) {
    env[j][n] = pre;
    env[j][n + 1] = var[j - 1];
    env[j][n + 2] = NULL;
  }
  if(kinds > 2 && compile(argv[4], rules, img, env[0])) {
    fprintf(stderr, "preload-start: %s compile %s failed\n", argv[4], rules);
    return 1;
  }
  for(j = 0; j < KINDS; j++)
    pair[j] = calloc((size_t)runs, sizeof(double));
  /* One of each first, untimed: the page cache and the server warm up. */
  for(j = 0; j < kinds; j++)
    if(!pair[j] || timed(cmd[j], env[j], &c) < 0) {
      fprintf(stderr, "preload-start: curl %s failed\n", url);
      return 1;
    }
  for(i = 0; i < runs; i++) {
    double t[KINDS];

    /* the order rotates each round */
    for(j = 0; j < kinds; j++) {
      int k = (i + j) % kinds;
      double ck;
      t[k] = timed(cmd[k], env[k], &ck);
      if(t[k] < 0) {
        fprintf(stderr, "preload-start: curl %s failed\n", url);
        return 1;
      }
      total[k] += t[k];
      cpu[k] += ck;
    }
    for(j = 1; j < kinds; j++)
      pair[j][i] = t[j] / t[0];
  }
  printf("preload start-up: %d sequential `curl -s -o /dev/null %s` runs "
         "each, interleaved; rules %s/default.rules + 1 allow line%s\n",
         runs, url, argv[2], kinds > 2 ? ", as text and as an image" : "");
  for(j = 0; j < kinds; j++)
    printf("  %-26s %8.1f ms wall (%.2f ms/run), CPU %.1f ms\n",
           kind_name[j], total[j] * 1e3, total[j] * 1e3 / runs,
           cpu[j] * 1e3);
  /* The verdict is on wall time, as the target says; the median and the
   * CPU ratio show how much of it is noise on a busy machine. */
  for(j = 1; j < kinds; j++) {
    double target = j == 3 ? RUN_TARGET : TARGET;

    qsort(pair[j], (size_t)runs, sizeof(double), cmp);
    printf("  %s: wall ratio %.3f (median of per-round ratios %.3f), CPU "
           "ratio %.3f; target wall <= %.2f: %s\n", kind_name[j] + 14,
           total[j] / total[0], pair[j][runs / 2], cpu[j] / cpu[0], target,
           total[j] / total[0] <= target ? "PASS" : "MISS");
  }
  if(kinds > 2) {
    ir[0] = instructions(curl, env[0], 0);
    ir[1] = instructions(curl, env[2], 0);
    ir[2] = instructions(run, env[3], 1);
    if(ir[0] && ir[1] && ir[2]) {
      printf("  instructions (callgrind): curl %llu, with preload and image "
             "%llu, curlfence run before its exec %llu\n", ir[0], ir[1],
             ir[2]);
      printf("  with preload, image: %.4fx curl's instructions (target <= "
             "%.3f: %s)\n", (double)ir[1] / ir[0], IR_TARGET,
             (double)ir[1] / ir[0] <= IR_TARGET ? "PASS" : "MISS");
      printf("  curlfence run: %.4fx curl's instructions (target <= %.2f: "
             "%s)\n", (double)(ir[1] + ir[2]) / ir[0], RUN_TARGET,
             (double)(ir[1] + ir[2]) / ir[0] <= RUN_TARGET ? "PASS" : "MISS");
    }
    else
      puts("  instructions: valgrind could not count them");
  }
  for(j = 0; j < KINDS; j++)
    free(pair[j]);
  unlink(rules);
  unlink(img);
  th_stop(srv);
  return 0;
}
