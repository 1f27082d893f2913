/*
 * Private declarations shared by the files in lib/.  Nothing here is
 * exported from the shared library (it is built with -fvisibility=hidden).
 */
#ifndef CURLFENCE_INTERNAL_H
#define CURLFENCE_INTERNAL_H

#define CURLFENCE_BUILDING 1
#include "curlfence.h"

#include <pthread.h>
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
  uint8_t pad_;
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
} cf_ruleset;

/* The text of rule r of rs. */
#define CF_RULE_TEXT(rs, r) ((rs)->texts + (r)->text)

/* rules.c */
curlfence_code cf_rules_parse_file(cf_ruleset *rs, const char *path,
                                   curlfence_error *err);
curlfence_code cf_rules_parse_string(cf_ruleset *rs, const char *text,
                                     size_t len, const char *name,
                                     curlfence_error *err);
void cf_ruleset_free(cf_ruleset *rs);
void cf_stamp_from_stat(cf_stamp *s, const struct stat *st);

/* match.c: the reference matcher.  Scans every rule; obviously correct and
 * used as the oracle for the compiled table.  Returns the index of the
 * deciding rule or -1 when no rule matches.  addr is 4 bytes when v6 == 0,
 * else 16 (already unmapped).  port 0 matches only rules without ports. */
long cf_match_linear(const cf_ruleset *rs, int v6, const uint8_t *addr,
                     unsigned port);

/* Ordering of two matching rules: > 0 when a beats b.  Longest prefix,
 * then a rule with ports, then deny, then the earlier rule. */
int cf_rule_beats(const cf_rule *a, long ia, const cf_rule *b, long ib);

int cf_rule_port_match(const cf_ruleset *rs, const cf_rule *r, unsigned port);

/* table.c: the compiled lookup structure (same answers as cf_match_linear) */
typedef struct cf_table cf_table;
curlfence_code cf_table_build(cf_table **out, const cf_ruleset *rs);
long cf_table_lookup(const cf_table *t, const cf_ruleset *rs, int v6,
                     const uint8_t *addr, unsigned port);
/* The same, and *allow says whether the deciding rule allows (undefined
 * when none matched), without reading the rule. */
long cf_table_lookup_action(const cf_table *t, const cf_ruleset *rs, int v6,
                            const uint8_t *addr, unsigned port, int *allow);
/* The value the table stores for an address: 0 when no rule matches,
 * else either the deciding rule's index + 1, with CF_ALLOW set when it
 * allows, or CF_PSET | a port set when the port decides (resolved by
 * cf_table_lookup_action).  find4 takes the address in host order, find6
 * its 16 bytes in network order. */
#define CF_PSET 0x40000000u
#define CF_ALLOW 0x80000000u
uint32_t cf_table_find4(const cf_table *t, uint32_t addr);
uint32_t cf_table_find6(const cf_table *t, const uint8_t *addr);
size_t cf_table_memory(const cf_table *t);
void cf_table_free(cf_table *t);

/* The arrays of a table, as image.c stores them: per family the direct
 * array, the nodes and the leaves, then the port sets and candidates. */
enum {
  CF_PART_DIRECT4, CF_PART_NODES4, CF_PART_LEAVES4,
  CF_PART_DIRECT6, CF_PART_NODES6, CF_PART_LEAVES6,
  CF_PART_PSETS, CF_PART_CANDS, CF_PART_N
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
size_t cf_table_part_size(unsigned part);
void cf_table_get_parts(const cf_table *t, cf_table_parts *out);
/* A table over arrays it does not own (an image), after checking every
 * index a lookup can follow and every value it can return against kind[]
 * (one CF_KIND_* byte per rule).  CURLFENCE_E_IMAGE with *fault filled
 * when something is out of place. */
curlfence_code cf_table_view(cf_table **out, const cf_table_parts *parts,
                             size_t nrules, const uint8_t *kind,
                             cf_table_fault *fault);

/* error.c */
void cf_error_set(curlfence_error *err, curlfence_code code, const char *file,
                  unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* image.c: compiled policy images (layout at the top of image.c) */
typedef struct cf_image cf_image;
uint64_t cf_hash64(const void *data, size_t n);
/* Load the file at path into p when it is an image (*is_image set); leave
 * everything else, including files that cannot be opened, to the rules
 * reader. */
curlfence_code cf_image_load(curlfence_policy *p, const char *path,
                             int *is_image, curlfence_error *err);
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
void cf_image_close(curlfence_policy *p);

/* policy.c */
struct curlfence_policy {
  atomic_uint refs;
  cf_ruleset rs;
  cf_table *table;
  char *source;           /* path it was loaded from; NULL for text */
  cf_image *image;        /* rs and table point into it; NULL for text */
  /* Decisions made by guards: one counter per rule, then the default and
   * the unix setting.  The only part of a policy that changes. */
  _Atomic uint64_t *hits;
};

/* curlfence_policy_decide() that also says which hits[] counter belongs to
 * the decision (-1: none, e.g. a malformed address).  v may be NULL. */
long cf_decide(const curlfence_policy *p, const struct sockaddr *sa,
               socklen_t salen, curlfence_action *act, curlfence_verdict *v);

/* Turn a socket address into the form the tables use.  Returns 0 and sets
 * *v6, addr (16 bytes of room) and *port for AF_INET/AF_INET6 (IPv4-mapped
 * IPv6 becomes IPv4); returns AF_UNIX for a unix socket; -1 when sa is
 * short or of another family. */
int cf_sockaddr_key(const struct sockaddr *sa, socklen_t salen, int *v6,
                    uint8_t *addr, unsigned *port);

/* audit.c: the event as one JSON line with its newline, in small (size
 * bytes) when it fits, else in memory the caller frees; NULL when out of
 * memory. */
char *cf_event_line(const curlfence_event *ev, char *small, size_t size,
                    size_t *len);

/* reload.c: the guard's current policy, switched without reader locks */
typedef struct cf_slot {
  _Atomic(curlfence_policy *) policy;
  atomic_ulong readers;
  _Atomic uint64_t generation;
} cf_slot;

typedef struct cf_live {
  pthread_mutex_t wlock;  /* one writer at a time */
  atomic_uint cur;
  cf_slot slot[2];
} cf_live;

void cf_live_init(cf_live *l, curlfence_policy *p);
void cf_live_destroy(cf_live *l);
curlfence_policy *cf_live_acquire(cf_live *l, unsigned *slot, uint64_t *gen);
void cf_live_release(cf_live *l, unsigned slot);
/* Make p (whose reference the live slot takes over) current; returns its
 * generation.  Waits for readers of the old policy. */
uint64_t cf_live_publish(cf_live *l, curlfence_policy *p);

typedef struct cf_watch {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  unsigned interval_ms;
  int running, stop, kick;
} cf_watch;

/* guard.c */
struct curlfence_guard {
  cf_live live;
  cf_watch watch;
  curlfence_audit_fn audit;
  void *audit_data;
  unsigned audit_flags;
  curl_opensocket_callback open_fn;
  void *open_data;
  curl_closesocket_callback close_fn;
  void *close_data;
  _Atomic uint64_t allowed, denied, reported, audit_errors, reloads,
      reload_failures;
  pthread_mutex_t err_lock;       /* guards last_error */
  curlfence_error last_error;
};

curlfence_code cf_watch_start(curlfence_guard *g, unsigned interval_ms);
void cf_watch_stop(curlfence_guard *g);

#endif
