/* SPDX-License-Identifier: MIT */
/*
 * curlfence check: decide addresses the way a guard would, without
 * connecting anywhere.  Exit 0 when allowed, 1 when denied, 2 on usage or
 * rules errors.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const cli_opt check_opts[] = {
  CLI_OPT_RULES,
  CLI_OPT_HELP,
  CLI_OPT_END
};

static int run_check(const cli_cmd *cmd, int argc, char **argv)
{
  const char *rules = NULL, *arg;
  struct sockaddr_storage ss;
  socklen_t sslen;
  curlfence_policy *p = NULL;
  curlfence_verdict v;
  cli_parser ps;
  unsigned port = 0;
  char **ops;
  int key;

  cli_parser_init(&ps, cmd, argc, argv);
  while((key = cli_next(&ps, &arg)) != CLI_END) {
    switch(key) {
    case 'r': rules = arg; break;
    default: return ps.status;
    }
  }
  ops = CLI_OPERANDS(&ps);
  if(ps.noperands < 1 || ps.noperands > 2)
    return cli_usage_error(cmd, "expected ADDRESS [PORT]");
  if(ps.noperands == 2 && cli_parse_port(ops[1], &port)) {
    fprintf(stderr, CLI_PROG ": invalid port \"%s\" (expected 0-65535)\n",
            ops[1]);
    return 2;
  }
  memset(&ss, 0, sizeof(ss));
  {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    const char *a = ops[0];

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
      fprintf(stderr, CLI_PROG ": \"%s\" is not a numeric IPv4 or IPv6 "
              "address\n", a);
      return 2;
    }
  }
  if(cli_load_policy(rules, &p))
    return 2;
  curlfence_policy_decide(p, (struct sockaddr *)&ss, sslen, &v);
  printf("%s %s", v.action == CURLFENCE_ALLOW ? "allow" : "deny", ops[0]);
  if(port)
    printf(" port %u", port);
  fputs(" (", stdout);
  cli_print_verdict_source(stdout, &v);
  fputs(")\n", stdout);
  curlfence_policy_unref(p);
  return v.action == CURLFENCE_ALLOW ? 0 : 1;
}

const cli_cmd cli_cmd_check = {
  "check", "ADDRESS [PORT]",
  "decide whether a connection to ADDRESS (and PORT) is allowed",
  "Exit status: 0 allowed, 1 denied, 2 usage or rules error.\n",
  check_opts, run_check
};
