/* SPDX-License-Identifier: MIT */
/*
 * curlfence learn: from audit logs, propose the rules that allow what the
 * logged connections needed and BASE does not allow yet.  Every
 * destination is decided again against BASE (not taken from the log), so
 * the proposal fits the policy it will be added to.  It never opens what
 * an address rule of BASE denies: such traffic is listed for a human, with
 * the scoped host rule it would take.  Addresses are merged into a prefix
 * only when every address of that prefix was seen with the same ports, so
 * a proposed rule allows nothing that was not seen.
 */
#include "cli.h"
#include "auditlog.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt learn_opts[] = {
  { "rules", 'r', "BASE",
    "the policy to extend (default: the default rules)" },
  CLI_OPT_HELP,
  CLI_OPT_END
};

typedef struct learn {
  cli_tally addrs;          /* "PORT ADDR" of connections without a name */
  cli_tally hostaddr;       /* "PORT HOST\nADDR": what each name reached */
  unsigned long long other; /* connections no address rule can allow */
  unsigned long long conns;
} learn;

static int learn_event(const cli_event *ev, void *ud)
{
  learn *l = ud;
  char key[8192];
  cli_tally_ent *e;
  int n;

  if(ev->reused)
    return 0;
  l->conns++;
  if((strcmp(ev->family, "inet") && strcmp(ev->family, "inet6")) ||
     !ev->port) {
    l->other++;
    return 0;
  }
  if(ev->host)
    n = snprintf(key, sizeof(key), "%u %s\n%s", ev->port, ev->host, ev->addr);
  else
    n = snprintf(key, sizeof(key), "%u %s", ev->port, ev->addr);
  if(n < 0 || (size_t)n >= sizeof(key))
    return 0;
  e = cli_tally_get(ev->host ? &l->hostaddr : &l->addrs, key);
  if(!e) {
    fputs(CLI_PROG ": out of memory\n", stderr);
    return -1;
  }
  cli_tally_hit(e, ev->time);
  return 0;
}

/* One destination the proposal allows: an address (or a merged prefix)
 * with its ports, or a name. */
typedef struct dest {
  unsigned char addr[16];
  int v6, plen;
  char *ports;              /* "80,443,8000-8002" */
  const char *host;
  unsigned long long count;
  char first[40], last[40];
} dest;

static void join_time(dest *d, const char *first, const char *last)
{
  if(!*d->first || strcmp(first, d->first) < 0)
    snprintf(d->first, sizeof(d->first), "%s", first);
  if(strcmp(last, d->last) > 0)
    snprintf(d->last, sizeof(d->last), "%s", last);
}

static int by_addr(const void *a, const void *b)
{
  const dest *x = a, *y = b;
  int c;

  if(x->v6 != y->v6)
    return x->v6 - y->v6;
  if((c = strcmp(x->ports, y->ports)))
    return c;
  return memcmp(x->addr, y->addr, 16);
}

static int bit(const unsigned char *a, int i)
{
  return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Merge sibling prefixes with the same ports into their parent, over and
 * over: two /32s that differ in the last bit become a /31, two such /31s
 * a /30.  Only complete pairs merge, so coverage never grows. */
static size_t merge(dest *d, size_t n)
{
  int changed = 1;

  while(changed) {
    size_t i, k = 0;

    changed = 0;
    qsort(d, n, sizeof(*d), by_addr);
    for(i = 0; i < n; i++) {
      dest *a = &d[i], *b = i + 1 < n ? &d[i + 1] : NULL;
      unsigned char sib[16];
      int p = a->plen - 1;

      if(b && p >= 0 && a->v6 == b->v6 && a->plen == b->plen &&
         !strcmp(a->ports, b->ports) && !bit(a->addr, p)) {
        memcpy(sib, a->addr, 16);
        sib[p / 8] |= (unsigned char)(0x80 >> (p % 8));
        if(!memcmp(sib, b->addr, 16)) {
          a->plen--;
          a->count += b->count;
          join_time(a, b->first, b->last);
          free(b->ports);
          d[k++] = *a;
          i++;
          changed = 1;
          continue;
        }
      }
      d[k++] = *a;
    }
    n = k;
  }
  return n;
}

/* ports[0..n) (ascending, each once) as "80,443,8000-8002". */
static char *port_list(const unsigned *ports, size_t n)
{
  char *s = malloc(n * 12 + 1), *p = s;
  size_t i, j;

  if(!s)
    return NULL;
  *p = '\0';
  for(i = 0; i < n; i = j + 1) {
    for(j = i; j + 1 < n && ports[j + 1] == ports[j] + 1; j++)
      ;
    p += sprintf(p, "%s%u", i ? "," : "", ports[i]);
    if(j > i)
      p += sprintf(p, "-%u", ports[j]);
  }
  return s;
}

static void print_seen(unsigned long long count, const char *first,
                       const char *last)
{
  printf("# seen %llu time%s, %s .. %s\n", count, count == 1 ? "" : "s",
         first, last);
}

/* What BASE says about addr and port: 0 allows it, 1 denies it by its
 * default (a rule may open it), 2 denies it by an address rule (a human
 * decides), with the verdict in *v; -1 when addr is not a numeric
 * address. */
static int base_says(const curlfence_policy *base, const char *addr,
                     unsigned port, curlfence_verdict *v)
{
  if(curlfence_policy_decide_name(base, NULL, addr, port, v) ==
     CURLFENCE_ALLOW)
    return 0;
  if(!strcmp(v->reason, "malformed"))
    return -1;
  return v->is_default ? 1 : 2;
}

static void print_human(const char *host, const char *addr, unsigned port,
                        const curlfence_verdict *v, const cli_tally_ent *e)
{
  printf("# needs a human decision: %s port %u is denied by ",
         host ? host : addr, port);
  cli_print_verdict_source(stdout, v);
  printf("\n#   seen %llu time%s, %s .. %s; to allow it only for one name:\n"
         "#   allow host %s to %s/%d port %u\n", e->count,
         e->count == 1 ? "" : "s", e->first, e->last,
         host ? host : "NAME", addr,
         strchr(addr, ':') ? 128 : 32, port);
}

/* A logged destination BASE denies by its default: what (an address or a
 * name) and the port, with its tally entry. */
typedef struct item {
  char *what;
  const char *addr;
  unsigned port;
  const cli_tally_ent *e;
} item;

static int by_what(const void *a, const void *b)
{
  const item *x = a, *y = b;
  int c = strcmp(x->what, y->what);

  if(c)
    return c;
  return x->port < y->port ? -1 : x->port > y->port;
}

/* The entries of t ("PORT WHAT" or "PORT WHAT\nADDR") that BASE denies by
 * its default, sorted by what and port, into *out; the ones an address
 * rule denies are printed for a human.  Keys are split in place (the
 * newline of a name's key becomes a NUL). */
static long gather(const cli_tally *t, const curlfence_policy *base,
                   int named, item **out, unsigned long long *human)
{
  item *v = malloc((t->n + 1) * sizeof(*v));
  size_t i;
  long n = 0;

  if(!v)
    return -1;
  for(i = 0; i < t->cap; i++) {
    cli_tally_ent *e = &t->ents[i];
    curlfence_verdict vd;
    item it;
    char *nl;
    int says;

    if(!e->key)
      continue;
    it.port = (unsigned)strtoul(e->key, NULL, 10);
    it.what = e->key + strcspn(e->key, " ") + 1;
    it.addr = it.what;
    it.e = e;
    if(named && (nl = strchr(it.what, '\n'))) {
      *nl = '\0';
      it.addr = nl + 1;
    }
    says = base_says(base, it.addr, it.port, &vd);
    if(says == 2) {
      print_human(named ? it.what : NULL, it.addr, it.port, &vd, e);
      ++*human;
    }
    else if(says == 1)
      v[n++] = it;
  }
  qsort(v, (size_t)n, sizeof(*v), by_what);
  *out = v;
  return n;
}

/* One dest per distinct what of v[0..n): its ports (each once), count and
 * times.  Returns how many, or -1. */
static long group(const item *v, long n, dest *d)
{
  unsigned *ports = malloc(((size_t)n + 1) * sizeof(*ports));
  long i, j, k = 0;

  if(!ports)
    return -1;
  for(i = 0; i < n; i = j) {
    size_t np = 0;
    dest *x = &d[k++];

    memset(x, 0, sizeof(*x));
    for(j = i; j < n && !strcmp(v[j].what, v[i].what); j++) {
      if(!np || ports[np - 1] != v[j].port)
        ports[np++] = v[j].port;
      x->count += v[j].e->count;
      join_time(x, v[j].e->first, v[j].e->last);
    }
    x->host = v[i].what;
    if(!(x->ports = port_list(ports, np))) {
      free(ports);
      return -1;
    }
  }
  free(ports);
  return k;
}

/* The proposal: "allow host NAME port LIST" for connections that carry a
 * name, and merged address rules for the others. */
static int propose(const learn *l, const curlfence_policy *base,
                   unsigned long long *human)
{
  item *hv = NULL, *av = NULL;
  dest *hd = NULL, *ad = NULL;
  long nh, na, i, kh = 0, ka = 0;
  int rc = -1;

  nh = gather(&l->hostaddr, base, 1, &hv, human);
  na = nh < 0 ? -1 : gather(&l->addrs, base, 0, &av, human);
  if(na < 0)
    goto out;
  hd = calloc((size_t)nh + 1, sizeof(*hd));
  ad = calloc((size_t)na + 1, sizeof(*ad));
  if(!hd || !ad || (kh = group(hv, nh, hd)) < 0 ||
     (ka = group(av, na, ad)) < 0)
    goto out;
  for(i = 0; i < kh; i++) {
    print_seen(hd[i].count, hd[i].first, hd[i].last);
    printf("allow host %s port %s\n", hd[i].host, hd[i].ports);
  }
  for(i = 0; i < ka; i++) {
    ad[i].v6 = strchr(ad[i].host, ':') != NULL;
    inet_pton(ad[i].v6 ? AF_INET6 : AF_INET, ad[i].host, ad[i].addr);
    ad[i].plen = ad[i].v6 ? 128 : 32;
    ad[i].host = NULL;
  }
  ka = (long)merge(ad, (size_t)ka);
  for(i = 0; i < ka; i++) {
    char text[INET6_ADDRSTRLEN];

    inet_ntop(ad[i].v6 ? AF_INET6 : AF_INET, ad[i].addr, text, sizeof(text));
    print_seen(ad[i].count, ad[i].first, ad[i].last);
    if(ad[i].plen == (ad[i].v6 ? 128 : 32))
      printf("allow %s port %s\n", text, ad[i].ports);
    else
      printf("allow %s/%d port %s\n", text, ad[i].plen, ad[i].ports);
  }
  rc = 0;
out:
  if(rc)
    fputs(CLI_PROG ": out of memory\n", stderr);
  for(i = 0; hd && i < kh; i++)
    free(hd[i].ports);
  for(i = 0; ad && i < ka; i++)
    free(ad[i].ports);
  free(hd);
  free(ad);
  free(hv);
  free(av);
  return rc;
}

static int run_learn(const cli_cmd *cmd, int argc, char **argv)
{
  learn l;
  cli_readstats st;
  cli_parser ps;
  curlfence_policy *base = NULL;
  const char *arg, *rules = NULL;
  unsigned long long human = 0;
  int key, rc = 2, i;

  memset(&l, 0, sizeof(l));
  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    default: return ps.status;
    }
  }
  if(!ps.noperands)
    return cli_usage_error(cmd, "missing FILE (- for standard input)");
  if(rules && !strcmp(rules, "-"))
    for(i = 0; i < ps.noperands; i++)
      if(!strcmp(CLI_OPERANDS(&ps)[i], "-"))
        return cli_usage_error(cmd, "standard input can be the rules or a "
                               "log, not both");
  if(cli_load_policy(rules, &base))
    return 2;
  if(cli_auditlog_read(CLI_OPERANDS(&ps), ps.noperands, learn_event, &l,
                       &st))
    goto out;
  printf("# Proposed by curlfence learn from %llu connections in",
         l.conns);
  for(i = 0; i < ps.noperands; i++)
    printf(" %s", CLI_OPERANDS(&ps)[i]);
  printf("\n# to extend %s (add \"include THIS-FILE\" to it after review).\n",
         rules ? rules : cli_default_rules());
  if(st.lost)
    printf("# The logs are incomplete: their writers lost %llu events.\n",
           st.lost);
  if(l.other)
    printf("# %llu connections were to unix sockets or unusable addresses: "
           "no address rule decides them.\n", l.other);
  if(propose(&l, base, &human))
    goto out;
  rc = st.invalid ? 1 : 0;
out:
  cli_tally_free(&l.addrs);
  cli_tally_free(&l.hostaddr);
  curlfence_policy_unref(base);
  return rc;
}

const cli_cmd cli_cmd_learn = {
  "learn", "FILE...",
  "propose rules that allow what audit logs show BASE denying",
  "FILE is a JSON Lines audit log (- for standard input), best written in\n"
  "report mode (--report-only) with every decision logged.  The proposal\n"
  "is printed: review it, then include it from BASE.  Destinations that an\n"
  "address rule of BASE denies are listed as comments for a human.  Exit\n"
  "status: 0 proposed, 1 some lines were not audit events, 2 usage error\n"
  "or unreadable file or rules.\n",
  learn_opts, run_learn
};
