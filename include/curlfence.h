/* SPDX-License-Identifier: MIT */
/*
 * curlfence - decide which network destinations a libcurl program may
 * connect to.
 *
 * A policy is loaded from a rules file (see docs/rules.md), compiled once
 * and never changed afterwards: it is safe to use from any number of threads
 * without locks.  A guard binds a policy to one or more libcurl easy handles
 * and checks every socket libcurl opens for them, on the resolved address, at
 * connect time.
 *
 * Every function returns a curlfence_code or a value that cannot fail; no
 * function prints, exits or keeps global state.  Each symbol here has a man
 * page in docs/.
 */
#ifndef CURLFENCE_H
#define CURLFENCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(CURLFENCE_BUILDING)
#define CURLFENCE_API __attribute__((visibility("default")))
#else
#define CURLFENCE_API
#endif

#define CURLFENCE_VERSION_MAJOR 0
#define CURLFENCE_VERSION_MINOR 2
#define CURLFENCE_VERSION_PATCH 0
#define CURLFENCE_VERSION "0.2.0"

/* ---------------------------------------------------------------- errors */

typedef enum curlfence_code {
  CURLFENCE_OK = 0,
  CURLFENCE_E_NOMEM,    /* out of memory */
  CURLFENCE_E_INVAL,    /* bad argument: NULL handle, unknown flag, ... */
  CURLFENCE_E_IO,       /* a rules file could not be opened or read */
  CURLFENCE_E_SYNTAX,   /* malformed line: unknown keyword, missing field */
  CURLFENCE_E_ADDRESS,  /* address or prefix not in canonical notation */
  CURLFENCE_E_PORT,     /* bad port, port list or port range */
  CURLFENCE_E_DUPLICATE,/* a setting given twice (default, unix, mode) */
  CURLFENCE_E_INCLUDE,  /* include cycle or include nested too deep */
  CURLFENCE_E_LIMIT,    /* line longer than 4096 bytes, NUL byte, too big,
                           over 4096 files or 1 GiB read in one load */
  CURLFENCE_E_CURL,     /* libcurl refused an option while attaching */
  CURLFENCE_E_SUPERSEDED, /* a reload lost to a policy switch made while
                             it read the rules; the newer policy stays */
  CURLFENCE_E_IMAGE,    /* a compiled policy image is damaged or was made
                           for another format version or machine */
  CURLFENCE_E_EXPECT,   /* the rules break one of their own "expect"
                           lines; the policy does not load */
  CURLFENCE_E_LAST      /* not an error: one past the last code */
} curlfence_code;

/* A static, never-NULL English description of a code. */
CURLFENCE_API const char *curlfence_strerror(curlfence_code code);

/* Filled by the loaders when they fail.  Caller-allocated: nothing to free.
 * file is empty and line/column are 0 when the error has no location (for
 * example CURLFENCE_E_NOMEM).  text is the one-line form that tools print:
 * "file:line:column: message".  message and text show bytes outside
 * printable ASCII escaped (\r, \xff, ...); file is the name as given. */
typedef struct curlfence_error {
  curlfence_code code;
  unsigned line;        /* 1-based; 0 when not about a line */
  unsigned column;      /* 1-based byte column; 0 when not about a column */
  char file[1024];
  char message[512];
  char text[1600];
} curlfence_error;

/* Static version string of this build, e.g. "0.1.0". */
CURLFENCE_API const char *curlfence_version(void);

/* ---------------------------------------------------------------- policy */

typedef struct curlfence_policy curlfence_policy;

typedef enum curlfence_action {
  CURLFENCE_DENY = 0,
  CURLFENCE_ALLOW = 1
} curlfence_action;

/* Load and compile the rules file at path.  On success *out holds a policy
 * with one reference and CURLFENCE_OK is returned.  On failure *out is NULL,
 * err (if not NULL) says where and why, and the code is returned.  Includes
 * are resolved relative to the directory of the file that names them. */
CURLFENCE_API curlfence_code curlfence_policy_load_file(
    curlfence_policy **out, const char *path, curlfence_error *err);

/* Like curlfence_policy_load_file() for rules held in memory (len bytes of
 * text, which need not be NUL-terminated).  name is what errors and
 * decisions call the text (NULL means "<string>"); includes in it are
 * resolved relative to the current working directory. */
CURLFENCE_API curlfence_code curlfence_policy_load_string(
    curlfence_policy **out, const char *text, size_t len, const char *name,
    curlfence_error *err);

/* Write policy as a compiled image at path (replaced atomically: written
 * to a temporary file in the same directory, then renamed over path).
 * curlfence_policy_load_file() recognises an image and maps it instead of
 * parsing; see docs/images.md.  The rules files of a policy loaded from
 * them are read again for the hash kept for staleness checks and must not
 * have changed since.  CURLFENCE_E_IO when it cannot be written. */
CURLFENCE_API curlfence_code curlfence_policy_save_image(
    const curlfence_policy *policy, const char *path, curlfence_error *err);

/* 1 when policy was loaded from an image and one of the rules files it was
 * compiled from now holds different text (or is gone); why (if not NULL)
 * then names the file and the reason.  0 otherwise, also for policies
 * loaded from rules files. */
CURLFENCE_API int curlfence_policy_image_stale(const curlfence_policy *policy,
                                               curlfence_error *why);

/* Take one more reference; returns policy.  Thread-safe. */
CURLFENCE_API curlfence_policy *curlfence_policy_ref(curlfence_policy *policy);

/* Drop one reference; the last one frees the policy.  NULL is ignored. */
CURLFENCE_API void curlfence_policy_unref(curlfence_policy *policy);

/* Which rule made a decision.  All pointers point into the policy and stay
 * valid while the caller holds a reference to it. */
typedef struct curlfence_verdict {
  curlfence_action action;
  int is_default;       /* 1: no rule matched, the default action applied */
  const char *file;     /* rules file of the deciding rule, or of the
                           default/unix line; NULL when built in */
  unsigned line;        /* its line, 0 when built in */
  const char *rule;     /* the rule's text, e.g. "deny 127.0.0.0/8" */
  const char *reason;   /* short word for the kind of decision: "rule",
                           "default", "unix", "no-policy", "family",
                           "malformed"; from a guard also "udp"; for an
                           IPv6 address inside a "nat64" prefix, decided
                           as the IPv4 address it embeds, "nat64/LEN"
                           (LEN the prefix length: 32, 40, 48, 56, 64 or
                           96, which says where the IPv4 address is); for
                           the unspecified address (0.0.0.0, ::) denied
                           as the loopback address a connection to it
                           reaches (127.0.0.1, ::1), "loopback", with
                           that denial's rule; for a connection with a
                           host name (curlfence_policy_decide_name),
                           decided by a host rule: "host-deny", "host",
                           "host-to" */
} curlfence_verdict;

/* Decide whether a connection to sa (AF_INET, AF_INET6 or AF_UNIX, salen
 * bytes long; the port is read from sa) is allowed.  The unspecified
 * address is decided as itself and as the loopback address it reaches,
 * and allowed only when both are.  Returns the action and,
 * if v is not NULL, fills it.  Never allocates and takes no lock.  A NULL
 * policy, a NULL or short address and any other family are denied
 * (fail closed). */
CURLFENCE_API curlfence_action curlfence_policy_decide(
    const curlfence_policy *policy, const struct sockaddr *sa,
    socklen_t salen, curlfence_verdict *v);

/* Decide a connection given as text: to the numeric IPv4 or IPv6 address
 * (no brackets, no zone) at port (0: unknown, matching only rules
 * without ports), made for the host name host (NULL: none, as for a URL
 * with an IP literal), as a guard decides it: host rules (docs/rules.md)
 * apply to the name in canonical form (letters lowered, one trailing dot
 * dropped; IDN names as A-labels); a name that cannot be put in that form
 * is no name.  An address that does not parse, or a port over 65535, is
 * denied with reason "malformed".  Returns the action and, if v is not
 * NULL, fills it; verdict reasons from host rules are "host-deny" (a
 * deny host rule), "host" (an allow host rule where no address rule
 * matched) and "host-to" (an allow host NAME to PREFIX rule).  Thread-
 * safe, takes no lock, never allocates. (CURLFENCE_0.3) */
CURLFENCE_API curlfence_action curlfence_policy_decide_name(
    const curlfence_policy *policy, const char *host, const char *address,
    unsigned port, curlfence_verdict *v);

/* Number of address rules in the policy (includes counted). */
CURLFENCE_API size_t
curlfence_policy_rule_count(const curlfence_policy *policy);

/* ----------------------------------------------------------------- audit */

typedef enum curlfence_check {
  CURLFENCE_CHECK_OPEN = 0,   /* libcurl asked for a new socket */
  CURLFENCE_CHECK_REUSED = 1, /* a connection, new or taken from a pool, is
                                 about to carry a request */
  /* The program's own sockets, outside libcurl, as the preload library
   * (libcurlfence-preload(7)) sees them: */
  CURLFENCE_CHECK_CONNECT = 2,  /* connect() */
  CURLFENCE_CHECK_SENDTO = 3,   /* sendto() naming an address */
  CURLFENCE_CHECK_SENDMSG = 4,  /* sendmsg() naming an address */
  CURLFENCE_CHECK_SENDMMSG = 5  /* a message of sendmmsg() naming one */
} curlfence_check;

/* One decision made by a guard, as handed to an audit callback.  Valid only
 * during the callback. */
typedef struct curlfence_event {
  int64_t time_us;            /* wall clock, microseconds since the epoch */
  curlfence_action action;    /* what the policy decided */
  int enforced;               /* 0 when report-only mode let a denied
                                 connection through; 1 otherwise */
  curlfence_check check;
  int family;                 /* AF_INET, AF_INET6 or AF_UNIX; 0 unknown */
  int socktype;               /* SOCK_STREAM, SOCK_DGRAM; 0 when unknown */
  int protocol;               /* IPPROTO_TCP, IPPROTO_UDP; 0 when unknown */
  char addr[112];             /* address as text (IPv4-mapped shown as
                                 IPv4), or the AF_UNIX path */
  unsigned port;              /* 0 for AF_UNIX */
  uint64_t generation;        /* of the policy that decided (see
                                 curlfence_guard_reload()) */
  curlfence_verdict verdict;  /* which rule decided */
} curlfence_event;

/* The name and URL the event's connection was made for, as the audit
 * callback is handed it (the event struct keeps its size: see
 * docs/abi.md).  *host: the host of the URL libcurl connected for, in
 * canonical form (lower case, A-labels, no trailing dot), or NULL for an
 * address URL or a check that cannot tell which handle it runs for
 * (curlfence_attach(3)); *url: that URL as scheme://host:port/path, user
 * info, query and fragment removed, or NULL (also with
 * CURLFENCE_AUDIT_NO_URL).  Both valid until the callback returns.
 * Returns CURLFENCE_E_INVAL (both NULL) for any other event: a copy, or
 * one the caller built. */
CURLFENCE_API curlfence_code curlfence_event_name(
    const curlfence_event *event, const char **host, const char **url);

/* An audit callback returns 0, or -1 when it could not record the event;
 * failures are counted in curlfence_stats.audit_errors and never change a
 * decision. */
typedef int (*curlfence_audit_fn)(const curlfence_event *event,
                                  void *userdata);

/* Write event as one JSON object (no newline) into buf of size bytes.
 * Returns the length it needed, like snprintf(). */
CURLFENCE_API size_t curlfence_event_json(const curlfence_event *event,
                                          char *buf, size_t size);

/* Audit callback: userdata is a FILE *; writes one JSON object per line
 * and flushes.  Returns -1 if the write failed. */
CURLFENCE_API int curlfence_audit_json(const curlfence_event *event,
                                       void *userdata);

/* A built-in audit destination.  Pass curlfence_sink_write as the audit
 * callback and the sink as its userdata. */
typedef struct curlfence_sink curlfence_sink;

/* JSON Lines appended to the file at path (created 0640 if absent): each
 * event is one whole line written with a single write(2) on an O_APPEND
 * descriptor, so several processes may share one log.  "-", "/dev/stdout",
 * "/dev/stderr", "/dev/fd/1" and "/dev/fd/2" are not opened: the lines go
 * to a copy of the inherited descriptor, sharing the program's offset. */
CURLFENCE_API curlfence_code curlfence_sink_open_file(curlfence_sink **out,
                                                      const char *path,
                                                      curlfence_error *err);

/* RFC 3164 messages to the local syslog daemon on the datagram socket
 * socket_path (NULL: "/dev/log"), with the given ident (NULL: "curlfence")
 * and facility (LOG_USER, LOG_AUTHPRIV, ... from <syslog.h>).  Denials are
 * sent at LOG_WARNING, allows at LOG_INFO; the text is the JSON object. */
CURLFENCE_API curlfence_code curlfence_sink_open_syslog(
    curlfence_sink **out, const char *ident, int facility,
    const char *socket_path, curlfence_error *err);

/* curlfence_audit_fn for sinks: userdata is a curlfence_sink *.  Never
 * blocks: a write that would block, fails or is short is dropped and
 * counted, and the next line written says how many were dropped before
 * it (its "lost" field). */
CURLFENCE_API int curlfence_sink_write(const curlfence_event *event,
                                       void *sink);

/* Events the sink lost (could not write) so far. */
CURLFENCE_API uint64_t curlfence_sink_errors(const curlfence_sink *sink);

/* Close and free a sink.  NULL is ignored. */
CURLFENCE_API void curlfence_sink_free(curlfence_sink *sink);

/* ----------------------------------------------------------------- guard */

typedef struct curlfence_guard curlfence_guard;

/* Create a guard that enforces policy (it takes its own reference). */
CURLFENCE_API curlfence_code curlfence_guard_new(curlfence_guard **out,
                                                 curlfence_policy *policy);

/* Stop watching, free the guard and drop its policy reference.  It must no
 * longer be attached to any live easy handle: a freed guard's callbacks
 * refuse to work (fail closed) when they notice, for certain with the
 * environment variable CURLFENCE_KEEP_FREED_GUARDS set, which keeps freed
 * guards' memory (see curlfence_guard_free(3)). */
CURLFENCE_API void curlfence_guard_free(curlfence_guard *guard);

/* Which events reach the audit callback. */
#define CURLFENCE_AUDIT_DENIED 0u   /* denials only (the default) */
#define CURLFENCE_AUDIT_ALL    1u   /* allows too */
#define CURLFENCE_AUDIT_NO_URL 2u   /* events carry no URL ("url": null,
                                       curlfence_event_name() gives NULL);
                                       the name stays */

/* Report decisions to fn (NULL: none).  May be called at any time, also
 * while attached handles transfer: every decision uses either the old
 * settings or the new ones as a whole, and once this returns no callback
 * still uses the old fn and userdata (an old sink may then be freed).
 * Not from inside an audit callback of the same guard. */
CURLFENCE_API curlfence_code curlfence_guard_set_audit(
    curlfence_guard *guard, curlfence_audit_fn fn, void *userdata,
    unsigned flags);

/* Chain to the application's own socket callbacks: open is called (with
 * open_data) only for destinations the policy allowed, instead of socket();
 * close (with close_data) replaces close().  Either may be NULL.  Call
 * before attaching. */
CURLFENCE_API curlfence_code curlfence_guard_set_chain(
    curlfence_guard *guard, curl_opensocket_callback open, void *open_data,
    curl_closesocket_callback close, void *close_data);

/* Attach flags. */
#define CURLFENCE_ATTACH_KEEP_PROXY  1u  /* keep proxies: the policy then
                                            applies to the proxy's address
                                            only */
#define CURLFENCE_ATTACH_REPORT_ONLY 2u  /* allow everything, audit what
                                            would have been denied */
#define CURLFENCE_ATTACH_ALLOW_TFTP  4u  /* let UDP (TFTP) sockets be
                                            decided by the policy; they
                                            then only take datagrams from
                                            the checked host, on any port */
#define CURLFENCE_ATTACH_KEEP_DOH    8u  /* keep CURLOPT_DOH_URL: the DoH
                                            server's connections are then
                                            not checked */

/* Enforce guard on every connection of handle.  Returns CURLFENCE_E_INVAL
 * for a NULL argument or unknown flag (nothing is changed), or
 * CURLFENCE_E_CURL if libcurl refused an option: the handle then refuses
 * every connection until curlfence_detach() (fail closed).
 * Lifetime: the guard must stay alive until every handle it was attached
 * to, and every curl_easy_duphandle() copy of one, has been cleaned up or
 * detached; closing pooled connections later never touches it. */
CURLFENCE_API curlfence_code curlfence_attach(CURL *handle,
                                              curlfence_guard *guard,
                                              unsigned flags);

/* Remove the guard's callbacks and restore libcurl's defaults (including
 * proxy selection from the environment, and no DoH). */
CURLFENCE_API curlfence_code curlfence_detach(CURL *handle);

/* ---------------------------------------------------------------- reload */

/* Re-read the rules file of the guard's current policy and its includes,
 * and switch every handle the guard is attached to over to the new rules at
 * once.  Decisions in progress finish on the old rules, which are freed
 * when the last of them ends.  On failure the old policy stays in force and
 * err says file:line:column.  A policy loaded from a string cannot be
 * reloaded (CURLFENCE_E_INVAL).  If the guard's policy was switched while
 * the file was read (curlfence_guard_set_policy(), another reload), the
 * newer policy stays and CURLFENCE_E_SUPERSEDED is returned. */
CURLFENCE_API curlfence_code curlfence_guard_reload(curlfence_guard *guard,
                                                    curlfence_error *err);

/* Switch the guard to policy (it takes its own reference), like a
 * successful reload. */
CURLFENCE_API curlfence_code curlfence_guard_set_policy(
    curlfence_guard *guard, curlfence_policy *policy);

/* A new reference to the policy in force, and its generation (1 for the
 * policy given to curlfence_guard_new(), one more for each switch).  NULL
 * only for a NULL guard. */
CURLFENCE_API curlfence_policy *curlfence_guard_policy(
    curlfence_guard *guard, uint64_t *generation);

/* Reload automatically when the rules file or one of its includes changes:
 * a helper thread looks at them every interval_ms milliseconds (0: 1000)
 * and reloads when one was rewritten, replaced by rename(2) or reached
 * through a symlink that now points elsewhere (Kubernetes ConfigMap
 * mounts), once it has stayed unchanged for one interval (at least
 * 100 ms); what changed while being read is not published.  rename(2) is
 * the safe way to update a file.  A failed reload keeps the old policy, is
 * counted and kept in curlfence_stats, and is retried only after the
 * files change again.  Calling it again changes the interval. */
CURLFENCE_API curlfence_code curlfence_guard_watch(curlfence_guard *guard,
                                                   unsigned interval_ms);

/* Stop the watcher thread, if any. */
CURLFENCE_API void curlfence_guard_unwatch(curlfence_guard *guard);

/* ----------------------------------------------------------------- stats */

/* Counters of a guard since it was created.  Read at any time from any
 * thread; updated without locks, so the fields are each exact but not a
 * snapshot of one instant. */
typedef struct curlfence_stats {
  uint64_t generation;       /* of the policy in force */
  uint64_t allowed;          /* checks that allowed a connection */
  uint64_t denied;           /* checks that refused one */
  uint64_t reported;         /* denials let through in report-only mode */
  uint64_t audit_errors;     /* audit callback returned -1 */
  uint64_t reloads;          /* successful switches to a new policy */
  uint64_t reload_failures;  /* reloads that kept the old policy */
  curlfence_error last_reload_error; /* code CURLFENCE_OK when none */
} curlfence_stats;

CURLFENCE_API curlfence_code curlfence_guard_stats(curlfence_guard *guard,
                                                   curlfence_stats *out);

/* How often one rule (or the default, or the unix setting) decided. */
typedef struct curlfence_rule_stat {
  const char *file;          /* NULL for built-in settings */
  unsigned line;
  const char *rule;
  uint64_t hits;
} curlfence_rule_stat;

/* Fill out[0..max) with per-rule counters of policy, in rule order,
 * followed by the default and the unix setting; returns how many entries
 * there are (curlfence_policy_rule_count() + 2).  Guards count the
 * decisions they make; curlfence_policy_decide() does not count.  The
 * strings stay valid while the caller holds a reference to policy. */
CURLFENCE_API size_t curlfence_policy_rule_stats(
    const curlfence_policy *policy, curlfence_rule_stat *out, size_t max);

/* Write the guard's counters to out in the Prometheus text exposition
 * format (0.0.4), for an application's own /metrics endpoint or a
 * node_exporter textfile: decisions by decision (allow, deny, report),
 * check (open, reused) and reason; per-rule hits of the policy in force
 * (rules with hits, the default and the unix setting) with file, line and
 * rule text; audit events written, failed and, with a built-in sink, lost;
 * reloads by result; the policy's generation, load time and rule count.
 * Flushes out; CURLFENCE_E_IO when writing failed, CURLFENCE_E_INVAL for
 * a NULL argument.  Takes no lock that decisions wait for. */
CURLFENCE_API curlfence_code curlfence_guard_metrics(curlfence_guard *guard,
                                                     FILE *out);

/* 1 when the rules file says "mode report", else 0. */
CURLFENCE_API int curlfence_policy_report_only(const curlfence_policy *policy);

#ifdef __cplusplus
}
#endif

#endif /* CURLFENCE_H */
