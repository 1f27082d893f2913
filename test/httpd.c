/* SPDX-License-Identifier: MIT */
/* Tiny HTTP/1.1 test server; see httpd.h. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TH_BUF 8192        /* largest request head accepted */
#define TH_IDLE_MS 2000    /* idle keep-alive connections are closed */

struct th_conn {
  pthread_t tid;
  int fd;
  atomic_bool done;
  th_server *srv;
  struct th_conn *next;
};

struct th_server {
  int lfd;
  int wake[2];              /* wake[1] is closed by th_stop: POLLHUP on [0] */
  unsigned port;
  char *name;
  char *path;               /* AF_UNIX socket file to remove, or NULL */
  pthread_t acceptor;
  struct th_conn *conns;    /* only touched by the acceptor, then th_stop */
  atomic_uint requests;
  atomic_uint connections;  /* accepted, whatever was then sent */
  pthread_mutex_t lock;     /* guards target and root */
  char target[1024];
  char *root;               /* th_set_root(), or NULL */
};

/* Wait for fd: 1 readable (or hung up), 0 timeout, -1 stopping or error. */
static int wait_readable(th_server *s, int fd, int timeout_ms)
{
  for(;;) {
    struct pollfd p[2] = { { fd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
    int r = poll(p, 2, timeout_ms);
    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0 || p[1].revents)
      return -1;
    return r > 0;
  }
}

static bool send_all(int fd, const char *p, size_t len)
{
  while(len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

/* A file under the server's root, for GET and HEAD: 1 sent, 0 failed
 * to send, -1 no root set (the other routes answer). */
static int serve_file(th_server *s, int fd, const char *path, bool head_only,
                      bool keep)
{
  char file[2048], hdr[256], buf[8192];
  struct stat st;
  size_t plen = strcspn(path, "?");
  int f = -1, n, ok;
  ssize_t got;

  pthread_mutex_lock(&s->lock);
  n = s->root ? snprintf(file, sizeof(file), "%s%.*s", s->root, (int)plen,
                         path)
              : -1;
  pthread_mutex_unlock(&s->lock);
  if(n < 0)
    return -1;
  if((size_t)n < sizeof(file) && path[0] == '/' && !strstr(path, "..") &&
     stat(file, &st) == 0 && S_ISREG(st.st_mode))
    f = open(file, O_RDONLY | O_CLOEXEC);
  if(f < 0) {
    n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 404 Not Found\r\n"
                 "Content-Type: text/plain\r\nContent-Length: 10\r\n"
                 "Connection: %s\r\n\r\n%s", keep ? "keep-alive" : "close",
                 head_only ? "" : "not found\n");
    return send_all(fd, hdr, (size_t)n);
  }
  n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
               "Content-Type: application/octet-stream\r\n"
               "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
               (long long)st.st_size, keep ? "keep-alive" : "close");
  ok = send_all(fd, hdr, (size_t)n);
  while(ok && !head_only && (got = read(f, buf, sizeof(buf))) > 0)
    ok = send_all(fd, buf, (size_t)got);
  close(f);
  return ok;
}

/* Answer the NUL-terminated request head; sets *body to the Content-Length
 * to discard.  Returns whether the connection stays open. */
static bool answer(th_server *s, int fd, char *head, size_t *body)
{
  char resp[TH_BUF + 512], text[256];
  char *line, *target, *version, *path;
  bool keep, head_only, redirect;
  int n;

  *body = 0;
  line = strstr(head, "\r\n");
  *line = '\0';
  target = strchr(head, ' ');
  version = target ? strchr(target + 1, ' ') : NULL;
  if(!version)
    return false;
  *target++ = '\0';
  *version++ = '\0';
  keep = strcmp(version, "HTTP/1.1") == 0;
  for(line += 2; *line; line = strstr(line, "\r\n") + 2) {
    if(!strncasecmp(line, "Connection:", 11)) {
      if(strcasestr(line, "close"))
        keep = false;
      else if(strcasestr(line, "keep-alive"))
        keep = true;
    }
    else if(!strncasecmp(line, "Content-Length:", 15))
      *body = (size_t)strtoull(line + 15, NULL, 10);
    else if(!strncasecmp(line, "Transfer-Encoding:", 18))
      keep = false;   /* chunked bodies are not supported */
  }

  pthread_mutex_lock(&s->lock);
  snprintf(s->target, sizeof(s->target), "%s", target);
  pthread_mutex_unlock(&s->lock);
  atomic_fetch_add(&s->requests, 1);

  path = target;
  if(!strncasecmp(path, "http://", 7)) {
    path = strchr(path + 7, '/');
    if(!path)
      path = "/";
  }
  head_only = strcmp(head, "HEAD") == 0;
  if(head_only || strcmp(head, "GET") == 0) {
    int served = serve_file(s, fd, path, head_only, keep);

    if(served >= 0)
      return served && keep;
  }
  redirect = (head_only || strcmp(head, "GET") == 0) &&
             !strncmp(path, "/redirect?to=", 13);
  if(redirect)
    snprintf(text, sizeof(text), "redirect\n");
  else
    snprintf(text, sizeof(text), "hello from %s\n", s->name);
  n = snprintf(resp, sizeof(resp),
               "HTTP/1.1 %s\r\n%s%s%s"
               "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
               "Connection: %s\r\n\r\n%s",
               redirect ? "302 Found" : "200 OK",
               redirect ? "Location: " : "", redirect ? path + 13 : "",
               redirect ? "\r\n" : "", strlen(text),
               keep ? "keep-alive" : "close", head_only ? "" : text);
  if(n < 0 || (size_t)n >= sizeof(resp))
    return false;
  return send_all(fd, resp, (size_t)n) && keep;
}

static void *conn_main(void *arg)
{
  struct th_conn *c = arg;
  char buf[TH_BUF];
  size_t len = 0, skip = 0;

  for(;;) {
    size_t drop = skip < len ? skip : len;
    char *end;

    memmove(buf, buf + drop, len - drop);   /* discard request bodies */
    len -= drop;
    skip -= drop;
    end = skip ? NULL : memmem(buf, len, "\r\n\r\n", 4);
    if(!end) {
      ssize_t n;
      if(len == sizeof(buf) ||
         wait_readable(c->srv, c->fd, TH_IDLE_MS) <= 0)
        break;
      n = recv(c->fd, buf + len, sizeof(buf) - len, 0);
      if(n < 0 && errno == EINTR)
        continue;
      if(n <= 0)
        break;
      len += (size_t)n;
      continue;
    }
    end[2] = '\0';   /* keep the last header line's CRLF */
    if(!answer(c->srv, c->fd, buf, &skip))
      break;
    len -= (size_t)(end + 4 - buf);
    memmove(buf, end + 4, len);
  }
  close(c->fd);
  atomic_store(&c->done, true);
  return NULL;
}

/* Join finished connection threads, or all of them. */
static void reap(th_server *s, bool all)
{
  struct th_conn **pp = &s->conns;

  while(*pp) {
    struct th_conn *c = *pp;
    if(all || atomic_load(&c->done)) {
      pthread_join(c->tid, NULL);
      *pp = c->next;
      free(c);
    }
    else
      pp = &c->next;
  }
}

static void *accept_main(void *arg)
{
  th_server *s = arg;

  for(;;) {
    struct th_conn *c;
    int fd, rc, one = 1;

    reap(s, false);
    rc = wait_readable(s, s->lfd, 250);
    if(rc < 0)
      break;
    if(rc == 0)
      continue;
    fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if(fd < 0)
      continue;
    atomic_fetch_add(&s->connections, 1);
    if(s->port)
      (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = calloc(1, sizeof(*c));
    if(!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->srv = s;
    atomic_init(&c->done, false);
    if(pthread_create(&c->tid, NULL, conn_main, c)) {
      close(fd);
      free(c);
      continue;
    }
    c->next = s->conns;
    s->conns = c;
  }
  return NULL;
}

/* Take ownership of a bound socket, listen and start the acceptor. */
static th_server *start(int fd, unsigned port, const char *path,
                        const char *name)
{
  th_server *s = calloc(1, sizeof(*s));

  if(!s || listen(fd, 64) < 0)
    goto fail;
  s->lfd = fd;
  s->port = port;
  s->name = strdup(name ? name : "httpd");
  s->path = path ? strdup(path) : NULL;
  if(!s->name || (path && !s->path))
    goto fail;
  atomic_init(&s->requests, 0);
  atomic_init(&s->connections, 0);
  if(pipe2(s->wake, O_CLOEXEC) < 0)
    goto fail;
  if(pthread_mutex_init(&s->lock, NULL)) {
    close(s->wake[0]);
    close(s->wake[1]);
    goto fail;
  }
  if(pthread_create(&s->acceptor, NULL, accept_main, s)) {
    pthread_mutex_destroy(&s->lock);
    close(s->wake[0]);
    close(s->wake[1]);
    goto fail;
  }
  return s;
fail:
  close(fd);
  if(path)
    unlink(path);
  if(s) {
    free(s->name);
    free(s->path);
    free(s);
  }
  return NULL;
}

th_server *th_start(const char *addr, const char *name)
{
  return th_start_port(addr, 0, name);
}

int th_start_pair(const char *a, const char *name_a, th_server **sa,
                  const char *b, const char *name_b, th_server **sb)
{
  int tries;

  for(tries = 0; tries < 50; tries++) {
    *sa = th_start(a, name_a);
    if(!*sa)
      break;
    *sb = th_start_port(b, th_port(*sa), name_b);
    if(*sb)
      return 0;
    th_stop(*sa);
  }
  *sa = *sb = NULL;
  return -1;
}

th_server *th_start_port(const char *addr, unsigned port, const char *name)
{
  struct sockaddr_storage ss;
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  socklen_t len;
  int fd, one = 1;

  memset(&ss, 0, sizeof(ss));
  if(!addr)
    return NULL;
  if(inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
    if((ntohl(in->sin_addr.s_addr) >> 24) != 127)
      return NULL;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    len = sizeof(*in);
  }
  else if(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
    if(!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
      return NULL;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof(*in6);
  }
  else
    return NULL;
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if(fd < 0)
    return NULL;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if(bind(fd, (struct sockaddr *)&ss, len) < 0 ||
     getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
    close(fd);
    return NULL;
  }
  return start(fd, ntohs(ss.ss_family == AF_INET ? in->sin_port
                                                 : in6->sin6_port),
               NULL, name);
}

th_server *th_start_unix(const char *path, const char *name)
{
  struct sockaddr_un un;
  int fd;

  memset(&un, 0, sizeof(un));
  if(!path || strlen(path) >= sizeof(un.sun_path))
    return NULL;
  un.sun_family = AF_UNIX;
  memcpy(un.sun_path, path, strlen(path));
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if(fd < 0)
    return NULL;
  if(bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
    close(fd);
    return NULL;
  }
  return start(fd, 0, path, name);
}

void th_set_root(th_server *s, const char *dir)
{
  char *copy = strdup(dir);

  pthread_mutex_lock(&s->lock);
  free(s->root);
  s->root = copy;
  pthread_mutex_unlock(&s->lock);
}

unsigned th_port(const th_server *s)
{
  return s->port;
}

unsigned th_connections(const th_server *s)
{
  return atomic_load((atomic_uint *)&s->connections);
}

unsigned th_requests(const th_server *s)
{
  /* casting away const: older clang rejects atomic_load on const objects */
  return atomic_load((atomic_uint *)&s->requests);
}

void th_last_target(th_server *s, char *buf, size_t size)
{
  if(!size)
    return;
  pthread_mutex_lock(&s->lock);
  snprintf(buf, size, "%s", s->target);
  pthread_mutex_unlock(&s->lock);
}

void th_stop(th_server *s)
{
  if(!s)
    return;
  close(s->wake[1]);   /* every poller now sees POLLHUP on wake[0] */
  pthread_join(s->acceptor, NULL);
  reap(s, true);
  close(s->lfd);
  close(s->wake[0]);
  if(s->path)
    unlink(s->path);
  pthread_mutex_destroy(&s->lock);
  free(s->name);
  free(s->path);
  free(s->root);
  free(s);
}
