/* SPDX-License-Identifier: MIT */
/*
 * A libcurl program that does, to its own handles, what an unmodified
 * program might do to get around the preload library: remove or replace
 * the callbacks in odd orders, reset and duplicate handles, set proxies
 * after a first transfer, connect-only, the multi and share interfaces,
 * CONNECT_TO, redirects, unix sockets, an open callback that changes the
 * address, libcurl's functions looked up by symbol version, a handle made
 * by libcurl's own curl_easy_init.  Every case asks for the denied host
 * (directly or through the allowed one) and prints "NAME CODE"; the test
 * expects each to fail and the denied server to see nothing.  Its own open
 * callback connects only to loopback addresses and counts any other it is
 * asked for.
 *
 *   preload-odd ALLOWED-URL DENIED-URL CONNECT-TO UNIX-PATH
 *
 * ALLOWED-URL serves GET /redirect?to=URL; CONNECT-TO is
 * "HOST:PORT:HOST:PORT" from the allowed host to the denied one.
 */
#include "fetch.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int elsewhere;

static curl_socket_t own_open(void *clientp, curlsocktype purpose,
                              struct curl_sockaddr *a)
{
  const struct sockaddr_in *in = (const void *)&a->addr;
  const struct sockaddr_in6 *in6 = (const void *)&a->addr;

  (void)clientp;
  (void)purpose;
  if((a->family == AF_INET && (ntohl(in->sin_addr.s_addr) >> 24) != 127) ||
     (a->family == AF_INET6 && !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) &&
      !(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
        in6->sin6_addr.s6_addr[12] == 127))) {
    elsewhere++;
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype, a->protocol);
}

/* Sends a connection to 127.0.0.2 to 127.0.0.3 instead: libcurl connects
 * to the address the callback leaves. */
static curl_socket_t rewrite_open(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *a)
{
  struct sockaddr_in *in = (struct sockaddr_in *)(void *)&a->addr;

  if(a->family == AF_INET && in->sin_addr.s_addr == htonl(0x7f000002))
    in->sin_addr.s_addr = htonl(0x7f000003);
  return own_open(clientp, purpose, a);
}

static CURL *make_with(CURL *(*init)(void), const char *url)
{
  CURL *h = init();

  if(!h)
    return NULL;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  return h;
}

static CURL *make(const char *url)
{
  return make_with(curl_easy_init, url);
}

static void say(const char *name, CURLcode rc)
{
  printf("%s %d\n", name, (int)rc);
}

static CURLcode multi_perform(CURL *h, CURLSH *share)
{
  CURLM *m = curl_multi_init();
  CURLcode rc = CURLE_FAILED_INIT;
  CURLMsg *msg;
  int running = 1, left;

  if(share)
    curl_easy_setopt(h, CURLOPT_SHARE, share);
  curl_multi_add_handle(m, h);
  while(running) {
    curl_multi_perform(m, &running);
    if(running)
      curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  while((msg = curl_multi_info_read(m, &left)))
    if(msg->msg == CURLMSG_DONE)
      rc = msg->data.result;
  curl_multi_remove_handle(m, h);
  curl_multi_cleanup(m);
  return rc;
}

typedef CURL *(*init_fn)(void);
typedef CURLcode (*setopt_fn)(CURL *, CURLoption, ...);

/* The symbol version of libcurl's functions (Debian's libcurl.so.4 built
 * with OpenSSL says CURL_OPENSSL_4), found on libcurl's own handle. */
static const char *curl_version_name(void *lib)
{
  static const char *const names[] = {
    "CURL_OPENSSL_4", "CURL_OPENSSL_3", "CURL_GNUTLS_3", "CURL_GNUTLS_4",
    "CURL_4", NULL
  };
  size_t i;

  for(i = 0; lib && names[i]; i++)
    if(dlvsym(lib, "curl_easy_init", names[i]))
      return names[i];
  return NULL;
}

/* A transfer to url through curl_easy_init and curl_easy_setopt as
 * dlvsym(where, ..., version) finds them; -1 when it finds none. */
static int versioned(void *where, const char *version, const char *url)
{
  void *i = version ? dlvsym(where, "curl_easy_init", version) : NULL;
  void *s = version ? dlvsym(where, "curl_easy_setopt", version) : NULL;
  init_fn init;
  setopt_fn setopt;
  CURLcode rc;
  CURL *h;

  if(!i || !s)
    return -1;
  memcpy(&init, &i, sizeof(init));
  memcpy(&setopt, &s, sizeof(setopt));
  h = init();
  if(!h)
    return -1;
  setopt(h, CURLOPT_URL, url);
  setopt(h, CURLOPT_WRITEFUNCTION, discard);
  setopt(h, CURLOPT_TIMEOUT, 10L);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return (int)rc;
}

/* checksrc: allow LONGFUNC each odd use of libcurl in turn, in the order of
 * the output lines the test expects */
int main(int argc, char **argv)
{
  const char *allowed, *denied;
  char redirect[512];
  struct curl_slist *to;
  CURLSH *share;
  CURL *h, *d;
  size_t sent;
  void *lib, *global, *sym;
  const char *version;
  init_fn own_init;

  if(argc != 5) {
    fputs("usage: preload-odd ALLOWED-URL DENIED-URL CONNECT-TO UNIX\n",
          stderr);
    return 2;
  }
  allowed = argv[1];
  denied = argv[2];
  snprintf(redirect, sizeof(redirect), "%sredirect?to=%s", allowed, denied);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  /* The callbacks removed, and set in odd orders. */
  h = make(denied);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, NULL);
  curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, NULL);
  say("open-null", curl_easy_perform(h));
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, NULL);
  curl_easy_setopt(h, CURLOPT_PREREQDATA, NULL);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, own_open);
  say("own-open", curl_easy_perform(h));

  /* An open callback that changes the address after the check. */
  curl_easy_setopt(h, CURLOPT_URL, allowed);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, rewrite_open);
  say("rewrite", curl_easy_perform(h));

  /* Reset, then reuse; a duplicate of the reset handle. */
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, denied);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  say("reset", curl_easy_perform(h));
  d = curl_easy_duphandle(h);
  say("duphandle", curl_easy_perform(d));
  curl_easy_cleanup(d);

  /* Proxies set after a first, allowed transfer. */
  curl_easy_setopt(h, CURLOPT_URL, allowed);
  say("allowed", curl_easy_perform(h));
  curl_easy_setopt(h, CURLOPT_URL, denied);
  curl_easy_setopt(h, CURLOPT_PROXY, allowed);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "");
  say("proxy-later", curl_easy_perform(h));
  curl_easy_setopt(h, CURLOPT_PRE_PROXY, allowed);
  say("pre-proxy", curl_easy_perform(h));
  curl_easy_cleanup(h);

  /* Connect-only, then send by hand. */
  h = make(denied);
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  say("connect-only", curl_easy_perform(h));
  say("send", curl_easy_send(h, "GET / HTTP/1.0\r\n\r\n", 18, &sent));
  curl_easy_cleanup(h);

  /* Multi and share interfaces. */
  h = make(denied);
  say("multi", multi_perform(h, NULL));
  curl_easy_cleanup(h);
  share = curl_share_init();
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  h = make(allowed);
  say("share-allowed", multi_perform(h, share));
  curl_easy_setopt(h, CURLOPT_URL, denied);
  say("share", multi_perform(h, share));
  curl_easy_cleanup(h);
  curl_share_cleanup(share);

  /* The allowed name, connected to the denied host. */
  h = make(allowed);
  to = curl_slist_append(NULL, argv[3]);
  curl_easy_setopt(h, CURLOPT_CONNECT_TO, to);
  say("connect-to", curl_easy_perform(h));
  curl_easy_cleanup(h);
  curl_slist_free_all(to);

  /* A redirect from the allowed host to the denied one. */
  h = make(redirect);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  say("redirect", curl_easy_perform(h));
  curl_easy_cleanup(h);

  /* A unix socket (the rules have no unix setting: deny). */
  h = make(allowed);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, argv[4]);
  say("unix", curl_easy_perform(h));
  curl_easy_cleanup(h);

  /* libcurl's functions by symbol version: from the global scope, the
   * objects after the program, the program's own handle. */
  lib = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD);
  version = curl_version_name(lib);
  global = dlopen(NULL, RTLD_LAZY);
  printf("dlvsym-default %d\n", versioned(RTLD_DEFAULT, version, denied));
  printf("dlvsym-next %d\n", versioned(RTLD_NEXT, version, denied));
  printf("dlvsym-global %d\n", versioned(global, version, denied));

  /* A handle from libcurl's own curl_easy_init (found on libcurl's
   * handle), then given its options the ordinary way. */
  sym = lib ? dlsym(lib, "curl_easy_init") : NULL;
  memcpy(&own_init, &sym, sizeof(own_init));
  h = sym ? make_with(own_init, denied) : NULL;
  printf("libcurl-init %d\n", h ? (int)curl_easy_perform(h) : -1);
  if(h)
    curl_easy_cleanup(h);
  if(global)
    dlclose(global);
  if(lib)
    dlclose(lib);

  printf("elsewhere %d\n", elsewhere);
  curl_global_cleanup();
  return 0;
}
