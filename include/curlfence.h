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
#define CURLFENCE_VERSION_MINOR 1
#define CURLFENCE_VERSION_PATCH 0
#define CURLFENCE_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

typedef enum curlfence_code {
  CURLFENCE_OK = 0,
  CURLFENCE_E_NOMEM,    /* out of memory */
  CURLFENCE_E_INVAL,    /* bad argument: NULL handle, unknown flag, ... */
  CURLFENCE_E_IO,       /* a rules file could not be opened or read */
  CURLFENCE_E_SYNTAX,   /* malformed line: unknown keyword, missing field */
  CURLFENCE_E_ADDRESS,  /* address or prefix not in canonical notation */
  CURLFENCE_E_PORT,     /* bad port, port list or port range */
  CURLFENCE_E_DUPLICATE,/* a setting given twice (default, unix) */
  CURLFENCE_E_INCLUDE,  /* include cycle or include nested too deep */
  CURLFENCE_E_LIMIT,    /* line longer than 4096 bytes, NUL byte, too big */
  CURLFENCE_E_CURL,     /* libcurl refused an option while attaching */
  CURLFENCE_E_LAST      /* not an error: one past the last code */
} curlfence_code;

/* A static, never-NULL English description of a code. */
CURLFENCE_API const char *curlfence_strerror(curlfence_code code);

/* Filled by the loaders when they fail.  Caller-allocated: nothing to free.
 * file is empty and line/column are 0 when the error has no location (for
 * example CURLFENCE_E_NOMEM).  text is the one-line form that tools print:
 * "file:line:column: message". */
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
                           "malformed" */
} curlfence_verdict;

/* Decide whether a connection to sa (AF_INET, AF_INET6 or AF_UNIX, salen
 * bytes long; the port is read from sa) is allowed.  Returns the action and,
 * if v is not NULL, fills it.  Never allocates and takes no lock.  A NULL
 * policy, a NULL or short address and any other family are denied
 * (fail closed). */
CURLFENCE_API curlfence_action curlfence_policy_decide(
    const curlfence_policy *policy, const struct sockaddr *sa,
    socklen_t salen, curlfence_verdict *v);

/* Number of address rules in the policy (includes counted). */
CURLFENCE_API size_t curlfence_policy_rule_count(const curlfence_policy *policy);

/* ----------------------------------------------------------------- audit */

typedef enum curlfence_check {
  CURLFENCE_CHECK_OPEN = 0,   /* libcurl asked for a new socket */
  CURLFENCE_CHECK_REUSED = 1  /* a connection was about to be used (new or
                                 reused from a pool) */
} curlfence_check;

/* One decision made by a guard, as handed to an audit callback.  Valid only
 * during the callback. */
typedef struct curlfence_event {
  int64_t time_us;            /* wall clock, microseconds since the epoch */
  curlfence_action action;
  curlfence_check check;
  int family;                 /* AF_INET, AF_INET6 or AF_UNIX */
  int socktype;               /* SOCK_STREAM, SOCK_DGRAM; 0 when unknown */
  int protocol;               /* IPPROTO_TCP, IPPROTO_UDP; 0 when unknown */
  char addr[112];             /* address as text (IPv4-mapped shown as
                                 IPv4), or the AF_UNIX path */
  unsigned port;              /* 0 for AF_UNIX */
  curlfence_verdict verdict;  /* which rule decided */
} curlfence_event;

typedef void (*curlfence_audit_fn)(const curlfence_event *event,
                                   void *userdata);

/* Write event as one JSON object (no newline) into buf of size bytes.
 * Returns the length it needed, like snprintf(). */
CURLFENCE_API size_t curlfence_event_json(const curlfence_event *event,
                                          char *buf, size_t size);

/* Built-in audit callback: userdata is a FILE *; writes one JSON object per
 * line with a single fwrite() and flushes. */
CURLFENCE_API void curlfence_audit_json(const curlfence_event *event,
                                        void *userdata);

/* ----------------------------------------------------------------- guard */

typedef struct curlfence_guard curlfence_guard;

/* Create a guard that enforces policy (it takes its own reference). */
CURLFENCE_API curlfence_code curlfence_guard_new(curlfence_guard **out,
                                                 curlfence_policy *policy);

/* Free a guard.  It must no longer be attached to any live easy handle. */
CURLFENCE_API void curlfence_guard_free(curlfence_guard *guard);

/* Which events reach the audit callback. */
#define CURLFENCE_AUDIT_DENIED 0u   /* denials only (the default) */
#define CURLFENCE_AUDIT_ALL    1u   /* allows too */

/* Report decisions to fn (NULL: none).  Call before attaching. */
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
#define CURLFENCE_ATTACH_KEEP_PROXY 1u  /* keep proxies: the policy then
                                           applies to the proxy's address
                                           only */

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
 * proxy selection from the environment). */
CURLFENCE_API curlfence_code curlfence_detach(CURL *handle);

#ifdef __cplusplus
}
#endif

#endif /* CURLFENCE_H */
