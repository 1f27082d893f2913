/* SPDX-License-Identifier: MIT */
/*
 * The engine's shared helpers (lib/engine/util.c): array growth that
 * refuses sizes it cannot represent, prefix comparison and the RFC 6052
 * extraction.  Internals: not in the shared-library run.
 */
#include "engine/engine.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

TU_SUITE_STATIC_ONLY("util", NULL);
TU_CASE(tc_util, "util", 0, NULL, NULL);

TU_TEST(tc_util, grow_doubles_and_keeps)
{
  uint32_t *a = NULL;
  size_t cap = 0, i;

  ck_assert_int_eq(cf_grow(&a, &cap, 1, sizeof(*a)), 0);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_eq(cap, 16);
  for(i = 0; i < 16; i++)
    a[i] = (uint32_t)i;
  /* enough already: nothing moves */
  ck_assert_int_eq(cf_grow(&a, &cap, 16, sizeof(*a)), 0);
  ck_assert_uint_eq(cap, 16);
  ck_assert_int_eq(cf_grow(&a, &cap, 100, sizeof(*a)), 0);
  ck_assert_uint_eq(cap, 128);
  for(i = 0; i < 16; i++)
    ck_assert_uint_eq(a[i], i);
  free(a);
}
END_TEST

/* A count that cannot double without wrapping, and one whose size in
 * bytes wraps: both fail and leave the array as it was, where a plain
 * doubling loop would spin on a zero capacity or allocate a few bytes
 * for a huge count. */
TU_TEST(tc_util, grow_refuses_overflow)
{
  uint64_t *a = NULL;
  size_t cap = 0;
  void *before;

  ck_assert_int_eq(cf_grow(&a, &cap, 4, sizeof(*a)), 0);
  before = a;
  ck_assert_int_eq(cf_grow(&a, &cap, SIZE_MAX / 2 + 2, 1), -1);
  ck_assert_ptr_eq(a, before);
  ck_assert_uint_eq(cap, 16);
  ck_assert_int_eq(cf_grow(&a, &cap, SIZE_MAX / 16 + 1, 32), -1);
  ck_assert_ptr_eq(a, before);
  ck_assert_uint_eq(cap, 16);
  ck_assert_int_eq(cf_grow(&a, &cap, SIZE_MAX, sizeof(*a)), -1);
  ck_assert_ptr_eq(a, before);
  ck_assert_uint_eq(cap, 16);
  a[15] = 1;   /* still the array it was, whole */
  free(a);
}
END_TEST

TU_TEST(tc_util, prefix_equal_bits)
{
  static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff },
                       b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xf0 };

  ck_assert_int_eq(cf_prefix_equal(a, b, 0), 1);
  ck_assert_int_eq(cf_prefix_equal(a, b, 32), 1);
  ck_assert_int_eq(cf_prefix_equal(a, b, 36), 1);
  ck_assert_int_eq(cf_prefix_equal(a, b, 37), 0);
  ck_assert_int_eq(cf_prefix_equal(a, b, 40), 0);
  ck_assert_int_eq(cf_prefix_equal(a, a, 128), 1);
  ck_assert_int_eq(cf_prefix_equal(a, b, 128), 0);
}
END_TEST

/* RFC 6052 section 2.4: 192.0.2.33 embedded under each prefix length. */
TU_TEST(tc_util, nat64_extract_rfc6052)
{
  static const struct {
    unsigned plen;
    const char *addr;
  } v[] = {
    { 32, "2001:db8:c000:221::" },
    { 40, "2001:db8:1c0:2:21::" },
    { 48, "2001:db8:122:c000:2:2100::" },
    { 56, "2001:db8:122:3c0:0:221::" },
    { 64, "2001:db8:122:344:c0:2:2100:0" },
    { 96, "2001:db8:122:344::192.0.2.33" },
  };
  static const uint8_t want[4] = { 192, 0, 2, 33 };
  uint8_t a[16], out[4];
  size_t i;

  for(i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    ck_assert_int_eq(inet_pton(AF_INET6, v[i].addr, a), 1);
    memset(out, 0, sizeof(out));
    cf_nat64_extract(v[i].plen, a, out);
    ck_assert_msg(!memcmp(out, want, 4), "/%u: %u.%u.%u.%u", v[i].plen,
                  out[0], out[1], out[2], out[3]);
  }
}
END_TEST
