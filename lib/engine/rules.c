/* SPDX-License-Identifier: MIT */
/*
 * Rules file parser.
 *
 * The format is line based (docs/rules.md).  Each line is cut at '#',
 * split on blanks and dispatched on its first word.  Addresses are parsed
 * by libcidr, but libcidr accepts many spellings that a policy must never
 * contain ("10/8" is 0.0.0.10/8 to it, "1.2.3.4/-1" is /0, "1::2::3" is a
 * valid address), so every address is first held to canonical notation:
 * the address part must satisfy inet_pton(), which is strict in glibc, the
 * prefix length must be plain decimal, and libcidr's reading of the block
 * must agree with both.  Anything else is an error with file:line:column.
 *
 * Parsing either succeeds completely or leaves an error and a rule set the
 * caller frees: there is no partial policy.
 *
 * Nor a policy read from half a rewrite.  A file rewritten in place while
 * a process starts can be read half old, half new, and half a file is
 * often valid rules ("deny 10.0.0.0/8" cut at the slash is "deny
 * 10.0.0.0").  So a load from files reads every file, then checks that
 * none changed since it was opened (its stamp: identity, size, times;
 * and the bytes read against the size), and reads them all again when one
 * did, a bounded number of times (cf_load_retry).  Only rename(2) makes a
 * new version appear whole; this makes an in-place rewrite fail or wait
 * instead of loading what was half written.
 */
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libcidr.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOKENS 8
#define MAX_FILE_SIZE ((size_t)1 << 30)
/* What one load may read in total, includes counted each time they are
 * read: a tree of small files that include each other many times would
 * otherwise multiply its reads without bound.  Files are cheap to count;
 * bytes bound the time and memory (and so the lines, at least one byte
 * each). */
#define MAX_LOAD_FILES 4096
#define MAX_LOAD_BYTES MAX_FILE_SIZE

typedef struct token {
  const char *s;
  size_t len;
  unsigned col;
} token;

/* One file being parsed; frames form the include stack. */
typedef struct frame {
  const struct frame *up;
  uint32_t file;          /* index in rs->files */
  const char *name;       /* == rs->files[file] */
  char *real;             /* realpath, for cycle detection; NULL for text */
  int from_string;
} frame;

typedef struct parser {
  cf_ruleset *rs;
  curlfence_error *err;
  unsigned depth;
  size_t files;           /* read so far in this load */
  size_t bytes;
  unsigned attempt;       /* of cf_rules_parse_file, from 0 */
  int changed;            /* a file's size moved while it was read */
} parser;

#ifdef CF_TEST_HOOKS
void (*cf_test_load_hook)(int point, const char *path, unsigned attempt);
#define TEST_HOOK(point, path, attempt) \
  do { \
    if(cf_test_load_hook) \
      cf_test_load_hook(point, path, attempt); \
  } while(0)
#else
#define TEST_HOOK(point, path, attempt) ((void)0)
#endif

static curlfence_code parse_buffer(parser *p, const frame *fr,
                                   const char *buf, size_t len);

static int tok_is(const token *t, const char *word)
{
  size_t n = strlen(word);
  return t->len == n && memcmp(t->s, word, n) == 0;
}

static curlfence_code nomem(parser *p)
{
  cf_error_set(p->err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

void cf_stamp_from_stat(cf_stamp *s, const struct stat *st)
{
  /* stamps are compared with memcmp: no stray padding bytes */
  memset(s, 0, sizeof(*s));
  s->dev = (uint64_t)st->st_dev;
  s->ino = (uint64_t)st->st_ino;
  s->size = (uint64_t)st->st_size;
  s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  s->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  s->valid = 1;
}

/* ------------------------------------------------------ reading files */

void cf_error_changed(curlfence_error *err, const char *file)
{
  cf_error_set(err, CURLFENCE_E_IO, file, 0, 0,
               "changed while it was being read; not loaded (replace "
               "rules files with rename(2))");
}

const char *cf_rules_changed(const cf_ruleset *rs)
{
  size_t i;

  for(i = 0; i < rs->nfiles; i++) {
    struct stat st;
    cf_stamp now;

    if(!rs->stamps[i].valid)
      continue;
    memset(&now, 0, sizeof(now));
    if(stat(rs->files[i], &st) == 0)
      cf_stamp_from_stat(&now, &st);
    if(memcmp(&now, &rs->stamps[i], sizeof(now)) != 0)
      return rs->files[i];
  }
  return NULL;
}

int cf_load_retry(const cf_ruleset *rs, int changed, unsigned attempt,
                  curlfence_error *err)
{
  const char *moved = NULL;
  unsigned ms;

  TEST_HOOK(CF_HOOK_READ, NULL, attempt);
  if(!changed && !(moved = cf_rules_changed(rs)))
    return 0;
  if(attempt + 1 >= CF_LOAD_TRIES) {
    if(moved)
      cf_error_changed(err, moved);
    return -1;
  }
  /* No pause before the first try, so an unchanging file costs a stat(2)
   * per file; a writer in the middle of its steps gets 1, 4, 16 ms... up
   * to the watcher's settle time to finish them. */
  ms = 1u << (2 * attempt);
  if(ms > CF_WATCH_SETTLE_MS)
    ms = CF_WATCH_SETTLE_MS;
  nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000 },
            NULL);
  return 1;
}

/* st: how the file looked when it was opened; NULL for text in memory. */
static curlfence_code add_file(parser *p, const char *name,
                               const struct stat *st, uint32_t *idx)
{
  cf_ruleset *rs = p->rs;
  size_t cap = rs->capfiles;
  char *copy;

  /* files and stamps are parallel: one capacity, raised once both grew */
  if(cf_grow(&rs->files, &cap, rs->nfiles + 1, sizeof(char *)))
    return nomem(p);
  cap = rs->capfiles;
  if(cf_grow(&rs->stamps, &cap, rs->nfiles + 1, sizeof(cf_stamp)))
    return nomem(p);
  rs->capfiles = cap;
  copy = strdup(name);
  if(!copy)
    return nomem(p);
  rs->files[rs->nfiles] = copy;
  memset(&rs->stamps[rs->nfiles], 0, sizeof(cf_stamp));
  if(st)
    cf_stamp_from_stat(&rs->stamps[rs->nfiles], st);
  *idx = (uint32_t)rs->nfiles++;
  return CURLFENCE_OK;
}

/* The words of a line joined by single blanks, appended to the rule set's
 * text block; returns the offset, or -1 when out of memory. */
static long add_text(cf_ruleset *rs, const token *t, size_t n)
{
  size_t i, len = 0, off;
  char *nt;

  for(i = 0; i < n; i++)
    len += t[i].len + 1;
  if(rs->ntexts + len > UINT32_MAX)
    return -1;
  if(cf_grow(&rs->texts, &rs->captexts, rs->ntexts + len, 1))
    return -1;
  nt = rs->texts;
  off = rs->ntexts;
  for(i = 0; i < n; i++) {
    memcpy(nt + rs->ntexts, t[i].s, t[i].len);
    rs->ntexts += t[i].len;
    nt[rs->ntexts++] = ' ';
  }
  nt[rs->ntexts - 1] = '\0';
  return (long)off;
}

/* The words of a line joined by single blanks: the rule as reported. */
static char *join_tokens(const token *t, size_t n)
{
  size_t i, len = 0, off = 0;
  char *s;

  for(i = 0; i < n; i++)
    len += t[i].len + 1;
  s = malloc(len ? len : 1);
  if(!s)
    return NULL;
  for(i = 0; i < n; i++) {
    memcpy(s + off, t[i].s, t[i].len);
    off += t[i].len;
    s[off++] = ' ';
  }
  s[off ? off - 1 : 0] = '\0';
  return s;
}

static curlfence_code fail(parser *p, const frame *fr, unsigned line,
                           unsigned col, curlfence_code code, const char *fmt,
                           const char *a, const char *b)
{
  char msg[1200];

  snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
  cf_error_set(p->err, code, fr->name, line, col, "%s", msg);
  return code;
}

/* ------------------------------------------------------------ addresses */

/* Say why inet_pton() refused an address, for the common mistakes. */
static curlfence_code bad_address(parser *p, const frame *fr, unsigned line,
                                  unsigned col, const char *a, int v6)
{
  const char *s;
  int dots = 0, colons2 = 0, groups = 1;

  if(v6) {
    for(s = a; *s; s++) {
      if(s[0] == ':' && s[1] == ':')
        colons2++;
      if(*s == ':')
        groups++;
    }
    if(colons2 > 1)
      return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
                  "invalid IPv6 address \"%s\" (\"::\" may appear only once)",
                  a, NULL);
    if(groups > 8)
      return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
                  "invalid IPv6 address \"%s\" (more than 8 groups)", a, NULL);
    return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
                "invalid IPv6 address \"%s\"", a, NULL);
  }
  for(s = a; *s; s++)
    dots += *s == '.';
  for(s = a; *s; s++)
    if(*s == '0' && (s[1] == 'x' || s[1] == 'X') && (s == a || s[-1] == '.'))
      break;
  if(*s)
    return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
                "invalid IPv4 address \"%s\" (hexadecimal is not accepted)",
                a, NULL);
  for(s = a; *s; s++) {
    if(*s == '0' && (s == a || s[-1] == '.') && s[1] >= '0' && s[1] <= '9')
      return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
                  "invalid IPv4 address \"%s\" (leading zero: octal is not "
                  "accepted)", a, NULL);
  }
  if(dots < 3 && a[strspn(a, "0123456789.")] == '\0')
    return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
                "incomplete IPv4 address \"%s\" (write all four octets)", a,
                NULL);
  return fail(p, fr, line, col, CURLFENCE_E_ADDRESS,
              "invalid IPv4 address \"%s\" (expected four decimal octets "
              "0-255)", a, NULL);
}

static int is_digits(const char *s, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    if(s[i] < '0' || s[i] > '9')
      return 0;
  return n > 0;
}

/* Decimal digits s[0..n) (already checked) as a number. */
static int atoi_n(const char *s, size_t n)
{
  int v = 0;

  while(n--)
    v = v * 10 + (*s++ - '0');
  return v;
}

/* Write plen (0..128) as decimal plus NUL. */
static void plen_text(char *out, int plen)
{
  if(plen >= 100)
    *out++ = (char)('0' + plen / 100);
  if(plen >= 10)
    *out++ = (char)('0' + plen / 10 % 10);
  *out++ = (char)('0' + plen % 10);
  *out = '\0';
}

/* Whether any bit after the first plen of the n-byte address is set. */
static int host_bits_set(const uint8_t *a, size_t n, int plen)
{
  size_t i = (size_t)plen / 8;

  if(plen % 8 && (a[i++] & (0xffu >> (plen % 8))))
    return 1;
  for(; i < n; i++)
    if(a[i])
      return 1;
  return 0;
}

/* Parse a canonical address or CIDR block into r (addr, v6, plen). */
static curlfence_code parse_prefix(parser *p, const frame *fr, unsigned line,
                                   const token *t, cf_rule *r)
{
  char abuf[64], num[8];
  /* libcidr's check for reverse-DNS suffixes ("x.in-addr.arpa") reads up to
   * 13 bytes before the end of the string even when it is shorter, so the
   * string it gets is preceded by zero bytes that are ours to read. */
  char padded[16 + 80] = { 0 };
  char *cbuf = padded + 16;
  uint8_t bytes[16], lbytes[16];
  const char *slash = memchr(t->s, '/', t->len);
  size_t alen = slash ? (size_t)(slash - t->s) : t->len;
  const char *bad;
  int v6, maxlen, plen, ok;
  CIDR *c;

  if(alen == 0)
    return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
                "missing address before \"/\"", NULL, NULL);
  if(alen >= sizeof(abuf))
    return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
                "address too long", NULL, NULL);
  memcpy(abuf, t->s, alen);
  abuf[alen] = '\0';
  if((bad = strpbrk(abuf, "[]")))
    return fail(p, fr, line, t->col + (unsigned)(bad - abuf),
                CURLFENCE_E_ADDRESS,
                "brackets are not allowed around addresses (\"%s\")", abuf,
                NULL);
  if((bad = strchr(abuf, '%')))
    return fail(p, fr, line, t->col + (unsigned)(bad - abuf),
                CURLFENCE_E_ADDRESS,
                "zone ids are not allowed in rules (\"%s\")", abuf, NULL);
  v6 = strchr(abuf, ':') != NULL;
  maxlen = v6 ? 128 : 32;
  if(inet_pton(v6 ? AF_INET6 : AF_INET, abuf, bytes) != 1)
    return bad_address(p, fr, line, t->col, abuf, v6);

  plen = maxlen;
  if(slash) {
    const char *ps = slash + 1;
    size_t pl = t->len - alen - 1;
    unsigned pcol = t->col + (unsigned)alen + 1;

    if(pl == 0)
      return fail(p, fr, line, pcol, CURLFENCE_E_ADDRESS,
                  "missing prefix length after \"/\"", NULL, NULL);
    if(!is_digits(ps, pl) || pl > 3 || (pl > 1 && ps[0] == '0') ||
       (plen = atoi_n(ps, pl)) > maxlen) {
      char shown[64];

      snprintf(shown, sizeof(shown), "%.*s", (int)(pl < 40 ? pl : 40), ps);
      snprintf(num, sizeof(num), "0-%d", maxlen);
      if(is_digits(ps, pl) && pl <= 3 && !(pl > 1 && ps[0] == '0'))
        return fail(p, fr, line, pcol, CURLFENCE_E_ADDRESS,
                    v6 ? "invalid prefix length \"%s\" (IPv6 allows %s)"
                       : "invalid prefix length \"%s\" (IPv4 allows %s)",
                    shown, num);
      return fail(p, fr, line, pcol, CURLFENCE_E_ADDRESS,
                  "invalid prefix length \"%s\" (expected a decimal number "
                  "%s)", shown, num);
    }
  }

  /* libcidr makes the block; it must read what inet_pton read. */
  memcpy(cbuf, abuf, alen);
  cbuf[alen] = '/';
  plen_text(cbuf + alen + 1, plen);
  c = cidr_from_str(cbuf);
  if(!c)
    return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
                "invalid address block \"%s\"", cbuf, NULL);
  memset(lbytes, 0, sizeof(lbytes));
  if(v6)
    ok = cidr_get_proto(c) == CIDR_IPV6 &&
         cidr_to_in6addr(c, (struct in6_addr *)lbytes) != NULL;
  else
    ok = cidr_get_proto(c) == CIDR_IPV4 &&
         cidr_to_inaddr(c, (struct in_addr *)lbytes) != NULL;
  ok = ok && cidr_get_pflen(c) == plen &&
       memcmp(lbytes, bytes, v6 ? 16 : 4) == 0;
  if(!ok) {
    cidr_free(c);
    return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
                "address block \"%s\" is ambiguous", cbuf, NULL);
  }
  if(host_bits_set(bytes, v6 ? 16 : 4, plen)) {
    /* libcidr names the network the author probably meant. */
    CIDR *net = cidr_addr_network(c);
    char *want = net ? cidr_to_str(net, CIDR_NOFLAGS) : NULL;
    curlfence_code rc;

    rc = fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
              "host bits set in \"%s\" (did you mean %s?)", cbuf,
              want ? want : "the network address");
    free(want);
    cidr_free(net);
    cidr_free(c);
    return rc;
  }
  cidr_free(c);

  memset(r->addr, 0, sizeof(r->addr));
  if(v6 && plen >= 96 && bytes[10] == 0xff && bytes[11] == 0xff &&
     !memcmp(bytes, "\0\0\0\0\0\0\0\0\0\0", 10)) {
    /* IPv4-mapped: the same block as IPv4, as queries are looked up. */
    memcpy(r->addr, bytes + 12, 4);
    r->v6 = 0;
    r->plen = (uint8_t)(plen - 96);
  }
  else {
    memcpy(r->addr, bytes, v6 ? 16 : 4);
    r->v6 = (uint8_t)v6;
    r->plen = (uint8_t)plen;
  }
  return CURLFENCE_OK;
}

/* ---------------------------------------------------------------- ports */

static curlfence_code parse_port_number(parser *p, const frame *fr,
                                        unsigned line, const char *s,
                                        size_t n, unsigned col, unsigned *out)
{
  char shown[32];

  snprintf(shown, sizeof(shown), "%.*s", (int)(n < 20 ? n : 20), s);
  if(n == 0)
    return fail(p, fr, line, col, CURLFENCE_E_PORT,
                "empty port in list (expected 1-65535)", NULL, NULL);
  if(!is_digits(s, n) || (n > 1 && s[0] == '0'))
    return fail(p, fr, line, col, CURLFENCE_E_PORT,
                "invalid port \"%s\" (expected a decimal number 1-65535)",
                shown, NULL);
  if(n > 5 || atoi(shown) > 65535 || atoi(shown) == 0)
    return fail(p, fr, line, col, CURLFENCE_E_PORT,
                "port \"%s\" out of range (1-65535)", shown, NULL);
  *out = (unsigned)atoi(shown);
  return CURLFENCE_OK;
}

/* "80,443,8000-8080" -> ranges appended to rs->ports. */
static curlfence_code parse_ports(parser *p, const frame *fr, unsigned line,
                                  const token *t, cf_rule *r)
{
  cf_ruleset *rs = p->rs;
  const char *s = t->s, *end = t->s + t->len;
  curlfence_code rc;

  r->port_off = (uint32_t)rs->nports;
  r->nports = 0;
  for(;;) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *iend = comma ? comma : end;
    const char *dash = memchr(s, '-', (size_t)(iend - s));
    unsigned col = t->col + (unsigned)(s - t->s);
    unsigned lo, hi;

    rc = parse_port_number(p, fr, line, s,
                           (size_t)((dash ? dash : iend) - s), col, &lo);
    if(rc)
      return rc;
    hi = lo;
    if(dash) {
      rc = parse_port_number(p, fr, line, dash + 1,
                             (size_t)(iend - dash - 1),
                             col + (unsigned)(dash + 1 - s), &hi);
      if(rc)
        return rc;
      if(hi < lo) {
        char shown[32];
        snprintf(shown, sizeof(shown), "%.*s", (int)(iend - s), s);
        return fail(p, fr, line, col, CURLFENCE_E_PORT,
                    "port range \"%s\" is reversed (write low-high)", shown,
                    NULL);
      }
    }
    if(cf_grow(&rs->ports, &rs->capports, rs->nports + 1,
               sizeof(*rs->ports)))
      return nomem(p);
    rs->ports[rs->nports].lo = (uint16_t)lo;
    rs->ports[rs->nports].hi = (uint16_t)hi;
    rs->nports++;
    r->nports++;
    if(!comma)
      break;
    s = comma + 1;
  }
  return CURLFENCE_OK;
}

/* ---------------------------------------------------------------- lines */

static int parse_action(const token *t, uint8_t *action)
{
  if(tok_is(t, "allow"))
    *action = CURLFENCE_ALLOW;
  else if(tok_is(t, "deny"))
    *action = CURLFENCE_DENY;
  else
    return -1;
  return 0;
}

static int parse_mode(const token *t, uint8_t *report)
{
  if(tok_is(t, "enforce"))
    *report = 0;
  else if(tok_is(t, "report"))
    *report = 1;
  else
    return -1;
  return 0;
}

static curlfence_code unexpected(parser *p, const frame *fr, unsigned line,
                                 const token *t, const char *expect)
{
  char shown[64];

  snprintf(shown, sizeof(shown), "%.*s", (int)(t->len < 40 ? t->len : 40),
           t->s);
  return fail(p, fr, line, t->col, CURLFENCE_E_SYNTAX,
              "unexpected \"%s\" (expected %s)", shown, expect);
}

/* ---------------------------------------------------------------- nat64 */

/* "64:ff9b::/96" */
static void nat64_text(char *out, size_t size, const cf_nat64 *d)
{
  char a[INET6_ADDRSTRLEN];

  inet_ntop(AF_INET6, d->prefix, a, sizeof(a));
  snprintf(out, size, "%s/%u", a, (unsigned)d->plen);
}

/* "nat64 PREFIX/LEN": RFC 6052 section 2.2 layouts only. */
static curlfence_code parse_nat64(parser *p, const frame *fr, unsigned line,
                                  const token *t, size_t n, unsigned eol)
{
  static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };
  cf_ruleset *rs = p->rs;
  cf_rule r;
  cf_nat64 d;
  const char *slash;
  char shown[80], other[600];
  unsigned plen;
  curlfence_code rc;
  size_t i;

  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing prefix after \"nat64\" (e.g. nat64 64:ff9b::/96)",
                NULL, NULL);
  if(n > 2)
    return unexpected(p, fr, line, &t[2], "end of line");
  snprintf(shown, sizeof(shown), "%.*s",
           (int)(t[1].len < 60 ? t[1].len : 60), t[1].s);
  memset(&r, 0, sizeof(r));
  rc = parse_prefix(p, fr, line, &t[1], &r);
  if(rc)
    return rc;
  if(!memchr(t[1].s, ':', t[1].len))
    return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                "nat64 needs an IPv6 prefix, not \"%s\"", shown, NULL);
  slash = memchr(t[1].s, '/', t[1].len);
  if(!slash)
    return fail(p, fr, line, t[1].col + (unsigned)t[1].len,
                CURLFENCE_E_ADDRESS,
                "missing prefix length after \"%s\" (RFC 6052 allows /32, "
                "/40, /48, /56, /64 or /96)", shown, NULL);
  /* parse_prefix turned an IPv4-mapped block into IPv4 */
  plen = r.v6 ? r.plen : r.plen + 96u;
  if(plen != 32 && plen != 40 && plen != 48 && plen != 56 && plen != 64 &&
     plen != 96) {
    char num[8];

    snprintf(num, sizeof(num), "%u", plen);
    return fail(p, fr, line, t[1].col + (unsigned)(slash - t[1].s) + 1,
                CURLFENCE_E_ADDRESS,
                "invalid NAT64 prefix length \"%s\" (RFC 6052 allows 32, "
                "40, 48, 56, 64 or 96)", num, NULL);
  }
  memset(&d, 0, sizeof(d));
  if(r.v6)
    memcpy(d.prefix, r.addr, 16);
  else {
    memcpy(d.prefix, mapped, 12);
    memcpy(d.prefix + 12, r.addr, 4);
  }
  d.plen = (uint8_t)plen;
  d.file = fr->file;
  d.line = line;
  d.column = t[1].col;
  if(cf_prefix_equal(d.prefix, mapped, plen))
    return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                "nat64 prefix \"%s\" overlaps the IPv4-mapped range "
                "::ffff:0:0/96, which is always decided as IPv4", shown,
                NULL);
  if(plen == 96 && d.prefix[8] != 0)
    return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                "nat64 prefix \"%s\" sets bits 64-71, the \"u\" octet "
                "that RFC 6052 section 2.2 reserves as zero", shown, NULL);
  for(i = 0; i < rs->nnat64; i++) {
    const cf_nat64 *o = &rs->nat64[i];

    if(cf_prefix_equal(o->prefix, d.prefix,
                       o->plen < plen ? o->plen : plen)) {
      char ot[64];

      nat64_text(ot, sizeof(ot), o);
      snprintf(other, sizeof(other), "\"%s\" declared at %s:%u", ot,
               rs->files[o->file], (unsigned)o->line);
      return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                  "nat64 prefix \"%s\" overlaps %s", shown, other);
    }
  }
  for(i = 0; i < rs->nrules; i++) {
    const cf_rule *o = &rs->rules[i];

    if(o->v6 && !o->self && o->plen >= plen &&
       cf_prefix_equal(d.prefix, o->addr, plen)) {
      snprintf(other, sizeof(other), "\"%s\" (%s:%u)", CF_RULE_TEXT(rs, o),
               rs->files[o->file], (unsigned)o->line);
      return fail(p, fr, line, t[1].col, CURLFENCE_E_ADDRESS,
                  "nat64 prefix \"%s\" holds the rule %s, which could "
                  "never apply: inside it only the IPv4 rules decide", shown,
                  other);
    }
  }
  if(cf_grow(&rs->nat64, &rs->capnat64, rs->nnat64 + 1, sizeof(d)))
    return nomem(p);
  rs->nat64[rs->nnat64++] = d;
  return CURLFENCE_OK;
}

/* An IPv6 rule inside a declared nat64 prefix could never apply. */
static curlfence_code rule_in_nat64(parser *p, const frame *fr,
                                    unsigned line, const token *t,
                                    const cf_rule *r)
{
  const cf_ruleset *rs = p->rs;
  char shown[80], where[600], pt[64];
  long i;

  if(!r->v6 || (i = cf_nat64_covering(rs, r->addr, r->plen)) < 0)
    return CURLFENCE_OK;
  snprintf(shown, sizeof(shown), "%.*s",
           (int)(t->len < 60 ? t->len : 60), t->s);
  nat64_text(pt, sizeof(pt), &rs->nat64[i]);
  snprintf(where, sizeof(where), "\"%s\" (declared at %s:%u)", pt,
           rs->files[rs->nat64[i].file], (unsigned)rs->nat64[i].line);
  return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
              "\"%s\" lies inside nat64 prefix %s and could never apply: "
              "inside it only the IPv4 rules decide", shown, where);
}

/* ----------------------------------------------------------------- self */

static curlfence_code add_rule(parser *p, const cf_rule *r)
{
  cf_ruleset *rs = p->rs;

  if(cf_grow(&rs->rules, &rs->caprules, rs->nrules + 1, sizeof(*r)))
    return nomem(p);
  rs->rules[rs->nrules++] = *r;
  return CURLFENCE_OK;
}

/* "allow|deny self [port LIST]": one rule as written, which the table
 * leaves out; the host's addresses it names are resolved once the whole
 * file is read (cf_self_resolve), and again at every load. */
static curlfence_code add_self(parser *p, const token *t, size_t n,
                               cf_rule *r)
{
  cf_ruleset *rs = p->rs;
  long text = add_text(rs, t, n);

  if(text < 0)
    return nomem(p);
  rs->nself++;
  r->self = 1;
  r->text = (uint32_t)text;
  return add_rule(p, r);
}

/* "allow host NAME [to PREFIX] [port LIST]", "deny host NAME [port
 * LIST]" (hostrule.c checks the name). */
static curlfence_code parse_host(parser *p, const frame *fr, unsigned line,
                                 const token *t, size_t n, unsigned eol)
{
  cf_ruleset *rs = p->rs;
  cf_hostrule h;
  cf_rule r;
  char name[CF_HOST_MAX + 1], msg[600];
  size_t i = 3;
  int wild;
  unsigned off;
  long text, ntext;
  curlfence_code rc;

  memset(&h, 0, sizeof(h));
  memset(&r, 0, sizeof(r));
  parse_action(&t[0], &h.action);
  if(n < 3)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing name after \"%s host\" (expected a host name or "
                "*.SUFFIX)", h.action == CURLFENCE_ALLOW ? "allow" : "deny",
                NULL);
  if(cf_hostrule_name(t[2].s, t[2].len, name, &wild, msg, sizeof(msg),
                      &off))
    return fail(p, fr, line, t[2].col + off, CURLFENCE_E_SYNTAX, "%s", msg,
                NULL);
  if(n > i && tok_is(&t[i], "to")) {
    if(h.action != CURLFENCE_ALLOW)
      return fail(p, fr, line, t[i].col, CURLFENCE_E_SYNTAX,
                  "\"deny host ... to\" is not a rule: a deny host rule "
                  "holds for every address (write \"deny host NAME\")",
                  NULL, NULL);
    if(n == i + 1)
      return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                  "missing address block after \"to\"", NULL, NULL);
    rc = parse_prefix(p, fr, line, &t[i + 1], &r);
    if(rc)
      return rc;
    memcpy(h.addr, r.addr, sizeof(h.addr));
    h.v6 = r.v6;
    h.plen = r.plen;
    h.to = 1;
    i += 2;
  }
  if(n > i && !tok_is(&t[i], "port"))
    return unexpected(p, fr, line, &t[i], h.action == CURLFENCE_ALLOW &&
                      !h.to ? "\"to\", \"port\" or end of line"
                            : "\"port\" or end of line");
  if(n == i + 1)
    return fail(p, fr, line, eol, CURLFENCE_E_PORT,
                "missing port list after \"port\" (e.g. 80,443,8000-8080)",
                NULL, NULL);
  if(n > i + 2)
    return unexpected(p, fr, line, &t[i + 2], "end of line");
  if(n == i + 2) {
    rc = parse_ports(p, fr, line, &t[i + 1], &r);
    if(rc)
      return rc;
  }
  text = add_text(rs, t, n);
  ntext = text < 0 ? -1 : add_text(rs, &(token){ name, strlen(name), 0 },
                                    1);
  if(ntext < 0 || cf_grow(&rs->hosts, &rs->caphosts, rs->nhosts + 1,
                          sizeof(*rs->hosts)))
    return nomem(p);
  h.wild = (uint8_t)wild;
  h.port_off = r.port_off;
  h.nports = r.nports;
  h.file = fr->file;
  h.line = line;
  h.text = (uint32_t)text;
  h.name = (uint32_t)ntext;
  h.namelen = (uint32_t)strlen(name);
  rs->hosts[rs->nhosts++] = h;
  return CURLFENCE_OK;
}

static curlfence_code parse_rule(parser *p, const frame *fr, unsigned line,
                                 const token *t, size_t n, unsigned eol)
{
  cf_ruleset *rs = p->rs;
  cf_rule r;
  curlfence_code rc;
  long text;
  int self;

  memset(&r, 0, sizeof(r));
  parse_action(&t[0], &r.action);
  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing address after \"%s\" (expected an address, "
                "CIDR block, self or host NAME)", tok_is(&t[0], "allow") ?
                "allow" : "deny", NULL);
  if(tok_is(&t[1], "host"))
    return parse_host(p, fr, line, t, n, eol);
  self = tok_is(&t[1], "self");
  rc = self ? CURLFENCE_OK : parse_prefix(p, fr, line, &t[1], &r);
  if(!rc && !self)
    rc = rule_in_nat64(p, fr, line, &t[1], &r);
  if(rc)
    return rc;
  if(n >= 3 && !tok_is(&t[2], "port"))
    return unexpected(p, fr, line, &t[2], "\"port\" or end of line");
  if(n == 3)
    return fail(p, fr, line, eol, CURLFENCE_E_PORT,
                "missing port list after \"port\" (e.g. 80,443,8000-8080)",
                NULL, NULL);
  if(n > 4)
    return unexpected(p, fr, line, &t[4], "end of line");
  if(n == 4) {
    rc = parse_ports(p, fr, line, &t[3], &r);
    if(rc)
      return rc;
  }
  r.file = fr->file;
  r.line = line;
  if(self)
    return add_self(p, t, n, &r);
  text = add_text(rs, t, n);
  if(text < 0)
    return nomem(p);
  r.text = (uint32_t)text;
  return add_rule(p, &r);
}

/* "expect allow|deny ADDRESS [port P]": one address (no prefix), one
 * port or none (then every port). */
static curlfence_code parse_expect(parser *p, const frame *fr, unsigned line,
                                   const token *t, size_t n, unsigned eol)
{
  cf_ruleset *rs = p->rs;
  cf_expect e;
  cf_rule r;
  curlfence_code rc;
  unsigned port = 0;

  memset(&e, 0, sizeof(e));
  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing action after \"expect\" (expected allow or deny)",
                NULL, NULL);
  if(parse_action(&t[1], &e.action))
    return unexpected(p, fr, line, &t[1], "allow or deny");
  if(n < 3)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing address after \"expect %s\" (expected an address)",
                e.action == CURLFENCE_ALLOW ? "allow" : "deny", NULL);
  if(tok_is(&t[2], "host"))
    return fail(p, fr, line, t[2].col, CURLFENCE_E_SYNTAX,
                "\"expect ... host\" is not supported yet: expectations "
                "are about addresses (write the address)", NULL, NULL);
  if(memchr(t[2].s, '/', t[2].len))
    return fail(p, fr, line, t[2].col, CURLFENCE_E_ADDRESS,
                "an expectation is about one address, not a block (write "
                "it without /LEN)", NULL, NULL);
  memset(&r, 0, sizeof(r));
  rc = parse_prefix(p, fr, line, &t[2], &r);
  if(rc)
    return rc;
  if(n >= 4 && !tok_is(&t[3], "port"))
    return unexpected(p, fr, line, &t[3], "\"port\" or end of line");
  if(n == 4)
    return fail(p, fr, line, eol, CURLFENCE_E_PORT,
                "missing port after \"port\" (one port, 1-65535)", NULL,
                NULL);
  if(n > 5)
    return unexpected(p, fr, line, &t[5], "end of line");
  if(n == 5) {
    rc = parse_port_number(p, fr, line, t[4].s, t[4].len, t[4].col, &port);
    if(rc)
      return rc;
  }
  memcpy(e.addr, r.addr, sizeof(e.addr));
  e.v6 = r.v6;
  e.port = (uint16_t)port;
  e.file = fr->file;
  e.line = line;
  e.column = t[0].col;
  if(cf_grow(&rs->expects, &rs->capexpects, rs->nexpects + 1, sizeof(e)))
    return nomem(p);
  rs->expects[rs->nexpects++] = e;
  return CURLFENCE_OK;
}

static curlfence_code parse_setting(parser *p, const frame *fr, unsigned line,
                                    const token *t, size_t n, unsigned eol,
                                    cf_setting *set, const char *word)
{
  int is_mode = set == &p->rs->mode;
  const char *expect = is_mode ? "enforce or report" : "allow or deny";
  uint8_t action;
  char where[400];

  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                is_mode ? "missing value after \"%s\" (expected %s)"
                        : "missing action after \"%s\" (expected %s)",
                word, expect);
  if(is_mode ? parse_mode(&t[1], &action) : parse_action(&t[1], &action))
    return unexpected(p, fr, line, &t[1], expect);
  if(n > 2)
    return unexpected(p, fr, line, &t[2], "end of line");
  if(set->set) {
    snprintf(where, sizeof(where), "%s:%u", p->rs->files[set->file],
             (unsigned)set->line);
    return fail(p, fr, line, t[0].col, CURLFENCE_E_DUPLICATE,
                "duplicate \"%s\" (first given at %s)", word, where);
  }
  set->text = join_tokens(t, n);
  if(!set->text)
    return nomem(p);
  set->set = 1;
  set->action = action;
  set->file = fr->file;
  set->line = line;
  return CURLFENCE_OK;
}

/* ------------------------------------------------------------- includes */

static curlfence_code too_much(parser *p, const char *fname, unsigned line,
                               unsigned col, const char *path)
{
  cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
               "\"%s\" would bring the rules read in one load over 1 GiB",
               path);
  return CURLFENCE_E_LIMIT;
}

/* Read the whole file.  st_size only sizes the first buffer: files in
 * /proc and the like say 0 and still have content, so reading goes on
 * until end of file (or the limits). */
static curlfence_code read_file(parser *p, const char *path, char **out,
                                size_t *outlen, struct stat *stp,
                                const frame *at, unsigned line, unsigned col)
{
  struct stat st;
  char *buf, *nb;
  size_t got = 0, cap, room, limit;
  int fd, e;
  const char *fname = at ? at->name : path;

  *out = NULL;
  if(p->files >= MAX_LOAD_FILES) {
    cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
                 "\"%s\" would be file number %d read in one load (at "
                 "most %d; a file counts each time it is included)", path,
                 MAX_LOAD_FILES + 1, MAX_LOAD_FILES);
    return CURLFENCE_E_LIMIT;
  }
  p->files++;
  room = p->bytes < MAX_LOAD_BYTES ? MAX_LOAD_BYTES - p->bytes : 0;
  limit = room < MAX_FILE_SIZE ? room : MAX_FILE_SIZE;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if(fd < 0) {
    e = errno;
    cf_error_set(p->err, CURLFENCE_E_IO, fname, line, col,
                 "cannot open \"%s\": %s", path, strerror(e));
    return CURLFENCE_E_IO;
  }
  if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    cf_error_set(p->err, CURLFENCE_E_IO, fname, line, col,
                 "\"%s\" is not a regular file", path);
    return CURLFENCE_E_IO;
  }
  TEST_HOOK(CF_HOOK_OPENED, path, p->attempt);
  if((uintmax_t)st.st_size > limit) {
    close(fd);
    if((uintmax_t)st.st_size <= MAX_FILE_SIZE)
      return too_much(p, fname, line, col, path);
    cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
                 "\"%s\" is larger than 1 GiB", path);
    return CURLFENCE_E_LIMIT;
  }
  /* One byte more than the size says, so that the read seeing end of file
   * needs no second buffer. */
  cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
  buf = malloc(cap);
  if(!buf) {
    close(fd);
    return nomem(p);
  }
  for(;;) {
    ssize_t r;

    if(got > limit) {
      free(buf);
      close(fd);
      if(got <= MAX_FILE_SIZE)
        return too_much(p, fname, line, col, path);
      cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
                   "\"%s\" is larger than 1 GiB", path);
      return CURLFENCE_E_LIMIT;
    }
    if(got == cap) {
      size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;

      nb = ncap > cap ? realloc(buf, ncap) : NULL;
      if(!nb) {
        free(buf);
        close(fd);
        return nomem(p);
      }
      buf = nb;
      cap = ncap;
    }
    r = read(fd, buf + got, cap - got);
    if(r < 0 && errno == EINTR)
      continue;
    if(r == 0)
      break;
    if(r < 0) {
      e = errno;
      free(buf);
      close(fd);
      cf_error_set(p->err, CURLFENCE_E_IO, fname, line, col,
                   "cannot read \"%s\": %s", path, strerror(e));
      return CURLFENCE_E_IO;
    }
    got += (size_t)r;
  }
  close(fd);
  /* Grown or cut short while it was read (a file in /proc says 0 and is
   * read to its end): what was read is no version of the file. */
  if(st.st_size > 0 && (uintmax_t)got != (uintmax_t)st.st_size) {
    free(buf);
    p->changed = 1;
    cf_error_changed(p->err, path);
    return CURLFENCE_E_IO;
  }
  p->bytes += got;
  *out = buf;
  *outlen = got;
  *stp = st;
  return CURLFENCE_OK;
}

/* Parse the file at path (as named in messages) below frame up. */
static curlfence_code parse_path(parser *p, const frame *up, const char *path,
                                 unsigned line, unsigned col)
{
  frame fr;
  const frame *f;
  struct stat st;
  char *buf = NULL;
  size_t len = 0;
  curlfence_code rc;

  memset(&fr, 0, sizeof(fr));
  rc = read_file(p, path, &buf, &len, &st, up, line, col);
  if(rc)
    return rc;
  fr.real = realpath(path, NULL);
  if(!fr.real) {
    int e = errno;

    free(buf);
    if(e == ENOMEM)
      return nomem(p);
    /* e.g. a deleted file still open, named as /proc/self/fd/N */
    cf_error_set(p->err, CURLFENCE_E_IO, up ? up->name : path, line, col,
                 "cannot resolve the real path of \"%s\" (needed to detect "
                 "include cycles): %s", path, strerror(e));
    return CURLFENCE_E_IO;
  }
  for(f = up; f; f = f->up) {
    if(f->real && strcmp(f->real, fr.real) == 0) {
      cf_error_set(p->err, CURLFENCE_E_INCLUDE, up->name, line, col,
                   "include cycle: \"%s\" is already being read", path);
      free(fr.real);
      free(buf);
      return CURLFENCE_E_INCLUDE;
    }
  }
  rc = add_file(p, path, &st, &fr.file);
  if(!rc) {
    fr.up = up;
    fr.name = p->rs->files[fr.file];
    rc = parse_buffer(p, &fr, buf, len);
  }
  free(fr.real);
  free(buf);
  return rc;
}

static curlfence_code parse_include(parser *p, const frame *fr, unsigned line,
                                    const token *t, size_t n, unsigned eol)
{
  char *path;
  size_t dirlen = 0;
  const char *slash;
  curlfence_code rc;

  if(n < 2)
    return fail(p, fr, line, eol, CURLFENCE_E_SYNTAX,
                "missing file name after \"include\"", NULL, NULL);
  if(n > 2)
    return unexpected(p, fr, line, &t[2], "end of line");
  if(p->depth >= CF_MAX_INCLUDE_DEPTH)
    return fail(p, fr, line, t[1].col, CURLFENCE_E_INCLUDE,
                "includes nested deeper than 16 levels", NULL, NULL);
  /* Relative names are relative to the including file's directory. */
  if(t[1].s[0] != '/' && !fr->from_string &&
     (slash = strrchr(fr->name, '/')) != NULL)
    dirlen = (size_t)(slash - fr->name) + 1;
  path = malloc(dirlen + t[1].len + 1);
  if(!path)
    return nomem(p);
  memcpy(path, fr->name, dirlen);
  memcpy(path + dirlen, t[1].s, t[1].len);
  path[dirlen + t[1].len] = '\0';
  p->depth++;
  rc = parse_path(p, fr, path, line, t[1].col);
  p->depth--;
  free(path);
  return rc;
}

/* ---------------------------------------------------------------- lines */

static curlfence_code parse_line(parser *p, const frame *fr, unsigned line,
                                 const char *s, size_t len)
{
  token t[MAX_TOKENS];
  size_t n = 0, i = 0;
  const char *hash = memchr(s, '#', len);
  unsigned eol;

  if(hash)
    len = (size_t)(hash - s);
  while(i < len) {
    while(i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if(i == len)
      break;
    /* No directive takes MAX_TOKENS words, so the first word too many is
     * among those kept and its directive names it, whole; what follows it
     * cannot change the error. */
    if(n == MAX_TOKENS)
      break;
    t[n].s = s + i;
    t[n].col = (unsigned)i + 1;
    while(i < len && s[i] != ' ' && s[i] != '\t')
      i++;
    t[n].len = i - (t[n].col - 1);
    n++;
  }
  if(n == 0)
    return CURLFENCE_OK;
  eol = (unsigned)(t[n - 1].col + t[n - 1].len);

  if(tok_is(&t[0], "allow") || tok_is(&t[0], "deny"))
    return parse_rule(p, fr, line, t, n, eol);
  if(tok_is(&t[0], "default"))
    return parse_setting(p, fr, line, t, n, eol, &p->rs->dflt, "default");
  if(tok_is(&t[0], "unix"))
    return parse_setting(p, fr, line, t, n, eol, &p->rs->unix_, "unix");
  if(tok_is(&t[0], "mode"))
    return parse_setting(p, fr, line, t, n, eol, &p->rs->mode, "mode");
  if(tok_is(&t[0], "include"))
    return parse_include(p, fr, line, t, n, eol);
  if(tok_is(&t[0], "nat64"))
    return parse_nat64(p, fr, line, t, n, eol);
  if(tok_is(&t[0], "expect"))
    return parse_expect(p, fr, line, t, n, eol);
  if(memchr(t[0].s, '.', t[0].len) || memchr(t[0].s, ':', t[0].len) ||
     memchr(t[0].s, '/', t[0].len)) {
    char shown[64];
    snprintf(shown, sizeof(shown), "%.*s",
             (int)(t[0].len < 40 ? t[0].len : 40), t[0].s);
    return fail(p, fr, line, t[0].col, CURLFENCE_E_SYNTAX,
                "missing action before \"%s\" (expected allow or deny)",
                shown, NULL);
  }
  return unexpected(p, fr, line, &t[0],
                    "allow, deny, default, unix, mode, include, nat64 or "
                    "expect");
}

/* How many rules the text can hold at most, and how many bytes their
 * texts take: only a line whose first word is allow or deny holds one.
 * The arrays are sized for that once, as big tables would otherwise spend
 * their time copying while the arrays double; sizing them by the number
 * of lines made a large file of blank lines run out of memory. */
void cf_rules_presize(const char *buf, size_t len, size_t *rules,
                      size_t *text)
{
  const char *s = buf, *end = buf + len;

  *rules = *text = 0;
  while(s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end, *w = s;
    size_t kw;

    while(w < e && (*w == ' ' || *w == '\t'))
      w++;
    kw = (size_t)(e - w) > 5 && !memcmp(w, "allow", 5) ? 5
         : (size_t)(e - w) > 4 && !memcmp(w, "deny", 4) ? 4 : 0;
    if(kw && (w[kw] == ' ' || w[kw] == '\t')) {
      (*rules)++;
      *text += (size_t)(e - s) + 1;
    }
    if(!nl)
      break;
    s = nl + 1;
  }
}

static curlfence_code parse_buffer(parser *p, const frame *fr,
                                   const char *buf, size_t len)
{
  const char *s = buf, *end = buf + len;
  unsigned line = 0;
  size_t nrules, ntext;
  curlfence_code rc;
  cf_ruleset *rs = p->rs;

  if(len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
    return fail(p, fr, 1, 1, CURLFENCE_E_SYNTAX,
                "file starts with a UTF-8 byte order mark (rules are plain "
                "ASCII: save the file without it)", NULL, NULL);
  /* Sizing ahead is only an optimisation: if it fails the arrays grow as
   * the rules come, and a file whose lines are not rules is still
   * reported for what is wrong with it. */
  cf_rules_presize(buf, len, &nrules, &ntext);
  if(nrules) {
    (void)cf_grow(&rs->rules, &rs->caprules, rs->nrules + nrules,
                  sizeof(cf_rule));
    (void)cf_grow(&rs->texts, &rs->captexts, rs->ntexts + ntext, 1);
  }

  while(s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
    const char *nul;

    line++;
    if(l && s[l - 1] == '\r')
      l--;
    /* The first offending byte decides: a NUL before column 4097 is
     * reported as such, not as a long line. */
    if((nul = memchr(s, '\0', l > CF_MAX_LINE ? CF_MAX_LINE : l)))
      return fail(p, fr, line, (unsigned)(nul - s) + 1, CURLFENCE_E_LIMIT,
                  "NUL byte in rules text", NULL, NULL);
    if(l > CF_MAX_LINE)
      return fail(p, fr, line, CF_MAX_LINE + 1, CURLFENCE_E_LIMIT,
                  "line longer than 4096 bytes", NULL, NULL);
    rc = parse_line(p, fr, line, s, l);
    if(rc)
      return rc;
    if(!nl)
      break;
    s = nl + 1;
  }
  return CURLFENCE_OK;
}

/* ------------------------------------------------------------ interface */

void cf_ruleset_free(cf_ruleset *rs)
{
  size_t i;

  if(!rs)
    return;
  for(i = 0; i < rs->nfiles; i++)
    free(rs->files[i]);
  free(rs->rules);
  free(rs->texts);
  free(rs->ports);
  free(rs->files);
  free(rs->stamps);
  free(rs->dflt.text);
  free(rs->unix_.text);
  free(rs->mode.text);
  free(rs->nat64);
  free(rs->expects);
  free(rs->hosts);
  cf_self_free(rs);
  memset(rs, 0, sizeof(*rs));
}

curlfence_code cf_rules_parse_file(cf_ruleset *rs, const char *path,
                                   curlfence_error *err)
{
  unsigned attempt;

  for(attempt = 0;; attempt++) {
    parser p = { rs, err, 0, 0, 0, attempt, 0 };
    curlfence_code rc = parse_path(&p, NULL, path, 0, 0);

    /* An error stands only when nothing changed: half a rewrite can be a
     * syntax error, or name an include not written yet. */
    switch(cf_load_retry(rs, p.changed, attempt, err)) {
    case 0:
      return rc ? rc : cf_self_resolve(rs, err);
    case 1:
      cf_ruleset_free(rs);
      break;
    default:
      return CURLFENCE_E_IO;
    }
  }
}

curlfence_code cf_rules_parse_string(cf_ruleset *rs, const char *text,
                                     size_t len, const char *name,
                                     curlfence_error *err)
{
  parser p = { rs, err, 0, 0, len, 0, 0 };
  frame fr;
  curlfence_code rc;

  memset(&fr, 0, sizeof(fr));
  fr.from_string = 1;
  rc = add_file(&p, name ? name : "<string>", NULL, &fr.file);
  if(rc)
    return rc;
  fr.name = rs->files[fr.file];
  rc = parse_buffer(&p, &fr, text, len);
  return rc ? rc : cf_self_resolve(rs, err);
}
