/* SPDX-License-Identifier: MIT */
/*
 * Harness: the audit JSON encoder.
 *
 * The input fills every field of a curlfence_event (strings of any bytes,
 * an addr that may fill its array without a NUL, any integers).  The
 * output of curlfence_event_json() must be one JSON object in well-formed
 * UTF-8 (json_check.c, strict), with no NUL inside; the returned length
 * must not depend on the buffer size; a short buffer must get a
 * NUL-terminated prefix of the full text; cf_event_line() must give the
 * same text and a newline.
 *
 * Input: 43 bytes of integers (short inputs are zero-padded), then the
 * strings addr, file, rule and reason, each introduced by a length byte
 * (255 means NULL for the three pointers).
 */
#include "fuzz.h"
#include "guard/guard.h"
#include "json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct in {
  const uint8_t *p, *end;
} in;

static uint64_t num(in *s, size_t n)
{
  uint64_t v = 0;

  while(n--) {
    v = v << 8 | (s->p < s->end ? *s->p : 0);
    if(s->p < s->end)
      s->p++;
  }
  return v;
}

/* A string of the next length byte's bytes (NUL-terminated copy), or NULL
 * when that byte is 255 and nullable. */
static char *str(in *s, int nullable)
{
  size_t len = (size_t)num(s, 1), avail = (size_t)(s->end - s->p);
  char *out;

  if(nullable && len == 255)
    return NULL;
  if(len > avail)
    len = avail;
  out = malloc(len + 1);
  if(!out)
    abort();
  memcpy(out, s->p, len);
  out[len] = '\0';
  s->p += len;
  return out;
}

static void fail(const char *what, const char *text, size_t n)
{
  fprintf(stderr, "audit JSON: %s: %.*s\n", what, (int)n, text);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  in s;
  curlfence_event ev;
  char *addr, *file, *rule, *reason, *full, *part, small[256], *line;
  size_t n, m, len, cut;
  const char *why;
  size_t at;

  if(!data)               /* libFuzzer's empty input */
    data = (const uint8_t *)"";
  s.p = data;
  s.end = data + size;

  memset(&ev, 0, sizeof(ev));
  ev.time_us = (int64_t)num(&s, 8);
  ev.action = (curlfence_action)(num(&s, 1) & 1);
  ev.enforced = (int)num(&s, 4);
  /* every check, and one beyond them */
  ev.check = (curlfence_check)(num(&s, 1) % 7);
  ev.family = (int)num(&s, 4);
  ev.socktype = (int)num(&s, 4);
  ev.protocol = (int)num(&s, 4);
  ev.port = (unsigned)num(&s, 4);
  ev.generation = num(&s, 8);
  ev.verdict.is_default = (int)num(&s, 1);
  ev.verdict.line = (unsigned)num(&s, 4);
  addr = str(&s, 0);
  /* Longer than the array: fill it to the last byte, no NUL. */
  n = strlen(addr);
  memcpy(ev.addr, addr, n < sizeof(ev.addr) ? n + 1 : sizeof(ev.addr));
  free(addr);
  file = str(&s, 1);
  rule = str(&s, 1);
  reason = str(&s, 1);
  ev.verdict.file = file;
  ev.verdict.rule = rule;
  ev.verdict.reason = reason;

  n = curlfence_event_json(&ev, NULL, 0);
  full = malloc(n + 1);
  if(!full)
    abort();
  if(curlfence_event_json(&ev, full, n + 1) != n)
    fail("length depends on the buffer", full, n);
  if(strlen(full) != n)
    fail("NUL inside the text", full, n);
  if(jc_check_object(full, n, &why, &at))
    fail(why, full, n);

  /* Short buffers: a NUL-terminated prefix. */
  cut = n ? (size_t)(ev.generation % n) + 1 : 1;
  part = malloc(cut);
  if(!part)
    abort();
  m = curlfence_event_json(&ev, part, cut);
  if(m != n || strlen(part) != cut - 1 || memcmp(part, full, cut - 1))
    fail("short buffer is not a prefix", part, strlen(part));
  free(part);

  line = cf_event_line(&ev, 0, small, sizeof(small), &len);
  if(!line)
    abort();
  if(len != n + 1 || memcmp(line, full, n) || line[n] != '\n' ||
     line[n + 1] != '\0')
    fail("cf_event_line differs", line, len);
  if(line != small)
    free(line);
  free(full);
  free(file);
  free(rule);
  free(reason);
  return 0;
}
