/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

socklen_t tu_sockaddr(struct sockaddr_storage *ss, const char *addr,
                      unsigned port)
{
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

  memset(ss, 0, sizeof(*ss));
  if(inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    return sizeof(*in);
  }
  ck_assert_msg(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1,
                "bad test address %s", addr);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons((uint16_t)port);
  return sizeof(*in6);
}

curlfence_action tu_decide(const curlfence_policy *p, const char *addr,
                           unsigned port, curlfence_verdict *v)
{
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, addr, port);

  return curlfence_policy_decide(p, (struct sockaddr *)&ss, len, v);
}

curlfence_policy *tu_load(const char *text)
{
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_code rc;

  rc = curlfence_policy_load_string(&p, text, strlen(text), "test.rules",
                                    &err);
  ck_assert_msg(rc == CURLFENCE_OK, "rules did not load: %s", err.text);
  return p;
}

/* Line n of text, without its newline, in buf. */
static const char *line_text(char *buf, size_t size, const char *text,
                             unsigned n)
{
  size_t len;

  for(; n > 1 && *text; n--)
    text += strcspn(text, "\n") + (text[strcspn(text, "\n")] == '\n');
  len = strcspn(text, "\n");
  ck_assert_msg(len < size && *text, "no line %u of the rules", n);
  memcpy(buf, text, len);
  buf[len] = '\0';
  return buf;
}

void tu_want_each(const curlfence_policy *p, const char *text,
                  const tu_want *want, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    const tu_want *w = &want[i];
    char line[256];
    const char *rule = w->line ? line_text(line, sizeof(line), text, w->line)
                               : "default deny (built-in)";
    curlfence_verdict v;
    curlfence_action a = tu_decide(p, w->addr, w->port, &v);

    ck_assert_msg(a == w->action && !strcmp(v.rule, rule) &&
                  !strcmp(v.reason, w->reason) && v.line == w->line,
                  "%s port %u: %s by \"%s\" (%s, line %u), want %s by "
                  "\"%s\" (%s, line %u)", w->addr, w->port,
                  a == CURLFENCE_ALLOW ? "allow" : "deny", v.rule, v.reason,
                  v.line, w->action == CURLFENCE_ALLOW ? "allow" : "deny",
                  rule, w->reason, w->line);
    ck_assert_int_eq(v.action, a);
    ck_assert_int_eq(v.is_default, !strncmp(rule, "default ", 8));
    ck_assert_int_eq(tu_decide(p, w->addr, w->port, NULL), a);
    if(w->line)
      ck_assert_str_eq(v.file, "test.rules");
    else
      ck_assert_ptr_null(v.file);
  }
}

extern const tu_entry *__start_tu_tests[], *__stop_tu_tests[];

/* Suite by file, case by declaration, test by definition: the order the
 * files read in, whatever order the linker put the entries in. */
static int entry_order(const void *a, const void *b)
{
  const tu_entry *x = *(const tu_entry *const *)a;
  const tu_entry *y = *(const tu_entry *const *)b;
  const TTest *tx = *x->test, *ty = *y->test;
  int c = strcmp(tx->file, ty->file);

  if(c)
    return c;
  if(x->tcase->line != y->tcase->line)
    return x->tcase->line < y->tcase->line ? -1 : 1;
  return tx->line < ty->line ? -1 : tx->line > ty->line;
}

SRunner *tu_runner(void)
{
  size_t n = (size_t)(__stop_tu_tests - __start_tu_tests), i;
  const tu_entry **v = malloc(n * sizeof(*v));
  SRunner *sr = srunner_create(NULL);
  Suite *suite = NULL;
  TCase *tc = NULL;
  const tu_case *last = NULL;

  if(!v && n)
    abort();   /* no test could run: fail loudly, not with zero */
  memcpy(v, __start_tu_tests, n * sizeof(*v));
  qsort(v, n, sizeof(*v), entry_order);
  for(i = 0; i < n; i++) {
    const tu_case *c = v[i]->tcase;

    if(!last || c->suite != last->suite) {
      if(c->suite->init)
        c->suite->init();
      suite = suite_create(c->suite->name);
      srunner_add_suite(sr, suite);
    }
    if(c != last) {
      tc = tcase_create(c->name);
      if(c->setup || c->teardown)
        tcase_add_checked_fixture(tc, c->setup, c->teardown);
      if(c->timeout)
        tcase_set_timeout(tc, c->timeout);
      suite_add_tcase(suite, tc);
      last = c;
    }
    if(v[i]->loop)
      tcase_add_loop_test(tc, *v[i]->test, v[i]->lo, v[i]->hi);
    else
      tcase_add_test(tc, *v[i]->test);
  }
  free(v);
  return sr;
}

uint32_t tu_get32(const unsigned char *buf, size_t off)
{
  uint32_t v;

  memcpy(&v, buf + off, 4);
  return v;
}

uint64_t tu_get64(const unsigned char *buf, size_t off)
{
  uint64_t v;

  memcpy(&v, buf + off, 8);
  return v;
}

int tu_quick(void)
{
  const char *q = getenv("CURLFENCE_TEST_QUICK");
  return q && *q && strcmp(q, "0") != 0;
}

int tu_record(const curlfence_event *ev, void *userdata)
{
  tu_recorder *r = userdata;

  if(r->n < TU_MAX_EVENTS) {
    const char *host, *url;

    r->ev[r->n] = *ev;
    /* the name and URL live only during the callback, and only the event
     * handed to it has them */
    curlfence_event_name(ev, &host, &url);
    snprintf(r->host[r->n], sizeof(r->host[0]), "%s", host ? host : "");
    snprintf(r->url[r->n], sizeof(r->url[0]), "%s", url ? url : "");
    r->hostp[r->n] = host ? r->host[r->n] : NULL;
    r->urlp[r->n] = url ? r->url[r->n] : NULL;
  }
  r->n++;
  return 0;
}

static void *tftp_main(void *arg)
{
  tu_tftp *t = arg;
  struct sockaddr_storage from;
  socklen_t flen = sizeof(from);
  char buf[600];
  static const char data[] = "\0\3\0\1hello over udp\n";
  struct timeval tv = { 5, 0 };
  ssize_t n;

  setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  n = recvfrom(t->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
  if(n < 4 || buf[1] != 1)
    return NULL;
  atomic_fetch_add(&t->requests, 1);
  sendto(t->fd, data, sizeof(data) - 1, 0, (struct sockaddr *)&from, flen);
  n = recv(t->fd, buf, sizeof(buf), 0);
  if(n >= 4 && buf[1] == 4)
    atomic_fetch_add(&t->acked, 1);
  return NULL;
}

void tu_tftp_start(tu_tftp *t, const char *addr)
{
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, addr, 0);

  memset(t, 0, sizeof(*t));
  ck_assert_uint_gt(len, 0);
  t->fd = socket(ss.ss_family, SOCK_DGRAM, 0);
  ck_assert_int_ge(t->fd, 0);
  ck_assert_int_eq(bind(t->fd, (struct sockaddr *)&ss, len), 0);
  ck_assert_int_eq(getsockname(t->fd, (struct sockaddr *)&ss, &len), 0);
  t->port = ntohs(ss.ss_family == AF_INET
                      ? ((struct sockaddr_in *)&ss)->sin_port
                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
  ck_assert_int_eq(pthread_create(&t->thread, NULL, tftp_main, t), 0);
}

void tu_tftp_stop(tu_tftp *t)
{
  shutdown(t->fd, SHUT_RDWR);
  pthread_join(t->thread, NULL);
  close(t->fd);
}

void tu_loopback_hosts_name(char *name, size_t size)
{
  FILE *f = fopen("/etc/hosts", "r");
  char line[512];

  name[0] = '\0';
  while(f && !name[0] && fgets(line, sizeof(line), f)) {
    char *save = NULL, *addr = strtok_r(line, " \t\r\n", &save), *tok;

    if(!addr || addr[0] == '#' ||
       (strncmp(addr, "127.", 4) != 0 && strcmp(addr, "::1") != 0))
      continue;
    while((tok = strtok_r(NULL, " \t\r\n", &save)) && tok[0] != '#') {
      size_t n = strlen(tok);

      if(strcmp(tok, "localhost") != 0 && n < size &&
         (n < 10 || strcmp(tok + n - 10, ".localhost") != 0)) {
        memcpy(name, tok, n + 1);
        break;
      }
    }
  }
  if(f)
    fclose(f);
}

void tu_write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  ck_assert_msg(f != NULL, "cannot write %s", path);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
}
