/* SPDX-License-Identifier: MIT */
/* The fixture of the preload suites (preload_fixture.h). */
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

extern char **environ;

th_server *allowed, *denied;
unsigned port;
char tmp[PATH_MAX];       /* scratch directory of the test */
char rules[PATH_MAX + 16];
char preload[PATH_MAX + 32];
char tool[PATH_MAX + 32];    /* this build's curlfence */
result *res;

void read_file(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n = 0;

  if(f) {
    n = fread(buf, 1, size - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
}

/* The environment for a child: ours without proxies, preload settings or
 * an LD_PRELOAD of our own, plus extra ("NAME=value", NULL-terminated). */
static char **child_env(const char *const *extra)
{
  static const char *const drop[] = {
    "http_proxy=", "HTTP_PROXY=", "https_proxy=", "HTTPS_PROXY=",
    "all_proxy=", "ALL_PROXY=", "no_proxy=", "NO_PROXY=", "CURLFENCE_",
    "LD_PRELOAD=", NULL
  };
  size_t n = 0, i, k;
  char **env;

  while(environ[n])
    n++;
  for(k = 0; extra && extra[k]; k++)
    ;
  env = calloc(n + k + 2, sizeof(*env));
  ck_assert_ptr_nonnull(env);
  for(n = 0, i = 0; environ[i]; i++) {
    size_t d;

    for(d = 0; drop[d] && strncmp(environ[i], drop[d], strlen(drop[d])); d++)
      ;
    /* extra replaces a variable of the same name */
    for(k = 0; !drop[d] && extra && extra[k]; k++)
      if(!strncmp(environ[i], extra[k], strcspn(extra[k], "=") + 1))
        break;
    if(!drop[d] && !(extra && extra[k]))
      env[n++] = environ[i];
  }
  for(k = 0; extra && extra[k]; k++)
    env[n++] = (char *)extra[k];
  /* The preload library of this build (the sanitizer builds have their
   * own directory). */
  env[n] = malloc(strlen(preload) + 32);
  ck_assert_ptr_nonnull(env[n]);
  sprintf(env[n], "CURLFENCE_PRELOAD=%s", preload);
  return env;
}

/* Run argv (argv[0] looked up in PATH) with the extra environment,
 * stdin from /dev/null, and collect its exit status and output. */
void run(result *r, const char *const *extra, const char *const *argv)
{
  char out[PATH_MAX + 16], err[PATH_MAX + 16];
  posix_spawn_file_actions_t fa;
  char **env = child_env(extra);
  pid_t pid;
  int st, rc;
  size_t n;

  snprintf(out, sizeof(out), "%s/stdout", tmp);
  snprintf(err, sizeof(err), "%s/stderr", tmp);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
  posix_spawn_file_actions_destroy(&fa);
  /* the last entry is child_env's own (extra may hold another
   * CURLFENCE_PRELOAD, which is the one used) */
  for(n = 0; env[n]; n++)
    ;
  free(env[n - 1]);
  free(env);
  ck_assert_msg(rc == 0, "cannot start %s", argv[0]);
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  read_file(out, r->out, sizeof(r->out));
  read_file(err, r->err, sizeof(r->err));
}

/* A program under `curlfence run` that must exist: 127 is "not found". */
void guarded(result *r, const char *const *extra,
                    const char *const *argv)
{
  run(r, extra, argv);
  ck_assert_msg(r->status != 127 && r->status != 126,
                "could not run it (tools/install-deps installs curl, git, "
                "nodejs, openssh-client, php-cli, php-curl, "
                "python3-pycurl): " SAYS(r));
}

char *url(const char *host, const char *path)
{
  static char buf[8][256];
  static int i;
  char *u = buf[i++ % 8];

  snprintf(u, 256, "http://%s:%u%s", host, port, path);
  return u;
}

void setup(void)
{
  char self[PATH_MAX], *slash;
  ssize_t n;

  snprintf(tmp, sizeof(tmp), "/tmp/curlfence-preload-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  snprintf(rules, sizeof(rules), "%s/test.rules", tmp);
  tu_write_text(rules, "default deny\nallow 127.0.0.2\ndeny 127.0.0.3\n");
  ck_assert_int_eq(th_start_pair("127.0.0.2", "allowed", &allowed,
                                 "127.0.0.3", "denied", &denied), 0);
  port = th_port(allowed);
  /* BUILD/test/check_curlfence -> BUILD/libcurlfence-preload.so */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ck_assert_int_gt(n, 0);
  self[n] = '\0';
  slash = strrchr(self, '/');
  *slash = '\0';
  snprintf(preload, sizeof(preload), "%s/../libcurlfence-preload.so", self);
  snprintf(tool, sizeof(tool), "%s/../tools/curlfence", self);
  ck_assert_msg(access(preload, R_OK) == 0, "no %s (make)", preload);
  res = calloc(1, sizeof(*res));
  ck_assert_ptr_nonnull(res);
}

void teardown(void)
{
  const char *argv[] = { "rm", "-rf", tmp, NULL };

  th_stop(allowed);
  th_stop(denied);
  allowed = denied = NULL;
  if(res)
    run(res, NULL, argv);
  free(res);
  res = NULL;
}

/* BUILD/test/NAME, next to this program. */
void sibling(char *buf, size_t size, const char *name)
{
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

  ck_assert_int_gt(n, 0);
  self[n] = '\0';
  *strrchr(self, '/') = '\0';
  snprintf(buf, size, "%s/%s", self, name);
}

void run_status(result *r, const char *const *extra, const char *const *argv,
                int status)
{
  run(r, extra, argv);
  ck_assert_msg(r->status == status, SAYS(r));
}

void guarded_status(result *r, const char *const *extra,
                    const char *const *argv, int status)
{
  guarded(r, extra, argv);
  ck_assert_msg(r->status == status, SAYS(r));
}

const char *expand(char *buf, size_t size, const char *s, const char *keys,
                   const char *const *values)
{
  size_t n = 0;

  for(; *s && n < size - 1; s++) {
    const char *key = s[0] == '@' && s[1] ? strchr(keys, s[1]) : NULL;

    if(key) {
      n += (size_t)snprintf(buf + n, size - n, "%s", values[key - keys]);
      s++;
    }
    else
      buf[n++] = *s;
  }
  ck_assert_msg(n < size - 1, "a row's text is too long: %.40s", buf);
  buf[n] = '\0';
  return buf;
}

void requests_are(const char *row, const char *which, th_server *s,
                  unsigned want)
{
  if(want)
    ck_assert_msg(th_requests(s) == want - 1, "%s: the %s server saw %u "
                  "requests, not %u", row, which, th_requests(s), want - 1);
}

int namespace_dir(char *dir, size_t size, const char *name, const char *test)
{
  if(geteuid() != 0) {
    fprintf(stderr, "%s: skipped, not root\n", test);
    return 0;
  }
  snprintf(dir, size, "%s/%s", tmp, name);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  return 1;
}
