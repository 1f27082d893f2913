/* SPDX-License-Identifier: MIT */
/*
 * image_write.c - writing an image: a policy's table, rules and source
 * files laid out as image.c describes, and saved next to its rules
 * without ever leaving a partial file in place.
 */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir and file are absolute and clean (realpath); the path of file as
 * seen from dir. */
static char *relative(const char *dir, const char *file)
{
  size_t dl = strlen(dir), common = 1, ups = 0, i;
  char *out, *o;
  if(dl > 1) {
    /* the longest common prefix ending at a separator; the end of dir
     * counts as one */
    for(i = 0; i <= dl; i++) {
      char dc = i < dl ? dir[i] : '/';
      if(dc != file[i])
        break;
      if(dc == '/')
        common = i + 1;
    }
    if(common <= dl) {
      ups = 1;
      for(i = common; i < dl; i++)
        ups += dir[i] == '/';
    }
  }
  out = o = malloc(3 * ups + strlen(file + common) + 1);
  if(!out)
    return NULL;
  for(i = 0; i < ups; i++, o += 3)
    memcpy(o, "../", 3);
  strcpy(o, file + common);
  return out;
}

static int64_t mtime_ns(const struct stat *st)
{
  return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

typedef struct strbuf {
  char *s;
  size_t n, cap;
} strbuf;

/* Append s with its NUL; returns the offset, or UINT32_MAX on failure. */
static uint32_t str_add(strbuf *b, const char *s)
{
  size_t n = strlen(s) + 1, off = b->n;
  if(b->n + n > UINT32_MAX - 1)
    return UINT32_MAX;
  if(cf_grow(&b->s, &b->cap, b->n + n, 1))
    return UINT32_MAX;
  memcpy(b->s + b->n, s, n);
  b->n += n;
  return (uint32_t)off;
}

/* The source records of p, paths relative to image_dir (absolute, or NULL
 * to keep them absolute). */
static curlfence_code sources(const curlfence_policy *p, const char *image_dir,
                              cf_img_src *out, strbuf *str,
                              curlfence_error *err)
{
  const cf_image *im = p->image;
  size_t n = im ? im->nsrc : p->rs.nfiles;
  for(size_t i = 0; i < n; i++) {
    cf_img_src *s = &out[i];
    const char *name = im ? im->strings + im->src[i].name : p->rs.files[i];
    char *where = NULL, *real, *rel;
    memset(s, 0, sizeof *s);
    if(im && (im->src[i].flags & SRC_FILE)) {
      where = cf_image_source_path(p->source, im->strings + im->src[i].path);
      s->flags = SRC_FILE;
      s->size = im->src[i].size;
      s->hash = im->src[i].hash;
    }
    else if(!im && p->rs.stamps[i].valid) {
      const cf_stamp *st0 = &p->rs.stamps[i];
      struct stat st;
      int e;
      where = strdup(name);
      if(!where)
        goto nomem;
      /* The text is read again for its hash; it must still be what was
       * compiled. */
      e = cf_image_hash_file(where, &s->hash, &st);
      if(e || (uint64_t)st.st_size != st0->size ||
         mtime_ns(&st) != st0->mtime_ns || (uint64_t)st.st_ino != st0->ino) {
        cf_error_set(err, e ? CURLFENCE_E_IO : CURLFENCE_E_INVAL, name, 0, 0,
                     e ? "cannot read it again for its hash: %s"
                       : "%schanged since the policy was loaded; load it "
                         "again",
                     e ? strerror(e) : "");
        free(where);
        return e ? CURLFENCE_E_IO : CURLFENCE_E_INVAL;
      }
      s->flags = SRC_FILE;
      s->size = (uint64_t)st.st_size;
    }
    s->name = str_add(str, name);
    rel = NULL;
    if(where) {
      real = realpath(where, NULL);
      rel = real && image_dir ? relative(image_dir, real) : NULL;
      if(real && !rel) {
        rel = real;
        real = NULL;
      }
      free(real);
      if(!rel) {
        rel = where;
        where = NULL;
      }
    }
    s->path = str_add(str, rel ? rel : "");
    free(rel);
    free(where);
    if(s->name == UINT32_MAX || s->path == UINT32_MAX)
      goto nomem;
  }
  return CURLFENCE_OK;
nomem:
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

/* What decisions read comes first: the table, then the port ranges and
 * the host rules. */
static const unsigned char file_order[NSEC] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, SEC_PORTS, SEC_NAT64, SEC_RULES, SEC_TEXTS,
    SEC_SOURCES, SEC_SETTINGS, SEC_STRINGS, SEC_HOSTS};

static size_t align_up(size_t n, size_t a)
{
  return (n + a - 1) / a * a;
}

/* The settings (default, unix, mode) as recorded, their texts in str.
 * -1 when out of memory. */
static int record_settings(const cf_ruleset *rs, cf_img_set *set,
                           strbuf *str)
{
  const cf_setting *from[3] = {&rs->dflt, &rs->unix_, &rs->mode};
  memset(set, 0, 3 * sizeof *set);
  for(int i = 0; i < 3; i++) {
    set[i].set = from[i]->set;
    set[i].action = from[i]->action;
    set[i].file = from[i]->file;
    set[i].line = from[i]->line;
    if(from[i]->set && (set[i].text = str_add(str, from[i]->text)) ==
                           UINT32_MAX)
      return -1;
  }
  return 0;
}

/* The header's fixed fields, all but the checksum. */
static void write_header(unsigned char *b, size_t total)
{
  uint32_t u;
  uint64_t w;
  memcpy(b, cf_image_magic, sizeof cf_image_magic);
  u = CF_IMAGE_VERSION;
  memcpy(b + 16, &u, 4);
  u = CF_BYTE_ORDER;
  memcpy(b + 20, &u, 4);
  u = sizeof(void *);
  memcpy(b + 24, &u, 4);
  u = NSEC;
  memcpy(b + 28, &u, 4);
  w = total;
  memcpy(b + 32, &w, 8);
}

curlfence_code cf_image_build(const curlfence_policy *p, const char *image_dir,
                              unsigned char **out, size_t *outlen,
                              curlfence_error *err)
{
  const void *data[SEC_END];
  size_t cnt[SEC_END], off[SEC_END], total;
  cf_table_parts tp;
  cf_img_set set[3];
  strbuf str = {NULL, 0, 0};
  cf_img_src *src = NULL;
  size_t nsrc = p->image ? p->image->nsrc : p->rs.nfiles;
  unsigned char *b, *e;
  curlfence_code rc;
  uint32_t u;
  uint64_t w;

  *out = NULL;
  src = calloc(nsrc ? nsrc : 1, sizeof *src);
  if(!src)
    goto nomem;
  rc = sources(p, image_dir, src, &str, err);
  if(rc) {
    free(src);
    free(str.s);
    return rc;
  }
  if(record_settings(&p->rs, set, &str))
    goto nomem;
  cf_table_get_parts(p->table, &tp);
  for(unsigned i = 0; i < CF_PART_N; i++) {
    data[i + 1] = tp.p[i];
    cnt[i + 1] = tp.n[i];
  }
  data[SEC_RULES] = p->rs.rules;
  cnt[SEC_RULES] = p->rs.nrules;
  data[SEC_PORTS] = p->rs.ports;
  cnt[SEC_PORTS] = p->rs.nports;
  data[SEC_TEXTS] = p->rs.texts;
  cnt[SEC_TEXTS] = p->rs.ntexts;
  data[SEC_SOURCES] = src;
  cnt[SEC_SOURCES] = nsrc;
  data[SEC_SETTINGS] = set;
  cnt[SEC_SETTINGS] = 3;
  data[SEC_STRINGS] = str.s;
  cnt[SEC_STRINGS] = str.n;
  data[SEC_NAT64] = p->rs.nat64;
  cnt[SEC_NAT64] = p->rs.nnat64;
  data[SEC_HOSTS] = p->rs.hosts;
  cnt[SEC_HOSTS] = p->rs.nhosts;
  total = align_up(HDR_SIZE + NSEC * SEC_SIZE, SEC_ALIGN);
  for(unsigned i = 0; i < NSEC; i++) {
    unsigned id = file_order[i];
    off[id] = total;
    total = align_up(total + cnt[id] * sec_size(id), SEC_ALIGN);
  }
  b = calloc(1, total);
  if(!b)
    goto nomem;
  write_header(b, total);
  e = b + HDR_SIZE;
  for(unsigned i = 0; i < NSEC; i++, e += SEC_SIZE) {
    unsigned id = file_order[i];
    u = id;
    memcpy(e, &u, 4);
    u = (uint32_t)sec_size(id);
    memcpy(e + 4, &u, 4);
    w = off[id];
    memcpy(e + 8, &w, 8);
    w = cnt[id];
    memcpy(e + 16, &w, 8);
    if(cnt[id])
      memcpy(b + off[id], data[id], cnt[id] * sec_size(id));
  }
  w = cf_hash64(b + 16, total - 16);
  memcpy(b + 8, &w, 8);
  free(src);
  free(str.s);
  *out = b;
  *outlen = total;
  return CURLFENCE_OK;
nomem:
  free(src);
  free(str.s);
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
  while(n) {
    ssize_t w = write(fd, b, n);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      return w < 0 ? errno : EIO;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

CURLFENCE_API curlfence_code
curlfence_policy_save_image(const curlfence_policy *policy, const char *path,
                            curlfence_error *err)
{
  char *tmp = NULL, *dir = NULL, *slash;
  unsigned char *img = NULL;
  size_t len = 0;
  curlfence_code rc;
  int fd = -1, e;

  if(!policy || !path || !*path) {
    cf_error_set(err, CURLFENCE_E_INVAL, NULL, 0, 0, "NULL argument");
    return CURLFENCE_E_INVAL;
  }
  /* Source paths are kept relative to the image's directory, so an image
   * shipped next to its rules finds them wherever both are copied. */
  dir = strdup(path);
  if(!dir)
    goto nomem;
  slash = strrchr(dir, '/');
  if(slash == dir)
    slash[1] = '\0';
  else if(slash)
    *slash = '\0';
  {
    char *real = realpath(slash ? dir : ".", NULL);
    if(!real) {
      e = errno;
      cf_error_set(err, CURLFENCE_E_IO, path, 0, 0,
                   "cannot resolve the directory: %s", strerror(e));
      free(dir);
      return CURLFENCE_E_IO;
    }
    free(dir);
    dir = real;
  }
  rc = cf_image_build(policy, dir, &img, &len, err);
  free(dir);
  if(rc)
    return rc;
  tmp = malloc(strlen(path) + 8);
  if(!tmp) {
    free(img);
    goto nomem;
  }
  sprintf(tmp, "%s.XXXXXX", path);
  fd = mkostemp(tmp, O_CLOEXEC);
  if(fd < 0) {
    e = errno;
    goto io;
  }
  if((e = write_all(fd, img, len)) != 0)
    goto io;
  if(fchmod(fd, 0444) != 0 || fsync(fd) != 0) {
    e = errno;
    goto io;
  }
  if(close(fd) != 0) {
    fd = -1;
    e = errno;
    goto io;
  }
  fd = -1;
  if(rename(tmp, path) != 0) {
    e = errno;
    goto io;
  }
  free(tmp);
  free(img);
  if(err)
    memset(err, 0, sizeof *err);
  return CURLFENCE_OK;
io:
  if(fd >= 0)
    close(fd);
  if(tmp)
    unlink(tmp);
  cf_error_set(err, CURLFENCE_E_IO, path, 0, 0, "cannot write the image: %s",
               strerror(e));
  free(tmp);
  free(img);
  return CURLFENCE_E_IO;
nomem:
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}
