/*
 * curlfence(1): check addresses against a rules file.
 *
 *   curlfence check [-r RULES] ADDRESS [PORT]
 *
 * Exit status: 0 allowed, 1 denied, 2 usage or rules error.
 */
#include "curlfence.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_RULES "rules/default.rules"

static void usage(FILE *f)
{
  fputs("usage: curlfence check [-r RULES] ADDRESS [PORT]\n"
        "       curlfence version\n"
        "RULES defaults to " DEFAULT_RULES ".\n"
        "Exit status: 0 allowed, 1 denied, 2 error.\n", f);
}

/* "(file:line: rule)" or "(built-in: rule)" */
static void print_verdict_source(FILE *f, const curlfence_verdict *v)
{
  if(v->file)
    fprintf(f, "%s:%u: %s", v->file, v->line, v->rule);
  else
    fprintf(f, "built-in: %s", v->rule);
}

static int parse_port(const char *s, unsigned *port)
{
  char *end;
  unsigned long v = strtoul(s, &end, 10);

  if(!*s || *end || v > 65535 || s[0] == '-' || s[0] == '+')
    return -1;
  *port = (unsigned)v;
  return 0;
}

static int cmd_check(int argc, char **argv)
{
  const char *rules = DEFAULT_RULES;
  struct sockaddr_storage ss;
  socklen_t sslen;
  curlfence_policy *p = NULL;
  curlfence_error err;
  curlfence_verdict v;
  unsigned port = 0;
  int opt;

  optind = 1;
  while((opt = getopt(argc, argv, "r:h")) != -1) {
    switch(opt) {
    case 'r': rules = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if(argc - optind < 1 || argc - optind > 2) {
    usage(stderr);
    return 2;
  }
  if(argc - optind == 2 && parse_port(argv[optind + 1], &port)) {
    fprintf(stderr, "curlfence: invalid port \"%s\" (expected 0-65535)\n",
            argv[optind + 1]);
    return 2;
  }
  memset(&ss, 0, sizeof(ss));
  {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    const char *a = argv[optind];

    if(inet_pton(AF_INET, a, &in->sin_addr) == 1) {
      in->sin_family = AF_INET;
      in->sin_port = htons((uint16_t)port);
      sslen = sizeof(*in);
    }
    else if(inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons((uint16_t)port);
      sslen = sizeof(*in6);
    }
    else {
      fprintf(stderr, "curlfence: \"%s\" is not a numeric IPv4 or IPv6 "
              "address\n", a);
      return 2;
    }
  }
  if(curlfence_policy_load_file(&p, rules, &err)) {
    fprintf(stderr, "curlfence: %s\n", err.text);
    return 2;
  }
  curlfence_policy_decide(p, (struct sockaddr *)&ss, sslen, &v);
  printf("%s %s", v.action == CURLFENCE_ALLOW ? "allow" : "deny",
         argv[optind]);
  if(port)
    printf(" port %u", port);
  fputs(" (", stdout);
  print_verdict_source(stdout, &v);
  fputs(")\n", stdout);
  curlfence_policy_unref(p);
  return v.action == CURLFENCE_ALLOW ? 0 : 1;
}

int main(int argc, char **argv)
{
  if(argc < 2) {
    usage(stderr);
    return 2;
  }
  if(strcmp(argv[1], "check") == 0)
    return cmd_check(argc - 1, argv + 1);
  if(strcmp(argv[1], "version") == 0) {
    printf("curlfence %s\n", curlfence_version());
    return 0;
  }
  if(strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
