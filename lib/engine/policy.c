/* SPDX-License-Identifier: MIT */
/*
 * Policies: loading and reference counting (decide.c decides).
 *
 * A policy is immutable once loaded, so any number of threads may decide
 * against it at once; only the reference count is ever written, and that
 * atomically.
 */
#include "engine.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/un.h>
#include <time.h>

/* Loading a large rules file frees tens of MiB in blocks glibc keeps on
 * its heap (freeing the file's buffer raises its mmap threshold, so what
 * follows is allocated there).  Policies with this many rules or more
 * give them back, after parsing and after the build: 1M rules then peak
 * 7 MiB lower and stay 22 MiB smaller for good. */
#define CF_TRIM_RULES 65536

static void policy_free(curlfence_policy *p)
{
  cf_image_close(p);
  cf_hostidx_free(p->hosts);
  cf_table_free(p->table);
  cf_ruleset_free(&p->rs);
  free(p->hit_mem);
  free(p->source);
  free(p);
}

static curlfence_code finish_load(curlfence_policy **out, curlfence_policy *p,
                                  curlfence_code rc, curlfence_error *err)
{
  if(!rc) {
#ifdef __GLIBC__
    /* see CF_TRIM_RULES: what parsing freed, before the build adds its
     * own peak on top */
    if(!p->table && p->rs.nrules >= CF_TRIM_RULES)
      malloc_trim(0);
#endif
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    p->loaded_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    p->hits = cf_counters_new(p->rs.nrules + 2, &p->hit_stride,
                              &p->hit_shards, &p->hit_mem);
    rc = !p->hits ? CURLFENCE_E_NOMEM
         : p->table ? CURLFENCE_OK   /* mapped from an image */
                    : cf_table_build(&p->table, &p->rs);
    if(!rc && !p->image)    /* an image's is built as it is loaded */
      rc = cf_hostidx_build(&p->hosts, &p->rs);
    if(rc)
      cf_error_set(err, rc, NULL, 0, 0, "%s", curlfence_strerror(rc));
    /* what the rules promise, on what was compiled */
    else if(p->rs.nexpects)
      rc = cf_expect_check(p, err);
  }
  if(rc) {
    policy_free(p);
    return rc;
  }
#ifdef __GLIBC__
  if(!p->image && p->rs.nrules >= CF_TRIM_RULES)
    malloc_trim(0);
#endif
  if(err)
    memset(err, 0, sizeof(*err));
  atomic_init(&p->refs, 1);
  *out = p;
  return CURLFENCE_OK;
}

/* What both loaders do first: check arguments, allocate. */
static curlfence_code begin_load(curlfence_policy **out, int args_ok,
                                 curlfence_policy **p, curlfence_error *err)
{
  if(out)
    *out = NULL;
  if(!out || !args_ok) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL argument");
    return CURLFENCE_E_INVAL;
  }
  *p = calloc(1, sizeof(**p));
  if(!*p) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_code curlfence_policy_load_file(
    curlfence_policy **out, const char *path, curlfence_error *err)
{
  curlfence_policy *p;
  curlfence_code rc = begin_load(out, path != NULL, &p, err);
  int image = 0, again;
  unsigned attempt;

  if(rc)
    return rc;
  p->source = strdup(path);
  if(!p->source) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return finish_load(out, p, CURLFENCE_E_NOMEM, err);
  }
  /* An image rewritten in place while it was mapped and checked (its
   * stamp moved) is mapped and checked again, as rules text is read again
   * (cf_load_retry); its damage then stands only when nothing changed.
   * Once loaded, what holds is in docs/images.md: images are replaced by
   * rename(2), never rewritten. */
  for(attempt = 0;; attempt++) {
    cf_stamp opened;
    cf_ruleset seen;

    rc = cf_image_load(p, path, &image, &opened, err);
    if(!image)
      break;
    memset(&seen, 0, sizeof(seen));
    seen.files = &p->source;
    seen.stamps = &opened;
    seen.nfiles = 1;
    again = cf_load_retry(&seen, 0, attempt, err);
    if(again == 0)
      break;
    if(!rc)
      cf_image_close(p);
    if(again < 0) {
      rc = CURLFENCE_E_IO;
      break;
    }
  }
  if(!rc && !image)
    rc = cf_rules_parse_file(&p->rs, path, err);
  return finish_load(out, p, rc, err);
}

CURLFENCE_API curlfence_code curlfence_policy_load_string(
    curlfence_policy **out, const char *text, size_t len, const char *name,
    curlfence_error *err)
{
  curlfence_policy *p;
  curlfence_code rc = begin_load(out, text != NULL || len == 0, &p, err);

  if(rc)
    return rc;
  return finish_load(out, p,
                     cf_rules_parse_string(&p->rs, text ? text : "", len,
                                           name, err),
                     err);
}

CURLFENCE_API curlfence_policy *curlfence_policy_ref(curlfence_policy *policy)
{
  if(policy)
    atomic_fetch_add_explicit(&policy->refs, 1, memory_order_relaxed);
  return policy;
}

CURLFENCE_API void curlfence_policy_unref(curlfence_policy *policy)
{
  if(!policy)
    return;
  /* acq_rel: the freeing thread must see every other thread's last use. */
  if(atomic_fetch_sub_explicit(&policy->refs, 1, memory_order_acq_rel) != 1)
    return;
  policy_free(policy);
}

CURLFENCE_API size_t
curlfence_policy_rule_count(const curlfence_policy *policy)
{
  return policy ? policy->rs.nrules : 0;
}
