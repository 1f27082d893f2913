/*
 * Audit events as JSON.
 *
 * One event becomes one JSON object on one line, so a log is JSON Lines
 * and each line can be handed to a parser on its own.  The schema is
 * versioned by the "v" field; docs/curlfence_event_json.3 lists the keys.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Appends to a fixed buffer and counts what it would have needed. */
typedef struct out {
  char *buf;
  size_t size, len;
} out;

static void put(out *o, const char *s, size_t n)
{
  if(o->len < o->size) {
    size_t room = o->size - o->len;
    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

static void putf(out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(out *o, const char *fmt, ...)
{
  char tmp[128];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if(n > 0)
    put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_str(out *o, const char *s)
{
  if(!s) {
    put(o, "null", 4);
    return;
  }
  put(o, "\"", 1);
  for(; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if(c == '"' || c == '\\') {
      char e[2] = { '\\', (char)c };
      put(o, e, 2);
    }
    else if(c < 0x20 || c == 0x7f)
      putf(o, "\\u%04x", c);
    else
      put(o, (const char *)&c, 1);
  }
  put(o, "\"", 1);
}

static const char *family_name(int family)
{
  switch(family) {
  case AF_INET: return "inet";
  case AF_INET6: return "inet6";
  case AF_UNIX: return "unix";
  default: return "unknown";
  }
}

static const char *transport_name(const curlfence_event *ev)
{
  if(ev->family == AF_UNIX)
    return "unix";
  if(ev->socktype == SOCK_DGRAM)
    return "udp";
  return "tcp";
}

CURLFENCE_API size_t curlfence_event_json(const curlfence_event *ev,
                                          char *buf, size_t size)
{
  out o = { buf, size, 0 };
  time_t secs;
  struct tm tm;
  char ts[40];

  if(!ev) {
    if(size)
      buf[0] = '\0';
    return 0;
  }
  secs = (time_t)(ev->time_us / 1000000);
  gmtime_r(&secs, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  putf(&o, "{\"v\":2,\"time\":\"%s.%06ldZ\",\"decision\":\"%s\","
       "\"enforced\":%s,\"addr\":",
       ts, (long)(ev->time_us % 1000000),
       ev->action == CURLFENCE_ALLOW ? "allow" : "deny",
       ev->enforced ? "true" : "false");
  put_str(&o, ev->addr);
  /* version 2: the IPv4 address a nat64 destination was decided as */
  put(&o, ",\"as\":", 6);
  put_str(&o, ev->verdict.as[0] ? ev->verdict.as : NULL);
  putf(&o, ",\"port\":%u,\"family\":\"%s\",\"transport\":\"%s\","
       "\"socktype\":%d,\"protocol\":%d,\"check\":\"%s\",\"default\":%s,"
       "\"reason\":", ev->port, family_name(ev->family),
       transport_name(ev), ev->socktype, ev->protocol,
       ev->check == CURLFENCE_CHECK_OPEN ? "open" : "reused",
       ev->verdict.is_default ? "true" : "false");
  put_str(&o, ev->verdict.reason);
  put(&o, ",\"rule\":{\"file\":", 16);
  put_str(&o, ev->verdict.file);
  putf(&o, ",\"line\":%u,\"text\":", ev->verdict.line);
  put_str(&o, ev->verdict.rule);
  putf(&o, "},\"generation\":%llu,\"pid\":%ld}",
       (unsigned long long)ev->generation, (long)getpid());
  if(size)
    buf[o.len < size ? o.len : size - 1] = '\0';
  return o.len;
}

char *cf_event_line(const curlfence_event *ev, char *small, size_t size,
                    size_t *len)
{
  char *buf = small;
  size_t n = curlfence_event_json(ev, small, size - 1);

  if(n >= size - 1) {
    buf = malloc(n + 2);
    if(!buf)
      return NULL;
    curlfence_event_json(ev, buf, n + 1);
  }
  buf[n] = '\n';
  buf[n + 1] = '\0';
  *len = n + 1;
  return buf;
}

CURLFENCE_API int curlfence_audit_json(const curlfence_event *event,
                                       void *userdata)
{
  FILE *f = userdata;
  char small[1024], *buf;
  size_t n;
  int rc = 0;

  if(!f || !event)
    return -1;
  buf = cf_event_line(event, small, sizeof(small), &n);
  if(!buf)
    return -1;
  if(fwrite(buf, 1, n, f) != n || fflush(f) != 0)
    rc = -1;
  if(buf != small)
    free(buf);
  return rc;
}
