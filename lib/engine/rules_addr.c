/* SPDX-License-Identifier: MIT */
/*
 * Addresses and ports in rules.  Addresses are parsed by libcidr, but
 * libcidr accepts many spellings that a policy must never contain ("10/8"
 * is 0.0.0.10/8 to it, "1.2.3.4/-1" is /0, "1::2::3" is a valid address),
 * so every address is first held to canonical notation: the address part
 * must satisfy inet_pton(), which is strict in glibc, the prefix length
 * must be plain decimal, and libcidr's reading of the block must agree
 * with both.  Anything else is an error with file:line:column.
 */
#include "rules.h"

#include <arpa/inet.h>
#include <libcidr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The address part of t, its first alen bytes, held to inet_pton():
 * abuf its text, bytes the address, *v6 its family. */
static curlfence_code parse_address(parser *p, const frame *fr,
                                    unsigned line, const token *t,
                                    size_t alen, char abuf[64],
                                    uint8_t bytes[16], int *v6)
{
  const char *bad;

  if(alen == 0)
    return fail(p, fr, line, t->col, CURLFENCE_E_ADDRESS,
                "missing address before \"/\"", NULL, NULL);
  if(alen >= 64)
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
  *v6 = strchr(abuf, ':') != NULL;
  if(inet_pton(*v6 ? AF_INET6 : AF_INET, abuf, bytes) != 1)
    return bad_address(p, fr, line, t->col, abuf, *v6);
  return CURLFENCE_OK;
}

/* The prefix length after the address part of t (alen bytes) and its
 * "/", plain decimal; the whole address when t has none. */
static curlfence_code parse_length(parser *p, const frame *fr, unsigned line,
                                   const token *t, size_t alen, int v6,
                                   int *plen)
{
  int maxlen = v6 ? 128 : 32;
  const char *ps;
  size_t pl;
  unsigned pcol;
  char shown[64], num[8];

  *plen = maxlen;
  if(alen == t->len)
    return CURLFENCE_OK;
  ps = t->s + alen + 1;
  pl = t->len - alen - 1;
  pcol = t->col + (unsigned)alen + 1;
  if(pl == 0)
    return fail(p, fr, line, pcol, CURLFENCE_E_ADDRESS,
                "missing prefix length after \"/\"", NULL, NULL);
  if(is_digits(ps, pl) && pl <= 3 && !(pl > 1 && ps[0] == '0') &&
     (*plen = atoi_n(ps, pl)) <= maxlen)
    return CURLFENCE_OK;
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

/* libcidr makes the block abuf/plen; it must read what inet_pton read
 * (bytes), and the block must have no host bits set. */
static curlfence_code check_block(parser *p, const frame *fr, unsigned line,
                                  const token *t, const char *abuf,
                                  size_t alen, int plen, int v6,
                                  const uint8_t bytes[16])
{
  /* libcidr's check for reverse-DNS suffixes ("x.in-addr.arpa") reads up to
   * 13 bytes before the end of the string even when it is shorter, so the
   * string it gets is preceded by zero bytes that are ours to read. */
  char padded[16 + 80] = { 0 };
  char *cbuf = padded + 16;
  uint8_t lbytes[16];
  int ok;
  CIDR *c;

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
  return CURLFENCE_OK;
}

/* Parse a canonical address or CIDR block into r (addr, v6, plen): the
 * address, then the length, then libcidr's reading of both. */
curlfence_code cf_rules_prefix(parser *p, const frame *fr, unsigned line,
                               const token *t, cf_rule *r)
{
  char abuf[64];
  uint8_t bytes[16];
  const char *slash = memchr(t->s, '/', t->len);
  size_t alen = slash ? (size_t)(slash - t->s) : t->len;
  int v6 = 0, plen = 0;
  curlfence_code rc;

  rc = parse_address(p, fr, line, t, alen, abuf, bytes, &v6);
  if(!rc)
    rc = parse_length(p, fr, line, t, alen, v6, &plen);
  if(!rc)
    rc = check_block(p, fr, line, t, abuf, alen, plen, v6, bytes);
  if(rc)
    return rc;

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

curlfence_code cf_rules_port(parser *p, const frame *fr, unsigned line,
                             const char *s, size_t n, unsigned col,
                             unsigned *out)
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
curlfence_code cf_rules_ports(parser *p, const frame *fr, unsigned line,
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

    rc = cf_rules_port(p, fr, line, s,
                       (size_t)((dash ? dash : iend) - s), col, &lo);
    if(rc)
      return rc;
    hi = lo;
    if(dash) {
      rc = cf_rules_port(p, fr, line, dash + 1,
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
