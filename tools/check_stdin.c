/* SPDX-License-Identifier: MIT */
/*
 * curlfence check -: standard input, read in large blocks.  The common
 * line, an IPv4 address as inet_ntop writes it with an optional port, is
 * read in one pass, decided on the table alone and printed without stdio
 * in batches whose rule records are fetched together; every other line
 * goes the way of an operand (check.c).
 */
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fast_print(check_ctx *c);

static void out_flush(check_ctx *c)
{
  if(c->outn)
    fwrite(c->out, 1, c->outn, stdout);
  c->outn = 0;
}

void check_sync(check_ctx *c)
{
  if(c->nbatch)
    fast_print(c);
  out_flush(c);
}

size_t check_quad_prefix(const char *s, unsigned char *out)
{
  const char *p = s;

  for(int i = 0; i < 4; i++) {
    unsigned v;

    if(i && *p++ != '.')
      return 0;
    if(*p < '0' || *p > '9')
      return 0;
    v = (unsigned)(*p++ - '0');
    /* a second and third digit only after a nonzero first: "01" is
     * another spelling */
    if(v && *p >= '0' && *p <= '9') {
      v = v * 10 + (unsigned)(*p++ - '0');
      if(*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p++ - '0');
        if(v > 255)
          return 0;
      }
    }
    out[i] = (unsigned char)v;
  }
  return *p >= '0' && *p <= '9' ? 0 : (size_t)(p - s);
}

/* u in decimal at o, two digits a step; returns the end */
static char *put_uint(char *o, unsigned u)
{
  static const char pairs[] =
    "00010203040506070809101112131415161718192021222324"
    "25262728293031323334353637383940414243444546474849"
    "50515253545556575859606162636465666768697071727374"
    "75767778798081828384858687888990919293949596979899";
  char buf[10], *p = buf + sizeof(buf);
  size_t n;

  while(u >= 100) {
    p -= 2;
    memcpy(p, pairs + 2 * (u % 100), 2);
    u /= 100;
  }
  if(u >= 10) {
    p -= 2;
    memcpy(p, pairs + 2 * u, 2);
  }
  else
    *--p = (char)('0' + u);
  n = (size_t)(buf + sizeof(buf) - p);
  memcpy(o, p, n);
  return o + n;
}

/* The common line of a batch: an IPv4 address as inet_ntop writes it
 * and the table's value for it (cf_table_find_sa), waiting in
 * check_ctx.batch to be printed.  input is the line itself, len bytes of
 * it the address; ptext (plen bytes; NULL: none) the port as written. */
typedef struct fast_line {
  const char *input, *ptext;
  size_t len, plen;
  unsigned port;
  uint32_t val;
  const cf_rule *rule;
} fast_line;

/* One line of the batch into out: "allow ADDR port PORT (FILE:LINE:
 * TEXT)".  -1 when it does not fit in an empty buffer. */
static int fast_put(check_ctx *c, const fast_line *f, int allow,
                    const char *file, unsigned line, const char *text)
{
  size_t tlen = strlen(text), k;
  char *o;

  /* a file has many rules: its name measured once for a run of them */
  if(file != c->file) {
    c->file = file;
    c->flen = file ? strlen(file) : 0;
  }
  /* "allow " ADDR " port " 65535 " (" FILE ":" LINE ": " TEXT ")\n" */
  k = f->len + c->flen + tlen + 48;
  if(k > CHECK_OUT_SIZE - c->outn) {
    out_flush(c);
    if(k > CHECK_OUT_SIZE)
      return -1;
  }
  o = c->out + c->outn;
  if(allow) {
    memcpy(o, "allow ", 6);
    o += 6;
  }
  else {
    memcpy(o, "deny ", 5);
    o += 5;
  }
  memcpy(o, f->input, f->len);
  o += f->len;
  if(f->port) {
    memcpy(o, " port ", 6);
    o += 6;
    /* a port as written is its decimal spelling (cli_parse_port) */
    if(f->ptext) {
      memcpy(o, f->ptext, f->plen);
      o += f->plen;
    }
    else
      o = put_uint(o, f->port);
  }
  *o++ = ' ';
  *o++ = '(';
  if(file) {
    memcpy(o, file, c->flen);
    o += c->flen;
    *o++ = ':';
    o = put_uint(o, line);
    *o++ = ':';
    *o++ = ' ';
  }
  else {
    memcpy(o, "built-in: ", 10);
    o += 10;
  }
  memcpy(o, text, tlen);
  o += tlen;
  *o++ = ')';
  *o++ = '\n';
  c->outn = (size_t)(o - c->out);
  return 0;
}

/* Print the lines of the batch, in order.  Their values were found
 * together, and the rule records and texts they name (tens of MB at a
 * million rules, where nearly every one is a cache miss) are fetched
 * together, before any is needed. */
static void fast_print(check_ctx *c)
{
  const curlfence_policy *p = c->p;
  size_t i, nb = c->nbatch;

  /* emptied first: check_print_one below prints what is pending */
  c->nbatch = 0;
  for(i = 0; i < nb; i++) {
    fast_line *f = &c->batch[i];

    f->rule = f->val ? &p->rs.rules[(f->val & ~CF_ALLOW) - 1] : NULL;
    if(f->rule)
      __builtin_prefetch(f->rule);
  }
  for(i = 0; i < nb; i++)
    if(c->batch[i].rule)
      __builtin_prefetch(CF_RULE_TEXT(&p->rs, c->batch[i].rule));
  for(i = 0; i < nb; i++) {
    const fast_line *f = &c->batch[i];
    const char *file = c->dflt.file, *text = c->dflt.rule;
    unsigned line = c->dflt.line;
    int allow = c->dflt.action == CURLFENCE_ALLOW;
    curlfence_verdict v;

    if(f->rule) {
      file = p->rs.files[f->rule->file];
      line = f->rule->line;
      text = CF_RULE_TEXT(&p->rs, f->rule);
      allow = !!(f->val & CF_ALLOW);
    }
    if(!allow)
      c->denied = 1;
    if(c->quiet || !fast_put(c, f, allow, file, line, text))
      continue;
    /* too long for the buffer: stdio takes it */
    memset(&v, 0, sizeof(v));
    v.action = allow ? CURLFENCE_ALLOW : CURLFENCE_DENY;
    v.file = file;
    v.line = line;
    v.rule = text;
    v.reason = f->rule ? "rule" : "default";
    /* the address alone, as check_print_one wants it */
    memcpy(c->addr, f->input, f->len);
    c->addr[f->len] = '\0';
    check_print_one(c, c->addr, NULL, c->addr, f->port, &v);
  }
  if(c->line_mode)
    out_flush(c);
}

/* The common line of a batch read in one pass: "a.b.c.d" or "a.b.c.d
 * PORT" (one space or tab), nothing around.  When the table alone
 * decides it (cf_decide_value: the engine says when), it joins the batch,
 * whose lines point into the input block until it is printed.  0 then; -1
 * when the general path must take the line. */
static int check_line_fast(check_ctx *c, const char *s, unsigned port)
{
  const curlfence_policy *p = c->p;
  unsigned char a[4];
  size_t n = check_quad_prefix(s, a), plen = 0;
  const char *ptext = NULL;
  struct sockaddr_in in;
  unsigned v = 0;

  if(!n)
    return -1;
  if(s[n] == ' ' || s[n] == '\t') {
    /* the rules of cli_parse_port: 1-65535, no sign, no leading zero */
    ptext = s + n + 1;
    if(ptext[0] < '1' || ptext[0] > '9')
      return -1;
    for(; ptext[plen] >= '0' && ptext[plen] <= '9'; plen++) {
      if(plen == 5)
        return -1;
      v = v * 10 + (unsigned)(ptext[plen] - '0');
    }
    if(ptext[plen] || v > 65535)
      return -1;
    port = v;
  }
  else if(s[n])
    return -1;
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  in.sin_port = htons((uint16_t)port);
  memcpy(&in.sin_addr, a, 4);
  v = cf_decide_value(p, (struct sockaddr *)&in, sizeof(in));
  if(v == CF_FIND_SLOW)
    return -1;
  if(!v && !c->have_dflt) {
    /* the default's verdict, taken once from a full decision */
    curlfence_policy_decide(p, (struct sockaddr *)&in, sizeof(in), &c->dflt);
    if(strcmp(c->dflt.reason, "default"))
      return -1;
    c->have_dflt = 1;
  }
  if(c->nbatch == CHECK_BATCH)
    fast_print(c);
  c->batch[c->nbatch++] = (fast_line){ .input = s, .len = n, .ptext = ptext,
                                        .plen = plen, .port = port, .val = v };
  return 0;
}

/* One line of standard input, s (NUL-terminated, its newline dropped):
 * "ADDRESS [PORT]" or "ADDRESS:PORT"; blanks around words, blank lines
 * and #-comments are skipped.  A word ends at a blank (space, tab,
 * carriage return), at "#" or at a NUL byte, which ends the line. */
static void check_line(check_ctx *c, char *s, unsigned port)
{
  char *word[3];
  int n = 0, end = 0;

  if(!c->json && !check_line_fast(c, s, port))
    return;
  while(n < 3 && !end) {
    while(*s == ' ' || *s == '\t' || *s == '\r')
      s++;
    if(!*s || *s == '#')
      break;
    word[n++] = s;
    while(*s && *s != '#' && *s != ' ' && *s != '\t' && *s != '\r')
      s++;
    end = !*s || *s == '#';
    *s++ = '\0';
  }
  if(!n)
    return;
  if(n == 3) {
    check_print_error(c, word[0], "expected ADDRESS [PORT] on the line");
    return;
  }
  check_dest(c, word[0], n > 1 ? word[1] : NULL, port);
}

/* Whether standard input has bytes to read now (or is at its end): a
 * read would not wait. */
static int input_ready(void)
{
  struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };

  return poll(&pfd, 1, 0) > 0;
}

void check_stdin(check_ctx *c, unsigned port)
{
  static fast_line batch[CHECK_BATCH];
  size_t cap = CHECK_OUT_SIZE, have = 0;
  char *buf = malloc(cap + 1), *s, *e, *nl;
  ssize_t n;

  if(!buf) {
    check_print_error(c, "-", strerror(ENOMEM));
    return;
  }
  c->batch = batch;
  for(;;) {
    if(have == cap) {
      /* a line longer than the buffer */
      char *nb = realloc(buf, 2 * cap + 1);

      if(!nb) {
        check_print_error(c, "-", strerror(ENOMEM));
        break;
      }
      buf = nb;
      cap *= 2;
    }
    if(!input_ready()) {
      check_sync(c);
      fflush(stdout);
    }
    n = read(STDIN_FILENO, buf + have, cap - have);
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0) {
      check_print_error(c, "-", strerror(errno));
      break;
    }
    if(!n) {
      /* the last line, without a newline */
      if(have) {
        buf[have] = '\0';
        check_line(c, buf, port);
      }
      check_sync(c);
      break;
    }
    e = buf + have + n;
    for(s = buf; (nl = memchr(s, '\n', (size_t)(e - s))); s = nl + 1) {
      *nl = '\0';
      check_line(c, s, port);
    }
    if(c->nbatch)
      fast_print(c);
    have = (size_t)(e - s);
    memmove(buf, s, have);
  }
  free(buf);
}
