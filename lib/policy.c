/*
 * Policies: loading, reference counting and decisions.
 *
 * A policy is immutable once loaded, so any number of threads may decide
 * against it at once; only the reference count is ever written, and that
 * atomically.
 */
#include "internal.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static curlfence_code finish_load(curlfence_policy **out, curlfence_policy *p,
                                  curlfence_code rc, curlfence_error *err)
{
  if(!rc) {
    rc = cf_table_build(&p->table, &p->rs);
    if(rc)
      cf_error_set(err, rc, NULL, 0, 0, "%s", curlfence_strerror(rc));
  }
  if(rc) {
    cf_ruleset_free(&p->rs);
    free(p);
    return rc;
  }
  if(err)
    memset(err, 0, sizeof(*err));
  atomic_init(&p->refs, 1);
  *out = p;
  return CURLFENCE_OK;
}

CURLFENCE_API curlfence_code curlfence_policy_load_file(
    curlfence_policy **out, const char *path, curlfence_error *err)
{
  curlfence_policy *p;

  if(!out || !path) {
    if(out)
      *out = NULL;
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL argument");
    return CURLFENCE_E_INVAL;
  }
  *out = NULL;
  p = calloc(1, sizeof(*p));
  if(!p) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  return finish_load(out, p, cf_rules_parse_file(&p->rs, path, err), err);
}

CURLFENCE_API curlfence_code curlfence_policy_load_string(
    curlfence_policy **out, const char *text, size_t len, const char *name,
    curlfence_error *err)
{
  curlfence_policy *p;

  if(!out || (!text && len)) {
    if(out)
      *out = NULL;
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL argument");
    return CURLFENCE_E_INVAL;
  }
  *out = NULL;
  p = calloc(1, sizeof(*p));
  if(!p) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
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
  cf_table_free(policy->table);
  cf_ruleset_free(&policy->rs);
  free(policy);
}

CURLFENCE_API size_t curlfence_policy_rule_count(const curlfence_policy *policy)
{
  return policy ? policy->rs.nrules : 0;
}

int cf_sockaddr_key(const struct sockaddr *sa, socklen_t salen, int *v6,
                    uint8_t *addr, unsigned *port)
{
  sa_family_t fam;

  if(!sa || salen < (socklen_t)sizeof(sa_family_t))
    return -1;
  memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(fam));
  if(fam == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, sa, sizeof(in));
    memcpy(addr, &in.sin_addr, 4);
    *v6 = 0;
    *port = ntohs(in.sin_port);
    return 0;
  }
  if(fam == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    memcpy(&in6, sa, sizeof(in6));
    *port = ntohs(in6.sin6_port);
    if(IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      memcpy(addr, in6.sin6_addr.s6_addr + 12, 4);
      *v6 = 0;
    }
    else {
      memcpy(addr, in6.sin6_addr.s6_addr, 16);
      *v6 = 1;
    }
    return 0;
  }
  if(fam == AF_UNIX && salen >= (socklen_t)offsetof(struct sockaddr_un,
                                                    sun_path)) {
    *port = 0;
    return AF_UNIX;
  }
  return -1;
}

static void set_verdict(curlfence_verdict *v, curlfence_action action,
                        int is_default, const char *file, unsigned line,
                        const char *rule, const char *reason)
{
  v->action = action;
  v->is_default = is_default;
  v->file = file;
  v->line = line;
  v->rule = rule;
  v->reason = reason;
}

static curlfence_action from_setting(const curlfence_policy *p,
                                     const cf_setting *s, int is_default,
                                     const char *builtin, const char *reason,
                                     curlfence_verdict *v)
{
  if(s->set)
    set_verdict(v, (curlfence_action)s->action, is_default,
                p->rs.files[s->file], s->line, s->text, reason);
  else
    set_verdict(v, CURLFENCE_DENY, is_default, NULL, 0, builtin, reason);
  return v->action;
}

CURLFENCE_API curlfence_action curlfence_policy_decide(
    const curlfence_policy *policy, const struct sockaddr *sa,
    socklen_t salen, curlfence_verdict *v)
{
  curlfence_verdict local;
  uint8_t addr[16];
  unsigned port = 0;
  int v6 = 0, kind;
  long idx;

  if(!v)
    v = &local;
  if(!policy) {
    set_verdict(v, CURLFENCE_DENY, 0, NULL, 0, "no policy loaded",
                "no-policy");
    return CURLFENCE_DENY;
  }
  kind = cf_sockaddr_key(sa, salen, &v6, addr, &port);
  if(kind < 0) {
    int known = sa && salen >= (socklen_t)sizeof(sa_family_t) &&
                (sa->sa_family == AF_INET || sa->sa_family == AF_INET6 ||
                 sa->sa_family == AF_UNIX);
    if(known)
      set_verdict(v, CURLFENCE_DENY, 0, NULL, 0,
                  "address shorter than its family requires", "malformed");
    else
      set_verdict(v, CURLFENCE_DENY, 0, NULL, 0,
                  "address family not covered by the rules", "family");
    return CURLFENCE_DENY;
  }
  if(kind == AF_UNIX)
    return from_setting(policy, &policy->rs.unix_, 0,
                        "unix deny (built-in)", "unix", v);
  idx = cf_table_lookup(policy->table, &policy->rs, v6, addr, port);
  if(idx < 0)
    return from_setting(policy, &policy->rs.dflt, 1,
                        "default deny (built-in)", "default", v);
  {
    const cf_rule *r = &policy->rs.rules[idx];
    set_verdict(v, (curlfence_action)r->action, 0, policy->rs.files[r->file],
                r->line, r->text, "rule");
  }
  return v->action;
}
