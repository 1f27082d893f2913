/* SPDX-License-Identifier: MIT */
/*
 * libcurlfence-preload.so: the curlfence guard in front of programs that
 * were not written for it, loaded with LD_PRELOAD.  Private declarations
 * shared by the files in preload/:
 *
 *   preload.c   the interposed curl_easy_* functions and the callbacks;
 *               pl_next, libc's definitions behind the interposed ones
 *   sockets.c   the interposed connect, sendto, sendmsg and sendmmsg
 *   names.c     the interposed getaddrinfo and gethostbyname*: which name
 *               gave which address, for the program's own sockets
 *   libcurl.c   which libcurl a caller uses, found at run time
 *   handles.c   per-handle state: CURL * -> libcurl and program callbacks
 *   config.c    the environment, read once, turned into one guard
 *   dlopen.c    dlopen() without RTLD_DEEPBIND
 *   dlvsym.c    dlvsym() that finds the interposed functions
 *
 * Nothing but the interposed functions (curl_easy_*, the socket calls,
 * the name lookups, dlopen, dlvsym) is exported (preload/exports.map), so
 * a program that also links libcurlfence.so keeps its own copy of the
 * library.
 */
#ifndef CURLFENCE_PRELOAD_H
#define CURLFENCE_PRELOAD_H

/* curl/curl.h would make curl_easy_setopt a type-checking macro, which
 * cannot be defined as a function. */
#define CURL_DISABLE_TYPECHECK 1
#include "guard/guard.h"

/* A tail call that leaves the caller's return address in place, for
 * functions of the dynamic linker that look at it: gcc makes sibling
 * calls at -O2 (the preload is built with it) when asked, clang when told
 * musttail. */
#if defined(__clang__)
#define PL_TAIL __attribute__((musttail))
#define PL_SIBCALL
#else
#define PL_TAIL
#define PL_SIBCALL __attribute__((optimize("optimize-sibling-calls")))
#endif

/* The next definition of name after this library (libc's), found once
 * and kept in slot; NULL when there is none. */
void *pl_next(_Atomic(void *) *slot, const char *name);

/* var, of the function pointer type type, set to pl_next(&slot, name);
 * when there is none the calling function returns fail.  (Object pointers
 * and function pointers do not convert in ISO C.) */
#define PL_NEXT(type, var, slot, name, fail)                                 \
  type var;                                                                  \
  do {                                                                       \
    void *p_ = pl_next(&(slot), name);                                       \
    if(!p_)                                                                  \
      return fail;                                                           \
    memcpy(&var, &p_, sizeof(var));                                          \
  } while(0)

/* The functions of one libcurl in the process. */
typedef struct pl_curl {
  CURL *(*init)(void);
  CURL *(*duphandle)(CURL *);
  void (*reset)(CURL *);
  void (*cleanup)(CURL *);
  CURLcode (*setopt)(CURL *, CURLoption, ...);
  cf_urlapi url;        /* url.getinfo NULL: a libcurl without the URL API
                           (before 7.62.0): its handles have no name */
} pl_curl;

/* The libcurl that code at address caller (a return address inside the
 * program or one of its libraries) calls: the one that object was linked
 * against, so two libcurls in one process each keep their own handles.
 * NULL when none is found.  The result lives as long as the process.
 * *internal is set to whether the caller is inside that libcurl itself
 * (libcurl making or setting up a handle for its own use). */
const pl_curl *pl_curl_for(const void *caller, int *internal);

/* Whether code at address caller belongs to the main program. */
int pl_in_main_program(const void *caller);

/* What the preload keeps per easy handle.  Only the thread that uses the
 * handle touches it, as libcurl requires of the handle itself. */
typedef struct pl_handle {
  CURL *curl;
  const pl_curl *lib;               /* the libcurl that made the handle */
  cf_chain chain;                   /* the program's open callback, run
                                       after the check, and its close
                                       callback (which libcurl also has) */
  curl_prereq_callback prereq_fn;
  void *prereq_data;
  int broken;                       /* the checks could not be installed:
                                       refuse every connection */
  cf_name_memo memo;                /* the last URL the checks named */
  struct pl_handle *next;           /* hash chain */
} pl_handle;

/* A new zeroed record for curl, registered; NULL when out of memory. */
pl_handle *pl_handle_add(CURL *curl, const pl_curl *lib);
/* The record of curl, or NULL when the preload did not see it made. */
pl_handle *pl_handle_find(CURL *curl);
/* Unregister the record of curl and hand it to the caller to free; NULL
 * when unknown. */
pl_handle *pl_handle_take(CURL *curl);
/* Unregister and free the record of curl (nothing when unknown). */
void pl_handle_remove(CURL *curl);
/* Free a record pl_handle_take() handed over (NULL: nothing). */
void pl_handle_free(pl_handle *h);

/* The settings from the environment. */
typedef struct pl_config {
  curlfence_guard *guard;   /* NULL: every connection is refused */
  unsigned flags;           /* curlfence_attach() flags for the checks:
                               REPORT_ONLY and ALLOW_TFTP */
  int keep_proxy;           /* CURLFENCE_KEEP_PROXY */
  int keep_doh;             /* CURLFENCE_KEEP_DOH */
  int sockets_all;          /* CURLFENCE_SOCKETS: 1 (all, the default)
                               decides the program's own sockets too, 0
                               (curl) only libcurl's */
} pl_config;

/* sockets.c: libcurl's sockets the open-socket check allowed.  Remember
 * that the socket fd was allowed to connect to a (len bytes); the next
 * connect() or sendto() on fd to exactly that address is then not decided
 * again.  Sockets past a fixed number are not remembered (and decided
 * again). */
void pl_socket_allowed(int fd, const struct sockaddr *a, socklen_t len);

/* names.c: the name the program's own lookups gave the address of sa
 * (canonical, cf_host_canon), copied to out; 0 when there is none, or
 * when several names gave that address. */
int pl_name_of(const struct sockaddr *sa, socklen_t len,
               char out[CF_HOST_MAX + 1]);

/* glibc's second name of connect(), exported for other objects. */
int __connect(int fd, const struct sockaddr *sa, socklen_t len);

/* CURLFENCE_METRICS: write g's metrics to path ("%p": the process id)
 * now, every few seconds and at exit (metrics.c).  -1 with why filled
 * when the file cannot be written or the writer not started. */
int pl_metrics_start(curlfence_guard *g, const char *path, char *why,
                     size_t size);

/* Read the environment and load the rules on the first call (from any
 * thread), then return the same settings for the life of the process. */
const pl_config *pl_config_get(void);

#endif
