/* SPDX-License-Identifier: MIT */
/*
 * Built-in audit sinks: a JSON Lines file and syslog.
 *
 * Both write each event with one system call on a descriptor that never
 * blocks, so a slow or broken destination costs a connection decision at
 * most one failed write: the event is dropped, the decision stands.  A
 * dropped event is never silent: it is counted, and the next line that
 * gets through says how many were lost before it ("lost"), so a reader of
 * the trail alone sees the gap.  Waiting instead would put the logger on
 * the path of every connection, and a stuck one would hang them all.
 *
 * The file sink relies on O_APPEND: the kernel positions and writes each
 * line as one step, so processes sharing a log never interleave within a
 * line.  Standard output and error are the exception: their names
 * ("/dev/stderr") would open a new description at offset 0 that overwrites
 * what the program writes through its own, so the sink writes to a copy
 * of the inherited descriptor instead, sharing its offset, one write(2)
 * per line; it cannot make that description non-blocking without changing
 * it for the program too, so it asks poll() first.
 *
 * A log rotated by rename (logrotate's "create") is followed: at most
 * once a second a write looks whether the path still names the file the
 * sink has open, and if it names another (or none), opens the path
 * again, so later lines go to the new file with no signal sent.  The
 * check is one stat(2) per second; between a rotation and the next look
 * lines still go to the renamed file, which is where logrotate expects
 * them until it compresses it (delaycompress).  Descriptors swap under a
 * lock that writers share and only the swap takes: a line is never
 * written to a descriptor closed under it, or to whatever reuses its
 * number.
 *
 * The text sink (CURLFENCE_AUDIT=stderr) writes one short line per
 * denial for people on a copy of standard error, as curlfence fetch
 * prints them, with the inherited-stream rules above.
 *
 * The syslog sink speaks RFC 3164 on the local datagram socket itself
 * rather than through openlog(3), whose ident and facility are
 * process-wide state; it uses sendto() on an unconnected socket, so a
 * restarted syslogd is found again without any shared state to repair.
 */
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct curlfence_sink {
  int fd;
  int is_syslog;
  int inherited;                /* fd shares standard output's or error's
                                   description: no O_APPEND, may block */
  int facility;
  char ident[48];
  struct sockaddr_un addr;      /* syslog socket */
  _Atomic uint64_t errors;      /* events lost in all */
  _Atomic uint64_t unreported;  /* lost and not yet told by a "lost" */
  atomic_int torn;              /* the file ends inside a line */
  int text;                     /* lines for people, denials only */
  char *path;                   /* a log file followed across renames: its
                                   last component, in directory dir (a
                                   program that changes directory later
                                   still names the same path) */
  int dir;
  pthread_rwlock_t swap;        /* writes share it; a reopen takes it */
  dev_t dev;                    /* of the file fd has open */
  ino_t ino;
  _Atomic int64_t next_look;    /* CLOCK_MONOTONIC ns of the next look */
};

#define CF_ROTATE_LOOK_NS 1000000000LL

static int64_t mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_log(int dir, const char *path)
{
  return openat(dir, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
                               O_NONBLOCK | O_NOCTTY, 0640);
}

/* Once a second at most, one caller looks whether s->path still names
 * the file s has open; when not, the path is opened again and later lines
 * go there.  A path that cannot be opened keeps the old file. */
static void follow_rename(curlfence_sink *s)
{
  int64_t now = mono_ns(), due = atomic_load(&s->next_look);
  struct stat st;
  int fd, old;

  if(now < due || !atomic_compare_exchange_strong(&s->next_look, &due,
                                                  now + CF_ROTATE_LOOK_NS))
    return;
  if(fstatat(s->dir, s->path, &st, 0) == 0 && st.st_dev == s->dev &&
     st.st_ino == s->ino)
    return;
  fd = open_log(s->dir, s->path);
  if(fd < 0)
    return;
  if(fstat(fd, &st) != 0) {
    close(fd);
    return;
  }
  pthread_rwlock_wrlock(&s->swap);
  old = s->fd;
  s->fd = fd;
  s->dev = st.st_dev;
  s->ino = st.st_ino;
  /* a torn line belongs to the old file; the new one starts clean */
  atomic_store(&s->torn, 0);
  pthread_rwlock_unlock(&s->swap);
  close(old);
}

/* The descriptor a name of standard output or error stands for, else -1. */
static int standard_stream(const char *path)
{
  static const struct {
    const char *name;
    int fd;
  } names[] = {
    { "-", STDOUT_FILENO }, { "/dev/stdout", STDOUT_FILENO },
    { "/dev/stderr", STDERR_FILENO }, { "/dev/fd/1", STDOUT_FILENO },
    { "/dev/fd/2", STDERR_FILENO }
  };
  size_t i;

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if(!strcmp(path, names[i].name))
      return names[i].fd;
  return -1;
}

/* Standard output or error when fd is open on the same file under another
 * name ("/proc/self/fd/1", or the file's own path), else -1.  A new
 * description at the end of it (O_APPEND) would be written over by the
 * program writing through its own, and the other way round: the lines
 * would vanish without a loss counted. */
static int same_as_standard_stream(int fd)
{
  static const int std[] = { STDOUT_FILENO, STDERR_FILENO };
  struct stat a, b;
  size_t i;

  if(fstat(fd, &a))
    return -1;
  for(i = 0; i < sizeof(std) / sizeof(std[0]); i++)
    if(!fstat(std[i], &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
      return std[i];
  return -1;
}

/* The end of opening s: s is *out, or with no descriptor (errno says
 * why) it is freed, and the error is what failed on path. */
static curlfence_code opened(curlfence_sink *s, curlfence_sink **out,
                             const char *path, const char *what,
                             curlfence_error *err)
{
  int e = errno;

  if(s->fd < 0) {
    if(s->dir >= 0)
      close(s->dir);
    free(s->path);
    pthread_rwlock_destroy(&s->swap);
    free(s);
    cf_error_set(err, CURLFENCE_E_IO, path, 0, 0, "%s: %s", what,
                 strerror(e));
    return CURLFENCE_E_IO;
  }
  if(err)
    memset(err, 0, sizeof(*err));
  *out = s;
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_code curlfence_sink_open_file(curlfence_sink **out,
                                                      const char *path,
                                                      curlfence_error *err)
{
  curlfence_sink *s;
  int e;

  if(out)
    *out = NULL;
  if(!out || !path) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL argument");
    return CURLFENCE_E_INVAL;
  }
  s = calloc(1, sizeof(*s));
  if(!s) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  s->inherited = standard_stream(path) >= 0;
  pthread_rwlock_init(&s->swap, NULL);
  /* A copy, so that the program closing or replacing its descriptor later
   * neither ends the trail nor sends it into an unrelated file. */
  s->dir = -1;
  s->fd = s->inherited
              ? fcntl(standard_stream(path), F_DUPFD_CLOEXEC, 3)
              : open_log(AT_FDCWD, path);
  if(s->fd >= 0 && !s->inherited) {
    int std = same_as_standard_stream(s->fd);

    if(std >= 0) {
      close(s->fd);
      s->inherited = 1;
      s->fd = fcntl(std, F_DUPFD_CLOEXEC, 3);
    }
  }
  if(s->fd >= 0 && !s->inherited) {
    const char *slash = strrchr(path, '/');
    char *dname = slash ? strndup(path, (size_t)(slash - path) + 1) : NULL;
    struct stat st;

    s->path = strdup(slash ? slash + 1 : path);
    if(s->path && (dname || !slash))
      s->dir = open(dname ? dname : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(dname);
    if(!s->path || s->dir < 0 || fstat(s->fd, &st) != 0) {
      e = s->path ? errno : ENOMEM;
      close(s->fd);
      s->fd = -1;
      errno = e;
    }
    else {
      s->dev = st.st_dev;
      s->ino = st.st_ino;
      atomic_init(&s->next_look, mono_ns() + CF_ROTATE_LOOK_NS);
    }
  }
  return opened(s, out, path, "cannot open audit log", err);
}

/* Whether a syslog daemon listens at the sink's address now. */
static int syslog_reachable(const curlfence_sink *s)
{
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

  if(fd < 0)
    return -1;
  rc = connect(fd, (const struct sockaddr *)&s->addr, sizeof(s->addr));
  close(fd);
  return rc;
}

CURLFENCE_API curlfence_code curlfence_sink_open_syslog(
    curlfence_sink **out, const char *ident, int facility,
    const char *socket_path, curlfence_error *err)
{
  curlfence_sink *s;

  if(out)
    *out = NULL;
  if(!out || (facility & ~LOG_FACMASK) != 0) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0,
                 "NULL argument or invalid facility");
    return CURLFENCE_E_INVAL;
  }
  if(!socket_path)
    socket_path = "/dev/log";
  if(strlen(socket_path) >= sizeof(s->addr.sun_path)) {
    cf_error_set(err, CURLFENCE_E_INVAL, socket_path, 0, 0,
                 "socket path too long");
    return CURLFENCE_E_INVAL;
  }
  s = calloc(1, sizeof(*s));
  if(!s) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  s->fd = -1;
  s->dir = -1;
  s->is_syslog = 1;
  pthread_rwlock_init(&s->swap, NULL);
  s->facility = facility;
  snprintf(s->ident, sizeof(s->ident), "%s", ident ? ident : "curlfence");
  s->addr.sun_family = AF_UNIX;
  strcpy(s->addr.sun_path, socket_path);
  if(syslog_reachable(s) == 0)
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  return opened(s, out, socket_path, "cannot connect to syslog", err);
}

/* "<PRI>Mmm dd hh:mm:ss ident[pid]: " in local time, as syslogd expects. */
static size_t syslog_header(const curlfence_sink *s,
                            const curlfence_event *ev, char *buf,
                            size_t size)
{
  int sev = ev->action == CURLFENCE_DENY ? LOG_WARNING : LOG_INFO;
  time_t now = (time_t)(ev->time_us / 1000000);
  struct tm tm;
  char ts[32];
  int n;

  localtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
  n = snprintf(buf, size, "<%d>%s %s[%ld]: ", s->facility | sev, ts,
               s->ident, (long)getpid());
  return n > 0 ? (size_t)n : 0;
}

static int write_line(curlfence_sink *s, const char *buf, size_t len)
{
  ssize_t w;

  if(!s->is_syslog) {
    struct pollfd p = { s->fd, POLLOUT, 0 };

    /* POLLERR: a pipe without a reader, where write() would raise
     * SIGPIPE in a program that may not expect it from a log line. */
    if(s->inherited && (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT) ||
                        (p.revents & POLLERR)))
      return -1;
    if(s->path)
      follow_rename(s);
    pthread_rwlock_rdlock(&s->swap);
    do
      w = write(s->fd, buf, len);
    while(w < 0 && errno == EINTR);
    pthread_rwlock_unlock(&s->swap);
    if(w > 0 && w < (ssize_t)len)
      atomic_store(&s->torn, 1);
    return w == (ssize_t)len ? 0 : -1;
  }
  w = sendto(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
             (const struct sockaddr *)&s->addr, sizeof(s->addr));
  return w == (ssize_t)len ? 0 : -1;
}

/* Count one more lost event; unreported is the count of earlier losses
 * the line that failed was to report, which the next one now reports. */
static int lose(curlfence_sink *s, uint64_t unreported)
{
  atomic_fetch_add(&s->errors, 1);
  atomic_fetch_add(&s->unreported, unreported + 1);
  return -1;
}

/* One line for people per denial: "curlfence: blocked ... (rule)", and
 * how many lines before it were lost, if any. */
static int write_text(curlfence_sink *s, const curlfence_event *ev)
{
  char line[2048];
  size_t n;
  uint64_t lost;

  if(ev->action != CURLFENCE_DENY)
    return 0;
  lost = atomic_exchange(&s->unreported, 0);
  n = (size_t)snprintf(line, sizeof(line), "curlfence: ");
  n += cf_event_text(ev, "blocked", line + n, sizeof(line) - n - 64);
  if(lost)
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          " [%llu earlier line%s lost]",
                          (unsigned long long)lost, lost == 1 ? "" : "s");
  line[n++] = '\n';
  return write_line(s, line, n) ? lose(s, lost) : 0;
}

curlfence_code cf_sink_open_stderr_text(curlfence_sink **out,
                                        curlfence_error *err)
{
  curlfence_code rc = curlfence_sink_open_file(out, "/dev/stderr", err);

  if(!rc)
    (*out)->text = 1;
  return rc;
}

CURLFENCE_API int curlfence_sink_write(const curlfence_event *event,
                                       void *sink)
{
  curlfence_sink *s = sink;
  /* small[0] is room for a newline that ends a torn line first */
  char small[2048], *line, *buf;
  size_t hlen = 0, len, skip = 1;
  uint64_t lost;
  int rc;

  if(!s)
    return -1;
  if(!event)
    return lose(s, 0);
  if(s->text)
    return write_text(s, event);
  /* Taken, not read: of two lines written at once, one reports them. */
  lost = atomic_exchange(&s->unreported, 0);
  if(s->is_syslog)
    hlen = syslog_header(s, event, small + 1, 128);
  line = cf_event_line(event, lost, small + 1 + hlen,
                       sizeof(small) - 1 - hlen, &len);
  if(!line)
    return lose(s, lost);
  buf = small;
  if(line != small + 1 + hlen) {
    /* Too long for the stack buffer: join header and line. */
    buf = malloc(1 + hlen + len);
    if(buf) {
      memcpy(buf + 1, small + 1, hlen);
      memcpy(buf + 1 + hlen, line, len);
    }
    free(line);
    if(!buf)
      return lose(s, lost);
  }
  /* A short write left part of a line: end it, so that this line and the
   * ones after it parse. */
  if(!s->is_syslog && atomic_exchange(&s->torn, 0)) {
    buf[0] = '\n';
    skip = 0;
  }
  /* syslog takes the message without its newline. */
  rc = write_line(s, buf + skip, hlen + len + 1 - skip -
                                     (s->is_syslog ? 1 : 0));
  if(rc && !skip)
    atomic_store(&s->torn, 1);
  if(buf != small)
    free(buf);
  return rc ? lose(s, lost) : 0;
}

CURLFENCE_API uint64_t curlfence_sink_errors(const curlfence_sink *sink)
{
  return sink ? atomic_load(&((curlfence_sink *)sink)->errors) : 0;
}

CURLFENCE_API void curlfence_sink_free(curlfence_sink *sink)
{
  if(!sink)
    return;
  if(sink->fd >= 0)
    close(sink->fd);
  if(sink->dir >= 0)
    close(sink->dir);
  free(sink->path);
  pthread_rwlock_destroy(&sink->swap);
  free(sink);
}
