/* SPDX-License-Identifier: MIT */
/*
 * inspect.h - what `curlfence run` looks at before it runs a command
 * (inspect.c): the file the kernel will load for it, through #! lines and
 * env, and whether the preload library can enter that program.  Private
 * to run.c and inspect.c.
 */
#ifndef CURLFENCE_INSPECT_H
#define CURLFENCE_INSPECT_H

#include <limits.h>
#include <stddef.h>

/* An argument list that grows at the front, as #! lines and env rewrite
 * it.  The strings are the list's own. */
typedef struct words {
  char **v;
  size_t n;
} words;

/* Free w's strings and list. */
void words_free(words *w);
/* Put s (len bytes) in front of w.  -1: out of memory. */
int words_push(words *w, const char *s, size_t len);

/* A command on its way through #! lines and env to the program at the
 * end. */
typedef struct target {
  const char *cmd;           /* as found: what the user named */
  char file[PATH_MAX];       /* the file looked at now */
  words args;                /* its arguments after argv[0] */
  char *path_env;            /* PATH for env's lookups (NULL: ours) */
  char preload[PATH_MAX];    /* the library for the program at the end */
} target;

/* The file execvp() would run for cmd, searching dirs (a PATH value, NULL:
 * the usual default), to look at it first.  0, or -1 when there is none. */
int which(const char *cmd, const char *dirs, char *out, size_t size);

/* Follow t->file (run with t->args) to the program the kernel will load,
 * as execve() does, and through env; set t->preload to the library for
 * it.  0 when it can be guarded; else prints why on one line and returns
 * 126 (or -1 when no preload library is found at all). */
int inspect(target *t);

#endif
