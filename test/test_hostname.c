/* SPDX-License-Identifier: MIT */
/* Host names in canonical form (lib/engine/hostname.c). */
#include "engine/engine.h"
#include "testutil.h"

#include <string.h>

static int canon(const char *in, char *out)
{
  return cf_host_canon(in, strlen(in), out);
}

TU_SUITE_STATIC_ONLY("hostname", NULL);
TU_CASE(tc_canon, "canon", 0, NULL, NULL);

TU_TEST(tc_canon, test_host_canon_accepts)
{
  static const struct {
    const char *in, *out;
  } ok[] = {
    {"api.partner.example", "api.partner.example"},
    {"API.Partner.EXAMPLE", "api.partner.example"},
    {"api.partner.example.", "api.partner.example"},
    {"localhost", "localhost"},
    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"a-b.c0.example", "a-b.c0.example"},
    {"1a.example", "1a.example"},
    {"123.example", "123.example"},
    {"a.1b", "a.1b"},
    {"a.0xg", "a.0xg"},
  };
  char out[CF_HOST_MAX + 1];
  size_t i;

  for(i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    ck_assert_msg(canon(ok[i].in, out) == 0, "%s refused", ok[i].in);
    ck_assert_str_eq(out, ok[i].out);
  }
}
END_TEST

TU_TEST(tc_canon, test_host_canon_refuses)
{
  static const struct {
    const char *in;
    int code;
  } bad[] = {
    {"", CF_HOST_EEMPTY},
    {".", CF_HOST_EEMPTY},
    {"a..example", CF_HOST_ELABEL_EMPTY},
    {".a.example", CF_HOST_ELABEL_EMPTY},
    {"a.example..", CF_HOST_ELABEL_EMPTY},
    {"-a.example", CF_HOST_EHYPHEN},
    {"a-.example", CF_HOST_EHYPHEN},
    {"a_b.example", CF_HOST_ECHAR},
    {"*.example", CF_HOST_ECHAR},
    {"a b.example", CF_HOST_ECHAR},
    {"user@a.example", CF_HOST_ECHAR},
    {"b\xc3\xbc" "cher.example", CF_HOST_ECHAR},
    {"a.example:443", CF_HOST_ECHAR},
    {"127.0.0.1", CF_HOST_EADDR},
    {"127.0.0.1.", CF_HOST_EADDR},
    {"2130706433", CF_HOST_EADDR},
    {"0x7f.1", CF_HOST_EADDR},
    {"0X7F.1", CF_HOST_EADDR},
    {"0177.0.0.1", CF_HOST_EADDR},
    {"127.1", CF_HOST_EADDR},
    {"a.example.1", CF_HOST_EADDR},
    {"a.example.0x1f", CF_HOST_EADDR},
    {"::1", CF_HOST_EADDR},
    {"[::1]", CF_HOST_EADDR},
    {"fe80::1%eth0", CF_HOST_EADDR},
    {"::ffff:127.0.0.1", CF_HOST_EADDR},
  };
  char out[CF_HOST_MAX + 1];
  size_t i;

  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = canon(bad[i].in, out);
    ck_assert_msg(rc == bad[i].code, "%s: %d, not %d", bad[i].in, rc,
                  bad[i].code);
    ck_assert_str_eq(out, "");
    ck_assert_str_ne(cf_host_strerror(rc), cf_host_strerror(0));
  }
}
END_TEST

/* Lengths at and over the limits, and bytes past len never read. */
TU_TEST(tc_canon, test_host_canon_lengths)
{
  char in[300], out[CF_HOST_MAX + 1];
  size_t i;

  memset(in, 'a', 63);
  memcpy(in + 63, ".example", 9);
  ck_assert_int_eq(canon(in, out), 0);
  memset(in, 'a', 64);
  memcpy(in + 64, ".example", 9);
  ck_assert_int_eq(canon(in, out), CF_HOST_ELABEL_LONG);
  /* 253 bytes: labels of 49 and dots, the last one of 3 */
  for(i = 0; i < 253; i++)
    in[i] = i % 50 == 49 ? '.' : 'a';
  in[253] = '\0';
  ck_assert_int_eq(canon(in, out), 0);
  ck_assert_uint_eq(strlen(out), 253);
  in[253] = '.';
  in[254] = '\0';
  ck_assert_int_eq(canon(in, out), 0);
  ck_assert_uint_eq(strlen(out), 253);
  in[253] = 'a';
  ck_assert_int_eq(canon(in, out), CF_HOST_ELONG);
  ck_assert_int_eq(cf_host_canon("a.example.evil", 9, out), 0);
  ck_assert_str_eq(out, "a.example");
  ck_assert_int_eq(cf_host_canon("a\0b", 3, out), CF_HOST_ECHAR);
}
END_TEST

/* A destination read from a sockaddr has no name until one is given. */
TU_TEST(tc_canon, test_dest_init_no_host)
{
  struct sockaddr_storage ss;
  socklen_t len = tu_sockaddr(&ss, "127.0.0.1", 80);
  cf_dest d;

  memset(&d, 0xff, sizeof(d));
  cf_dest_init(&d, (struct sockaddr *)&ss, len);
  ck_assert_ptr_null(d.host);
  memset(&d, 0xff, sizeof(d));
  cf_dest_init(&d, NULL, 0);
  ck_assert_ptr_null(d.host);
}
END_TEST
