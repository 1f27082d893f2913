/* SPDX-License-Identifier: MIT */
/*
 * The socket calls a program makes itself, under the preload library
 * (test/test_preload.c), with 127.0.0.2 allowed and 127.0.0.3 denied.
 *
 *   preload-sockets calls
 *     Each call on its own line, with its outcome: connect() (TCP and UDP)
 *     and __connect() to a listener on the denied address, which must
 *     then have nothing to accept; sendto(), sendmsg() and sendmmsg() of
 *     datagrams to receivers on both addresses, which must get exactly
 *     the allowed ones.  Nothing depends on timing: a loopback TCP connect
 *     completes inside connect(), so a connection that got through is
 *     waiting to be accepted; the allowed datagrams are waited for (a
 *     missing one fails after 10 s).  The denied receiver is only looked
 *     at, which can miss a datagram that got through but never fails a
 *     run that was right; the calls' return values are the main check.
 *
 *   preload-sockets curl URL PORT
 *     Fetches URL (on the allowed address) with libcurl, and before
 *     libcurl connects, has its socket callback connect that same socket
 *     to 127.0.0.3:PORT itself: a descriptor libcurl's check allowed for
 *     one address must not take the program to another.
 */
#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* glibc's exported second name, which the preload covers too. */
extern int __connect(int fd, const struct sockaddr *sa, socklen_t len);

static const char *outcome(long rc)
{
  static char buf[32];

  if(rc >= 0) {
    snprintf(buf, sizeof(buf), "%ld", rc);
    return buf;
  }
  return errno == EPERM ? "EPERM" : errno == EACCES ? "EACCES" : "error";
}

static struct sockaddr_in at(const char *ip, unsigned short port)
{
  struct sockaddr_in a;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

/* A non-blocking socket of type bound to ip, port 0; its address in *a. */
static int bound(int type, const char *ip, struct sockaddr_in *a)
{
  socklen_t n = sizeof(*a);
  int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);

  *a = at(ip, 0);
  if(fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) ||
     getsockname(fd, (struct sockaddr *)a, &n) ||
     (type == SOCK_STREAM && listen(fd, 8))) {
    perror("bound");
    exit(2);
  }
  return fd;
}

/* The next datagram on fd, waited for when wait is set, or "none". */
static const char *waiting(int fd, int wait)
{
  static char buf[64];
  struct timeval tv = { 10, 0 };
  ssize_t n;

  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  n = recv(fd, buf, sizeof(buf) - 1, wait ? 0 : MSG_DONTWAIT);
  if(n < 0)
    return "none";
  buf[n] = '\0';
  return buf;
}

static int calls(void)
{
  struct sockaddr_in lis, ok, no;
  int l = bound(SOCK_STREAM, "127.0.0.3", &lis);
  int rok = bound(SOCK_DGRAM, "127.0.0.2", &ok);
  int rno = bound(SOCK_DGRAM, "127.0.0.3", &no);
  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  int tcp2 = socket(AF_INET, SOCK_STREAM, 0);
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int cu = socket(AF_INET, SOCK_DGRAM, 0);
  struct mmsghdr mm[3];
  struct iovec iov[3];
  struct msghdr m;
  char *text[3] = { "mm-one", "mm-two", "mm-three" };
  int i, a;

  printf("connect tcp %s\n",
         outcome(connect(tcp, (struct sockaddr *)&lis, sizeof(lis))));
  printf("__connect tcp %s\n",
         outcome(__connect(tcp2, (struct sockaddr *)&lis, sizeof(lis))));
  a = accept(l, NULL, NULL);
  printf("listener accepted %s\n", a >= 0 ? "one" : "none");
  printf("connect udp %s\n",
         outcome(connect(cu, (struct sockaddr *)&no, sizeof(no))));

  printf("sendto denied %s\n",
         outcome(sendto(udp, "to-no", 5, 0, (struct sockaddr *)&no,
                        sizeof(no))));
  printf("sendto allowed %s\n",
         outcome(sendto(udp, "to-ok", 5, 0, (struct sockaddr *)&ok,
                        sizeof(ok))));

  memset(&m, 0, sizeof(m));
  iov[0].iov_base = "msg-no";
  iov[0].iov_len = 6;
  m.msg_iov = iov;
  m.msg_iovlen = 1;
  m.msg_name = &no;
  m.msg_namelen = sizeof(no);
  printf("sendmsg denied %s\n", outcome(sendmsg(udp, &m, 0)));

  /* allowed, denied, allowed: the first goes, the call stops at the
   * second */
  memset(mm, 0, sizeof(mm));
  for(i = 0; i < 3; i++) {
    iov[i].iov_base = text[i];
    iov[i].iov_len = strlen(text[i]);
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
    mm[i].msg_hdr.msg_name = i == 1 ? &no : &ok;
    mm[i].msg_hdr.msg_namelen = sizeof(ok);
  }
  printf("sendmmsg %s\n", outcome(sendmmsg(udp, mm, 3, 0)));
  printf("sendmmsg from the denied one %s\n",
         outcome(sendmmsg(udp, mm + 1, 2, 0)));
  printf("sendto allowed %s\n",
         outcome(sendto(udp, "last", 4, 0, (struct sockaddr *)&ok,
                        sizeof(ok))));

  /* What each receiver got, in order. */
  printf("allowed got %s", waiting(rok, 1));
  printf(" %s", waiting(rok, 1));
  printf(" %s", waiting(rok, 1));
  printf(" then %s\n", waiting(rok, 0));
  printf("denied got %s\n", waiting(rno, 0));
  return 0;
}

static unsigned short own_port;

static int sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
  struct sockaddr_in no = at("127.0.0.3", own_port);

  (void)clientp;
  (void)purpose;
  printf("own connect %s\n",
         outcome(connect(fd, (struct sockaddr *)&no, sizeof(no))));
  return CURL_SOCKOPT_OK;
}

static size_t sink(char *p, size_t size, size_t n, void *data)
{
  (void)p;
  (void)data;
  return size * n;
}

static int curl(const char *url, const char *port)
{
  CURL *c = curl_easy_init();
  CURLcode rc;

  own_port = (unsigned short)atoi(port);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, sockopt);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  rc = curl_easy_perform(c);
  printf("curl %d\n", (int)rc);
  curl_easy_cleanup(c);
  return 0;
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IONBF, 0);
  if(argc == 2 && !strcmp(argv[1], "calls"))
    return calls();
  if(argc == 4 && !strcmp(argv[1], "curl"))
    return curl(argv[2], argv[3]);
  fprintf(stderr, "usage: preload-sockets calls | curl URL PORT\n");
  return 2;
}
