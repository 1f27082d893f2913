/* SPDX-License-Identifier: MIT */
/*
 * Strict JSON and UTF-8 checking.
 *
 * Stricter than most parsers on purpose: bytes that are not well-formed
 * UTF-8 (overlong forms, surrogates, above U+10FFFF), raw control bytes in
 * strings, unpaired \u surrogate escapes, leading zeros and trailing
 * garbage are all errors, since some consumer of an audit log will refuse
 * each of them.  Recursive descent with a depth limit.
 */
#include "json_check.h"

#include <string.h>

#define MAX_DEPTH 64

typedef struct jc {
  const unsigned char *s, *p, *end;
  const char *why;
} jc;

static int bad(jc *j, const char *why)
{
  if(!j->why)
    j->why = why;
  return -1;
}

static void blanks(jc *j)
{
  while(j->p < j->end &&
        (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

/* One well-formed UTF-8 sequence of 2-4 bytes at j->p. */
static int utf8(jc *j)
{
  const unsigned char *p = j->p;
  unsigned char c = *p, lo = 0x80, hi = 0xbf;
  size_t len, i;

  if(c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if(c >= 0xe0 && c <= 0xef) {
    len = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  }
  else if(c >= 0xf0 && c <= 0xf4) {
    len = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  }
  else
    return bad(j, "byte that cannot start a UTF-8 sequence");
  if((size_t)(j->end - p) < len)
    return bad(j, "UTF-8 sequence cut short");
  if(p[1] < lo || p[1] > hi)
    return bad(j, "overlong, surrogate or out of range UTF-8 sequence");
  for(i = 2; i < len; i++)
    if(p[i] < 0x80 || p[i] > 0xbf)
      return bad(j, "UTF-8 sequence cut short");
  j->p += len;
  return 0;
}

static int hex4(jc *j, unsigned *v)
{
  int i;

  *v = 0;
  if(j->end - j->p < 4)
    return bad(j, "\\u escape cut short");
  for(i = 0; i < 4; i++) {
    unsigned char c = j->p[i];
    unsigned d;

    if(c >= '0' && c <= '9')
      d = c - '0';
    else if(c >= 'a' && c <= 'f')
      d = c - 'a' + 10u;
    else if(c >= 'A' && c <= 'F')
      d = c - 'A' + 10u;
    else
      return bad(j, "\\u escape with a non-hex digit");
    *v = *v * 16 + d;
  }
  j->p += 4;
  return 0;
}

static int string(jc *j)
{
  j->p++;                       /* the opening quote */
  for(;;) {
    unsigned char c;

    if(j->p >= j->end)
      return bad(j, "unterminated string");
    c = *j->p;
    if(c == '"') {
      j->p++;
      return 0;
    }
    if(c < 0x20)
      return bad(j, "raw control byte in a string");
    if(c >= 0x80) {
      if(utf8(j))
        return -1;
      continue;
    }
    j->p++;
    if(c != '\\')
      continue;
    if(j->p >= j->end)
      return bad(j, "unterminated escape");
    c = *j->p++;
    if(c == 'u') {
      unsigned v, w;

      if(hex4(j, &v))
        return -1;
      if(v >= 0xdc00 && v <= 0xdfff)
        return bad(j, "unpaired low surrogate escape");
      if(v >= 0xd800 && v <= 0xdbff) {
        if(j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
          return bad(j, "unpaired high surrogate escape");
        j->p += 2;
        if(hex4(j, &w))
          return -1;
        if(w < 0xdc00 || w > 0xdfff)
          return bad(j, "unpaired high surrogate escape");
      }
    }
    else if(!strchr("\"\\/bfnrt", c) || c == '\0')
      return bad(j, "unknown escape");
  }
}

static int digits(jc *j)
{
  const unsigned char *start = j->p;

  while(j->p < j->end && *j->p >= '0' && *j->p <= '9')
    j->p++;
  return j->p > start ? 0 : bad(j, "digit expected");
}

static int number(jc *j)
{
  if(j->p < j->end && *j->p == '-')
    j->p++;
  if(j->p < j->end && *j->p == '0')
    j->p++;
  else if(digits(j))
    return -1;
  if(j->p < j->end && *j->p == '.') {
    j->p++;
    if(digits(j))
      return -1;
  }
  if(j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if(j->p < j->end && (*j->p == '+' || *j->p == '-'))
      j->p++;
    if(digits(j))
      return -1;
  }
  return 0;
}

static int word(jc *j, const char *w)
{
  size_t n = strlen(w);

  if((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
    return bad(j, "unknown literal");
  j->p += n;
  return 0;
}

static int value(jc *j, int depth);

/* An object or array: open at j->p, close is '}' or ']'. */
static int container(jc *j, int depth, unsigned char close)
{
  if(depth >= MAX_DEPTH)
    return bad(j, "nested too deep");
  j->p++;
  blanks(j);
  if(j->p < j->end && *j->p == close) {
    j->p++;
    return 0;
  }
  for(;;) {
    blanks(j);
    if(close == '}') {
      if(j->p >= j->end || *j->p != '"')
        return bad(j, "object key expected");
      if(string(j))
        return -1;
      blanks(j);
      if(j->p >= j->end || *j->p != ':')
        return bad(j, "':' expected");
      j->p++;
    }
    if(value(j, depth + 1))
      return -1;
    blanks(j);
    if(j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if(j->p < j->end && *j->p == close) {
      j->p++;
      return 0;
    }
    return bad(j, close == '}' ? "',' or '}' expected" :
                                 "',' or ']' expected");
  }
}

static int value(jc *j, int depth)
{
  blanks(j);
  if(j->p >= j->end)
    return bad(j, "value expected");
  switch(*j->p) {
  case '{': return container(j, depth, '}');
  case '[': return container(j, depth, ']');
  case '"': return string(j);
  case 't': return word(j, "true");
  case 'f': return word(j, "false");
  case 'n': return word(j, "null");
  default:
    if(*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
      return number(j);
    return bad(j, "value expected");
  }
}

int jc_check_object(const char *s, size_t n, const char **why, size_t *at)
{
  jc j;
  int rc = -1;

  j.s = j.p = (const unsigned char *)s;
  j.end = j.s + n;
  j.why = NULL;
  blanks(&j);
  if(j.p >= j.end || *j.p != '{')
    bad(&j, "object expected");
  else if(!value(&j, 0)) {
    blanks(&j);
    if(j.p == j.end)
      rc = 0;
    else
      bad(&j, "text after the object");
  }
  if(why)
    *why = rc ? j.why : NULL;
  if(at)
    *at = (size_t)(j.p - j.s);
  return rc;
}
