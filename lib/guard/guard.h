/* SPDX-License-Identifier: MIT */
/*
 * guard.h - the guard at run time: the live policy switch, reloads and
 * the watcher, the libcurl callbacks, audit events, sinks and metrics.
 * The guard may use the engine (engine/engine.h) and libcurl's types;
 * the engine never calls it, and it knows nothing of the review code.
 */
#ifndef CURLFENCE_GUARD_H
#define CURLFENCE_GUARD_H

#include "engine/engine.h"

#include <pthread.h>

/* audit.c: the event as one JSON line with its newline, in small (size
 * bytes) when it fits, else in memory the caller frees; NULL when out of
 * memory.  lost is the line's "lost" field. */
char *cf_event_line(const curlfence_event *ev, uint64_t lost, char *small,
                    size_t size, size_t *len);

/* The name and URL of the event an audit callback is being handed on this
 * thread (curlfence_event_name); cf_event_name_set(NULL, ...) after the
 * callback.  Events keep their public size, so this is how they travel. */
void cf_event_name_set(const curlfence_event *ev, const char *host,
                       const char *url);

/* The event as one short line for people, as curlfence fetch prints it:
 * "blocked 10.0.0.1 port 80 by site.rules:3 (deny 10.0.0.0/8)", verb
 * first ("would block (report-only)" for a denial let through), without
 * a newline; every byte outside printable ASCII escaped, cut to fit
 * size.  Returns the length written. */
size_t cf_event_text(const curlfence_event *ev, const char *verb, char *buf,
                     size_t size);
/* A sink of such lines on a copy of standard error, for denials only
 * (CURLFENCE_AUDIT=stderr); lost lines are counted as by any sink. */
curlfence_code cf_sink_open_stderr_text(curlfence_sink **out,
                                        curlfence_error *err);

/* s (NULL: null) as a JSON string with its quotes, as audit events write
 * text: valid UTF-8 whatever the bytes, each byte outside a well-formed
 * sequence written as \ufffd.  Like snprintf: writes at most size bytes
 * with a NUL (when size > 0) and returns the length it needs. */
size_t cf_json_string(char *buf, size_t size, const char *s);

/* name.c: the name a connection has (the host of the URL libcurl is
 * connecting for) and the URL as events show it.  libcurl's functions are
 * passed in: the library's own (attach.c) or those of the libcurl that
 * made the handle (the preload library). */
typedef struct cf_urlapi {
  CURLcode (*getinfo)(CURL *, CURLINFO, ...);
  CURLU *(*url)(void);
  CURLUcode (*set)(CURLU *, CURLUPart, const char *, unsigned int);
  CURLUcode (*get)(CURLU *, CURLUPart, char **, unsigned int);
  void (*cleanup)(CURLU *);
  void (*free)(void *);
} cf_urlapi;

#define CF_URL_MAX 1024
/* The last URL a handle's checks named and the name it gave, so that the
 * next check of the same URL (the pre-request check after the open
 * check, every request of a kept connection) does not parse it again.
 * Only the handle's thread uses it, as libcurl requires of the handle. */
typedef struct cf_name_memo {
  char *url;                  /* malloc'd copy; NULL: nothing yet */
  char host[CF_HOST_MAX + 1];
  cf_hostprep prep;           /* host, prepared for the host rules */
} cf_name_memo;

typedef struct cf_name {
  char host[CF_HOST_MAX + 1]; /* canonical (cf_host_canon), "" for none */
  char url[CF_URL_MAX];       /* cf_name_url()'s */
  const cf_urlapi *api;
  CURL *curl;                 /* whose CURLINFO_EFFECTIVE_URL names it */
  const char *text;           /* that URL (libcurl's, valid during the
                                 check), once read */
  CURLU *u;                   /* the parsed URL, until cf_name_free() */
  cf_name_memo *memo;         /* NULL: none */
  cf_hostprep *prep;          /* the memo's prepared host, set with the
                                 host when there is a memo; else NULL */
  int host_done, url_done;
} cf_name;

/* cf_name_of() only notes h: the URL is read and parsed when a check
 * first needs the name (cf_name_host), which it does only when its
 * policy has host rules or an event shows the name.  -1 when there is no
 * handle; a URL that is missing or that libcurl cannot parse gives no
 * name later.  Either way cf_name_free() releases it.
 * cf_name_remember(): use and update the handle's memo (NULL: none). */
int cf_name_of(const cf_urlapi *api, CURL *h, cf_name *out);
void cf_name_remember(cf_name *n, cf_name_memo *memo);
/* The canonical host name, read on the first call; NULL for none. */
const char *cf_name_host(cf_name *n);
/* The URL as events show it, scheme://host:port/path (no user info,
 * query or fragment), made on the first call; NULL when there is none
 * or it is longer than CF_URL_MAX. */
const char *cf_name_url(cf_name *n);
void cf_name_free(cf_name *n);
void cf_name_memo_free(cf_name_memo *m);
/* The functions of the libcurl the library is linked with (attach.c). */
const cf_urlapi *cf_libcurl_urlapi(void);

/* live.c: one policy pointer and the audit settings, switched together
 * without reader locks */
typedef struct cf_audit {
  curlfence_audit_fn fn;  /* NULL: no audit */
  void *data;
  unsigned flags;         /* CURLFENCE_AUDIT_* */
} cf_audit;

typedef struct cf_slot {
  _Atomic(curlfence_policy *) policy;
  _Atomic uint64_t generation;
  cf_audit audit;         /* written only while the slot is not current */
} cf_slot;

/* The readers inside each slot, counted per shard (cf_shard). */
typedef struct cf_readers {
  _Alignas(CF_CACHE_LINE) atomic_ulong n[2];
} cf_readers;

typedef struct cf_live {
  pthread_mutex_t wlock;  /* one writer at a time */
  atomic_uint cur;
  cf_slot slot[2];
  cf_readers readers[CF_SHARDS];
} cf_live;

void cf_live_init(cf_live *l, curlfence_policy *p);
void cf_live_destroy(cf_live *l);
/* *slot is a token for cf_live_release() and cf_live_audit(): the slot
 * and the shard the reader entered by, which it leaves by, wherever it
 * runs by then. */
curlfence_policy *cf_live_acquire(cf_live *l, unsigned *slot, uint64_t *gen);
void cf_live_release(cf_live *l, unsigned slot);
/* The shard of a token (cf_shard() when it was acquired), for the
 * decision's other counters: one CPU number read per decision. */
static inline unsigned cf_live_shard(unsigned slot)
{
  return slot >> 1;
}
/* Make p (whose reference the live slot takes over) current; returns its
 * generation.  Waits for readers of the old policy.  With expect != 0,
 * only if the current policy still has generation expect: otherwise
 * returns 0 and p stays the caller's. */
uint64_t cf_live_publish(cf_live *l, curlfence_policy *p, uint64_t expect);
/* The audit settings of a slot cf_live_acquire() returned, valid until
 * cf_live_release(). */
const cf_audit *cf_live_audit(const cf_live *l, unsigned slot);
/* Make a the audit settings of every later decision, keeping the policy
 * and its generation.  Returns once no decision still uses the old ones. */
void cf_live_set_audit(cf_live *l, const cf_audit *a);

/* watch.c: the thread that reloads a guard when its files change */
enum { CF_WATCH_IDLE, CF_WATCH_RUNNING, CF_WATCH_STOPPING };

typedef struct cf_watch {
  pthread_mutex_t lock;
  pthread_cond_t wake;    /* the thread's sleep; CLOCK_MONOTONIC */
  pthread_cond_t idle;    /* state left CF_WATCH_STOPPING */
  pthread_t thread;
  unsigned interval_ms;
  int state;              /* CF_WATCH_IDLE, _RUNNING, _STOPPING */
  int stop, kick;
} cf_watch;

/* The guard: its lifetime, callbacks and stats are in guard.c, policy
 * switching in reload.c, the watcher in watch.c (each file calls only the
 * ones listed before it: live.c, reload.c, watch.c, guard.c). */
/* Decisions a guard counts, by outcome, check (curlfence_check) and the
 * verdict's reason word (cf_reason_index, in guard.c; metrics.c writes
 * them). */
enum { CF_OUTCOME_ALLOW, CF_OUTCOME_DENY, CF_OUTCOME_REPORT, CF_OUTCOME_N };
#define CF_REASON_N 14
/* The checks (curlfence_check), counted apart, and their names in audit
 * events and metrics: "open", "reused", "connect", "sendto", "sendmsg",
 * "sendmmsg"; "unknown" for any other value. */
#define CF_CHECK_N 6
const char *cf_check_name(curlfence_check check);
/* The reason words counted apart, "other" last for words added later. */
extern const char *const cf_reason_names[CF_REASON_N];
unsigned cf_reason_index(const char *reason);

/* A guard's counters as read at one time (each exact, not all of one
 * instant).  Every reader of a guard's counters goes through
 * cf_guard_counters(), so how they are kept is guard.c's business. */
typedef struct cf_guard_counts {
  uint64_t allowed, denied, reported;
  uint64_t audit_written, audit_errors;
  uint64_t reloads, reload_failures;
  uint64_t decisions[CF_OUTCOME_N][CF_CHECK_N][CF_REASON_N];
} cf_guard_counts;
void cf_guard_counters(curlfence_guard *g, cf_guard_counts *out);

/* The handles curlfence_attach() gave a guard, for the pre-request check
 * to tell which of them it runs for (attach.c).  Keyed by the address of
 * the handle's own CURLINFO_PRIMARY_IP buffer, which is what libcurl
 * passes the pre-request callback as its primary_ip.  A fixed table: a
 * full set forgets its oldest entry (that handle then has no name). */
#define CF_NAMED_SETS 256
#define CF_NAMED_WAYS 4
typedef struct cf_named {
  _Atomic(const char *) key;
  _Atomic(CURL *) curl;
} cf_named;

/* curlfence_guard.magic: a guard's callbacks refuse to work for anything
 * but a live guard (fail closed), a cheap tripwire for a guard freed while
 * still attached (see curlfence_guard_free(3)). */
#define CF_GUARD_LIVE  0x63664764u   /* "cfGd" */
#define CF_GUARD_FREED 0x64656164u   /* "dead" */

/* A guard's decision counters, on cache lines of their own per shard
 * (cf_shard).  A decision adds to one of them: the totals by outcome are
 * sums of decisions[] that cf_guard_counters() makes. */
typedef struct cf_guard_count {
  _Alignas(CF_CACHE_LINE) _Atomic uint64_t audit_errors;
  _Atomic uint64_t audit_written;
  _Atomic uint64_t decisions[CF_OUTCOME_N][CF_CHECK_N][CF_REASON_N];
} cf_guard_count;

/* The last decision of a shard that the table alone did not make
 * (cf_decision.long_way), with what it was made for, so that the next
 * check of the same destination against the same policy on that CPU (the
 * pre-request check after the open check, the next connection to the same
 * address) gets the same answer without ranking self rules again.  A
 * policy never changes, and the generation names the policy: the answer
 * for the same generation, address, family, port and no name a host rule
 * could match is the one cf_decide() gives.  A sequence lock: seq is odd
 * while a writer fills the words, and a reader that sees it change or odd
 * decides as if there were nothing. */
typedef struct cf_memo {
  _Alignas(CF_CACHE_LINE) atomic_uint seq;
  _Atomic uint64_t gen, key[2], what;   /* what: port, family, kind */
  _Atomic uint64_t action, hit, reason;
} cf_memo;

/* Cache-line aligned (cf_guard_count): allocated with aligned_alloc. */
struct curlfence_guard {
  _Atomic uint32_t magic;
  _Atomic uint64_t dead_calls;    /* callbacks refused after the free, when
                                     the memory was kept (debug aid) */
  cf_live live;
  cf_watch watch;
  curl_opensocket_callback open_fn;
  void *open_data;
  curl_closesocket_callback close_fn;
  void *close_data;
  cf_guard_count count[CF_SHARDS];
  cf_memo memo[CF_SHARDS];
  _Atomic uint64_t reloads, reload_failures;
  /* named[] is written by curlfence_attach() only, one writer at a time
   * (named_lock), and read by the pre-request check without a lock: a
   * set's sequence is odd while its entries change, and a reader that
   * sees it odd or changed reads the set again. */
  pthread_mutex_t named_lock;     /* guards the writing and named_next[] */
  cf_named named[CF_NAMED_SETS][CF_NAMED_WAYS];
  atomic_uint named_seq[CF_NAMED_SETS];
  unsigned char named_next[CF_NAMED_SETS];
  pthread_mutex_t err_lock;       /* guards last_error */
  curlfence_error last_error;
#ifdef CF_TEST_HOOKS
  /* Tests only: called by a reload between loading and publishing.  Every
   * file that sees this struct is built with the same CF_TEST_HOOKS: the
   * test program links its own copies of the guard's files. */
  void (*reload_loaded_hook)(curlfence_guard *g);
#endif
};

/* reload.c: curlfence_guard_reload(); for the watcher (watcher != 0) a
 * file that changed while it was read is not counted as a failure. */
curlfence_code cf_guard_reload(curlfence_guard *g, int watcher,
                               curlfence_error *err);
/* The guard's checks without the libcurl callback around them, for
 * attach.c and the preload library.  flags are attach flags
 * (CURLFENCE_ATTACH_REPORT_ONLY, CURLFENCE_ATTACH_ALLOW_TFTP); a NULL or
 * freed guard refuses.
 * open: decide the address libcurl is about to open; if allowed, open the
 * socket with chain->open_fn (NULL: socket()), pin a datagram socket to
 * the checked host, and return it; else CURL_SOCKET_BAD.  chain->close_fn
 * (NULL: close()) closes a socket that could not be pinned.  A NULL chain
 * means the guard's own (curlfence_guard_set_chain), read only once the
 * guard is known to be alive.
 * prereq: CURL_PREREQFUNC_OK or CURL_PREREQFUNC_ABORT for the connection
 * a request is about to use, as libcurl's pre-request callback reports
 * it. */
typedef struct cf_chain {
  curl_opensocket_callback open_fn;
  void *open_data;
  curl_closesocket_callback close_fn;
  void *close_data;
} cf_chain;

/* name: the connection's name and URL (cf_name_of), or NULL when the
 * caller cannot tell which handle the check is for: then no host rule
 * matches and the event shows neither. */
curl_socket_t cf_guard_open(curlfence_guard *g, curlsocktype purpose,
                            struct curl_sockaddr *a, unsigned flags,
                            const cf_chain *chain, cf_name *name);
int cf_guard_prereq(curlfence_guard *g, const char *primary_ip,
                    const char *local_ip, int primary_port, int local_port,
                    unsigned flags, cf_name *name);
/* The same checks with the name of handle h, made by the libcurl whose
 * functions api holds, remembered in memo (NULL: not remembered): the
 * open and pre-request callbacks of one handle.  api, api->getinfo or h
 * NULL: the check has no name, as cf_guard_open() with a NULL name. */
curl_socket_t cf_guard_open_named(curlfence_guard *g, curlsocktype purpose,
                                  struct curl_sockaddr *a, unsigned flags,
                                  const cf_chain *chain, const cf_urlapi *api,
                                  CURL *h, cf_name_memo *memo);
int cf_guard_prereq_named(curlfence_guard *g, const char *primary_ip,
                          const char *local_ip, int primary_port,
                          int local_port, unsigned flags,
                          const cf_urlapi *api, CURL *h, cf_name_memo *memo);


/* A socket call a program makes itself (connect, sendto, sendmsg,
 * sendmmsg), outside libcurl, as the preload library decides it. */
typedef struct cf_sockcall {
  const struct sockaddr *sa;  /* the destination, salen bytes */
  socklen_t salen;
  curlfence_check check;      /* CURLFENCE_CHECK_CONNECT ... _SENDMMSG */
  int fd;                     /* the socket: its type and protocol are
                                 read only for an audit event */
  const char *host;           /* the name the program looked the address
                                 up by (canonical), NULL when unknown:
                                 host rules match only a name */
} cf_sockcall;

/* Decide call against the guard's policy, count and audit it like the
 * open check.  Datagram sockets are decided by the rules: the call names
 * the one destination.  Returns what to carry out: CURLFENCE_ALLOW (also
 * for a denial report-only mode lets through) or CURLFENCE_DENY (also for
 * a NULL or freed guard).  flags: CURLFENCE_ATTACH_REPORT_ONLY. */
curlfence_action cf_guard_socket(curlfence_guard *g, const cf_sockcall *call,
                                 unsigned flags);

/* harden.c: the options that put the guard on an easy handle, set through
 * setopt (curl_easy_setopt, or the preload's pointer to the libcurl that
 * made the handle), for attach.c and the preload library: the open-socket
 * and pre-request callbacks with their data, the close-socket ones when
 * set_close, proxies off unless flags has CURLFENCE_ATTACH_KEEP_PROXY,
 * DoH off unless CURLFENCE_ATTACH_KEEP_DOH.  Every option is tried; the
 * result is CURLE_OK or the failures' codes or-ed, and the caller fails
 * closed.  cf_unharden() sets the same options back to libcurl's
 * defaults (curlfence_detach). */
typedef CURLcode (*cf_setopt_fn)(CURL *, CURLoption, ...);
typedef struct cf_hooks {
  curl_opensocket_callback open_fn;
  void *open_data;
  curl_prereq_callback prereq_fn;
  void *prereq_data;
  int set_close;
  curl_closesocket_callback close_fn;
  void *close_data;
} cf_hooks;

int cf_harden(CURL *h, cf_setopt_fn setopt, const cf_hooks *hooks,
              unsigned flags);
int cf_unharden(CURL *h, cf_setopt_fn setopt);

/* watch.c */
void cf_watch_init(cf_watch *w);
void cf_watch_destroy(cf_watch *w);
curlfence_code cf_watch_start(curlfence_guard *g, unsigned interval_ms);
void cf_watch_stop(curlfence_guard *g);

#endif
