/* SPDX-License-Identifier: MIT */
/*
 * Rules files: reading them whole, within the limits of one load, their
 * stamps, and include cycles.
 *
 * A policy is never read from half a rewrite.  A file rewritten in place
 * while a process starts can be read half old, half new, and half a file is
 * often valid rules ("deny 10.0.0.0/8" cut at the slash is "deny
 * 10.0.0.0").  So a load from files reads every file, then checks that
 * none changed since it was opened (its stamp: identity, size, times;
 * and the bytes read against the size), and reads them all again when one
 * did, a bounded number of times (cf_load_retry).  Only rename(2) makes a
 * new version appear whole; this makes an in-place rewrite fail or wait
 * instead of loading what was half written.
 */
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILE_SIZE ((size_t)1 << 30)
/* What one load may read in total, includes counted each time they are
 * read: a tree of small files that include each other many times would
 * otherwise multiply its reads without bound.  Files are cheap to count;
 * bytes bound the time and memory (and so the lines, at least one byte
 * each). */
#define MAX_LOAD_FILES 4096
#define MAX_LOAD_BYTES MAX_FILE_SIZE

#ifdef CF_TEST_HOOKS
void (*cf_test_load_hook)(int point, const char *path, unsigned attempt);
#define TEST_HOOK(point, path, attempt) \
  do { \
    if(cf_test_load_hook) \
      cf_test_load_hook(point, path, attempt); \
  } while(0)
#else
#define TEST_HOOK(point, path, attempt) ((void)0)
#endif

void cf_stamp_from_stat(cf_stamp *s, const struct stat *st)
{
  /* stamps are compared with memcmp: no stray padding bytes */
  memset(s, 0, sizeof(*s));
  s->dev = (uint64_t)st->st_dev;
  s->ino = (uint64_t)st->st_ino;
  s->size = (uint64_t)st->st_size;
  s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  s->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  s->valid = 1;
}

void cf_error_changed(curlfence_error *err, const char *file)
{
  cf_error_set(err, CURLFENCE_E_IO, file, 0, 0,
               "changed while it was being read; not loaded (replace "
               "rules files with rename(2))");
}

const char *cf_rules_changed(const cf_ruleset *rs)
{
  size_t i;

  for(i = 0; i < rs->nfiles; i++) {
    struct stat st;
    cf_stamp now;

    if(!rs->stamps[i].valid)
      continue;
    memset(&now, 0, sizeof(now));
    if(stat(rs->files[i], &st) == 0)
      cf_stamp_from_stat(&now, &st);
    if(memcmp(&now, &rs->stamps[i], sizeof(now)) != 0)
      return rs->files[i];
  }
  return NULL;
}

int cf_load_retry(const cf_ruleset *rs, int changed, unsigned attempt,
                  curlfence_error *err)
{
  const char *moved = NULL;
  unsigned ms;

  TEST_HOOK(CF_HOOK_READ, NULL, attempt);
  if(!changed && !(moved = cf_rules_changed(rs)))
    return 0;
  if(attempt + 1 >= CF_LOAD_TRIES) {
    if(moved)
      cf_error_changed(err, moved);
    return -1;
  }
  /* No pause before the first try, so an unchanging file costs a stat(2)
   * per file; a writer in the middle of its steps gets 1, 4, 16 ms... up
   * to the watcher's settle time to finish them. */
  ms = 1u << (2 * attempt);
  if(ms > CF_WATCH_SETTLE_MS)
    ms = CF_WATCH_SETTLE_MS;
  nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000 },
            NULL);
  return 1;
}

/* st: how the file looked when it was opened; NULL for text in memory. */
curlfence_code cf_rules_add_file(parser *p, const char *name,
                                 const struct stat *st, uint32_t *idx)
{
  cf_ruleset *rs = p->rs;
  size_t cap = rs->capfiles;
  char *copy;

  /* files and stamps are parallel: one capacity, raised once both grew */
  if(cf_grow(&rs->files, &cap, rs->nfiles + 1, sizeof(char *)))
    return nomem(p);
  cap = rs->capfiles;
  if(cf_grow(&rs->stamps, &cap, rs->nfiles + 1, sizeof(cf_stamp)))
    return nomem(p);
  rs->capfiles = cap;
  copy = strdup(name);
  if(!copy)
    return nomem(p);
  rs->files[rs->nfiles] = copy;
  memset(&rs->stamps[rs->nfiles], 0, sizeof(cf_stamp));
  if(st)
    cf_stamp_from_stat(&rs->stamps[rs->nfiles], st);
  *idx = (uint32_t)rs->nfiles++;
  return CURLFENCE_OK;
}

static curlfence_code too_much(parser *p, const char *fname, unsigned line,
                               unsigned col, const char *path)
{
  cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
               "\"%s\" would bring the rules read in one load over 1 GiB",
               path);
  return CURLFENCE_E_LIMIT;
}

/* Read the whole file.  st_size only sizes the first buffer: files in
 * /proc and the like say 0 and still have content, so reading goes on
 * until end of file (or the limits). */
static curlfence_code read_file(parser *p, const char *path, char **out,
                                size_t *outlen, struct stat *stp,
                                const frame *at, unsigned line, unsigned col)
{
  struct stat st;
  char *buf, *nb;
  size_t got = 0, cap, room, limit;
  int fd, e;
  const char *fname = at ? at->name : path;

  *out = NULL;
  if(p->files >= MAX_LOAD_FILES) {
    cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
                 "\"%s\" would be file number %d read in one load (at "
                 "most %d; a file counts each time it is included)", path,
                 MAX_LOAD_FILES + 1, MAX_LOAD_FILES);
    return CURLFENCE_E_LIMIT;
  }
  p->files++;
  room = p->bytes < MAX_LOAD_BYTES ? MAX_LOAD_BYTES - p->bytes : 0;
  limit = room < MAX_FILE_SIZE ? room : MAX_FILE_SIZE;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if(fd < 0) {
    e = errno;
    cf_error_set(p->err, CURLFENCE_E_IO, fname, line, col,
                 "cannot open \"%s\": %s", path, strerror(e));
    return CURLFENCE_E_IO;
  }
  if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    cf_error_set(p->err, CURLFENCE_E_IO, fname, line, col,
                 "\"%s\" is not a regular file", path);
    return CURLFENCE_E_IO;
  }
  TEST_HOOK(CF_HOOK_OPENED, path, p->attempt);
  if((uintmax_t)st.st_size > limit) {
    close(fd);
    if((uintmax_t)st.st_size <= MAX_FILE_SIZE)
      return too_much(p, fname, line, col, path);
    cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
                 "\"%s\" is larger than 1 GiB", path);
    return CURLFENCE_E_LIMIT;
  }
  /* One byte more than the size says, so that the read seeing end of file
   * needs no second buffer. */
  cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
  buf = malloc(cap);
  if(!buf) {
    close(fd);
    return nomem(p);
  }
  for(;;) {
    ssize_t r;

    if(got > limit) {
      free(buf);
      close(fd);
      if(got <= MAX_FILE_SIZE)
        return too_much(p, fname, line, col, path);
      cf_error_set(p->err, CURLFENCE_E_LIMIT, fname, line, col,
                   "\"%s\" is larger than 1 GiB", path);
      return CURLFENCE_E_LIMIT;
    }
    if(got == cap) {
      size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;

      nb = ncap > cap ? realloc(buf, ncap) : NULL;
      if(!nb) {
        free(buf);
        close(fd);
        return nomem(p);
      }
      buf = nb;
      cap = ncap;
    }
    r = read(fd, buf + got, cap - got);
    if(r < 0 && errno == EINTR)
      continue;
    if(r == 0)
      break;
    if(r < 0) {
      e = errno;
      free(buf);
      close(fd);
      cf_error_set(p->err, CURLFENCE_E_IO, fname, line, col,
                   "cannot read \"%s\": %s", path, strerror(e));
      return CURLFENCE_E_IO;
    }
    got += (size_t)r;
  }
  close(fd);
  /* Grown or cut short while it was read (a file in /proc says 0 and is
   * read to its end): what was read is no version of the file. */
  if(st.st_size > 0 && (uintmax_t)got != (uintmax_t)st.st_size) {
    free(buf);
    p->changed = 1;
    cf_error_changed(p->err, path);
    return CURLFENCE_E_IO;
  }
  p->bytes += got;
  *out = buf;
  *outlen = got;
  *stp = st;
  return CURLFENCE_OK;
}

/* Open the file at path (as named in messages) below frame up: read it,
 * refuse an include cycle, and record it in the rule set.  On success fr
 * is its frame and buf its bytes, both the caller's to free (fr->real,
 * *buf). */
curlfence_code cf_rules_open(parser *p, const frame *up, const char *path,
                             unsigned line, unsigned col, frame *fr,
                             char **buf, size_t *len)
{
  const frame *f;
  struct stat st;
  curlfence_code rc;

  memset(fr, 0, sizeof(*fr));
  *len = 0;
  rc = read_file(p, path, buf, len, &st, up, line, col);
  if(rc)
    return rc;
  fr->real = realpath(path, NULL);
  if(!fr->real) {
    int e = errno;

    free(*buf);
    if(e == ENOMEM)
      return nomem(p);
    /* e.g. a deleted file still open, named as /proc/self/fd/N */
    cf_error_set(p->err, CURLFENCE_E_IO, up ? up->name : path, line, col,
                 "cannot resolve the real path of \"%s\" (needed to detect "
                 "include cycles): %s", path, strerror(e));
    return CURLFENCE_E_IO;
  }
  for(f = up; f; f = f->up) {
    if(f->real && strcmp(f->real, fr->real) == 0) {
      cf_error_set(p->err, CURLFENCE_E_INCLUDE, up->name, line, col,
                   "include cycle: \"%s\" is already being read", path);
      free(fr->real);
      free(*buf);
      return CURLFENCE_E_INCLUDE;
    }
  }
  rc = cf_rules_add_file(p, path, &st, &fr->file);
  if(rc) {
    free(fr->real);
    free(*buf);
    return rc;
  }
  fr->up = up;
  fr->name = p->rs->files[fr->file];
  return CURLFENCE_OK;
}
