/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the engine: rules, the compiled table, matching, the host's
 * own addresses, images, policies and expectations, and the helpers every
 * layer shares (errors, shards, util.h).  The engine may use only the public
 * header, libc, libcidr, and libidn2 and libpsl (for the names of host
 * rules); it knows nothing of the guard (lib/guard/) or
 * the review code (lib/review/).  Nothing here is exported from the shared
 * library (it is built with -fvisibility=hidden).
 */
#ifndef CURLFENCE_ENGINE_H
#define CURLFENCE_ENGINE_H

#define CURLFENCE_BUILDING 1
#include "curlfence.h"
#include "util.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#define CF_MAX_LINE 4096        /* longest accepted line, in bytes */
#define CF_MAX_INCLUDE_DEPTH 16 /* nesting of include directives */

/* One address rule, after parsing.  IPv4 rules (and IPv4-mapped IPv6 rules,
 * which are converted) have v6 == 0 and the address in addr[0..3]; IPv6
 * rules use all 16 bytes.  Addresses are in network byte order with the
 * host bits cleared.  Ports are the ranges ports[port_off .. port_off +
 * nports) of the owning rule set; nports == 0 means "any port". */
typedef struct cf_rule {
  uint8_t addr[16];
  uint8_t v6;
  uint8_t plen;
  uint8_t action;         /* curlfence_action */
  uint8_t self;           /* 1: a "self" directive, as written: addr, v6
                             and plen are 0; the host's addresses it
                             names are cf_ruleset.selfv (never in the
                             table), each ranked as a /32 or /128 */
  uint32_t port_off;
  uint32_t nports;
  uint32_t file;          /* index into cf_ruleset.files */
  uint32_t line;
  uint32_t text;          /* offset in cf_ruleset.texts of the rule as
                             written: "deny 10.0.0.0/8 port 443" */
} cf_rule;

typedef struct cf_port_range {
  uint16_t lo, hi;        /* inclusive, 1..65535 */
} cf_port_range;

/* A setting that may appear once in the whole file tree. */
typedef struct cf_setting {
  uint8_t set;            /* 0: not given, built-in value applies */
  uint8_t action;
  uint32_t file;
  uint32_t line;
  char *text;
} cf_setting;

/* What a rules file looked like when it was read, to notice changes. */
typedef struct cf_stamp {
  uint64_t dev, ino, size;
  int64_t mtime_ns, ctime_ns;
  int valid;              /* 0 for text loaded from memory */
} cf_stamp;

/* A "nat64 PREFIX/LEN" directive (RFC 6052): an IPv6 destination inside
 * prefix is decided as the IPv4 address embedded at the layout of plen.
 * A fixed-size record without pointers. */
typedef struct cf_nat64 {
  uint8_t prefix[16];     /* network byte order, host bits clear */
  uint8_t plen;           /* 32, 40, 48, 56, 64 or 96 */
  uint8_t pad_[3];
  uint32_t file;          /* index into cf_ruleset.files */
  uint32_t line;
  uint32_t column;        /* of the prefix */
} cf_nat64;

/* An "expect allow|deny [host NAME at] ADDRESS [port P]" line: what the
 * policy must decide for the address (for a connection with that name),
 * checked at every load of rules text once the policy is compiled
 * (expect.c). */
typedef struct cf_expect {
  uint8_t addr[16];       /* network byte order; IPv4 in addr[0..3] */
  uint8_t v6;
  uint8_t action;         /* curlfence_action expected */
  uint16_t port;          /* 0: every port */
  uint8_t named;          /* 1: name holds the connection's name */
  uint8_t pad_[3];
  uint32_t name;          /* offset in cf_ruleset.texts, canonical */
  uint32_t file;          /* index into cf_ruleset.files */
  uint32_t line;
  uint32_t column;        /* of the word "expect" */
} cf_expect;

/* A host rule: "allow host NAME [to PREFIX] [port LIST]" or "deny host
 * NAME [port LIST]".  NAME is kept in canonical form (cf_host_canon) in
 * cf_ruleset.texts: for "*.SUFFIX" (wild) only SUFFIX, which the rule
 * matches one or more labels below, never itself. */
typedef struct cf_hostrule {
  uint8_t addr[16];       /* to PREFIX (to == 1): as cf_rule.addr */
  uint8_t v6;
  uint8_t plen;
  uint8_t action;         /* curlfence_action */
  uint8_t wild;
  uint8_t to;
  uint8_t pad_[3];
  uint32_t port_off;      /* into cf_ruleset.ports, as cf_rule's */
  uint32_t nports;
  uint32_t file;
  uint32_t line;
  uint32_t text;          /* the rule as written, in cf_ruleset.texts */
  uint32_t name;          /* the name (SUFFIX for wild), in texts */
  uint32_t namelen;
} cf_hostrule;

/* Everything the parser produces; owned by the policy afterwards. */
typedef struct cf_ruleset {
  cf_rule *rules;
  size_t nrules, caprules;
  cf_port_range *ports;
  size_t nports, capports;
  char *texts;            /* every rule's text, NUL-terminated, one block
                             (one allocation instead of one per rule) */
  size_t ntexts, captexts;
  char **files;           /* file names as they appear in messages */
  cf_stamp *stamps;       /* parallel to files */
  size_t nfiles, capfiles;
  cf_setting dflt;        /* "default allow|deny" */
  cf_setting unix_;       /* "unix allow|deny" */
  cf_setting mode;        /* "mode enforce|report": action 1 = report */
  cf_nat64 *nat64;        /* declared NAT64 prefixes, in file order */
  size_t nnat64, capnat64;
  uint32_t nself;         /* "self" directives seen */
  uint64_t self_print;    /* cf_self_list()'s fingerprint at load time */
  struct cf_selfent *selfv; /* the addresses self rules name, resolved at
                             every load (text or image), sorted */
  size_t nselfv;
  size_t nselfpfx;        /* selfv[0..nselfpfx) are local prefixes */
  uint64_t selffirst[2][4]; /* per family, the first bytes of addresses
                             some entry of selfv holds: a bit set */
  cf_expect *expects;     /* in file order; never in an image */
  size_t nexpects, capexpects;
  cf_hostrule *hosts;     /* host rules, in file order (an image's
                             section of them) */
  size_t nhosts, caphosts;
} cf_ruleset;

/* The text of rule r of rs. */
#define CF_RULE_TEXT(rs, r) ((rs)->texts + (r)->text)

/* rules.c and the files it names (rules.h) */
curlfence_code cf_rules_parse_file(cf_ruleset *rs, const char *path,
                                   curlfence_error *err);
curlfence_code cf_rules_parse_string(cf_ruleset *rs, const char *text,
                                     size_t len, const char *name,
                                     curlfence_error *err);
void cf_ruleset_free(cf_ruleset *rs);
void cf_stamp_from_stat(cf_stamp *s, const struct stat *st);
/* The first file of rs that no longer looks as it did when it was opened
 * (another inode, size or time, or gone), or NULL.  A file rewritten in
 * place while it was read shows here: its size or times moved on. */
const char *cf_rules_changed(const cf_ruleset *rs);
/* err: file changed while it was read; not loaded (use rename(2)). */
void cf_error_changed(curlfence_error *err, const char *file);
/* Every load from files (rules text, cf_rules_parse_file; images,
 * curlfence_policy_load_file) reads its files, then calls this for try
 * attempt (from 0) with what it read in rs (changed: the reader saw a
 * file's size move).  0: nothing changed, what was read stands (its
 * error too).  1: something did; paused, read everything again.  -1:
 * still changing after CF_LOAD_TRIES tries; err says so.  Never a policy
 * from half a rewrite. */
#define CF_LOAD_TRIES 6
/* A changed file is loaded once it has looked the same for this long
 * (milliseconds): the pause between load tries, and the watcher's
 * settling time (lib/guard/watch.c). */
#define CF_WATCH_SETTLE_MS 100
int cf_load_retry(const cf_ruleset *rs, int changed, unsigned attempt,
                  curlfence_error *err);
/* Tests only.  The test programs link their own copy of rules_file.c,
 * built with CF_TEST_HOOKS, which calls this (when set) during loads from
 * files: CF_HOOK_OPENED once a file is opened and stamped, before its
 * bytes are read; CF_HOOK_READ once a try read everything (path NULL),
 * before the check for changes.  The library and the tool have neither
 * the variable nor the calls. */
enum { CF_HOOK_OPENED, CF_HOOK_READ };
extern void (*cf_test_load_hook)(int point, const char *path,
                                 unsigned attempt);
/* Upper bounds of the rules in len bytes of text and of their texts'
 * bytes, for sizing the arrays once. */
void cf_rules_presize(const char *buf, size_t len, size_t *rules,
                      size_t *text);

/* expect.c: check p's expectations (those of the file loaded, not of
 * its includes).  CURLFENCE_OK, or CURLFENCE_E_EXPECT with err at the
 * first broken one: the decision made, by which rule. */
curlfence_code cf_expect_check(const curlfence_policy *p,
                               curlfence_error *err);
/* The same for a parsed rule set (lint), with a table built for it. */
curlfence_code cf_expect_check_rules(const cf_ruleset *rs,
                                     curlfence_error *err);

/* match.c: the reference matcher.  Scans every rule; obviously correct and
 * used as the oracle for the compiled table.  Returns the index of the
 * deciding rule or -1 when no rule matches.  addr is 4 bytes when v6 == 0,
 * else 16 (already unmapped).  port 0 matches only rules without ports. */
long cf_match_linear(const cf_ruleset *rs, int v6, const uint8_t *addr,
                     unsigned port);

/* Which host rules a step of the decision asks for (decide.c): the deny
 * host rules, the "to PREFIX" exemptions holding the address, or the
 * allows (an exemption only where its prefix holds the address). */
typedef enum cf_hostq {
  CF_HOSTQ_DENY,
  CF_HOSTQ_TO,
  CF_HOSTQ_ALLOW
} cf_hostq;
/* match.c: the reference for host rules, a scan: of the host rules of rs
 * that match the canonical name host at port and, for q, the address
 * (4 bytes when v6 == 0, else 16), the first by specificity (an exact
 * name, then wildcards with the longest suffix first), then file order.
 * -1: none. */
long cf_host_match_linear(const cf_ruleset *rs, cf_hostq q, const char *host,
                          int v6, const uint8_t *addr, unsigned port);
/* The same answer, for policy.c's index of the host rules (hostrule.c). */
typedef struct cf_hostidx cf_hostidx;
curlfence_code cf_hostidx_build(cf_hostidx **out, const cf_ruleset *rs);
void cf_hostidx_free(cf_hostidx *x);
long cf_hostidx_find(const cf_hostidx *x, const cf_ruleset *rs, cf_hostq q,
                     const char *host, int v6, const uint8_t *addr,
                     unsigned port);
/* A decision's host rule lookups with the name read once: the first
 * CF_HOSTQ_DENY rule, else (then != CF_HOSTQ_DENY) the first for then. */
long cf_hostidx_find_deny(const cf_hostidx *x, const cf_ruleset *rs,
                          cf_hostq then, const char *host, int v6,
                          const uint8_t *addr, unsigned port);
/* 1 when rule h matches port and, for q, the address; not the name. */
int cf_hostrule_fits(const cf_ruleset *rs, const cf_hostrule *h, cf_hostq q,
                     int v6, const uint8_t *addr, unsigned port);
/* The NAME of a host rule as written in s[0..len): its canonical form
 * (for "*.SUFFIX": SUFFIX, and *wild 1) in out (CF_HOST_MAX + 1 bytes),
 * or -1 with what is wrong in msg and the offset in s it is at in *off:
 * names not in canonical form (with that form when there is one, IDN
 * converted to A-labels), globs other than a leading "*.", addresses,
 * wildcards directly above a public suffix. */
int cf_hostrule_name(const char *s, size_t len, char *out, int *wild,
                     char *msg, size_t size, unsigned *off);

/* rank.c: ordering of two matching rules: > 0 when a beats b.  Longest prefix,
 * then a rule with ports, then deny, then the earlier rule. */
int cf_rule_beats(const cf_rule *a, long ia, const cf_rule *b, long ib);

int cf_rule_port_match(const cf_ruleset *rs, const cf_rule *r, unsigned port);

/* The declared nat64 prefix holding the 16-byte addr (the longest, should
 * they nest), or -1.  A scan: the reference for the table's answer. */
long cf_nat64_find(const cf_ruleset *rs, const uint8_t *addr);
/* A declared nat64 prefix holding the whole block addr/plen, or -1. */
long cf_nat64_covering(const cf_ruleset *rs, const uint8_t *addr,
                       unsigned plen);
/* The verdict reason of a decision made on the IPv4 address embedded by
 * the layout of a /plen nat64 prefix: "nat64/96"; static. */
const char *cf_nat64_reason(unsigned plen);
/* For a verdict reason "nat64/LEN" and the IPv6 address as text, the
 * IPv4 address it was decided as, as text in out (16 bytes is enough);
 * for the reason CF_REASON_LOOPBACK and the unspecified address as text,
 * the loopback address it was decided as.  Returns 0, or -1 (out "") when
 * reason is another word or addr does not fit it. */
int cf_nat64_as_text(const char *reason, const char *addr, char *out,
                     size_t size);

/* The verdict reasons of decisions made by host rules: a "deny host"
 * rule; an "allow host" rule where no address rule matched; an "allow
 * host NAME to PREFIX" exemption (where an address rule denied, or none
 * matched). */
#define CF_REASON_HOST_DENY "host-deny"
#define CF_REASON_HOST "host"
#define CF_REASON_HOST_TO "host-to"

/* A connection to the unspecified address reaches this host: Linux
 * connects 0.0.0.0 to 127.0.0.1 and :: to ::1.  Such a destination is
 * decided as itself and as that loopback address, and allowed only when
 * both are; when the loopback decision is the one that denies, the verdict
 * is that decision's with this reason. */
#define CF_REASON_LOOPBACK "loopback"
/* 1 when addr (4 bytes when v6 == 0, else 16, already unmapped) is the
 * unspecified address, and then the loopback address a connection to it
 * reaches in lo (when not NULL; may be addr); else 0. */
int cf_unspecified_loopback(int v6, const uint8_t *addr, uint8_t *lo);
/* The reference for a whole decision on addr and port, as
 * curlfence_policy_decide() makes it: cf_match_linear()'s rule, or for
 * the unspecified address the rule of the loopback step when that one
 * denies (*as_loopback then 1, else 0).  -1: the default decides. */
long cf_match_connect(const cf_ruleset *rs, int v6, const uint8_t *addr,
                      unsigned port, int *as_loopback);

/* self.c: the host's own addresses (netlink, else getifaddrs), loopback
 * included, each address once, in interface order. */
typedef struct cf_selfaddr {
  uint8_t addr[16];
  uint8_t v6;
  uint8_t prefix;         /* nonzero: the length of the on-link prefix the
                             address makes local besides itself (IPv4 on
                             a loopback interface: 127.0.0.1/8) */
  char ifname[16];
} cf_selfaddr;
/* *out is malloc'ed (NULL when n is 0); *print is a fingerprint of the
 * set, independent of order.  Returns 0, or an errno value. */
int cf_self_list(cf_selfaddr **out, size_t *n, uint64_t *print);
#ifdef CF_TEST_HOOKS
/* Tests only (the test program's copy of self.c, as for the load hook
 * of rules_file.c): cf_self_list() answers with a copy of list[0..n)
 * instead of the host's (list NULL: the host's again).  Not for
 * concurrent loads. */
void cf_self_inject(const cf_selfaddr *list, size_t n);
#endif

/* One address (or local prefix) of one self rule: rule is the
 * directive's index in cf_ruleset.rules; text is the rule as verdicts
 * name it, "deny self (192.0.2.2, eth0)", "deny self (127.0.0.1/8, lo)".
 * cf_ruleset.selfv holds the cf_ruleset.nselfpfx prefixes first, then the
 * single addresses, each part sorted by (v6, addr, rule). */
typedef struct cf_selfent {
  uint8_t addr[16];       /* IPv4 in addr[0..3], the rest zero; host bits
                             clear */
  uint8_t v6;
  uint8_t plen;           /* 32 or 128 for one address; it ranks as a rule
                             of this length */
  uint32_t rule;
  char *text;
} cf_selfent;
/* An entry that stands for a prefix rather than one address. */
static inline int cf_selfent_is_prefix(const cf_selfent *e)
{
  return e->plen < (e->v6 ? 128 : 32);
}
/* rank.c: the order of rs->selfv, prefix entries first (a few, scanned),
 * then single addresses (many, searched); each part by (v6, addr, rule). */
int cf_selfent_cmp(const void *pa, const void *pb);
/* Fill rs->selfv from the host's addresses for rs's self rules (nothing
 * when it has none).  An IPv6 address inside a nat64 prefix is left out:
 * it is decided as the IPv4 address it embeds. */
curlfence_code cf_self_resolve(cf_ruleset *rs, curlfence_error *err);
void cf_self_free(cf_ruleset *rs);
/* rank.c: the entries of rs->selfv that hold addr (4 bytes when v6 == 0, else
 * 16): e = -1 gives the first, e the one after e; -1 when there is no
 * more. */
long cf_self_next(const cf_ruleset *rs, int v6, const uint8_t *addr, long e);
/* After a lookup decided idx (-1: none; *allow its action) for addr and
 * port, the self rules for addr, each ranked as its entry's length: the
 * decision, *allow updated, *ent the deciding entry or -1. */
long cf_self_decide(const cf_ruleset *rs, int v6, const uint8_t *addr,
                    unsigned port, long idx, int *allow, long *ent);
/* Rule i of rs as it ranks for addr of family v6: a self rule with the
 * prefix length of its longest entry that holds addr (of a host address
 * when none does). */
void cf_rule_ranked(const cf_ruleset *rs, long i, int v6,
                    const uint8_t *addr, cf_rule *out);

/* table.c, table_build.c, table_view.c: the compiled lookup structure
 * (same answers as cf_match_linear) */
typedef struct cf_table cf_table;
curlfence_code cf_table_build(cf_table **out, const cf_ruleset *rs);
long cf_table_lookup(const cf_table *t, const cf_ruleset *rs, int v6,
                     const uint8_t *addr, unsigned port);
/* The same, and *allow says whether the deciding rule allows (undefined
 * when none matched), without reading the rule. */
long cf_table_lookup_action(const cf_table *t, const cf_ruleset *rs, int v6,
                            const uint8_t *addr, unsigned port, int *allow);
/* The same, and when an IPv6 addr lies in a nat64 prefix, *nat64 is that
 * prefix's index in rs->nat64 and as4 the embedded IPv4 address it was
 * decided as; otherwise *nat64 is -1. */
long cf_table_lookup_as(const cf_table *t, const cf_ruleset *rs, int v6,
                        const uint8_t *addr, unsigned port, int *allow,
                        long *nat64, uint8_t *as4);
/* The value the table stores for an address: 0 when no rule matches,
 * else either the deciding rule's index + 1, with CF_ALLOW set when it
 * allows, or CF_PSET | a port set when the port decides (resolved by
 * cf_table_lookup_action).  find4 takes the address in host order, find6
 * its 16 bytes in network order. */
#define CF_PSET 0x40000000u
#define CF_ALLOW 0x80000000u
/* Both bits: an IPv6 region that is a nat64 prefix; find6 resolves it to
 * the value of the embedded IPv4 address, so callers never see it. */
#define CF_NAT64 (CF_PSET | CF_ALLOW)
uint32_t cf_table_find4(const cf_table *t, uint32_t addr);
uint32_t cf_table_find6(const cf_table *t, const uint8_t *addr);
/* The value for an IPv4 or IPv6 sockaddr (IPv4-mapped and nat64
 * addresses decided as IPv4), its port sets resolved by the port it
 * carries against ports (the rule set's port ranges): 0 or a rule + 1
 * with CF_ALLOW, never CF_PSET.  CF_FIND_SLOW when sa is no address this
 * decides (short, another family).  Self rules are not looked at.  A leaf
 * function: the public decision's fast path. */
#define CF_FIND_SLOW 0xffffffffu
uint32_t cf_table_find_sa(const cf_table *t, const cf_port_range *ports,
                          const struct sockaddr *sa, socklen_t salen);
size_t cf_table_memory(const cf_table *t);
void cf_table_free(cf_table *t);

/* The arrays of a table, as image.c stores them: per family the direct
 * array, the nodes and the leaves, then the port sets, candidates, NAT64
 * records and the IPv4 blocks. */
enum {
  CF_PART_DIRECT4, CF_PART_NODES4, CF_PART_LEAVES4,
  CF_PART_DIRECT6, CF_PART_NODES6, CF_PART_LEAVES6,
  CF_PART_PSETS, CF_PART_CANDS, CF_PART_N64, CF_PART_BLOCKS4, CF_PART_N
};
typedef struct cf_table_parts {
  const void *p[CF_PART_N];
  size_t n[CF_PART_N];    /* elements */
} cf_table_parts;
typedef struct cf_table_fault {
  unsigned part;          /* CF_PART_* */
  size_t elem;            /* element of that part */
  char why[160];
} cf_table_fault;
/* What the check of a table needs to know of each rule. */
#define CF_KIND_ALLOW 1u
#define CF_KIND_PORTS 2u
#define CF_KIND_V6 4u
#define CF_KIND_SELF 8u
size_t cf_table_part_size(unsigned part);
void cf_table_get_parts(const cf_table *t, cf_table_parts *out);
/* A table over arrays it does not own (an image), after checking every
 * index a lookup can follow and every value it can return against the
 * rules of rs (already checked) and kind[] (one CF_KIND_* byte per rule).
 * CURLFENCE_E_IMAGE with *fault filled when something is out of place. */
curlfence_code cf_table_view(cf_table **out, const cf_table_parts *parts,
                             const cf_ruleset *rs, const uint8_t *kind,
                             cf_table_fault *fault);

/* hostname.c: host names in canonical form. */
#define CF_HOST_MAX 253
/* What cf_host_canon() finds wrong with a name. */
enum {
  CF_HOST_EEMPTY = -1,        /* nothing, or a lone "." */
  CF_HOST_ELONG = -2,         /* over CF_HOST_MAX bytes */
  CF_HOST_ELABEL_EMPTY = -3,  /* "a..b", ".a" */
  CF_HOST_ELABEL_LONG = -4,   /* a label over 63 bytes */
  CF_HOST_ECHAR = -5,         /* a byte other than [A-Za-z0-9.-] */
  CF_HOST_EHYPHEN = -6,       /* a label starting or ending with '-' */
  CF_HOST_EADDR = -7          /* an IPv4 address in any spelling, a name
                                 ending in a numeric label, an IPv6
                                 literal */
};
/* Write the canonical form of the host name in[0..len) to out
 * (CF_HOST_MAX + 1 bytes): ASCII letters lowered, one trailing dot
 * removed, every label 1..63 bytes of [a-z0-9-] not starting or ending
 * with '-', 253 bytes at most, and not an IPv4 address in any spelling
 * inet_aton() accepts (127.0.0.1, 2130706433, 0x7f.1, 0177.0.0.1) nor an
 * IPv6 literal.  A name whose last label is a number (decimal, or 0x and
 * hex digits: "a.1", "a.0x1f") is taken for an address too, as URL
 * parsers take it.  Returns 0, or a negative CF_HOST_E* code saying what
 * is wrong (and out is then "").  Names that need IDN conversion are
 * not converted here: the caller passes A-labels (libcurl's
 * CURLU_PUNYCODE gives them). */
int cf_host_canon(const char *in, size_t len, char *out);
/* What a CF_HOST_E* code means, as text (static). */
const char *cf_host_strerror(int code);

/* A connection's name prepared once for the lookups (hostrule.c): its
 * words read from its end, the hash state before each, its key and where
 * its dots are; then, filled by the first lookup, the index entries the
 * name hits in one index, tagged with that index's id, which no other
 * index ever has (a reloaded policy's index is another index even at the
 * same address).  A connection is decided more than once and a program
 * talks to few names, so whoever keeps a name keeps this with it; a
 * decision then only reads the entries.  Not for two threads at once. */
#define CF_HOST_WORDS ((CF_HOST_MAX + 7) / 8)
#define CF_HOSTPREP_HITS 6
typedef struct cf_hostprep {
  /* first, on one cache line: what a decision with the memo reads */
  const char *host;       /* the canonical name, kept by the caller */
  size_t len;             /* 0: no rule can match the name */
  uint64_t memo_id;       /* the index hits[] is of; 0: none */
  uint32_t nhits;
  uint32_t hits[CF_HOSTPREP_HITS];  /* entries, most specific first */
  uint64_t exact;
  uint64_t dots[4];
  uint64_t w[CF_HOST_WORDS], st[CF_HOST_WORDS + 1];
} cf_hostprep;
/* Prepare host (canonical, or NULL) into n, which keeps the pointer. */
void cf_hostprep_init(cf_hostprep *n, const char *host);
/* cf_hostidx_find_deny() for a prepared name, which it memoises. */
long cf_hostidx_find_prep(const cf_hostidx *x, const cf_ruleset *rs,
                          cf_hostq then, cf_hostprep *n, int v6,
                          const uint8_t *addr, unsigned port);

/* error.c */
/* src as text that shows every byte (printable ASCII as is, \\, \t, \r,
 * \n, else \xNN), cut at an escape's boundary to fit size. */
void cf_escape(char *dst, size_t size, const char *src);
void cf_error_set(curlfence_error *err, curlfence_code code, const char *file,
                  unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* image.c, image_load.c, image_write.c: compiled policy images (layout
 * at the top of image.c) */
typedef struct cf_image cf_image;
uint64_t cf_hash64(const void *data, size_t n);
/* Load the file at path into p when it is an image (*is_image set, and
 * *opened how the file looked when it was opened, loaded or not); leave
 * everything else, including files that cannot be opened, to the rules
 * reader. */
curlfence_code cf_image_load(curlfence_policy *p, const char *path,
                             int *is_image, cf_stamp *opened,
                             curlfence_error *err);
/* 1 when the file at path starts like an image (for tools that read
 * rules files only). */
int cf_image_probe(const char *path);
/* The same for an image in memory that outlives p (tests, fuzzing). */
curlfence_code cf_image_load_mem(curlfence_policy *p, const void *buf,
                                 size_t len, const char *name,
                                 curlfence_error *err);
/* The image bytes for p; source paths relative to image_dir (absolute). */
curlfence_code cf_image_build(const curlfence_policy *p,
                              const char *image_dir, unsigned char **out,
                              size_t *len, curlfence_error *err);
/* 1 when p came from an image and one of its rules files now holds other
 * text (why says which), else 0. */
int cf_image_stale(const curlfence_policy *p, curlfence_error *why);
/* 1 when p came from an image compiled from the rules file at path (the
 * same file, by device and inode), else 0.  An image that is not stale
 * matches its own rules, which need not be the ones a caller means. */
int cf_image_compiled_from(const curlfence_policy *p, const char *path);
void cf_image_close(curlfence_policy *p);

/* shard.c: counters that every thread updates on the decision path are
 * split into CF_SHARDS copies, each on its own cache lines, so that threads
 * deciding at once do not bounce one line between their cores (two threads
 * on one counter ran slower than one alone).  A decision updates the shard
 * of the CPU it runs on; readers sum every shard, so a count read is exact
 * (no update is lost, only spread).  CPUs beyond CF_SHARDS share shards,
 * which costs speed, never counts. */
#define CF_SHARDS 16
#define CF_CACHE_LINE 64
unsigned cf_shard(void);
/* Counters for n items in *shards copies of *stride counters each (stride
 * a whole number of cache lines), zeroed and cache-line aligned, in memory
 * *mem (free() it).  Large n get a copy per CPU (shard.c), so memory stays
 * bounded; n too large for two get one copy, except for its last cache
 * line, which holds the default's counter and gets a copy per shard after
 * the rest.  NULL when out of memory. */
_Atomic uint64_t *cf_counters_new(size_t n, size_t *stride, unsigned *shards,
                                  void **mem);
/* The counter of item i that a decision on shard s adds to. */
static inline _Atomic uint64_t *cf_counter(_Atomic uint64_t *c, size_t stride,
                                           unsigned shards, unsigned s,
                                           size_t i)
{
  const size_t line = CF_CACHE_LINE / sizeof(uint64_t);

  s %= CF_SHARDS;
  if(shards > 1)
    return &c[s % shards * stride + i];
  if(!s || i < stride - line)
    return &c[i];
  return &c[stride + (s - 1) * line + i - (stride - line)];
}
/* Item i of counters made by cf_counters_new: the sum of its copies. */
uint64_t cf_counters_sum(_Atomic uint64_t *c, size_t stride, unsigned shards,
                         size_t i);

/* policy.c loads policies, decide.c decides against them */
struct curlfence_policy {
  atomic_uint refs;
  cf_ruleset rs;
  cf_table *table;
  cf_hostidx *hosts;      /* NULL when rs has no host rules */
  char *source;           /* path it was loaded from; NULL for text */
  cf_image *image;        /* rs and table point into it; NULL for text */
  /* Decisions made by guards: one counter per rule, then the default and
   * the unix setting, in hit_shards copies of hit_stride counters
   * (cf_counters_new); hit_shards 0: none are counted.  The only part of a
   * policy that changes. */
  _Atomic uint64_t *hits;
  int64_t loaded_us;      /* wall clock when loaded, microseconds */
  size_t hit_stride;
  unsigned hit_shards;
  void *hit_mem;          /* what hits points into */
};

/* Entry i of curlfence_policy_rule_stats() (i < rule count + 2). */
void cf_policy_rule_stat(const curlfence_policy *policy, size_t i,
                         curlfence_rule_stat *o);

/* A destination as the decisions see it, read once from its sockaddr and
 * then carried by pointer through deciding, counting and auditing (the
 * model is curl's struct Curl_sockaddr_ex: the socket's triple with its
 * address).  curlfence_policy_decide()'s fast path does not build one: it
 * reads the sockaddr in place (see decide_fast in decide.c). */
typedef enum cf_dest_kind {
  CF_DEST_IP,             /* key, v6 and port are valid */
  CF_DEST_UNIX,           /* AF_UNIX: the path is read from sa */
  CF_DEST_SHORT,          /* a known family, but shorter than it requires */
  CF_DEST_FAMILY          /* no address, or a family the rules do not cover */
} cf_dest_kind;

/* Which address the key holds when the one given is decided as another:
 * the event still shows the key, so one more kind is one more case here
 * and where the key is derived (cf_dest_init). */
typedef enum cf_dest_as {
  CF_AS_GIVEN = 0,        /* the address as given */
  CF_AS_MAPPED,           /* the IPv4 address inside ::ffff:a.b.c.d */
  CF_AS_TRANSLATED        /* set by cf_decide: the key is IPv6 inside a
                             nat64 prefix, decided as the IPv4 address in
                             as4 (the verdict's reason says "nat64/LEN") */
} cf_dest_as;

typedef struct cf_dest {
  const struct sockaddr *sa;  /* as given (NULL: none), for AF_UNIX text */
  socklen_t salen;
  int family;             /* AF_INET, AF_INET6, AF_UNIX as reported; 0 */
  int socktype;           /* without SOCK_CLOEXEC/SOCK_NONBLOCK; 0 */
  int protocol;           /* 0 when unknown */
  cf_dest_kind kind;
  cf_dest_as as;
  uint8_t v6;             /* key is 16 bytes; else 4 */
  uint8_t key[16];        /* table key, network byte order */
  unsigned port;          /* 0 unless kind == CF_DEST_IP */
  uint8_t as4[4];         /* CF_AS_TRANSLATED: the embedded IPv4 address */
  const char *host;       /* the connection's name in canonical form
                             (cf_host_canon), or NULL: no name, or one
                             that is not canonical; host rules match
                             only a non-NULL name */
  cf_hostprep *prep;      /* host prepared (cf_hostprep_init), or NULL:
                             the decision prepares it */
} cf_dest;

/* A destination and what a policy decided about it. */
typedef struct cf_decision {
  cf_dest dest;
  curlfence_action action;
  curlfence_verdict verdict;  /* filled only when asked for, except its
                                 reason word, always set */
  long hit;               /* the policy's hits[] counter; -1: none */
  uint64_t generation;    /* of the deciding policy (guards set it) */
  int enforced;           /* 0 in report-only mode (guards set it) */
  int long_way;           /* set by cf_decide: 1 when the table alone did
                             not decide (self rules, nat64, host rules,
                             the unspecified address, port sets), the
                             decisions worth a guard's remembering */
} cf_decision;

/* Read sa once into d (family from sa, 0 when there is none; socktype,
 * protocol 0 and host NULL).  IPv4-mapped IPv6 is keyed as IPv4. */
void cf_dest_init(cf_dest *d, const struct sockaddr *sa, socklen_t salen);

/* The table's value for sa (as cf_table_find_sa) when the table alone
 * decides sa for a connection without a name, as cf_decide's fast path
 * does; CF_FIND_SLOW when cf_decide must go the long way (self rules, nat64,
 * the unspecified address, not IP).  For callers that decide many
 * addresses and print the rule a value names. */
uint32_t cf_decide_value(const curlfence_policy *policy,
                         const struct sockaddr *sa, socklen_t salen);

/* Decide d->dest against p (NULL: deny as "no policy"): sets d->action,
 * d->hit and d->verdict.reason, and the rest of d->verdict when explain
 * is nonzero. */
void cf_decide(const curlfence_policy *p, cf_decision *d, int explain);

#endif
