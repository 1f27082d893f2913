/* SPDX-License-Identifier: MIT */
/*
 * inspect.c - before `curlfence run` runs COMMAND, the file the kernel
 * will load for it, looked at the way the kernel and the loader will
 * (run.c says why): ELF headers, the preload library that matches the
 * program's architecture, #! lines, env and secure-execution mode.
 */
#include "cli.h"
#include "inspect.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* How much of a file the kernel reads to decide how to run it, the #!
 * line included (BINPRM_BUF_SIZE). */
#define HEAD_SIZE 256
/* One execve follows at most this many #! files, then the next must be
 * the program itself (else ELOOP). */
#define MAX_SCRIPTS 5
/* env commands followed, each a new execve (env running itself would
 * not end). */
#define MAX_ENV 8

static int exists(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ------------------------------------------------------------ ELF files */

typedef struct elf_kind {
  unsigned char cls;         /* EI_CLASS */
  unsigned char data;        /* EI_DATA */
  unsigned machine;          /* e_machine */
  unsigned type;             /* e_type */
} elf_kind;

static unsigned char native_data(void)
{
  const uint16_t one = 1;
  unsigned char b;

  memcpy(&b, &one, 1);
  return b ? ELFDATA2LSB : ELFDATA2MSB;
}

/* The kind of the ELF file whose first n bytes are head; -1 when it is
 * not one.  The fields read here sit at the same offsets in 32- and
 * 64-bit headers, in the file's byte order. */
static int elf_kind_of(const unsigned char *head, size_t n, elf_kind *k)
{
  int lsb;

  if(n < EI_NIDENT + 4 || memcmp(head, ELFMAG, SELFMAG) != 0)
    return -1;
  k->cls = head[EI_CLASS];
  k->data = head[EI_DATA];
  lsb = k->data == ELFDATA2LSB;
  k->type = lsb ? head[16] | (unsigned)head[17] << 8
                : (unsigned)head[16] << 8 | head[17];
  k->machine = lsb ? head[18] | (unsigned)head[19] << 8
                   : (unsigned)head[18] << 8 | head[19];
  return 0;
}

static int same_kind(const elf_kind *a, const elf_kind *b)
{
  return a->cls == b->cls && a->data == b->data && a->machine == b->machine;
}

/* "64-bit x86-64", for messages */
static void describe_kind(char *buf, size_t size, const elf_kind *k)
{
  static const struct { unsigned machine; const char *name; } names[] = {
    { EM_X86_64, "x86-64" }, { EM_386, "i386" }, { EM_AARCH64, "arm64" },
    { EM_ARM, "arm" }, { EM_RISCV, "riscv" }, { EM_PPC64, "ppc64" },
    { EM_PPC, "ppc" }, { EM_S390, "s390" }, { EM_MIPS, "mips" }
  };
  const char *bits = k->cls == ELFCLASS64 ? "64-bit"
                     : k->cls == ELFCLASS32 ? "32-bit" : "unknown-class";
  const char *order = k->data == native_data() ? "" : " other-byte-order";
  size_t i;

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if(names[i].machine == k->machine) {
      snprintf(buf, size, "%s%s %s", bits, order, names[i].name);
      return;
    }
  snprintf(buf, size, "%s%s machine-%u", bits, order, k->machine);
}

/* The fields elf_has_interp() reads, from a header of either class: the
 * two classes name them alike and differ only in their types and
 * offsets, so one text serves both. */
#define EHDR_FIELDS(Ehdr, Phdr)                                         \
  do {                                                                  \
    Ehdr eh;                                                            \
                                                                        \
    if(n < sizeof(eh))                                                  \
      return -1;                                                        \
    memcpy(&eh, head, sizeof(eh));                                      \
    phoff = eh.e_phoff;                                                 \
    phnum = eh.e_phnum;                                                 \
    phentsize = eh.e_phentsize;                                         \
    ent = sizeof(Phdr);                                                 \
  } while(0)
#define PHDR_FIELDS(Phdr)                                               \
  do {                                                                  \
    Phdr p;                                                             \
                                                                        \
    memcpy(&p, ph + i * ent, sizeof(p));                                \
    type = p.p_type;                                                    \
    off = p.p_offset;                                                   \
    filesz = p.p_filesz;                                                \
  } while(0)

/* Whether the ELF program open on fd (kind k, first n bytes in head) asks
 * for a program interpreter (PT_INTERP), which is what loads LD_PRELOAD:
 * 1 yes, 0 no (statically linked), -1 when its headers cannot be read or
 * do not hold together.  Every size and offset is checked against the
 * file before it is used. */
static int elf_has_interp(int fd, const unsigned char *head, size_t n,
                          const elf_kind *k)
{
  uint64_t phoff, size, off, filesz;
  size_t ent, i;
  unsigned phnum, phentsize;
  unsigned char *ph;
  struct stat st;
  int found = 0;

  if(k->data != native_data() || fstat(fd, &st) || st.st_size < 0)
    return -1;
  size = (uint64_t)st.st_size;
  if(k->cls == ELFCLASS64)
    EHDR_FIELDS(Elf64_Ehdr, Elf64_Phdr);
  else if(k->cls == ELFCLASS32)
    EHDR_FIELDS(Elf32_Ehdr, Elf32_Phdr);
  else
    return -1;
  /* the kernel's own limits (fs/binfmt_elf.c) */
  if(phentsize != ent || phnum < 1 || phnum > 65536 / ent ||
     phoff > size || (uint64_t)phnum * ent > size - phoff)
    return -1;
  ph = malloc(phnum * ent);
  if(!ph)
    return -1;
  if(pread(fd, ph, phnum * ent, (off_t)phoff) != (ssize_t)(phnum * ent)) {
    free(ph);
    return -1;
  }
  for(i = 0; i < phnum && !found; i++) {
    uint32_t type;

    if(k->cls == ELFCLASS64)
      PHDR_FIELDS(Elf64_Phdr);
    else
      PHDR_FIELDS(Elf32_Phdr);
    if(type != PT_INTERP)
      continue;
    /* a name the kernel would take: 2 to PATH_MAX bytes, NUL included,
     * inside the file */
    if(filesz < 2 || filesz > PATH_MAX || off > size || filesz > size - off)
      found = -1;
    else
      found = 1;
  }
  free(ph);
  return found;
}

/* -------------------------------------------------------- preload library */

/* Debian's multiarch directory for programs of kind k, or NULL. */
static const char *multiarch(const elf_kind *k)
{
  int lsb = k->data == ELFDATA2LSB, b64 = k->cls == ELFCLASS64;

  switch(k->machine) {
  case EM_X86_64: return b64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
  case EM_386: return "i386-linux-gnu";
  case EM_AARCH64: return lsb ? "aarch64-linux-gnu" : NULL;
  case EM_ARM: return lsb ? "arm-linux-gnueabihf" : NULL;
  case EM_RISCV: return b64 ? "riscv64-linux-gnu" : NULL;
  case EM_PPC64: return lsb ? "powerpc64le-linux-gnu" : NULL;
  case EM_S390: return b64 ? "s390x-linux-gnu" : NULL;
  default: return NULL;
  }
}

/* The kind of the ELF file at path; -1 when it cannot be read or is not
 * one. */
static int kind_of_file(const char *path, elf_kind *k)
{
  unsigned char head[64];
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if(fd < 0)
    return -1;
  n = pread(fd, head, sizeof(head), 0);
  close(fd);
  return n > 0 ? elf_kind_of(head, (size_t)n, k) : -1;
}

/* tmpl with each "$LIB" or "${LIB}" replaced by lib; -1 when it does not
 * fit. */
static int expand_lib(const char *tmpl, const char *lib, char *out,
                      size_t size)
{
  size_t len = 0;

  while(*tmpl) {
    const char *put = tmpl;
    size_t skip = 1, plen = 1;

    if(!strncmp(tmpl, "$LIB", 4) || !strncmp(tmpl, "${LIB}", 6)) {
      skip = tmpl[1] == '{' ? 6 : 4;
      put = lib;
      plen = strlen(lib);
    }
    if(plen >= size - len)
      return -1;
    memcpy(out + len, put, plen);
    len += plen;
    tmpl += skip;
  }
  out[len] = '\0';
  return 0;
}

/* The preload library for programs of kind k, made absolute in out:
 * CURLFENCE_PRELOAD, else the tree's library for the tool built in a
 * source tree (recognised by the tool's own location, like its rules),
 * else the installed one.  An install with a library per architecture
 * names them with "$LIB" in the path: it stands for Debian's multiarch
 * directory (lib/x86_64-linux-gnu), then lib64 or lib32, then lib, and the
 * first of these whose library is built for k is taken.  Returns 0, -1
 * when no library is found (said on stderr), 1 when the libraries found
 * are for other programs (the first one's kind in *found, its path in
 * out), or 2 when the path has "$LIB" and no library is there for k (the
 * path in out). */
static int find_preload(const elf_kind *k, char out[PATH_MAX],
                        elf_kind *found)
{
  const char *env = getenv("CURLFENCE_PRELOAD");
  const char *tmpl = cli_preload_path(), *libs[3];
  char cand[PATH_MAX], dir[64];
  size_t i, nlibs = 0;
  int seen = 0;

  if(strstr(tmpl, "$LIB") || strstr(tmpl, "${LIB}")) {
    if(multiarch(k)) {
      snprintf(dir, sizeof(dir), "lib/%s", multiarch(k));
      libs[nlibs++] = dir;
    }
    libs[nlibs++] = k->cls == ELFCLASS64 ? "lib64" : "lib32";
    libs[nlibs++] = "lib";
  }
  else
    libs[nlibs++] = NULL;
  for(i = 0; i < nlibs; i++) {
    elf_kind lk = { 0, 0, 0, 0 };
    char real[PATH_MAX];

    if(libs[i] ? expand_lib(tmpl, libs[i], cand, sizeof(cand))
               : strlen(tmpl) >= sizeof(cand))
      continue;
    if(!libs[i])
      strcpy(cand, tmpl);
    /* realpath() writes at most PATH_MAX bytes: out must hold that */
    if(!exists(cand) || !realpath(cand, real))
      continue;
    if(kind_of_file(real, &lk) == 0 && same_kind(&lk, k)) {
      strcpy(out, real);
      break;
    }
    if(!seen++) {
      *found = lk;
      strcpy(out, real);
    }
  }
  if(i == nlibs) {
    if(seen)
      return 1;
    if(libs[0]) {
      snprintf(out, PATH_MAX, "%s", tmpl);
      return 2;
    }
    fprintf(stderr, CLI_PROG ": cannot find the preload library (%s)%s\n",
            tmpl, env && *env ? "" : "; set CURLFENCE_PRELOAD");
    return -1;
  }
  /* LD_PRELOAD separates entries with spaces and colons. */
  if(strpbrk(out, ": \t")) {
    fprintf(stderr, CLI_PROG ": the preload library's path \"%s\" contains "
            "a space or colon, which LD_PRELOAD cannot hold\n", out);
    return -1;
  }
  return 0;
}

int which(const char *cmd, const char *dirs, char *out, size_t size)
{
  const char *p, *end;

  if(strchr(cmd, '/'))
    return strlen(cmd) < size && exists(cmd) ? (strcpy(out, cmd), 0) : -1;
  for(p = dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; p; p = end) {
    size_t len;

    end = strchr(p, ':');
    len = end ? (size_t)(end - p) : strlen(p);
    if(end)
      end++;
    /* a name that does not fit is not the file execvp would find */
    if((size_t)snprintf(out, size, "%.*s/%s", (int)len, len ? p : ".",
                        cmd) >= size)
      continue;
    if(exists(out) && access(out, X_OK) == 0)
      return 0;
  }
  return -1;
}

/* ------------------------------------------------- what will really run */

void words_free(words *w)
{
  while(w->n)
    free(w->v[--w->n]);
  free(w->v);
  w->v = NULL;
}

int words_push(words *w, const char *s, size_t len)
{
  char **v = realloc(w->v, (w->n + 1) * sizeof(*v)), *copy;

  if(!v)
    return -1;
  w->v = v;
  copy = malloc(len + 1);
  if(!copy)
    return -1;
  memcpy(copy, s, len);
  copy[len] = '\0';
  memmove(v + 1, v, w->n * sizeof(*v));
  v[0] = copy;
  w->n++;
  return 0;
}

/* Drop the first k words. */
static void words_drop(words *w, size_t k)
{
  size_t i;

  for(i = 0; i < k; i++)
    free(w->v[i]);
  memmove(w->v, w->v + k, (w->n - k) * sizeof(*w->v));
  w->n -= k;
}

/* Print why t->cmd is not run (one line) and return 126. */
static int refuse(const target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int refuse(const target *t, const char *fmt, ...)
{
  va_list ap;

  if(!strcmp(t->cmd, t->file))
    fprintf(stderr, CLI_PROG ": %s ", t->cmd);
  else
    fprintf(stderr, CLI_PROG ": %s runs %s, which ", t->cmd, t->file);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("; it is not run\n", stderr);
  return 126;
}

static int spacetab(char c)
{
  return c == ' ' || c == '\t';
}

/* What env -S splits its string at: every blank of the C locale, not only
 * the two the kernel splits #! lines at.  Split at fewer, an "X=1\vLD_
 * PRELOAD=" word looks like one harmless assignment and runs as two. */
static int env_blank(char c)
{
  return spacetab(c) || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Whether the program at path is env, by its name or, for a link with
 * another name, by the name of the file it leads to: coreutils' env
 * behaves the same whatever it is called. */
static int is_env(const char *path)
{
  char real[PATH_MAX];
  const char *base = strrchr(path, '/');

  if(!strcmp(base ? base + 1 : path, "env"))
    return 1;
  if(!realpath(path, real))
    return 0;
  base = strrchr(real, '/');
  return !strcmp(base ? base + 1 : real, "env");
}

/* The #! line in head (HEAD_SIZE bytes, zeros after the file's end),
 * split as the kernel splits it (fs/binfmt_script.c): the interpreter's
 * name up to a blank or NUL, then at most one argument, the rest of the
 * line without its outer blanks.  0, or -1 when the kernel would refuse
 * the line. */
static int shebang(const unsigned char *head, const char **name,
                   size_t *nlen, const char **arg, size_t *alen)
{
  const char *b = (const char *)head, *last = b + HEAD_SIZE - 1;
  const char *end = memchr(b, '\n', HEAD_SIZE), *p, *q;

  if(!end) {
    /* no end of line in what the kernel reads: unless a blank or NUL
     * ends the name within it, the name was cut */
    for(p = b + 2; p <= last && spacetab(*p); p++)
      ;
    for(q = p; q <= last && !spacetab(*q) && *q; q++)
      ;
    if(p > last || q > last)
      return -1;
    end = last;
  }
  while(spacetab(end[-1]))
    end--;
  for(p = b + 2; p < end && spacetab(*p); p++)
    ;
  if(p == end)
    return -1;
  for(q = p; q < end && !spacetab(*q) && *q; q++)
    ;
  *name = p;
  *nlen = (size_t)(q - p);
  *arg = NULL;
  *alen = 0;
  if(q < end && *q) {
    for(p = q; p < end && spacetab(*p); p++)
      ;
    if(p < end) {
      const char *z = memchr(p, '\0', (size_t)(end - p));

      *arg = p;
      *alen = (size_t)((z ? z : end) - p);
    }
  }
  return 0;
}

/* The program env would run with t->args (coreutils' env and the ones
 * like it): its assignments and -S are followed, and anything that could
 * change what runs or drop the preload library (-i, -u, -C, LD_* or
 * CURLFENCE_* assignments) is refused.  On success t->file is that
 * program and t->args its arguments. */
static int follow_env(target *t)
{
  char **v, next[PATH_MAX];
  size_t i;
  /* env takes options up to "--" or the first other word, then every
   * word with "=" as an assignment (after "--" too), then the command:
   * "--" after an assignment is the command's name. */
  int options = 1;

  for(i = 0; i < t->args.n; i++) {
    const char *a = t->args.v[i];

    if(options &&
       (!strncmp(a, "-S", 2) || !strncmp(a, "--split-string=", 15))) {
      /* one word split in several; quotes, escapes and variables are
       * not followed */
      const char *s = a[1] == 'S' ? a + 2 : a + 15, *e;
      char *split;
      words w = { NULL, 0 };
      size_t k;

      if(!*s && i + 1 < t->args.n)
        s = t->args.v[++i];
      if(strpbrk(s, "'\"\\$#"))
        return refuse(t, "is env -S with quotes, escapes, comments or "
                      "variables, which are not followed");
      split = strdup(s);
      if(!split)
        return refuse(t, "cannot be followed: %s", strerror(ENOMEM));
      /* the words, pushed last first so they end up in order */
      e = split + strlen(split);
      while(e > split) {
        const char *w0;

        while(e > split && env_blank(e[-1]))
          e--;
        w0 = e;
        while(w0 > split && !env_blank(w0[-1]))
          w0--;
        if(w0 < e && words_push(&w, w0, (size_t)(e - w0))) {
          free(split);
          words_free(&w);
          return refuse(t, "cannot be followed: %s", strerror(ENOMEM));
        }
        e = (char *)w0;
      }
      free(split);
      words_drop(&t->args, i + 1);
      for(k = w.n; k > 0; k--)
        if(words_push(&t->args, w.v[k - 1], strlen(w.v[k - 1]))) {
          words_free(&w);
          return refuse(t, "cannot be followed: %s", strerror(ENOMEM));
        }
      words_free(&w);
      i = (size_t)-1;
      continue;
    }
    if(options && !strcmp(a, "--")) {
      options = 0;
      continue;
    }
    if(options && a[0] == '-')
      return refuse(t, "is env with the option \"%s\", which is not "
                    "followed", a);
    options = 0;
    if(!strchr(a, '='))
      break;
    if(!strncmp(a, "LD_", 3) || !strncmp(a, "CURLFENCE_", 10))
      return refuse(t, "is env setting %.*s, which would change what "
                    "guards the program", (int)(strchr(a, '=') - a), a);
    if(!strncmp(a, "PATH=", 5)) {
      free(t->path_env);
      t->path_env = strdup(a + 5);
      if(!t->path_env)
        return refuse(t, "cannot be followed: %s", strerror(ENOMEM));
    }
  }
  if(i >= t->args.n)
    return refuse(t, "is env without a command");
  v = t->args.v;
  /* env looks the command up with execvp() in its own PATH: glibc's
   * default when there is none */
  if(which(v[i], t->path_env ? t->path_env
                             : getenv("PATH") ? getenv("PATH")
                                              : "/bin:/usr/bin",
           next, sizeof(next)))
    return refuse(t, "is env running \"%s\", which is not found", v[i]);
  strcpy(t->file, next);
  words_drop(&t->args, i + 1);
  return 0;
}

/* Whether the loader would run the file open on fd in secure-execution
 * mode, where it ignores LD_PRELOAD: set-user-ID or set-group-ID, or file
 * capabilities.  Those are refused whoever runs them (as root, the loader
 * would not switch modes: the refusal does not depend on it).  NULL, or
 * why. */
static const char *secure_exec(int fd, char *buf, size_t size)
{
  struct stat st;

  if(fstat(fd, &st)) {
    snprintf(buf, size, "cannot be examined: %s", strerror(errno));
    return buf;
  }
  if(st.st_mode & (S_ISUID | S_ISGID))
    return "is set-user-ID or set-group-ID: the loader would ignore the "
           "preload library";
  if(fgetxattr(fd, "security.capability", NULL, 0) >= 0)
    return "has file capabilities (security.capability): the loader would "
           "ignore the preload library";
  if(errno != ENODATA && errno != ENOTSUP) {
    snprintf(buf, size, "cannot be examined for file capabilities: %s",
             strerror(errno));
    return buf;
  }
  return NULL;
}

int inspect(target *t)
{
  unsigned scripts = 0, envs = 0;
  unsigned char head[HEAD_SIZE];
  char why[256];

  for(;;) {
    const char *name, *arg, *bad;
    size_t nlen, alen;
    elf_kind k, lk = { 0, 0, 0, 0 };
    ssize_t n;
    int fd = open(t->file, O_RDONLY | O_CLOEXEC), interp, rc;

    if(fd < 0)
      return refuse(t, "cannot be read: %s", strerror(errno));
    bad = secure_exec(fd, why, sizeof(why));
    if(bad) {
      close(fd);
      return refuse(t, "%s", bad);
    }
    memset(head, 0, sizeof(head));
    n = pread(fd, head, sizeof(head), 0);
    if(n < 0) {
      close(fd);
      return refuse(t, "cannot be read: %s", strerror(errno));
    }
    if(n >= 2 && head[0] == '#' && head[1] == '!') {
      close(fd);
      if(++scripts > MAX_SCRIPTS) {
        /* said of the command: no one file in the chain is wrong */
        strcpy(t->file, t->cmd);
        return refuse(t, "has more than %d #! scripts in a row, which the "
                      "kernel refuses", MAX_SCRIPTS);
      }
      if(shebang(head, &name, &nlen, &arg, &alen))
        return refuse(t, "has a #! line the kernel would refuse");
      /* the interpreter gets the argument, then the script's name */
      if(words_push(&t->args, t->file, strlen(t->file)) ||
         (arg && words_push(&t->args, arg, alen)))
        return refuse(t, "cannot be followed: %s", strerror(ENOMEM));
      memcpy(t->file, name, nlen);
      t->file[nlen] = '\0';
      continue;
    }
    if(elf_kind_of(head, (size_t)n, &k)) {
      close(fd);
      return refuse(t, "is neither an ELF program nor a #! script");
    }
    if(k.type != ET_EXEC && k.type != ET_DYN) {
      close(fd);
      return refuse(t, "is an ELF file but not a program");
    }
    rc = find_preload(&k, t->preload, &lk);
    if(rc < 0) {
      close(fd);
      return -1;
    }
    if(rc > 0) {
      char pk[64], lks[64];

      close(fd);
      describe_kind(pk, sizeof(pk), &k);
      describe_kind(lks, sizeof(lks), &lk);
      if(rc == 2)
        return refuse(t, "is a %s program, and there is no preload library "
                      "for it (%s)", pk, t->preload);
      return refuse(t, "is a %s program: the preload library (%s) is for "
                    "%s programs, and the loader would not load it",
                    pk, t->preload, lks);
    }
    interp = elf_has_interp(fd, head, (size_t)n, &k);
    close(fd);
    if(interp < 0)
      return refuse(t, "has ELF program headers that cannot be read");
    if(!interp)
      return refuse(t, "is statically linked: no loader runs in it to "
                    "load the preload library");
    if(!is_env(t->file))
      return 0;
    if(++envs > MAX_ENV)
      return refuse(t, "is env running env more than %d times", MAX_ENV);
    rc = follow_env(t);
    if(rc)
      return rc;
    scripts = 0;
  }
}
