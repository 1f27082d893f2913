/* SPDX-License-Identifier: MIT */
/*
 * CURLFENCE_METRICS=PATH: the guard's counters as a Prometheus textfile
 * (curlfence_guard_metrics), rewritten every CF_METRICS_PERIOD seconds by
 * a thread and once more at exit.  Each write goes to a temporary file in
 * PATH's directory that is then renamed over PATH, so a collector that
 * reads PATH (node_exporter's textfile collector) sees the old text or
 * the new, never half of one; the temporary name does not end in ".prom"
 * for the collector to pick up.
 *
 * One process per file: "%p" in PATH stands for the process id, so the
 * processes of one `curlfence run` (every program that loads the preload)
 * each write their own.  Only the process that set the writer up writes:
 * a child forked without exec has a copy of the parent's counters, and
 * its writes would take the parent's file.
 */
#include "preload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CF_METRICS_PERIOD 5

static curlfence_guard *mguard;
static char mpath[PATH_MAX];
static pid_t owner;
static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;

/* PATH with each "%p" replaced by pid and "%%" by "%"; -1 when too long. */
static int expand(const char *tmpl, pid_t pid, char *out, size_t size)
{
  size_t n = 0;
  int w;

  for(; *tmpl; tmpl++) {
    if(tmpl[0] == '%' && (tmpl[1] == 'p' || tmpl[1] == '%')) {
      w = tmpl[1] == 'p'
              ? snprintf(out + n, size - n, "%ld", (long)pid)
              : snprintf(out + n, size - n, "%%");
      tmpl++;
    }
    else
      w = snprintf(out + n, size - n, "%c", *tmpl);
    if(w < 0 || (size_t)w >= size - n)
      return -1;
    n += (size_t)w;
  }
  return 0;
}

/* Write the text once; 0, or an errno value. */
static int write_once(void)
{
  char tmp[PATH_MAX + 32];
  int fd, e = 0;
  FILE *f;

  if(getpid() != owner)
    return 0;
  if(snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", mpath, (long)owner) >=
     (int)sizeof(tmp))
    return ENAMETOOLONG;
  pthread_mutex_lock(&mlock);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
            0644);
  if(fd < 0)
    e = errno;
  else if(!(f = fdopen(fd, "w"))) {
    e = errno;
    close(fd);
  }
  else {
    if(curlfence_guard_metrics(mguard, f) != CURLFENCE_OK)
      e = errno ? errno : EIO;
    if(fclose(f) && !e)
      e = errno;
    if(!e && rename(tmp, mpath))
      e = errno;
  }
  if(e && fd >= 0)
    unlink(tmp);
  pthread_mutex_unlock(&mlock);
  return e;
}

static void *writer(void *arg)
{
  struct timespec ts = { CF_METRICS_PERIOD, 0 };

  (void)arg;
  for(;;) {
    while(nanosleep(&ts, &ts) && errno == EINTR)
      ;
    ts.tv_sec = CF_METRICS_PERIOD;
    ts.tv_nsec = 0;
    write_once();
  }
  return NULL;
}

static void at_exit(void)
{
  write_once();
}

int pl_metrics_start(curlfence_guard *g, const char *path, char *why,
                     size_t size)
{
  pthread_t t;
  sigset_t all, old;
  int e;

  mguard = g;
  owner = getpid();
  if(expand(path, owner, mpath, sizeof(mpath))) {
    snprintf(why, size, "CURLFENCE_METRICS: path too long");
    return -1;
  }
  /* The first write says at once whether the file can be written. */
  if((e = write_once()) != 0) {
    snprintf(why, size, "CURLFENCE_METRICS: cannot write %s: %s", mpath,
             strerror(e));
    return -1;
  }
  /* The thread takes none of the program's signals. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  e = pthread_create(&t, NULL, writer, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if(e || pthread_detach(t) || atexit(at_exit)) {
    snprintf(why, size, "CURLFENCE_METRICS: cannot start the writer");
    return -1;
  }
  return 0;
}
