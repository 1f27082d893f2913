#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

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

int tu_quick(void)
{
  const char *q = getenv("CURLFENCE_TEST_QUICK");
  return q && *q && strcmp(q, "0") != 0;
}

int tu_record(const curlfence_event *ev, void *userdata)
{
  tu_recorder *r = userdata;

  if(r->n < TU_MAX_EVENTS)
    r->ev[r->n] = *ev;
  r->n++;
  return 0;
}
