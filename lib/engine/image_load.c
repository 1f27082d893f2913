/* SPDX-License-Identifier: MIT */
/*
 * image_load.c - loading an image: map it, check everything a lookup or
 * a verdict can follow (header, checksum, sections, rules, the table's
 * arrays through cf_table_view), and make a policy over it in place
 * ("LOADING AND COSTS" at the top of image.c).
 */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const sec_name[SEC_END] = {
    "", "IPv4 direct array", "IPv4 nodes", "IPv4 leaves",
    "IPv6 direct array", "IPv6 nodes", "IPv6 leaves", "port sets",
    "port candidates", "NAT64 records", "IPv4 blocks", "rules", "port ranges",
    "rule texts", "source files", "settings", "strings", "nat64 prefixes",
    "host rules"};

typedef struct loader {
  const unsigned char *base;
  size_t len;
  const char *name;
  curlfence_error *err;
  const unsigned char *sec[SEC_END];
  size_t cnt[SEC_END];
  size_t off[SEC_END];
  uint32_t nself;      /* self rules seen */
} loader;

static const uint8_t zero16[16];

static curlfence_code reject(loader *l, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static curlfence_code reject(loader *l, size_t off, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cf_error_set(l->err, CURLFENCE_E_IMAGE, l->name, 0, 0, "offset %zu: %s",
               off, msg);
  return CURLFENCE_E_IMAGE;
}

static uint32_t rd32(const unsigned char *p)
{
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t rd64(const unsigned char *p)
{
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static curlfence_code check_header(loader *l)
{
  const unsigned char *b = l->base;
  uint64_t size, sum;
  uint32_t v, nsec;
  size_t end = 0;

  if(l->len < sizeof cf_image_magic ||
     memcmp(b, cf_image_magic, sizeof cf_image_magic) != 0) {
    size_t i = 0;
    while(i < l->len && i < sizeof cf_image_magic &&
          b[i] == cf_image_magic[i])
      i++;
    if(i == l->len)
      return reject(l, l->len, "truncated: %zu bytes, the header alone is "
                    "%u", l->len, HDR_SIZE);
    return reject(l, i, "not a curlfence image (bad magic)");
  }
  if(l->len < HDR_SIZE)
    return reject(l, l->len, "truncated: %zu bytes, the header alone is %u",
                  l->len, HDR_SIZE);
  if((v = rd32(b + 16)) != CF_IMAGE_VERSION)
    return reject(l, 16, "format version %u; this library reads version %u "
                  "(compile the image again)", v, CF_IMAGE_VERSION);
  if((v = rd32(b + 20)) != CF_BYTE_ORDER)
    return reject(l, 20, "byte order mark 0x%08x: the image was written on "
                  "a machine of the other byte order", v);
  if((v = rd32(b + 24)) != sizeof(void *))
    return reject(l, 24, "word size %u; this machine's is %zu", v,
                  sizeof(void *));
  size = rd64(b + 32);
  if(size != l->len)
    return reject(l, size < l->len ? (size_t)size : l->len,
                  size > l->len ? "truncated: the header says %llu bytes, "
                                  "the file has %llu"
                                : "the header says %llu bytes, the file has "
                                  "%llu (trailing data)",
                  (unsigned long long)size, (unsigned long long)l->len);
  nsec = rd32(b + 28);
  if(nsec > MAX_SECTIONS || HDR_SIZE + (size_t)nsec * SEC_SIZE > l->len)
    return reject(l, 28, "%u sections: the section table does not fit",
                  nsec);
  if((sum = cf_hash64(b + 16, l->len - 16)) != rd64(b + 8))
    return reject(l, 8, "checksum mismatch: the header says %016llx, the "
                  "contents give %016llx (the file is damaged)",
                  (unsigned long long)rd64(b + 8), (unsigned long long)sum);
  for(unsigned i = 48; i < HDR_SIZE; i++)
    if(b[i])
      return reject(l, i, "reserved header byte is not zero");
  end = HDR_SIZE + (size_t)nsec * SEC_SIZE;
  for(uint32_t i = 0; i < nsec; i++) {
    const unsigned char *e = b + HDR_SIZE + (size_t)i * SEC_SIZE;
    size_t at = HDR_SIZE + (size_t)i * SEC_SIZE;
    uint32_t id = rd32(e), rsize = rd32(e + 4);
    uint64_t off = rd64(e + 8), cnt = rd64(e + 16);

    if(id == 0 || id >= SEC_END)
      return reject(l, at, "section %u: unknown section id %u", i, id);
    if(l->sec[id])
      return reject(l, at, "section %u: a second %s section", i,
                    sec_name[id]);
    if(rsize != sec_size(id))
      return reject(l, at + 4, "section %u (%s): records of %u bytes, "
                    "expected %zu", i, sec_name[id], rsize, sec_size(id));
    if(off % 8 || off < end || off > l->len)
      return reject(l, at + 8, "section %u (%s): offset %llu is %s", i,
                    sec_name[id], (unsigned long long)off,
                    off % 8 ? "not aligned"
                            : off < end ? "inside the header or the section "
                                          "before"
                                        : "past the end of the file");
    if(cnt > (l->len - off) / rsize)
      return reject(l, at + 16, "section %u (%s): %llu records of %u bytes "
                    "run past the end of the file", i, sec_name[id],
                    (unsigned long long)cnt, rsize);
    l->sec[id] = b + off;
    l->off[id] = (size_t)off;
    l->cnt[id] = (size_t)cnt;
    end = (size_t)off + (size_t)cnt * rsize;
  }
  for(unsigned id = 1; id < SEC_END; id++)
    if(!l->sec[id])
      return reject(l, 28, "no %s section", sec_name[id]);
  return CURLFENCE_OK;
}

/* A string offset in a block of n bytes that ends with a NUL. */
static int str_ok(uint32_t off, size_t n)
{
  return off < n;
}

static curlfence_code check_block(loader *l, unsigned id)
{
  size_t n = l->cnt[id];
  if(n > UINT32_MAX)
    return reject(l, l->off[id], "%s: %zu bytes, at most 4 GiB",
                  sec_name[id], n);
  if(n && l->sec[id][n - 1] != '\0')
    return reject(l, l->off[id] + n - 1, "%s: the last one is not "
                  "NUL-terminated", sec_name[id]);
  return CURLFENCE_OK;
}

/* The nat64 prefixes: lengths RFC 6052 defines, host bits clear, padding
 * zero, a known file.  The parser refuses overlapping prefixes; so does
 * this, since the table's records are checked against these. */
static curlfence_code check_nat64(loader *l, size_t nsrc)
{
  const cf_nat64 *d = (const cf_nat64 *)l->sec[SEC_NAT64];
  size_t n = l->cnt[SEC_NAT64];
  for(size_t i = 0; i < n; i++) {
    unsigned plen = d[i].plen, full = plen / 8;
    const char *why = NULL;
    if(plen != 32 && plen != 40 && plen != 48 && plen != 56 && plen != 64 &&
       plen != 96)
      why = "a prefix length other than 32, 40, 48, 56, 64 or 96";
    else if(memcmp(d[i].prefix + full, zero16, 16 - full))
      why = "address bits set past the prefix length";
    else if(d[i].pad_[0] || d[i].pad_[1] || d[i].pad_[2])
      why = "padding is not zero";
    else if(d[i].file >= nsrc)
      why = "file index past the source files";
    for(size_t j = 0; j < i && !why; j++) {
      unsigned pl = d[j].plen < plen ? d[j].plen : plen;
      if(!memcmp(d[j].prefix, d[i].prefix, pl / 8))
        why = "overlaps an earlier prefix";
    }
    if(why)
      return reject(l, l->off[SEC_NAT64] + i * sizeof *d,
                    "nat64 prefix %zu: %s", i, why);
  }
  return CURLFENCE_OK;
}

_Static_assert(CF_KIND_ALLOW == 1 && CF_KIND_PORTS == 2 && CF_KIND_V6 == 4 &&
               CF_KIND_SELF == 8, "check_ruleset builds kinds from flags");

/* Whether the NUL-terminated text at off of the n bytes at b starts with
 * the len bytes of word (no NUL among them): inlined with a constant len
 * it is a compare or two, where a strncmp call was a third of the checks
 * of a rule. */
static inline int text_starts(const unsigned char *b, size_t n, size_t off,
                              const char *word, size_t len)
{
  return b && off < n && n - off > len && memcmp(b + off, word, len) == 0;
}

/* Rules, ports, sources and settings; kind gets one CF_KIND_* per rule. */
static curlfence_code check_ruleset(loader *l, uint8_t *kind)
{
  const cf_rule *r = (const cf_rule *)l->sec[SEC_RULES];
  const cf_port_range *pr = (const cf_port_range *)l->sec[SEC_PORTS];
  const cf_img_src *src = (const cf_img_src *)l->sec[SEC_SOURCES];
  const cf_img_set *set = (const cf_img_set *)l->sec[SEC_SETTINGS];
  size_t nrules = l->cnt[SEC_RULES], nports = l->cnt[SEC_PORTS];
  size_t ntexts = l->cnt[SEC_TEXTS], nstr = l->cnt[SEC_STRINGS];
  size_t nsrc = l->cnt[SEC_SOURCES];
  curlfence_code rc;

  if((rc = check_block(l, SEC_TEXTS)) || (rc = check_block(l, SEC_STRINGS)))
    return rc;
  for(size_t i = 0; i < nports; i++)
    if(pr[i].lo == 0 || pr[i].lo > pr[i].hi)
      return reject(l, l->off[SEC_PORTS] + i * sizeof *pr,
                    "port range %zu: %u-%u", i, pr[i].lo, pr[i].hi);
  if(nsrc > UINT32_MAX)
    return reject(l, l->off[SEC_SOURCES], "%zu source files", nsrc);
  for(size_t i = 0; i < nsrc; i++)
    if(!str_ok(src[i].name, nstr) || !str_ok(src[i].path, nstr) ||
       src[i].flags > SRC_FILE)
      return reject(l, l->off[SEC_SOURCES] + i * sizeof *src,
                    "source file %zu: %s", i,
                    src[i].flags > SRC_FILE ? "unknown flags"
                                            : "name outside the strings");
  if(l->cnt[SEC_SETTINGS] != 3)
    return reject(l, l->off[SEC_SETTINGS], "%zu settings, expected 3",
                  l->cnt[SEC_SETTINGS]);
  for(size_t i = 0; i < 3; i++)
    if(set[i].set > 1 || set[i].action > 1 ||
       (set[i].set && (set[i].file >= nsrc || !str_ok(set[i].text, nstr))))
      return reject(l, l->off[SEC_SETTINGS] + i * sizeof *set,
                    "setting %zu: flag, action, file or text out of range",
                    i);
  if(nrules >= 0x3fffffffu)
    return reject(l, l->off[SEC_RULES], "%zu rules, too many", nrules);
  if((rc = check_nat64(l, nsrc)))
    return rc;
  for(size_t i = 0; i < nrules; i++) {
    const cf_rule *x = &r[i];
    const char *why = NULL;
    if(x->v6 > 1 || x->plen > (x->v6 ? 128 : 32))
      why = "family or prefix length out of range";
    else if(x->action > 1)
      why = "unknown action";
    else if(x->self && (x->v6 || x->plen || memcmp(x->addr, zero16, 16)))
      why = "a \"self\" rule with an address";
    else if(x->file >= nsrc)
      why = "file index past the source files";
    else if(!str_ok(x->text, ntexts))
      why = "text offset past the rule texts";
    else if(x->action ? !text_starts(l->sec[SEC_TEXTS], ntexts, x->text,
                                     "allow ", 6)
                      : !text_starts(l->sec[SEC_TEXTS], ntexts, x->text,
                                     "deny ", 5))
      why = "text does not start with the rule's action";
    else if((uint64_t)x->port_off + x->nports > nports)
      why = "port ranges past the port ranges";
    if(why)
      return reject(l, l->off[SEC_RULES] + i * sizeof *x, "rule %zu: %s", i,
                    why);
    l->nself += x->self;
    /* the flags are 0 or 1 by now, each a bit of its own */
    kind[i] = (uint8_t)(x->action | (x->nports != 0) << 1 | x->v6 << 2 |
                        x->self << 3);
  }
  return CURLFENCE_OK;
}

/* The host rules, each as the parser makes it: flags and action in
 * range, "to" only on an allow with its prefix's host bits clear (and no
 * address without it), ports, file and text in range, the text starting
 * with its action, and the name a NUL-terminated text already in
 * canonical form, so that it matches exactly what the rules text did.
 * The index over them is built again at load (cf_hostidx_build): nothing
 * of it is read from the file. */
static curlfence_code check_hosts(loader *l)
{
  const cf_hostrule *h = (const cf_hostrule *)l->sec[SEC_HOSTS];
  const unsigned char *texts = l->sec[SEC_TEXTS];
  size_t n = l->cnt[SEC_HOSTS], ntexts = l->cnt[SEC_TEXTS];
  char canon[CF_HOST_MAX + 1];

  if(n >= 0x3fffffffu)
    return reject(l, l->off[SEC_HOSTS], "%zu host rules, too many", n);
  for(size_t i = 0; i < n; i++) {
    const cf_hostrule *x = &h[i];
    const char *why = NULL;
    unsigned full = x->plen / 8;

    if(x->action > 1)
      why = "unknown action";
    else if(x->wild > 1 || x->to > 1 || x->v6 > 1 || x->pad_[0] ||
            x->pad_[1] || x->pad_[2])
      why = "a flag out of range, or padding that is not zero";
    else if(x->to && x->action != CURLFENCE_ALLOW)
      why = "\"to PREFIX\" on a deny";
    else if(!x->to && (x->v6 || x->plen || memcmp(x->addr, zero16, 16)))
      why = "an address without \"to\"";
    else if(x->plen > (x->v6 ? 128 : 32))
      why = "prefix length out of range";
    else if((x->plen % 8 && (x->addr[full] & (0xffu >> (x->plen % 8)))) ||
            memcmp(x->addr + full + (x->plen % 8 != 0), zero16,
                   16 - full - (x->plen % 8 != 0)))
      why = "address bits set past the prefix length";
    else if(x->file >= l->cnt[SEC_SOURCES])
      why = "file index past the source files";
    else if((uint64_t)x->port_off + x->nports > l->cnt[SEC_PORTS])
      why = "port ranges past the port ranges";
    else if(x->action ? !text_starts(texts, ntexts, x->text, "allow host ",
                                     11)
                      : !text_starts(texts, ntexts, x->text, "deny host ",
                                     10))
      why = "text does not start with the rule's action and \"host\"";
    else if(!x->namelen || x->namelen > CF_HOST_MAX || x->name >= ntexts ||
            ntexts - x->name <= x->namelen || texts[x->name + x->namelen])
      why = "name outside the rule texts, or of a length past a name's";
    else if(cf_host_canon((const char *)texts + x->name, x->namelen, canon) ||
            memcmp(canon, texts + x->name, x->namelen) ||
            canon[x->namelen])
      why = "name not in canonical form";
    if(why)
      return reject(l, l->off[SEC_HOSTS] + i * sizeof *x, "host rule %zu: %s",
                    i, why);
  }
  return CURLFENCE_OK;
}

static void image_free(cf_image *im)
{
  if(!im)
    return;
  if(im->mapped)
    munmap((void *)(uintptr_t)im->base, im->len);
  free(im);
}

/* The settings as recorded (default, unix, mode), in place. */
static void use_settings(cf_ruleset *rs, const cf_img_set *set,
                         const char *strings)
{
  cf_setting *to[3] = {&rs->dflt, &rs->unix_, &rs->mode};
  for(int i = 0; i < 3; i++) {
    to[i]->set = set[i].set;
    to[i]->action = set[i].action;
    to[i]->file = set[i].file;
    to[i]->line = set[i].line;
    to[i]->text = set[i].set ? (char *)(uintptr_t)(strings + set[i].text)
                             : NULL;
  }
}

/* Check buf[0..len) and make p use it in place.  st: the file's stat, for
 * the watcher; NULL for memory. */
static curlfence_code load(curlfence_policy *p, cf_image *im, const char *name,
                           const struct stat *st, curlfence_error *err)
{
  loader l;
  uint8_t *kind = NULL;
  cf_table_parts tp;
  cf_table_fault flt;
  cf_ruleset *rs = &p->rs;
  curlfence_code rc;
  size_t nsrc;

  memset(&l, 0, sizeof l);
  l.base = im->base;
  l.len = im->len;
  l.name = name;
  l.err = err;
  if((rc = check_header(&l)))
    return rc;
  kind = malloc(l.cnt[SEC_RULES] ? l.cnt[SEC_RULES] : 1);
  if(!kind)
    goto nomem;
  if((rc = check_ruleset(&l, kind)) ||
     (l.sec[SEC_HOSTS] && (rc = check_hosts(&l)))) {
    free(kind);
    return rc;
  }
  for(unsigned i = 0; i < CF_PART_N; i++) {
    tp.p[i] = l.sec[i + 1];
    tp.n[i] = l.cnt[i + 1];
  }
  rs->rules = (cf_rule *)(uintptr_t)l.sec[SEC_RULES];
  rs->nrules = l.cnt[SEC_RULES];
  rs->ports = (cf_port_range *)(uintptr_t)l.sec[SEC_PORTS];
  rs->nports = l.cnt[SEC_PORTS];
  rs->nat64 = (cf_nat64 *)(uintptr_t)l.sec[SEC_NAT64];
  rs->nnat64 = l.cnt[SEC_NAT64];
  rs->nself = l.nself;
  rc = cf_table_view(&p->table, &tp, rs, kind, &flt);
  free(kind);
  if(rc == CURLFENCE_E_NOMEM)
    goto nomem;
  if(rc)
    return reject(&l, l.off[flt.part + 1] + flt.elem *
                          cf_table_part_size(flt.part),
                  "%s: %s", sec_name[flt.part + 1], flt.why);

  nsrc = l.cnt[SEC_SOURCES];
  im->src = (const cf_img_src *)l.sec[SEC_SOURCES];
  im->nsrc = nsrc;
  im->strings = (const char *)l.sec[SEC_STRINGS];
  rs->texts = (char *)(uintptr_t)l.sec[SEC_TEXTS];
  rs->ntexts = l.cnt[SEC_TEXTS];
  rs->hosts = (cf_hostrule *)(uintptr_t)l.sec[SEC_HOSTS];
  rs->nhosts = l.cnt[SEC_HOSTS];
  /* the index is rebuilt, never read from the file: O(host rules), a
   * fraction of the checks above (docs/images.md) */
  if(cf_hostidx_build(&p->hosts, rs))
    goto nomem;
  /* The files a policy was read from are what the watcher looks at: the
   * rules files named in verdicts are not read here, the image is (last,
   * after every index a rule can hold). */
  rs->files = calloc(nsrc + 1, sizeof *rs->files);
  rs->stamps = calloc(nsrc + 1, sizeof *rs->stamps);
  if(!rs->files || !rs->stamps)
    goto nomem;
  for(size_t i = 0; i < nsrc; i++)
    rs->files[i] = (char *)(uintptr_t)(im->strings + im->src[i].name);
  rs->nfiles = nsrc;
  if(st) {
    rs->files[nsrc] = p->source;
    cf_stamp_from_stat(&rs->stamps[nsrc], st);
    rs->nfiles++;
  }
  use_settings(rs, (const cf_img_set *)l.sec[SEC_SETTINGS], im->strings);
  /* the loading host's addresses, never the compiling one's; the rules
   * were counted above, so an image without self rules skips the scan
   * for one */
  if(l.nself && (rc = cf_self_resolve(rs, err))) {
    p->image = im;
    return rc;
  }
#ifdef MADV_DONTNEED
  if(im->mapped) {
    /* Everything after the table and the port ranges is read only for
     * verdicts: let go of those pages (they stay cached) so a process
     * that only decides keeps only what decisions read. */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = l.off[SEC_RULES];
    for(unsigned id = SEC_RULES; id < SEC_END; id++)
      if(id != SEC_PORTS && id != SEC_NAT64 && l.off[id] < from)
        from = l.off[id];
    from = (from + pg - 1) / pg * pg;
    if(from < im->len)
      (void)madvise((void *)(uintptr_t)(im->base + from), im->len - from,
                    MADV_DONTNEED);
  }
#endif
  p->image = im;
  return CURLFENCE_OK;
nomem:
  cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
  return CURLFENCE_E_NOMEM;
}

/* Undo load(): the policy's arrays point into the image. */
void cf_image_close(curlfence_policy *p)
{
  cf_ruleset *rs = &p->rs;
  if(!p->image)
    return;
  free(rs->files);
  free(rs->stamps);
  cf_self_free(rs);
  memset(rs, 0, sizeof *rs);
  cf_hostidx_free(p->hosts);
  p->hosts = NULL;
  cf_table_free(p->table);
  p->table = NULL;
  image_free(p->image);
  p->image = NULL;
}

static curlfence_code fail_load(curlfence_policy *p, cf_image *im,
                                curlfence_code rc)
{
  if(p->image)
    cf_image_close(p);
  else {
    cf_hostidx_free(p->hosts);
    p->hosts = NULL;
    cf_table_free(p->table);
    p->table = NULL;
    free(p->rs.files);
    free(p->rs.stamps);
    cf_self_free(&p->rs);
    memset(&p->rs, 0, sizeof p->rs);
    image_free(im);
  }
  return rc;
}

int cf_image_probe(const char *path)
{
  unsigned char first;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), r;
  if(fd < 0)
    return 0;
  r = pread(fd, &first, 1, 0) == 1 && first == cf_image_magic[0];
  close(fd);
  return r;
}

curlfence_code cf_image_load(curlfence_policy *p, const char *path,
                             int *is_image, cf_stamp *opened,
                             curlfence_error *err)
{
  struct stat st;
  unsigned char first;
  cf_image *im;
  void *m;
  int fd, e;
  curlfence_code rc;

  *is_image = 0;
  /* Anything that cannot be opened or is not a regular file is left to
   * the rules reader, which says why in the usual words. */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if(fd < 0)
    return CURLFENCE_OK;
  if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
     pread(fd, &first, 1, 0) != 1 || first != cf_image_magic[0]) {
    close(fd);
    return CURLFENCE_OK;
  }
  *is_image = 1;
  cf_stamp_from_stat(opened, &st);
  im = calloc(1, sizeof *im);
  if(!im) {
    close(fd);
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  if((uintmax_t)st.st_size > SIZE_MAX) {
    close(fd);
    free(im);
    cf_error_set(err, CURLFENCE_E_LIMIT, path, 0, 0, "image too large");
    return CURLFENCE_E_LIMIT;
  }
  im->len = (size_t)st.st_size;
  m = mmap(NULL, im->len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  e = errno;
  close(fd);
  if(m == MAP_FAILED) {
    free(im);
    cf_error_set(err, CURLFENCE_E_IO, path, 0, 0, "cannot map image: %s",
                 strerror(e));
    return CURLFENCE_E_IO;
  }
  im->base = m;
  im->mapped = 1;
  rc = load(p, im, path, &st, err);
  return rc ? fail_load(p, im, rc) : CURLFENCE_OK;
}

curlfence_code cf_image_load_mem(curlfence_policy *p, const void *buf,
                                 size_t len, const char *name,
                                 curlfence_error *err)
{
  cf_image *im = calloc(1, sizeof *im);
  curlfence_code rc;
  if(!im) {
    cf_error_set(err, CURLFENCE_E_NOMEM, NULL, 0, 0, "out of memory");
    return CURLFENCE_E_NOMEM;
  }
  im->base = buf;
  im->len = len;
  rc = load(p, im, name ? name : "<image>", NULL, err);
  return rc ? fail_load(p, im, rc) : CURLFENCE_OK;
}
