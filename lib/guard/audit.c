/* SPDX-License-Identifier: MIT */
/*
 * Audit events as JSON.
 *
 * One event becomes one JSON object on one line, so a log is JSON Lines
 * and each line can be handed to a parser on its own.  The schema is
 * versioned by the "v" field; docs/curlfence_event_json.3 lists the keys.
 *
 * Every line is valid UTF-8 JSON whatever bytes the event holds: file
 * names, rule texts and unix socket paths are arbitrary bytes, and a
 * line a JSON parser rejects is a lost audit record.  Each byte that is
 * not part of a well-formed UTF-8 sequence is written as \ufffd (the
 * replacement character, docs/audit.md).  A new field is one more put_*
 * call in curlfence_event_json(): put_str() for any text.  The tool's
 * --json output goes through the same escaper (cf_json_string), so both
 * say the same of the same bytes.
 */
#include "guard.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
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

/* tmp holds the longest format below with every number at its widest
 * (about 150 bytes); it was once 128, which cut fields short and broke the
 * JSON for large socktype or protocol values. */
static void putf(out *o, const char *fmt, ...)
{
  char tmp[256];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if(n > 0)
    put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes left), or 0
 * when s[0] does not start one: no overlong forms, no surrogates, nothing
 * above U+10FFFF (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t len, i;

  if(c < 0x80)
    return 1;
  if(c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if(c >= 0xe0 && c <= 0xef) {
    len = 3;
    if(c == 0xe0)
      lo = 0xa0;         /* overlong */
    else if(c == 0xed)
      hi = 0x9f;         /* UTF-16 surrogates */
  }
  else if(c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if(c == 0xf0)
      lo = 0x90;         /* overlong */
    else if(c == 0xf4)
      hi = 0x8f;         /* above U+10FFFF */
  }
  else
    return 0;
  if(n < len || s[1] < lo || s[1] > hi)
    return 0;
  for(i = 2; i < len; i++)
    if(s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return len;
}

/* n bytes of s as a JSON string. */
static void put_strn(out *o, const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s, *end = u + n;

  put(o, "\"", 1);
  while(u < end) {
    const unsigned char *run = u;
    size_t k;

    /* Copy plain runs whole; stop at what needs escaping. */
    while(u < end && *u >= 0x20 && *u < 0x7f && *u != '"' && *u != '\\')
      u++;
    while(u < end && *u >= 0x80 && (k = utf8_seq(u, (size_t)(end - u))))
      u += k;
    if(u > run) {
      put(o, (const char *)run, (size_t)(u - run));
      continue;
    }
    if(*u == '"' || *u == '\\') {
      char e[2] = { '\\', (char)*u };
      put(o, e, 2);
    }
    else if(*u < 0x20 || *u == 0x7f)
      putf(o, "\\u%04x", *u);
    else
      put(o, "\\ufffd", 6);
    u++;
  }
  put(o, "\"", 1);
}

static void put_str(out *o, const char *s)
{
  if(!s)
    put(o, "null", 4);
  else
    put_strn(o, s, strlen(s));
}

size_t cf_json_string(char *buf, size_t size, const char *s)
{
  out o = { buf, size, 0 };

  put_str(&o, s);
  if(size)
    buf[o.len < size ? o.len : size - 1] = '\0';
  return o.len;
}

const char *cf_check_name(curlfence_check check)
{
  static const char *const names[CF_CHECK_N] = {
    "open", "reused", "connect", "sendto", "sendmsg", "sendmmsg"
  };

  return (unsigned)check < CF_CHECK_N ? names[check] : "unknown";
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

/* The name and URL of the event being handed to an audit callback on this
 * thread: an event the guard made is recognised by its address, so a
 * caller-built event (of any size) is never read past its end. */
static _Thread_local struct {
  const curlfence_event *ev;
  const char *host, *url;
} current;

void cf_event_name_set(const curlfence_event *ev, const char *host,
                       const char *url)
{
  current.ev = ev;
  current.host = host;
  current.url = url;
}

CURLFENCE_API curlfence_code curlfence_event_name(
    const curlfence_event *event, const char **host, const char **url)
{
  int mine = event && event == current.ev;

  if(host)
    *host = mine ? current.host : NULL;
  if(url)
    *url = mine ? current.url : NULL;
  return mine ? CURLFENCE_OK : CURLFENCE_E_INVAL;
}

/* Who makes the connections: the same for every event of a process, so
 * read once.  A process that calls exec() loads the library again. */
static struct {
  pthread_once_t once;
  char program[256];
  char exe[4096];
  int have_exe;
  char hostname[256];
} self_id = { PTHREAD_ONCE_INIT, "", "", 0, "" };

static void read_self_id(void)
{
  ssize_t n;

  snprintf(self_id.program, sizeof(self_id.program), "%s",
           program_invocation_short_name ? program_invocation_short_name
                                         : "");
  n = readlink("/proc/self/exe", self_id.exe, sizeof(self_id.exe) - 1);
  if(n > 0) {
    self_id.exe[n] = '\0';
    self_id.have_exe = 1;
  }
  if(gethostname(self_id.hostname, sizeof(self_id.hostname)) != 0)
    self_id.hostname[0] = '\0';
  self_id.hostname[sizeof(self_id.hostname) - 1] = '\0';
}

/* The event's JSON with lost as its "lost" field: the public function
 * shows 0, a sink the events it could not write before this one. */
static size_t event_json(const curlfence_event *ev, uint64_t lost, char *buf,
                         size_t size)
{
  out o = { buf, size, 0 };
  const char *host, *url;
  int64_t us;
  time_t secs;
  struct tm tm;
  char ts[40];

  if(!ev) {
    if(size)
      buf[0] = '\0';
    return 0;
  }
  /* Whole seconds rounded down, so that times before 1970 keep a
   * fraction of 0-999999; a time gmtime_r() cannot express is shown as
   * the epoch rather than as garbage. */
  us = ev->time_us % 1000000;
  secs = (time_t)(ev->time_us / 1000000);
  if(us < 0) {
    us += 1000000;
    secs--;
  }
  if(!gmtime_r(&secs, &tm) ||
     !strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm)) {
    snprintf(ts, sizeof(ts), "1970-01-01T00:00:00");
    us = 0;
  }
  pthread_once(&self_id.once, read_self_id);
  putf(&o, "{\"v\":4,\"time\":\"%s.%06ldZ\",\"decision\":\"%s\","
       "\"enforced\":%s,\"addr\":",
       ts, (long)us,
       ev->action == CURLFENCE_ALLOW ? "allow" : "deny",
       ev->enforced ? "true" : "false");
  /* addr is a fixed array: never read past it, NUL or not. */
  put_strn(&o, ev->addr, strnlen(ev->addr, sizeof(ev->addr)));
  /* version 2: the IPv4 address a nat64 destination was decided as */
  put(&o, ",\"as\":", 6);
  {
    char a6[sizeof(ev->addr)], as[INET_ADDRSTRLEN];

    memcpy(a6, ev->addr, sizeof(a6));
    a6[sizeof(a6) - 1] = '\0';
    put_str(&o, cf_nat64_as_text(ev->verdict.reason, a6, as, sizeof(as))
                    ? NULL : as);
  }
  putf(&o, ",\"port\":%u,\"family\":\"%s\",\"transport\":\"%s\","
       "\"socktype\":%d,\"protocol\":%d,\"check\":\"%s\",\"default\":%s,"
       "\"reason\":", ev->port, family_name(ev->family),
       transport_name(ev), ev->socktype, ev->protocol,
       cf_check_name(ev->check),
       ev->verdict.is_default ? "true" : "false");
  put_str(&o, ev->verdict.reason);
  put(&o, ",\"rule\":{\"file\":", 16);
  put_str(&o, ev->verdict.file);
  putf(&o, ",\"line\":%u,\"text\":", ev->verdict.line);
  put_str(&o, ev->verdict.rule);
  /* version 3: the events the writer lost before this one */
  putf(&o, "},\"generation\":%llu,\"pid\":%ld,\"lost\":%llu",
       (unsigned long long)ev->generation, (long)getpid(),
       (unsigned long long)lost);
  /* version 4: the name and URL connected for, and who connected */
  curlfence_event_name(ev, &host, &url);
  put(&o, ",\"host\":", 8);
  put_str(&o, host);
  put(&o, ",\"url\":", 7);
  put_str(&o, url);
  put(&o, ",\"program\":", 11);
  put_str(&o, self_id.program[0] ? self_id.program : NULL);
  put(&o, ",\"exe\":", 7);
  put_str(&o, self_id.have_exe ? self_id.exe : NULL);
  putf(&o, ",\"uid\":%lu,\"hostname\":", (unsigned long)getuid());
  put_str(&o, self_id.hostname[0] ? self_id.hostname : NULL);
  put(&o, "}", 1);
  if(size)
    buf[o.len < size ? o.len : size - 1] = '\0';
  return o.len;
}

CURLFENCE_API size_t curlfence_event_json(const curlfence_event *ev,
                                          char *buf, size_t size)
{
  return event_json(ev, 0, buf, size);
}

char *cf_event_line(const curlfence_event *ev, uint64_t lost, char *small,
                    size_t size, size_t *len)
{
  char *buf = small;
  size_t n = event_json(ev, lost, small, size - 1);

  if(n >= size - 1) {
    buf = malloc(n + 2);
    if(!buf)
      return NULL;
    event_json(ev, lost, buf, n + 1);
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
  buf = cf_event_line(event, 0, small, sizeof(small), &n);
  if(!buf)
    return -1;
  if(fwrite(buf, 1, n, f) != n || fflush(f) != 0)
    rc = -1;
  if(buf != small)
    free(buf);
  return rc;
}

size_t cf_event_text(const curlfence_event *ev, const char *verb, char *buf,
                     size_t size)
{
  const curlfence_verdict *v = &ev->verdict;
  char raw[1900], where[1100], port[48] = "", as[16], name[300] = "";
  int n;

  if(ev->action == CURLFENCE_DENY && !ev->enforced)
    verb = "would block (report-only)";
  if(ev->family != AF_UNIX)
    snprintf(port, sizeof(port), " port %u%s%s", ev->port,
             cf_nat64_as_text(v->reason, ev->addr, as, sizeof(as)) ? ""
                                                                   : " as ",
             as);
  if(v->file)
    snprintf(where, sizeof(where), "%s:%u", v->file, v->line);
  else
    snprintf(where, sizeof(where), "built-in rule");
  const char *host = NULL;

  curlfence_event_name(ev, &host, NULL);
  if(host)
    snprintf(name, sizeof(name), " (%s)", host);
  snprintf(raw, sizeof(raw), "%s %s%s%s%s by %s (%s)", verb,
           ev->family == AF_UNIX ? "unix socket " : "", ev->addr, name, port,
           where, v->rule ? v->rule : "");
  /* file names, socket paths and rule text are arbitrary bytes, which a
   * terminal must not take for control sequences */
  cf_escape(buf, size, raw);
  n = (int)strlen(buf);
  return (size_t)n;
}
