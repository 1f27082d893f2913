/*
 * Compiled lookup table.
 *
 * For now the table is the reference matcher itself: the cost of a lookup
 * is one pass over the rules of the address family.  It has no memory of
 * its own.
 */
#include "internal.h"

#include <stdlib.h>

struct cf_table {
  int unused;
};

curlfence_code cf_table_build(cf_table **out, const cf_ruleset *rs)
{
  (void)rs;
  *out = calloc(1, sizeof(**out));
  return *out ? CURLFENCE_OK : CURLFENCE_E_NOMEM;
}

long cf_table_lookup(const cf_table *t, const cf_ruleset *rs, int v6,
                     const uint8_t *addr, unsigned port)
{
  (void)t;
  return cf_match_linear(rs, v6, addr, port);
}

size_t cf_table_memory(const cf_table *t)
{
  return t ? sizeof(*t) : 0;
}

void cf_table_free(cf_table *t)
{
  free(t);
}
