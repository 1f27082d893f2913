/* SPDX-License-Identifier: MIT */
/*
 * Host names in canonical form: the only spelling rules are written in
 * and the only one a connection's name is compared in, so that case, a
 * trailing dot or a numeric spelling of an address can never make one
 * name look like two (or an address look like a name).
 */
#include "engine.h"

#include <arpa/inet.h>
#include <string.h>

static int is_ldh(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The last label of a name that a URL parser takes for an IPv4 address
 * (WHATWG "ends in a number"): all decimal digits, or 0x and hex digits.
 * inet_aton() alone misses "foo.123", which browsers and some libcurl
 * builds read as an address, never as a name. */
static int numeric_label(const char *s, size_t n)
{
  size_t i = 0;
  int hex = 0;

  if(n >= 2 && s[0] == '0' && s[1] == 'x') {
    hex = 1;
    i = 2;
  }
  for(; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(!(c >= '0' && c <= '9') && !(hex && c >= 'a' && c <= 'f'))
      return 0;
  }
  return 1;
}

/* An IPv6 literal, bracketed or not, with or without a zone. */
static int ipv6_literal(const char *in, size_t len)
{
  char buf[INET6_ADDRSTRLEN + 2];
  struct in6_addr a;
  const char *pct;

  if(len && in[0] == '[') {
    in++;
    len--;
    if(len && in[len - 1] == ']')
      len--;
  }
  pct = memchr(in, '%', len);
  if(pct)
    len = (size_t)(pct - in);
  if(!len || len >= sizeof(buf))
    return 0;
  memcpy(buf, in, len);
  buf[len] = '\0';
  return inet_pton(AF_INET6, buf, &a) == 1;
}

static int canon(const char *in, size_t len, char *out)
{
  size_t i, start = 0, last = 0;
  struct in_addr a4;

  if(len && memchr(in, ':', len))
    return ipv6_literal(in, len) ? CF_HOST_EADDR : CF_HOST_ECHAR;
  if(len && in[len - 1] == '.')
    len--;
  if(!len)
    return CF_HOST_EEMPTY;
  if(len > CF_HOST_MAX)
    return CF_HOST_ELONG;
  for(i = 0; i <= len; i++) {
    unsigned char c = i < len ? (unsigned char)in[i] : '.';

    if(c == '.') {
      size_t n = i - start;
      if(!n)
        return CF_HOST_ELABEL_EMPTY;
      if(n > 63)
        return CF_HOST_ELABEL_LONG;
      if(out[start] == '-' || out[i - 1] == '-')
        return CF_HOST_EHYPHEN;
      out[i] = '.';
      last = start;
      start = i + 1;
      continue;
    }
    if(c >= 'A' && c <= 'Z')
      c = (unsigned char)(c - 'A' + 'a');
    if(!is_ldh(c))
      return CF_HOST_ECHAR;
    out[i] = (char)c;
  }
  out[len] = '\0';
  if(inet_aton(out, &a4) || numeric_label(out + last, len - last))
    return CF_HOST_EADDR;
  return 0;
}

int cf_host_canon(const char *in, size_t len, char *out)
{
  int rc = canon(in, len, out);

  if(rc)
    out[0] = '\0';
  return rc;
}

const char *cf_host_strerror(int code)
{
  switch(code) {
  case 0:
    return "a host name";
  case CF_HOST_EEMPTY:
    return "empty host name";
  case CF_HOST_ELONG:
    return "host name longer than 253 bytes";
  case CF_HOST_ELABEL_EMPTY:
    return "empty label in host name";
  case CF_HOST_ELABEL_LONG:
    return "label longer than 63 bytes in host name";
  case CF_HOST_ECHAR:
    return "host name holds a byte other than a letter, a digit, '-' or '.'";
  case CF_HOST_EHYPHEN:
    return "label starts or ends with '-' in host name";
  case CF_HOST_EADDR:
    return "an IP address, not a host name";
  default:
    return "not a host name";
  }
}
