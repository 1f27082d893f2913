/* SPDX-License-Identifier: MIT */
/*
 * What `curlfence run` will not start, and why: set-user-ID and static
 * programs, other architectures, long paths, env tricks that drop the
 * preload library, LD_AUDIT.
 */
#include "preload_fixture.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

TU_SUITE_STATIC_ONLY("preload_run", NULL);
TU_CASE(tc_programs, "programs", 120, setup, teardown);

/* ----------------------------------------------------------------- tool */

TU_TEST(tc_programs, run_missing_command)
{
  const char *argv[] = { tool, "run", "--",
                         "curlfence-no-such-command", NULL };

  run_status(res, NULL, argv, 127);
  ck_assert_msg(strstr(res->err, "command not found") != NULL, SAYS(res));
}
END_TEST

/* ------------------------------------------- commands run will not start */

/* Every refusal: status 126 and one line on stderr naming the command
 * (and the file at fault) and the reason. */
static void refused(const result *r, const char *who, const char *why)
{
  const char *nl = strchr(r->err, '\n');

  ck_assert_msg(r->status == 126, SAYS(r));
  ck_assert_msg(!strncmp(r->err, "curlfence: ", 11) &&
                strstr(r->err, who) != NULL && strstr(r->err, why) != NULL,
                "wanted \"%s\" and \"%s\": status %d, stderr: %s", who, why,
                r->status, r->err);
  ck_assert_msg(nl && nl[1] == '\0', "more than one line: %s", r->err);
}

/* The program PATH finds for name, in buf. */
static void in_path(char *buf, size_t size, const char *name)
{
  const char *p = getenv("PATH"), *end;

  for(; p && *p; p = *end ? end + 1 : end) {
    end = strchr(p, ':');
    if(!end)
      end = p + strlen(p);
    snprintf(buf, size, "%.*s/%s", (int)(end - p), p, name);
    if(access(buf, X_OK) == 0)
      return;
  }
  ck_abort_msg("no %s in PATH", name);
}

/* A copy of curl at tmp/name, mode mode. */
static void copy_curl(char *buf, size_t size, const char *name,
                      mode_t mode)
{
  char curl[PATH_MAX + 16];
  const char *argv[] = { "cp", curl, buf, NULL };

  in_path(curl, sizeof(curl), "curl");
  snprintf(buf, size, "%s/%s", tmp, name);
  run_status(res, NULL, argv, 0);
  ck_assert_int_eq(chmod(buf, mode), 0);
}

/* The loader runs a program with file capabilities in secure-execution
 * mode, where it ignores LD_PRELOAD (for a user other than root): a copy
 * of curl with cap_net_bind_service reached the denied server.  It is
 * refused, as set-user-ID programs are, and never started. */
TU_TEST(tc_programs, run_refuses_secure_execution)
{
  char capcurl[PATH_MAX + 16], suid[PATH_MAX + 16];
  const char *cap[] = { tool, "run", "-r", rules, "--", capcurl, "-sS",
                        url("127.0.0.3", "/x"), NULL };
  const char *uid[] = { tool, "run", "-r", rules, "--", suid, "-sS",
                        url("127.0.0.3", "/x"), NULL };
  /* struct vfs_cap_data, revision 2: cap_net_bind_service (10) permitted
   * and effective */
  const unsigned char blob[20] = { 1, 0, 0, 2, 0, 4, 0, 0 };

  copy_curl(capcurl, sizeof(capcurl), "capcurl", 0755);
  if(setxattr(capcurl, "security.capability", blob, sizeof(blob), 0)) {
    /* only root (CAP_SETFCAP) may set them */
    fprintf(stderr, "run_refuses_secure_execution: file capabilities not "
            "tested: %s\n", strerror(errno));
  }
  else {
    run(res, NULL, cap);
    refused(res, capcurl, "has file capabilities (security.capability)");
  }
  copy_curl(suid, sizeof(suid), "suidcurl", 04755);
  run(res, NULL, uid);
  refused(res, suid, "is set-user-ID or set-group-ID");
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* No loader runs in a statically linked program, so nothing loads the
 * preload library: it is refused before it runs, whether named directly,
 * as a #! interpreter, through env in a #! line (found in PATH), or
 * through env as the command.  The program would create the marker. */
TU_TEST(tc_programs, run_refuses_static_programs)
{
  char prog[PATH_MAX + 32], dir[PATH_MAX + 32], mark[PATH_MAX + 16];
  char direct[PATH_MAX + 16], viaenv[PATH_MAX + 16], text[PATH_MAX + 64];
  char pathvar[2 * PATH_MAX + 64];
  const char *env[] = { pathvar, NULL };
  const char *a1[] = { tool, "run", "--", prog, mark, NULL };
  const char *a2[] = { tool, "run", "--", direct, mark, NULL };
  const char *a3[] = { tool, "run", "--", viaenv, mark, NULL };
  const char *a4[] = { tool, "run", "--", "env", "A=1", "marker-static",
                       mark, NULL };
  const char *const *argvs[] = { a1, a2, a3, a4 };
  const char *who[] = { prog, direct, viaenv, "env" };
  struct stat st;
  size_t i;

  sibling(prog, sizeof(prog), "marker-static");
  snprintf(dir, sizeof(dir), "%s", prog);
  *strrchr(dir, '/') = '\0';
  snprintf(pathvar, sizeof(pathvar), "PATH=%s:%s", dir, getenv("PATH"));
  snprintf(mark, sizeof(mark), "%s/ran", tmp);
  snprintf(direct, sizeof(direct), "%s/direct.sh", tmp);
  snprintf(text, sizeof(text), "#!%s\n", prog);
  tu_write_text(direct, text);
  snprintf(viaenv, sizeof(viaenv), "%s/env.sh", tmp);
  tu_write_text(viaenv, "#! /usr/bin/env  marker-static \n");
  ck_assert_int_eq(chmod(direct, 0755), 0);
  ck_assert_int_eq(chmod(viaenv, 0755), 0);
  for(i = 0; i < sizeof(argvs) / sizeof(argvs[0]); i++) {
    run(res, env, argvs[i]);
    refused(res, who[i], i ? "marker-static, which is statically linked"
                         : "marker-static is statically linked");
    ck_assert_msg(stat(mark, &st) != 0, "it ran: %s", argvs[i][3]);
  }
  /* The same program, run directly, does create it. */
  run(res, env, a1 + 3);
  ck_assert_msg(res->status == 0 && stat(mark, &st) == 0, SAYS(res));
}
END_TEST

/* #! chains: five scripts in a row end in a program the kernel runs (and
 * the preload library guards); a sixth is refused, as the kernel would. */
TU_TEST(tc_programs, run_follows_script_chains)
{
  char name[6][PATH_MAX + 16], text[2 * PATH_MAX];
  const char *ok[] = { tool, "run", "-r", rules, "--", name[4], NULL };
  const char *deep[] = { tool, "run", "-r", rules, "--", name[5], NULL };
  int i;

  for(i = 0; i < 6; i++) {
    snprintf(name[i], sizeof(name[i]), "%s/s%d", tmp, i);
    if(i == 0)
      snprintf(text, sizeof(text), "#!/bin/sh\nexec curl -sS %s\n",
               url("127.0.0.3", "/s"));
    else
      snprintf(text, sizeof(text), "#!%s\n", name[i - 1]);
    tu_write_text(name[i], text);
    ck_assert_int_eq(chmod(name[i], 0755), 0);
  }
  run_status(res, NULL, ok, 7);
  run(res, NULL, deep);
  refused(res, name[5], "has more than 5 #! scripts in a row");
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* The ELF header and the one program header, a PT_INTERP naming interp
 * (filesz bytes), into buf: the same for either class but for the types. */
#define ELF_HEADERS(Ehdr, Phdr, Half, cls, type, machine, interp, filesz) \
  do {                                                                    \
    Ehdr eh;                                                              \
    Phdr ph;                                                              \
                                                                          \
    memset(&eh, 0, sizeof(eh));                                           \
    memset(&ph, 0, sizeof(ph));                                           \
    memcpy(eh.e_ident, ELFMAG, SELFMAG);                                  \
    eh.e_ident[EI_CLASS] = cls;                                           \
    eh.e_ident[EI_DATA] = ELFDATA2LSB;                                    \
    eh.e_ident[EI_VERSION] = EV_CURRENT;                                  \
    eh.e_type = type;                                                     \
    eh.e_machine = (Half)(machine);                                       \
    eh.e_version = EV_CURRENT;                                            \
    eh.e_phoff = sizeof(eh);                                              \
    eh.e_ehsize = sizeof(eh);                                             \
    eh.e_phentsize = sizeof(ph);                                          \
    eh.e_phnum = 1;                                                       \
    ph.p_type = PT_INTERP;                                                \
    ph.p_offset = sizeof(eh) + sizeof(ph);                                \
    ph.p_filesz = filesz;                                                 \
    memcpy(buf, &eh, sizeof(eh));                                         \
    memcpy(buf + sizeof(eh), &ph, sizeof(ph));                            \
    memcpy(buf + ph.p_offset, interp, sizeof(interp));                    \
  } while(0)

/* An ELF program of the given class and machine with a program
 * interpreter, otherwise empty: what the kernel looks at first. */
static void craft_elf(const char *path, int cls, unsigned machine)
{
  unsigned char buf[256];
  FILE *f;

  memset(buf, 0, sizeof(buf));
  if(cls == ELFCLASS32)
    ELF_HEADERS(Elf32_Ehdr, Elf32_Phdr, Elf32_Half, ELFCLASS32, ET_EXEC,
                machine, "/lib/ld-linux.so.2", 19);
  else
    ELF_HEADERS(Elf64_Ehdr, Elf64_Phdr, Elf64_Half, ELFCLASS64, ET_DYN,
                machine, "/lib/ld-linux-aarch64.so.1", 28);
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
  ck_assert_int_eq(fclose(f), 0);
  ck_assert_int_eq(chmod(path, 0755), 0);
}

/* The preload library is built for this build's programs: a program for
 * another word size or machine is refused before exec, with what it is.
 * A preload path with $LIB takes the library built for the program. */
TU_TEST(tc_programs, run_refuses_other_architectures)
{
  char p32[PATH_MAX + 16], arm[PATH_MAX + 16], lib[PATH_MAX + 64];
  char dir[PATH_MAX + 16], var[PATH_MAX + 64];
  const char *env[] = { var, NULL };
  const char *a32[] = { tool, "run", "--", p32, NULL };
  const char *aarm[] = { tool, "run", "--", arm, NULL };
  const char *acurl[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                          url("127.0.0.3", "/x"), NULL };

  snprintf(p32, sizeof(p32), "%s/prog32", tmp);
  snprintf(arm, sizeof(arm), "%s/progarm", tmp);
  craft_elf(p32, ELFCLASS32, EM_386);
  craft_elf(arm, ELFCLASS64, EM_AARCH64);
  run(res, NULL, a32);
  refused(res, p32, "is a 32-bit i386 program: the preload library (");
  run(res, NULL, aarm);
  refused(res, arm, "is a 64-bit arm64 program: the preload library (");

  /* tmp/lib64/libcurlfence-preload.so is this build's library */
  snprintf(dir, sizeof(dir), "%s/lib64", tmp);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  snprintf(lib, sizeof(lib), "%s/libcurlfence-preload.so", dir);
  ck_assert_int_eq(symlink(preload, lib), 0);
  snprintf(var, sizeof(var), "CURLFENCE_PRELOAD=%s/$LIB/"
           "libcurlfence-preload.so", tmp);
  run_status(res, env, acurl, 7);
  run(res, env, a32);
  refused(res, p32, "is a 32-bit i386 program, and there is no preload "
          "library for it (");
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* CURLFENCE_RULES and CURLFENCE_AUDIT from the environment apply when the
 * options do not say otherwise, as in check and fetch. */
TU_TEST(tc_programs, run_takes_settings_from_the_environment)
{
  char rvar[PATH_MAX + 32], avar[PATH_MAX + 32], audit[PATH_MAX + 16];
  char open_all[PATH_MAX + 16], log[OUT_MAX];
  const char *env[] = { rvar, avar, NULL };
  const char *plain[] = { tool, "run", "--", "curl", "-sS",
                          url("127.0.0.2", "/x"), NULL };
  const char *opt[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                        url("127.0.0.3", "/x"), NULL };

  snprintf(audit, sizeof(audit), "%s/env.jsonl", tmp);
  snprintf(avar, sizeof(avar), "CURLFENCE_AUDIT=%s", audit);
  /* the default rules deny loopback: these let 127.0.0.2 through */
  snprintf(rvar, sizeof(rvar), "CURLFENCE_RULES=%s", rules);
  guarded_status(res, env, plain, 0);
  ck_assert_str_eq(res->out, "hello from allowed\n");
  read_file(audit, log, sizeof(log));
  ck_assert_msg(strstr(log, "\"decision\":\"allow\",\"enforced\":true,"
                            "\"addr\":\"127.0.0.2\"") != NULL, "%s", log);
  /* -r wins over the environment */
  snprintf(open_all, sizeof(open_all), "%s/open.rules", tmp);
  tu_write_text(open_all, "default allow\n");
  snprintf(rvar, sizeof(rvar), "CURLFENCE_RULES=%s", open_all);
  guarded_status(res, env, opt, 7);
  ck_assert_uint_eq(th_requests(denied), 0);
}
END_TEST

/* A path longer than a path may be: refused, never cut to the name of
 * another file (here one the first PATH_MAX - 1 bytes name). */
static void long_path(char *buf, size_t size, const char *cut_to)
{
  size_t len = strlen(tmp) + 1, name = strlen(cut_to), i;

  ck_assert_uint_gt(size, PATH_MAX + 16);
  if((PATH_MAX - 1 - len - name) % 2)
    name++;            /* "/./" steps are 2 bytes: one more byte of name */
  snprintf(buf, size, "%s/", tmp);
  for(i = 0; i < (PATH_MAX - 1 - len - name) / 2; i++)
    strcat(buf, "./");
  strcat(buf, cut_to);
  if(name > strlen(cut_to))
    strcat(buf, "_");
  ck_assert_uint_eq(strlen(buf), PATH_MAX - 1);
  strcat(buf, "-and-more");
}

TU_TEST(tc_programs, run_refuses_long_paths)
{
  char *audit = malloc(PATH_MAX + 64), *rpath = malloc(PATH_MAX + 64);
  char cut[PATH_MAX + 16];
  const char *a1[] = { tool, "run", "-r", rules, "--audit", audit, "--",
                       "curl", "-sS", url("127.0.0.2", "/x"), NULL };
  const char *a2[] = { tool, "run", "-r", rpath, "--", "curl", "-sS",
                       url("127.0.0.3", "/x"), NULL };
  struct stat st;

  ck_assert_ptr_nonnull(audit);
  ck_assert_ptr_nonnull(rpath);
  long_path(audit, PATH_MAX + 64, "cut.jsonl");
  run(res, NULL, a1);
  ck_assert_msg(res->status == 2 && strstr(res->err, "--audit") != NULL &&
                strstr(res->err, "File name too long") != NULL, SAYS(res));
  memcpy(cut, audit, PATH_MAX - 1);
  cut[PATH_MAX - 1] = '\0';
  ck_assert_msg(stat(cut, &st) != 0, "the cut name was written");
  /* the cut name of the rules would open everything */
  long_path(rpath, PATH_MAX + 64, "cut.rules");
  memcpy(cut, rpath, PATH_MAX - 1);
  cut[PATH_MAX - 1] = '\0';
  tu_write_text(cut, "default allow\n");
  run(res, NULL, a2);
  ck_assert_msg(res->status == 2 && strstr(res->err, "-r") != NULL &&
                strstr(res->err, "File name too long") != NULL, SAYS(res));
  ck_assert_uint_eq(th_connections(allowed), 0);
  ck_assert_uint_eq(th_connections(denied), 0);
  free(audit);
  free(rpath);
}
END_TEST

/* env -S splits its string at every blank, vertical tab, form feed,
 * carriage return and newline included: "X=1\vLD_PRELOAD=" is two
 * assignments, the second dropping the preload library.  Split at spaces
 * and tabs only, it looked like one harmless assignment, and curl reached
 * the denied server unguarded. */
TU_TEST(tc_programs, run_splits_env_strings_as_env_does)
{
  static const char *const split[] = {
    "X=1\vLD_PRELOAD=", "X=1\fLD_PRELOAD=", "X=1\rLD_PRELOAD=",
    "X=1\nLD_PRELOAD="
  };
  const char *argv[] = { tool, "run", "-r", rules, "--", "env", "-S", NULL,
                         "curl", "-sS", url("127.0.0.3", "/x"), NULL };
  size_t i;

  for(i = 0; i < sizeof(split) / sizeof(split[0]); i++) {
    argv[7] = split[i];
    run(res, NULL, argv);
    refused(res, "env", "is env setting LD_PRELOAD");
  }
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* env under another name (a link to it) is still env: an LD_PRELOAD=
 * assignment through it is refused as through env itself.  It used to be
 * run, and curl reached the denied server unguarded. */
TU_TEST(tc_programs, run_knows_env_by_another_name)
{
  char env[PATH_MAX + 16], link[PATH_MAX + 16];
  const char *argv[] = { tool, "run", "-r", rules, "--", link,
                         "LD_PRELOAD=", "curl", "-sS",
                         url("127.0.0.3", "/x"), NULL };

  in_path(env, sizeof(env), "env");
  snprintf(link, sizeof(link), "%s/launch", tmp);
  ck_assert_int_eq(symlink(env, link), 0);
  run(res, NULL, argv);
  refused(res, link, "is env setting LD_PRELOAD");
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* The loader asks LD_AUDIT's libraries for every library it looks up,
 * the preloaded ones too, and one that answers "none" for the preload
 * library leaves the program unguarded: curl reached the denied server.
 * With LD_AUDIT set, run starts nothing. */
#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif

TU_TEST(tc_programs, run_refuses_ld_audit)
{
  char lib[PATH_MAX + 16], var[PATH_MAX + 32];
  const char *env[] = { var, NULL };
  const char *argv[] = { tool, "run", "-r", rules, "--", "curl", "-sS",
                         url("127.0.0.3", "/x"), NULL };

#ifdef TSAN_BUILD
  /* The tool is built with the sanitizer too, and the loader cannot fit
   * ThreadSanitizer's runtime in static TLS beside an audit library: the
   * tool itself would not start. */
  fprintf(stderr, "run_refuses_ld_audit: not tested under "
          "ThreadSanitizer\n");
  return;
#endif
  sibling(lib, sizeof(lib), "libdrop-preload.so");
  snprintf(var, sizeof(var), "LD_AUDIT=%s", lib);
  run(res, env, argv);
  refused(res, "LD_AUDIT is set", "keep the preload library out of curl");
  ck_assert_uint_eq(th_connections(denied), 0);
}
END_TEST

/* env reads its words as options up to "--" or the first other word, then
 * words with "=" as assignments, "--" passed or not, then the command.
 * "--" was taken to end the assignments too, and after one it was skipped
 * instead of being the command: what run looked at was not what env ran.
 * A program named "LD_PRELOAD=" in PATH was looked at while env dropped
 * the preload library and ran curl, which reached the denied server; a
 * static program named "--" ran while run looked at true. */
TU_TEST(tc_programs, run_reads_env_words_as_env_does)
{
  char named[PATH_MAX + 16], dashes[PATH_MAX + 16], marker[PATH_MAX + 32];
  char pathvar[2 * PATH_MAX + 64], mark[PATH_MAX + 16];
  const char *env[] = { pathvar, NULL };
  const char *after[] = { tool, "run", "-r", rules, "--", "env", "--",
                          "LD_PRELOAD=", "curl", "-sS",
                          url("127.0.0.3", "/x"), NULL };
  const char *cmd[] = { tool, "run", "-r", rules, "--", "env", "A=1", "--",
                        "true", mark, NULL };
  const char *cp[] = { "cp", marker, dashes, NULL };
  struct stat st;

  copy_curl(named, sizeof(named), "LD_PRELOAD=", 0755);
  sibling(marker, sizeof(marker), "marker-static");
  snprintf(dashes, sizeof(dashes), "%s/--", tmp);
  run_status(res, NULL, cp, 0);
  snprintf(pathvar, sizeof(pathvar), "PATH=%s:%s", tmp, getenv("PATH"));
  snprintf(mark, sizeof(mark), "%s/ran", tmp);
  run(res, env, after);
  refused(res, "env", "is env setting LD_PRELOAD");
  ck_assert_uint_eq(th_connections(denied), 0);
  run(res, env, cmd);
  refused(res, dashes, "is statically linked");
  ck_assert_msg(stat(mark, &st) != 0, "%s ran", dashes);
}
END_TEST
