/* SPDX-License-Identifier: MIT */
/*
 * Harness: the audit-log reader of curlfence report and learn
 * (tools/auditlog.c).
 *
 * The input is a log: each line is parsed in a buffer of exactly its
 * length.  A line must never crash the reader, and an event read must
 * have every string it promises.  The fast path may only be quicker than
 * jansson, never more lenient: a line it accepts must be accepted by
 * jansson alone with the same values.  The events are counted in a tally,
 * which must find each key again.
 */
#include "fuzz.h"
#include "auditlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same(const char *a, const char *b)
{
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_line(const uint8_t *p, size_t len, cli_tally *t)
{
  char *line = malloc(len + 1), *copy = malloc(len + 1), why[200];
  cli_event ev, slow;
  void *doc = NULL, *doc2 = NULL;
  cli_tally_ent *e;

  if(!line || !copy)
    abort();
  memcpy(line, p, len);
  memcpy(copy, p, len);
  if(memchr(line, '\0', len) ||
     cli_event_parse(line, len, &ev, &doc, why, sizeof(why))) {
    free(line);
    free(copy);
    cli_event_release(&doc);
    return;
  }
  if(!ev.time || !ev.addr || !ev.family || !ev.reason || !ev.rule_text ||
     ev.port > 65535 || ev.v < 2)
    abort();
  if(cli_event_parse_tree(copy, len, &slow, &doc2, why, sizeof(why)))
    abort();                    /* the fast path took what jansson refuses */
  if(!same(ev.time, slow.time) || ev.deny != slow.deny ||
     ev.enforced != slow.enforced || !same(ev.addr, slow.addr) ||
     !same(ev.as, slow.as) || ev.port != slow.port ||
     !same(ev.family, slow.family) || ev.reused != slow.reused ||
     ev.is_default != slow.is_default || !same(ev.reason, slow.reason) ||
     !same(ev.rule_file, slow.rule_file) || ev.rule_line != slow.rule_line ||
     !same(ev.rule_text, slow.rule_text) || ev.pid != slow.pid ||
     ev.lost != slow.lost || ev.v != slow.v || !same(ev.host, slow.host) ||
     !same(ev.url, slow.url) || !same(ev.program, slow.program) ||
     !same(ev.exe, slow.exe) || ev.uid != slow.uid ||
     !same(ev.hostname, slow.hostname))
    abort();
  e = cli_tally_get(t, ev.addr);
  if(!e)
    abort();
  cli_tally_hit(e, ev.time);
  if(cli_tally_find(t, ev.addr) != e)
    abort();
  cli_event_release(&doc);
  cli_event_release(&doc2);
  free(line);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cli_tally t = { NULL, 0, 0 };
  cli_tally_ent **v;
  const uint8_t *p = data, *end = data + size, *nl;
  unsigned long long total = 0, sum = 0;
  size_t i;

  while(p < end) {
    nl = memchr(p, '\n', (size_t)(end - p));
    if(!nl)
      nl = end;
    check_line(p, (size_t)(nl - p), &t);
    p = nl + 1;
  }
  for(i = 0; i < t.cap; i++)
    total += t.ents[i].count;
  v = cli_tally_sorted(&t);
  if(!v)
    abort();
  for(i = 0; v[i]; i++) {
    if(i && v[i]->count > v[i - 1]->count)
      abort();
    sum += v[i]->count;
  }
  if(i != t.n || sum != total)
    abort();
  free(v);
  cli_tally_free(&t);
  return 0;
}
