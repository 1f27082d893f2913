/* SPDX-License-Identifier: MIT */
/*
 * A rule set's memory: the texts of its rules as written, and freeing it
 * (each array grows where it is appended to, with cf_grow).
 */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The words of a line joined by single blanks, appended to the rule set's
 * text block; returns the offset, or -1 when out of memory. */
long cf_rules_add_text(cf_ruleset *rs, const token *t, size_t n)
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
