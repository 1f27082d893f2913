/* Error codes, messages and the version string. */
#include "internal.h"

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
  case CURLFENCE_E_LIMIT:     return "line too long or not text";
  case CURLFENCE_E_CURL:      return "libcurl refused an option";
  case CURLFENCE_E_IMAGE:     return "damaged or incompatible policy image";
  case CURLFENCE_E_LAST:      break;
  }
  return "unknown error code";
}

CURLFENCE_API const char *curlfence_version(void)
{
  return CURLFENCE_VERSION;
}

void cf_error_set(curlfence_error *err, curlfence_code code, const char *file,
                  unsigned line, unsigned column, const char *fmt, ...)
{
  va_list ap;

  if(!err)
    return;
  err->code = code;
  err->line = line;
  err->column = column;
  snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  if(!file || !*file)
    snprintf(err->text, sizeof(err->text), "%s", err->message);
  else if(line == 0)
    snprintf(err->text, sizeof(err->text), "%s: %s", err->file, err->message);
  else
    snprintf(err->text, sizeof(err->text), "%s:%u:%u: %s", err->file, line,
             column, err->message);
}
