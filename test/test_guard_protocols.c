/* SPDX-License-Identifier: MIT */
/*
 * The guard on protocols whose addresses come from elsewhere than the URL:
 * TFTP over UDP, FTP's passive address, an open callback that rewrites
 * the address, and the unspecified address (guard_fixture.h).
 */
#include "guard_fixture.h"
#include "guard/guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

TU_SUITE("guard_protocols", NULL);
TU_CASE(tc_curl, "curl", 60, guard_setup, guard_teardown);

/* A fetch with TFTP allowed from a fresh TFTP server on addr, which
 * the rules allow: it gets the server's data. */
static void tftp_allowed(tu_tftp *t, const char *addr, body *b)
{
  int v6 = strchr(addr, ':') != NULL;
  char url[128];

  b->len = 0;
  tu_tftp_start(t, addr);
  snprintf(url, sizeof(url), "tftp://%s%s%s:%u/file", v6 ? "[" : "", addr,
           v6 ? "]" : "", t->port);
  ck_assert_int_eq(fetch_flags(url, b, CURLFENCE_ATTACH_ALLOW_TFTP),
                   CURLE_OK);
  ck_assert_str_eq(b->data, "hello over udp\n");
  tu_tftp_stop(t);
}

/* UDP (TFTP) sockets are refused unless the attach flag lets the policy
 * decide them; then they are checked like TCP ones, and an allowed UDP
 * transfer is not stopped by the pre-request check (libcurl reports no
 * peer for it). */
TU_TEST(tc_curl, test_udp_tftp)
{
  char url[128];
  body b = { "", 0 };
  tu_tftp t;

  tu_tftp_start(&t, "127.0.0.2");
  snprintf(url, sizeof(url), "tftp://127.0.0.2:%u/file", t.port);
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 1);
  ck_assert_int_eq(rec.ev[0].socktype, SOCK_DGRAM);
  ck_assert_int_eq(rec.ev[0].action, CURLFENCE_DENY);
  ck_assert_str_eq(rec.ev[0].addr, "127.0.0.2");
  ck_assert_str_eq(rec.ev[0].verdict.reason, "udp");
  ck_assert_ptr_null(rec.ev[0].verdict.file);
  ck_assert_int_eq(atomic_load(&t.requests), 0);

  /* Report-only lets it through, reported. */
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_REPORT_ONLY),
                   CURLE_OK);
  ck_assert_str_eq(b.data, "hello over udp\n");
  tu_tftp_stop(&t);
  ck_assert_int_eq(rec.n, 2);
  ck_assert_str_eq(rec.ev[1].verdict.reason, "udp");
  ck_assert_int_eq(rec.ev[1].enforced, 0);

  tu_tftp_start(&t, "127.0.0.3");
  snprintf(url, sizeof(url), "tftp://127.0.0.3:%u/file", t.port);
  ck_assert_int_eq(fetch_flags(url, &b, CURLFENCE_ATTACH_ALLOW_TFTP),
                   CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(rec.n, 3);
  ck_assert_int_eq(rec.ev[2].socktype, SOCK_DGRAM);
  ck_assert_str_eq(rec.ev[2].verdict.rule, "deny 127.0.0.3");
  ck_assert_int_eq(atomic_load(&t.requests), 0);
  tu_tftp_stop(&t);

  tftp_allowed(&t, "127.0.0.2", &b);
  ck_assert_int_eq(atomic_load(&t.requests), 1);
  /* IPv6: the socket's filter accepts the checked host's answers. */
  tftp_allowed(&t, "::1", &b);
  ck_assert_int_eq(rec.n, 3);
}
END_TEST

/* A TFTP server that takes a write request on one address and answers
 * from another, as RFC 1350 servers answer from a new port: the client
 * then sends the data to where the answer came from. */
typedef struct tftp_split {
  int in, out;              /* request socket; answering socket */
  unsigned in_port;
  pthread_t thread;
  atomic_int requests, data; /* packets received on in, and on out */
} tftp_split;

static int udp_bind(const char *addr, unsigned *port)
{
  struct sockaddr_in in;
  socklen_t len = sizeof(in);
  struct timeval tv = { 3, 0 };
  int fd = socket(AF_INET, SOCK_DGRAM, 0);

  ck_assert_int_ge(fd, 0);
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  ck_assert_int_eq(inet_pton(AF_INET, addr, &in.sin_addr), 1);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  *port = ntohs(in.sin_port);
  return fd;
}

static void *tftp_split_main(void *arg)
{
  tftp_split *t = arg;
  struct sockaddr_storage from;
  socklen_t flen = sizeof(from);
  static const char ack0[] = "\0\4\0\0", ack1[] = "\0\4\0\1";
  char buf[600];
  ssize_t n;

  n = recvfrom(t->in, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
  if(n < 4 || buf[1] != 2)
    return NULL;
  atomic_fetch_add(&t->requests, 1);
  sendto(t->out, ack0, 4, 0, (struct sockaddr *)&from, flen);
  n = recv(t->out, buf, sizeof(buf), 0);
  if(n >= 4 && buf[1] == 3) {
    atomic_fetch_add(&t->data, 1);
    sendto(t->out, ack1, 4, 0, (struct sockaddr *)&from, flen);
  }
  return NULL;
}

static size_t read_upload(char *p, size_t size, size_t n, void *userdata)
{
  int *sent = userdata;

  (void)size;
  (void)n;
  if(*sent)
    return 0;
  *sent = 1;
  memcpy(p, "secret\n", 7);
  return 7;
}

/* A TFTP upload to a server that takes the request on 127.0.0.1 and
 * answers from out_addr (another port), guarded by "allow 127.0.0.1 port
 * <request port>" with the given attach flags.  Returns libcurl's result;
 * *requests and *data say what reached the two server sockets. */
static CURLcode split_upload(const char *out_addr, unsigned flags,
                             int *requests, int *data)
{
  char url[128], rules[128];
  curlfence_policy *p;
  curlfence_guard *g;
  tftp_split t;
  unsigned out_port;
  int sent = 0;
  CURLcode rc;
  CURL *h;

  memset(&t, 0, sizeof(t));
  t.in = udp_bind("127.0.0.1", &t.in_port);
  t.out = udp_bind(out_addr, &out_port);
  snprintf(rules, sizeof(rules),
           "default deny\nallow 127.0.0.1 port %u\ndeny 127.0.0.3\n",
           t.in_port);
  p = tu_load(rules);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  ck_assert_int_eq(pthread_create(&t.thread, NULL, tftp_split_main, &t), 0);

  snprintf(url, sizeof(url), "tftp://127.0.0.1:%u/upload", t.in_port);
  h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &sent);
  curl_easy_setopt(h, CURLOPT_INFILESIZE, 7L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 2L);
  ck_assert_int_eq(curlfence_attach(h, g, flags), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);

  shutdown(t.in, SHUT_RDWR);
  shutdown(t.out, SHUT_RDWR);
  pthread_join(t.thread, NULL);
  close(t.in);
  close(t.out);
  *requests = atomic_load(&t.requests);
  *data = atomic_load(&t.data);
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
  return rc;
}

/* The answer to a TFTP request comes from an address the guard never saw.
 * By default nothing is sent at all; with the attach flag the socket only
 * accepts answers from the host it was checked for, on any port. */
TU_TEST(tc_curl, test_tftp_reply_address)
{
  int requests, data;

  ck_assert_int_eq(split_upload("127.0.0.3", 0, &requests, &data),
                   CURLE_COULDNT_CONNECT);
  ck_assert_int_eq(requests, 0);
  ck_assert_int_eq(data, 0);

  ck_assert_int_ne(split_upload("127.0.0.3", CURLFENCE_ATTACH_ALLOW_TFTP,
                                &requests, &data),
                   CURLE_OK);
  ck_assert_int_eq(requests, 1);      /* the checked address */
  ck_assert_int_eq(data, 0);          /* never the one it answered from */

  /* An RFC 1350 server: same host, new port. */
  ck_assert_int_eq(split_upload("127.0.0.1", CURLFENCE_ATTACH_ALLOW_TFTP,
                                &requests, &data),
                   CURLE_OK);
  ck_assert_int_eq(requests, 1);
  ck_assert_int_eq(data, 1);
}
END_TEST

/* An application open callback that sends the connection elsewhere:
 * libcurl connects to whatever address the callback leaves in its
 * argument, so it rewrites 127.0.0.2 to 127.0.0.3 (both loopback). */
static curl_socket_t rewrite_open(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *a)
{
  struct sockaddr_in *in = (struct sockaddr_in *)&a->addr;

  (void)clientp;
  (void)purpose;
  if(a->family == AF_INET && in->sin_addr.s_addr == htonl(0x7f000002))
    in->sin_addr.s_addr = htonl(0x7f000003);
  return socket(a->family, a->socktype, a->protocol);
}

/* The address a chained open callback leaves is checked again: the
 * denied server sees no connection, and the audit names it. */
TU_TEST(tc_curl, test_chained_open_rewrites_address)
{
  char url[128];
  body b = { "", 0 };

  ck_assert_int_eq(curlfence_guard_set_chain(guard, rewrite_open, NULL,
                                             NULL, NULL), CURLFENCE_OK);
  url_for(url, sizeof(url), "127.0.0.2", allowed_srv, "/");
  ck_assert_int_eq(fetch(url, &b), CURLE_COULDNT_CONNECT);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_uint_eq(th_connections(denied_srv), 0);
  ck_assert_uint_eq(th_connections(allowed_srv), 0);
  assert_one_denial(CURLFENCE_CHECK_OPEN);
}
END_TEST

/* A hostile FTP control server on 127.0.0.2: one session, whose PASV
 * reply names pasv_host on pasv_port (EPSV is refused so that libcurl asks
 * for PASV).  It never connects anywhere. */
typedef struct ftp_stub {
  int fd;
  unsigned port;
  const char *pasv_host;        /* "127,0,0,3" */
  unsigned pasv_port;
  pthread_t thread;
} ftp_stub;

static void *ftp_main(void *arg)
{
  ftp_stub *f = arg;
  struct timeval tv = { 5, 0 };
  char line[512], reply[128];
  size_t n = 0;
  int c = accept(f->fd, NULL, NULL);

  if(c < 0)
    return NULL;
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if(write(c, "220 hi\r\n", 8) < 0)
    goto done;
  for(;;) {
    ssize_t k = read(c, line + n, 1);
    const char *r = "500 no\r\n";

    if(k <= 0)
      break;
    if(line[n] != '\n' && n < sizeof(line) - 2) {
      n++;
      continue;
    }
    line[n] = '\0';
    n = 0;
    if(!strncmp(line, "USER", 4))
      r = "331 pw\r\n";
    else if(!strncmp(line, "PASS", 4))
      r = "230 in\r\n";
    else if(!strncmp(line, "PWD", 3))
      r = "257 \"/\"\r\n";
    else if(!strncmp(line, "TYPE", 4))
      r = "200 ok\r\n";
    else if(!strncmp(line, "PASV", 4)) {
      snprintf(reply, sizeof(reply),
               "227 Entering Passive Mode (%s,%u,%u)\r\n", f->pasv_host,
               f->pasv_port >> 8, f->pasv_port & 255);
      r = reply;
    }
    else if(!strncmp(line, "QUIT", 4)) {
      if(write(c, "221 bye\r\n", 9) < 0)
        break;
      break;
    }
    if(write(c, r, strlen(r)) < 0)
      break;
  }
done:
  close(c);
  return NULL;
}

static void ftp_start(ftp_stub *f, const char *pasv_host, unsigned pasv_port)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7f000002);
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(f->fd, 0);
  ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(listen(f->fd, 1), 0);
  ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
  f->port = ntohs(a.sin_port);
  f->pasv_host = pasv_host;
  f->pasv_port = pasv_port;
  ck_assert_int_eq(pthread_create(&f->thread, NULL, ftp_main, f), 0);
}

static CURLcode ftp_fetch(const ftp_stub *f)
{
  char url[128];
  body b = { "", 0 };
  CURL *h;
  CURLcode rc;

  snprintf(url, sizeof(url), "ftp://127.0.0.2:%u/f.txt", f->port);
  h = new_handle(url, &b);
  /* Use the address in the PASV reply, as an FTP server behind NAT needs
   * (libcurl's default ignores it and keeps the control host). */
  curl_easy_setopt(h, CURLOPT_FTP_SKIP_PASV_IP, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  ck_assert_int_eq(curlfence_attach(h, guard, 0), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}

static void ftp_stop(ftp_stub *f)
{
  pthread_join(f->thread, NULL);
  close(f->fd);
}

/* The FTP data connection goes where a hostile server's PASV reply says,
 * and is checked like any other: to an allowed host it is opened (the
 * allowed server sees it), to the denied one it is refused and the denied
 * server sees nothing. */
TU_TEST(tc_curl, test_ftp_pasv_address)
{
  ftp_stub f;
  int i;

  ftp_start(&f, "127,0,0,2", th_port(allowed_srv));
  ck_assert_int_ne(ftp_fetch(&f), CURLE_OK);
  ftp_stop(&f);
  /* The server accepts in its own time. */
  for(i = 0; i < 200 && th_connections(allowed_srv) == 0; i++)
    usleep(10000);
  ck_assert_uint_eq(th_connections(allowed_srv), 1);
  ck_assert_int_eq(rec.n, 0);

  ftp_start(&f, "127,0,0,3", th_port(denied_srv));
  ck_assert_int_ne(ftp_fetch(&f), CURLE_OK);
  ftp_stop(&f);
  ck_assert_uint_eq(th_connections(denied_srv), 0);
  assert_one_denial(CURLFENCE_CHECK_OPEN);
}
END_TEST

/* Records the address libcurl would connect to and connects nowhere. */
static curl_socket_t record_no_connect(void *clientp, curlsocktype purpose,
                                       struct curl_sockaddr *a)
{
  int *n = clientp;

  (void)purpose;
  (void)a;
  (*n)++;
  return CURL_SOCKET_BAD;
}

/* The unspecified address reaches this host's loopback address: a policy
 * that denies loopback but not 0.0.0.0/8 or :: must still deny it, with
 * the verdict curlfence_policy_decide() gives: the loopback rule, reason
 * "loopback", and the audit line says which address decided ("as").  The
 * chained callback connects nowhere, so a failure here opens nothing. */
TU_TEST(tc_curl, test_unspecified_is_loopback)
{
  static const char *const urls[] = { "http://0.0.0.0:9/",
                                      "http://[::]:9/",
                                      "http://[::ffff:0.0.0.0]:9/" };
  static const char *const addrs[] = { "0.0.0.0", "::", "0.0.0.0" };
  static const char *const rule[] = { "deny 127.0.0.0/8", "deny ::1",
                                      "deny 127.0.0.0/8" };
  static const char *const as[] = { "\"as\":\"127.0.0.1\"",
                                    "\"as\":\"::1\"",
                                    "\"as\":\"127.0.0.1\"" };
  curlfence_policy *p = tu_load("default allow\ndeny 127.0.0.0/8\n"
                                "deny ::1\n");
  curlfence_guard *g;
  tu_recorder r;
  body b = { "", 0 };
  int reached = 0;
  size_t i;

  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_guard_set_audit(g, tu_record, &r, CURLFENCE_AUDIT_DENIED);
  curlfence_guard_set_chain(g, record_no_connect, &reached, NULL, NULL);
  for(i = 0; i < 3; i++) {
    CURL *h = new_handle(urls[i], &b);

    ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(h);
    ck_assert_msg(reached == 0, "%s went to the socket", urls[i]);
    ck_assert_int_eq(r.n, (int)i + 1);
    ck_assert_int_eq(r.ev[i].action, CURLFENCE_DENY);
    ck_assert_str_eq(r.ev[i].addr, addrs[i]);
    ck_assert_str_eq(r.ev[i].verdict.rule, rule[i]);
    ck_assert_str_eq(r.ev[i].verdict.reason, "loopback");
    ck_assert_uint_eq(r.ev[i].verdict.line, i == 1 ? 3 : 2);
    {
      char json[1024];
      struct sockaddr_storage ss;
      curlfence_verdict v;

      ck_assert_uint_lt(curlfence_event_json(&r.ev[i], json, sizeof(json)),
                        sizeof(json));
      ck_assert_msg(strstr(json, as[i]) != NULL, "%s", json);
      /* what the guard decided is what the policy answers */
      ck_assert_int_eq(curlfence_policy_decide(
                           p, (struct sockaddr *)&ss,
                           tu_sockaddr(&ss, addrs[i], 9), &v),
                       CURLFENCE_DENY);
      ck_assert_str_eq(v.rule, rule[i]);
      ck_assert_str_eq(v.reason, "loopback");
    }
  }
  /* The same policy still allows other addresses. */
  {
    CURL *h = new_handle("http://192.0.2.1:9/", &b);

    ck_assert_int_eq(curlfence_attach(h, g, 0), CURLFENCE_OK);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(h);
    ck_assert_int_eq(reached, 1);
  }
  curlfence_guard_free(g);
  curlfence_policy_unref(p);
}
END_TEST
