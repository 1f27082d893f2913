/* SPDX-License-Identifier: MIT */
/*
 * image.c - compiled images against rules text: load time, memory shared
 * between processes, decision speed, and the peak RSS of a text load.
 *
 * Inputs: the generated BGP-like IPv4 tables of bench.c (bgp4-100k and
 * bgp4-1M, same seeds), written as rules files and compiled into images in
 * BENCH_DIR (default /tmp).  Every figure is a ratio of two things
 * measured in this run, printed with its target and PASS or MISS:
 *
 *   load      image load (mapping, checksum, bounds checks, fastest of 5)
 *             against text load (parse + compile, fastest of 2), 1M rules;
 *             and the 100k image load in milliseconds
 *   memory    20 processes that each load the same 1M image and decide in
 *             a loop: the sum of their PSS (/proc/PID/smaps_rollup)
 *             against one table plus 20 per-process baselines (the same
 *             program with a 10-rule image); and the PSS of text loads
 *   decide    ns per curlfence_policy_decide() on the mapped image against
 *             the same policy loaded from text, random and inside keys
 *   peak RSS  of a 1M text load, per rule, in a fresh process
 *
 * The processes are this program run again (argument "child"), so each
 * starts with nothing shared but the image and the libraries.  With the
 * argument "load" only the load figures are measured, and the files stay
 * in BENCH_DIR.
 */
#include "engine/engine.h"
#include "gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024.0 * 1024.0)
#define NPROC 20
#define NKEYS (1u << 20)

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *pf(int ok)
{
  return ok ? "PASS" : "MISS";
}

static volatile unsigned long sink;

static struct sockaddr_in *keys4(const gen_rule *r, size_t n, int inside,
                                 uint64_t seed)
{
  struct sockaddr_in *k = calloc(NKEYS, sizeof *k);
  uint64_t s = seed;
  uint8_t a[16];
  if(!k)
    return NULL;
  for(size_t i = 0; i < NKEYS; i++) {
    if(inside && n)
      gen_addr_inside(&r[rnd_next(&s) % n], &s, a);
    else
      gen_addr_random(0, &s, a);
    k[i].sin_family = AF_INET;
    k[i].sin_port = htons((uint16_t)((i & 1) ? 443 : 80));
    memcpy(&k[i].sin_addr, a, 4);
  }
  return k;
}

static double pass(const curlfence_policy *p, const struct sockaddr_in *k)
{
  unsigned long acc = 0;
  double t0 = now();
  for(size_t i = 0; i < NKEYS; i++)
    acc += curlfence_policy_decide(p, (const struct sockaddr *)&k[i],
                                   sizeof k[i], NULL);
  sink += acc;
  return now() - t0;
}

/* Fastest of several alternating passes, ns per decision, for a and b. */
static void race(const curlfence_policy *a, const curlfence_policy *b,
                 const struct sockaddr_in *k, double *na, double *nb)
{
  *na = *nb = 1e30;
  for(int round = 0; round < 5; round++) {
    double t;
    pass(a, k);
    t = pass(a, k);
    *na = t < *na ? t : *na;
    pass(b, k);
    t = pass(b, k);
    *nb = t < *nb ? t : *nb;
  }
  *na *= 1e9 / NKEYS;
  *nb *= 1e9 / NKEYS;
}

static double load_time(const char *path, int times)
{
  double best = 1e30;
  for(int i = 0; i < times; i++) {
    curlfence_policy *p = NULL;
    curlfence_error err;
    double t0 = now(), t;
    if(curlfence_policy_load_file(&p, path, &err)) {
      fprintf(stderr, "bench-image: %s\n", err.text);
      exit(1);
    }
    t = now() - t0;
    best = t < best ? t : best;
    curlfence_policy_unref(p);
  }
  return best;
}

/* ------------------------------------------------------ child process */

/* Load path, decide over random keys for a while, say "ready" on stdout,
 * then wait for stdin to close.  With "peak" instead: print the peak RSS
 * growth of the load and exit. */
static int child(const char *what, const char *path)
{
  size_t rss0 = gen_proc_kb("/proc/self/status", "VmRSS");
  curlfence_policy *p = NULL;
  curlfence_error err;
  char c;
  if(curlfence_policy_load_file(&p, path, &err)) {
    fprintf(stderr, "bench-image child: %s\n", err.text);
    return 1;
  }
  if(!strcmp(what, "peak")) {
    size_t hwm = gen_proc_kb("/proc/self/status", "VmHWM");
    printf("%zu %zu\n", hwm - rss0, curlfence_policy_rule_count(p));
    curlfence_policy_unref(p);
    return 0;
  }
  {
    struct sockaddr_in *k = keys4(NULL, 0, 0, 7);
    if(!k)
      return 1;
    for(int i = 0; i < 3; i++)
      pass(p, k);
    free(k);
  }
  printf("ready\n");
  fflush(stdout);
  while(read(0, &c, 1) > 0)
    ;
  curlfence_policy_unref(p);
  return 0;
}

typedef struct kid {
  pid_t pid;
  int in, out;   /* our ends: its stdin, its stdout */
} kid;

static int spawn(kid *k, const char *what, const char *path)
{
  int a[2], b[2];
  if(pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC))
    return -1;
  k->pid = fork();
  if(k->pid < 0)
    return -1;
  if(k->pid == 0) {
    dup2(a[0], 0);
    dup2(b[1], 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    execl("/proc/self/exe", "bench-image", "child", what, path, (char *)NULL);
    _exit(127);
  }
  close(a[0]);
  close(b[1]);
  k->in = a[1];
  k->out = b[0];
  return 0;
}

/* n processes holding path; the sum of their PSS, bytes.  0 on failure.
 * *anon gets the sum of their anonymous PSS. */
static size_t total_pss(int n, const char *path, size_t *anon)
{
  kid k[NPROC];
  size_t sum = 0;
  int ok = 1;
  for(int i = 0; i < n; i++)
    if(spawn(&k[i], "hold", path))
      return 0;
  for(int i = 0; i < n; i++) {
    char buf[16] = "";
    ssize_t got = read(k[i].out, buf, sizeof buf - 1);
    ok &= got > 0 && !strncmp(buf, "ready", 5);
  }
  for(int i = 0; ok && i < n; i++) {
    char file[64];
    snprintf(file, sizeof file, "/proc/%d/smaps_rollup", (int)k[i].pid);
    sum += gen_proc_kb(file, "Pss");
    *anon += gen_proc_kb(file, "Pss_Anon");
  }
  for(int i = 0; i < n; i++) {
    close(k[i].in);
    close(k[i].out);
    waitpid(k[i].pid, NULL, 0);
  }
  return ok ? sum : 0;
}

/* Peak RSS growth of loading path in a fresh process, and its rules. */
static size_t text_peak(const char *path, size_t *rules)
{
  kid k;
  char buf[64] = "";
  size_t peak = 0;
  ssize_t got;
  if(spawn(&k, "peak", path))
    return 0;
  close(k.in);
  got = read(k.out, buf, sizeof buf - 1);
  if(got > 0)
    sscanf(buf, "%zu %zu", &peak, rules);
  close(k.out);
  waitpid(k.pid, NULL, 0);
  return peak;
}

/* ------------------------------------------------------------- cases */

/* Write rules of kind/n as dir/name.rules and its image dir/name.cfimg;
 * the text policy stays loaded in *text when asked. */
static int prepare(const char *dir, const char *name, gen_kind kind, size_t n,
                   char *rules, char *image, curlfence_policy **text,
                   gen_rule **out_rules)
{
  gen_rule *r = gen_rules(kind, n, 0xc0ffee ^ (uint64_t)n ^
                                       ((uint64_t)kind << 40));
  curlfence_policy *p = NULL;
  curlfence_error err;
  snprintf(rules, 1024, "%s/curlfence-bench-%s.rules", dir, name);
  snprintf(image, 1024, "%s/curlfence-bench-%s.cfimg", dir, name);
  if(!r || gen_write_file(rules, r, n, kind == GEN_POLICY)) {
    fprintf(stderr, "bench-image: %s: %s\n", rules, strerror(errno));
    return -1;
  }
  if(curlfence_policy_load_file(&p, rules, &err) ||
     curlfence_policy_save_image(p, image, &err)) {
    fprintf(stderr, "bench-image: %s\n", err.text);
    return -1;
  }
  if(text)
    *text = p;
  else
    curlfence_policy_unref(p);
  if(out_rules)
    *out_rules = r;
  else
    free(r);
  return 0;
}

/* checksrc: allow LONGFUNC one measured step after another, each printed as
 * it runs: a script read top to bottom */
int main(int argc, char **argv)
{
  const char *dir = getenv("BENCH_DIR");
  int load_only;
  char r1m[1024], i1m[1024], r100k[1024], i100k[1024], r10[1024], i10[1024];
  curlfence_policy *text = NULL, *img = NULL;
  curlfence_error err;
  gen_rule *rules = NULL;
  double t_text, t_img, t_100k, ratio;
  size_t tsize, pss_img, pss_base, pss_text, peak, nrules = 0;
  size_t anon_base = 0, anon_img = 0, anon_text = 0;

  if(argc == 4 && !strcmp(argv[1], "child"))
    return child(argv[2], argv[3]);
  if(argc == 2 && !strcmp(argv[1], "memory")) {
    /* only the memory figure, for the images left by a previous run */
    size_t a = 0;
    printf("%zu\n", total_pss(NPROC, getenv("BENCH_IMAGE"), &a));
    return 0;
  }
  if(!dir || !*dir)
    dir = "/tmp";
  load_only = argc == 2 && !strcmp(argv[1], "load");
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if(prepare(dir, "bgp4-1M", GEN_BGP4, 1000000, r1m, i1m, &text, &rules) ||
     prepare(dir, "bgp4-100k", GEN_BGP4, 100000, r100k, i100k, NULL,
             NULL) ||
     prepare(dir, "policy-10", GEN_POLICY, 10, r10, i10, NULL, NULL))
    return 1;
  tsize = cf_table_memory(text->table);

  /* load */
  t_text = load_time(r1m, 2);
  t_img = load_time(i1m, 5);
  t_100k = load_time(i100k, 5);
  ratio = t_img / t_text;
  printf("image bgp4-1M: text load %.3f s, image load %.2f ms: ratio 1/%.0f "
         "%s (target <= 1/30)\n", t_text, t_img * 1e3, 1 / ratio,
         pf(ratio <= 1.0 / 30));
  printf("image bgp4-100k: image load %.3f ms %s (target <= 2 ms)\n",
         t_100k * 1e3, pf(t_100k <= 0.002));
  if(load_only) {
    /* make bench-image-load: the image files stay for a profiler */
    curlfence_policy_unref(text);
    free(rules);
    return 0;
  }

  /* decisions */
  if(curlfence_policy_load_file(&img, i1m, &err)) {
    fprintf(stderr, "bench-image: %s\n", err.text);
    return 1;
  }
  {
    struct sockaddr_in *kr = keys4(rules, 1000000, 0, 1);
    struct sockaddr_in *ki = keys4(rules, 1000000, 1, 2);
    double tr, ir, tin, iin;
    if(!kr || !ki)
      return 1;
    race(text, img, kr, &tr, &ir);
    race(text, img, ki, &tin, &iin);
    printf("image bgp4-1M decide ns: text random %.1f inside %.1f, image "
           "random %.1f inside %.1f: image/text %.3f %s, %.3f %s (target "
           "<= 1.05)\n", tr, tin, ir, iin, ir / tr, pf(ir / tr <= 1.05),
           iin / tin, pf(iin / tin <= 1.05));
    free(kr);
    free(ki);
  }
  curlfence_policy_unref(img);
  curlfence_policy_unref(text);
  free(rules);

  /* memory */
  pss_base = total_pss(NPROC, i10, &anon_base);
  pss_img = total_pss(NPROC, i1m, &anon_img);
  pss_text = total_pss(2, r1m, &anon_text);
  if(!pss_base || !pss_img || !pss_text) {
    fprintf(stderr, "bench-image: a child process failed\n");
    return 1;
  }
  {
    double base = (double)pss_base / NPROC;
    double limit = 1.3 * (double)tsize + NPROC * base;
    double text20 = (double)pss_text / 2 * NPROC;
    printf("image bgp4-1M memory, %d processes: total PSS %.1f MiB, limit "
           "1.3 x table %.1f MiB + %d x baseline %.1f MiB = %.1f MiB %s; "
           "text loads: %.1f MiB each, %.0f MiB for %d (x%.1f)\n",
           NPROC, (double)pss_img / MiB, (double)tsize / MiB, NPROC,
           base / MiB, limit / MiB, pf((double)pss_img <= limit),
           (double)pss_text / 2 / MiB, text20 / MiB, NPROC,
           text20 / (double)pss_img);
    printf("  anonymous PSS per process: baseline %.2f MiB, image %.2f MiB, "
           "text %.2f MiB\n", (double)anon_base / NPROC / MiB,
           (double)anon_img / NPROC / MiB, (double)anon_text / 2 / MiB);
  }

  /* peak RSS of a text load */
  peak = text_peak(r1m, &nrules);
  printf("text bgp4-1M: peak RSS +%.1f MiB, %.0f bytes per rule %s "
         "(target <= 65 MiB)\n",
         (double)peak / MiB, nrules ? (double)peak / (double)nrules : 0.0,
         pf((double)peak <= 65 * MiB));
  if(getenv("BENCH_KEEP"))
    return 0;   /* leave the files for a look */
  unlink(r1m);
  unlink(i1m);
  unlink(r100k);
  unlink(i100k);
  unlink(r10);
  unlink(i10);
  return 0;
}
