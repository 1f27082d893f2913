/* SPDX-License-Identifier: MIT */
/* Error codes, messages and the version string. */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

CURLFENCE_API const char *curlfence_strerror(curlfence_code code)
{
  switch(code) {
  case CURLFENCE_OK:          return "no error";
  case CURLFENCE_E_NOMEM:     return "out of memory";
  case CURLFENCE_E_INVAL:     return "invalid argument";
  case CURLFENCE_E_IO:        return "cannot read rules file";
  case CURLFENCE_E_SYNTAX:    return "syntax error in rules";
  case CURLFENCE_E_ADDRESS:   return "invalid address or prefix";
  case CURLFENCE_E_PORT:      return "invalid port specification";
  case CURLFENCE_E_DUPLICATE: return "setting given more than once";
  case CURLFENCE_E_INCLUDE:   return "include cycle or nesting too deep";
  case CURLFENCE_E_LIMIT:
    return "line too long, not text, or too much to read";
  case CURLFENCE_E_CURL:      return "libcurl refused an option";
  case CURLFENCE_E_SUPERSEDED: return "policy switched during the reload";
  case CURLFENCE_E_IMAGE:     return "damaged or incompatible policy image";
  case CURLFENCE_E_EXPECT:    return "rules break their own expectation";
  case CURLFENCE_E_LAST:      break;
  }
  return "unknown error code";
}

CURLFENCE_API const char *curlfence_version(void)
{
  return CURLFENCE_VERSION;
}

/* src as text that shows every byte: printable ASCII as is, a backslash
 * doubled, \t \r \n by name and any other byte as \xNN.  Rules text and
 * file names are arbitrary bytes; a message must not carry a carriage
 * return that rewrites the terminal line, nor invisible bytes such as a
 * byte order mark.  Cut at an escape's boundary when dst is full. */
void cf_escape(char *dst, size_t size, const char *src)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;

  for(; *src; src++) {
    unsigned char c = (unsigned char)*src;
    char e[4];
    size_t n = 2;

    e[0] = '\\';
    if(c == '\\')
      e[1] = '\\';
    else if(c == '\t')
      e[1] = 't';
    else if(c == '\r')
      e[1] = 'r';
    else if(c == '\n')
      e[1] = 'n';
    else if(c < 0x20 || c >= 0x7f) {
      e[1] = 'x';
      e[2] = hex[c >> 4];
      e[3] = hex[c & 15];
      n = 4;
    }
    else {
      e[0] = (char)c;
      n = 1;
    }
    if(o + n >= size)
      break;
    memcpy(dst + o, e, n);
    o += n;
  }
  dst[o] = '\0';
}

void cf_error_set(curlfence_error *err, curlfence_code code, const char *file,
                  unsigned line, unsigned column, const char *fmt, ...)
{
  va_list ap;
  char raw[sizeof(err->message)], shown[sizeof(err->file)];

  if(!err)
    return;
  err->code = code;
  err->line = line;
  err->column = column;
  snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
  va_start(ap, fmt);
  vsnprintf(raw, sizeof(raw), fmt, ap);
  va_end(ap);
  cf_escape(err->message, sizeof(err->message), raw);
  cf_escape(shown, sizeof(shown), err->file);
  if(!file || !*file)
    snprintf(err->text, sizeof(err->text), "%s", err->message);
  else if(line == 0)
    snprintf(err->text, sizeof(err->text), "%s: %s", shown, err->message);
  else
    snprintf(err->text, sizeof(err->text), "%s:%u:%u: %s", shown, line,
             column, err->message);
}
