/* SPDX-License-Identifier: MIT */
/*
 * What the preload library adds to a program's own socket calls: a
 * loopback TCP connect (socket, connect, accept, close) and a sendto() on
 * an unconnected UDP socket, to 127.0.0.2, which the rules allow.  One
 * process under the preload measures both ways: "on" calls connect() and
 * sendto() as the program would (the preload's), "off" calls libc's own,
 * found in libc by dlsym(), on the same sockets.  The kinds take turns,
 * the order flipping each round, and each takes its fastest round (the
 * one least disturbed on a shared machine).  The targets: at most 5% more
 * per connect and 150 ns more per sendto, wall time.
 *
 * With valgrind installed, the same loops are also counted in
 * instructions (callgrind): user space only, so the figure is what the
 * preload adds per call, not a share of the call's cost, most of which
 * is the kernel's.
 *
 *   preload-sockets-bench PRELOAD
 *   preload-sockets-bench PRELOAD time|connect-on|connect-off|sendto-on|
 *                                 sendto-off      (under the preload)
 */
#include "callgrind.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#define CONNECT_TARGET 0.05
#define SENDTO_TARGET_NS 150.0
#define ROUNDS 10
#define CONNECTS 2000
#define SENDS 20000
#define COUNTED 1000

extern char **environ;

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int,
                             const struct sockaddr *, socklen_t);

static connect_fn connect_of[2];   /* [0] libc's, [1] the program's */
static sendto_fn sendto_of[2];
static int listener, receiver, udp;
static struct sockaddr_in lis_addr, rcv_addr;

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bound(int type, struct sockaddr_in *a)
{
  socklen_t n = sizeof(*a);
  int fd = socket(AF_INET, type, 0);

  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.2", &a->sin_addr);
  if(fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) ||
     getsockname(fd, (struct sockaddr *)a, &n) ||
     (type == SOCK_STREAM && listen(fd, 64))) {
    perror("preload-sockets-bench: socket");
    exit(1);
  }
  return fd;
}

static void setup(void)
{
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  void *c = libc ? dlsym(libc, "connect") : NULL;
  void *s = libc ? dlsym(libc, "sendto") : NULL;

  if(!c || !s) {
    fputs("preload-sockets-bench: libc's connect and sendto not found\n",
          stderr);
    exit(1);
  }
  memcpy(&connect_of[0], &c, sizeof(c));
  memcpy(&sendto_of[0], &s, sizeof(s));
  connect_of[1] = connect;
  sendto_of[1] = sendto;
  listener = bound(SOCK_STREAM, &lis_addr);
  receiver = bound(SOCK_DGRAM, &rcv_addr);
  fcntl(receiver, F_SETFL, O_NONBLOCK);
  udp = socket(AF_INET, SOCK_DGRAM, 0);
}

/* n connections made and closed; -1 when one failed. */
static int connects(int on, int n)
{
  struct linger lg = { 1, 0 };
  int i;

  for(i = 0; i < n; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0), a;

    if(s < 0 || connect_of[on](s, (struct sockaddr *)&lis_addr,
                               sizeof(lis_addr)))
      return -1;
    a = accept(listener, NULL, NULL);
    /* reset, not TIME_WAIT: the loop would use up the ports */
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(s);
    close(a);
  }
  return 0;
}

static int sends(int on, int n)
{
  char buf[64];
  int i;

  for(i = 0; i < n; i++)
    if(sendto_of[on](udp, "x", 1, 0, (struct sockaddr *)&rcv_addr,
                     sizeof(rcv_addr)) != 1)
      return -1;
  while(recv(receiver, buf, sizeof(buf), 0) > 0)
    ;
  return 0;
}

static int timed(void)
{
  double best[2][2] = { { 1e300, 1e300 }, { 1e300, 1e300 } }, t, extra;
  int r, k, on;

  /* first use: the rules are loaded on the first decided call */
  if(connects(1, 1) || sends(1, 1))
    return 1;
  for(r = 0; r < ROUNDS; r++)
    for(k = 0; k < 2; k++) {
      on = (k + r) & 1;
      t = now();
      if(connects(on, CONNECTS))
        return 1;
      t = (now() - t) / CONNECTS;
      best[0][on] = t < best[0][on] ? t : best[0][on];
      t = now();
      if(sends(on, SENDS))
        return 1;
      t = (now() - t) / SENDS;
      best[1][on] = t < best[1][on] ? t : best[1][on];
    }
  extra = best[0][1] / best[0][0] - 1;
  printf("  connect+close (loopback TCP): %.0f ns off, %.0f ns on "
         "(%+.1f%%); target <= +%.0f%%: %s\n", best[0][0], best[0][1],
         extra * 100, CONNECT_TARGET * 100,
         extra <= CONNECT_TARGET ? "PASS" : "MISS");
  extra = best[1][1] - best[1][0];
  printf("  sendto (unconnected UDP): %.0f ns off, %.0f ns on (%+.0f ns); "
         "target <= +%.0f ns: %s\n", best[1][0], best[1][1], extra,
         SENDTO_TARGET_NS, extra <= SENDTO_TARGET_NS ? "PASS" : "MISS");
  return 0;
}

static int counted_loop(const char *mode)
{
  int on = strstr(mode, "-on") != NULL, rc;
  int tcp = !strncmp(mode, "connect", 7);

  if(connects(1, 1) || sends(1, 1))
    return 1;
  CALLGRIND_TOGGLE_COLLECT;
  rc = tcp ? connects(on, COUNTED) : sends(on, COUNTED);
  CALLGRIND_TOGGLE_COLLECT;
  return rc ? 1 : 0;
}

static int spawn(char **argv, const char *out)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int st, rc;

  posix_spawn_file_actions_init(&fa);
  if(out)
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  return !rc && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
         WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Instructions per call of one loop under callgrind; -1 on failure. */
static double instructions(char *self, char *preload, char *mode)
{
  char out[64], opt[96];
  char *argv[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no",
                   opt, self, preload, mode, NULL };
  unsigned long long total;
  double n = -1;

  snprintf(out, sizeof(out), "/tmp/curlfence-bench-sockets-%d.cg",
           (int)getpid());
  snprintf(opt, sizeof(opt), "--callgrind-out-file=%s", out);
  if(!spawn(argv, out) && (total = bench_callgrind_totals(out)))
    n = (double)total / COUNTED;
  unlink(out);
  return n;
}

int main(int argc, char **argv)
{
  char rules[64], var[96], *self = argv[0];
  char *time_argv[] = { self, argv[1], "time", NULL };
  double ir[4];
  static char *modes[4] = { "connect-off", "connect-on", "sendto-off",
                            "sendto-on" };
  int i, fd;

  if(argc == 3) {
    setup();
    return !strcmp(argv[2], "time") ? timed() : counted_loop(argv[2]);
  }
  if(argc != 2) {
    fputs("usage: preload-sockets-bench PRELOAD\n", stderr);
    return 2;
  }
  snprintf(rules, sizeof(rules), "/tmp/curlfence-bench-sockets-%d.rules",
           (int)getpid());
  fd = open(rules, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if(fd < 0 || write(fd, "default deny\nallow 127.0.0.2\n", 29) != 29)
    return 1;
  close(fd);
  snprintf(var, sizeof(var), "CURLFENCE_RULES=%s", rules);
  putenv(var);
  setenv("LD_PRELOAD", argv[1], 1);
  unsetenv("CURLFENCE_AUDIT");
  unsetenv("CURLFENCE_SOCKETS");
  unsetenv("CURLFENCE_REPORT_ONLY");
  printf("the program's own sockets under the preload (allowed, not "
         "audited), fastest of %d rounds\n", ROUNDS);
  fflush(stdout);
  if(spawn(time_argv, NULL)) {
    unlink(rules);
    return 1;
  }
  for(i = 0; i < 4; i++)
    ir[i] = instructions(self, argv[1], modes[i]);
  unlink(rules);
  if(ir[0] < 0 || ir[1] < 0 || ir[2] < 0 || ir[3] < 0) {
    puts("  valgrind could not count instructions (is it installed?)");
    return 0;
  }
  printf("  instructions per call (callgrind, user space): connect+close "
         "%.0f off, %.0f on (+%.0f); sendto %.0f off, %.0f on (+%.0f)\n",
         ir[0], ir[1], ir[1] - ir[0], ir[2], ir[3], ir[3] - ir[2]);
  return 0;
}
