/* SPDX-License-Identifier: MIT */
/* Small helpers every layer shares (util.h). */
#include "util.h"

#include <stdlib.h>
#include <string.h>

int cf_grow(void *pp, size_t *cap, size_t want, size_t elem)
{
  void **p = pp;
  size_t ncap;
  void *np;

  if(want <= *cap)
    return 0;
  ncap = *cap ? *cap : 16;
  while(ncap < want) {
    /* a count that cannot double, or a size in bytes that would wrap,
       fails instead of allocating less than asked */
    if(ncap > SIZE_MAX / 2)
      return -1;
    ncap *= 2;
  }
  if(ncap > SIZE_MAX / elem)
    return -1;
  np = realloc(*p, ncap * elem);
  if(!np)
    return -1;
  *p = np;
  *cap = ncap;
  return 0;
}

int cf_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned plen)
{
  unsigned full = plen / 8u, rest = plen % 8u;

  if(memcmp(a, b, full) != 0)
    return 0;
  return rest == 0 ||
         ((a[full] ^ b[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

void cf_prefix_mask(uint8_t *out, const uint8_t *addr, unsigned plen,
                    size_t bytes)
{
  for(size_t i = 0; i < bytes; i++) {
    unsigned lo = (unsigned)i * 8u;

    out[i] = plen <= lo ? 0
             : plen >= lo + 8u ? addr[i]
             : (uint8_t)(addr[i] & (0xff00u >> (plen - lo)));
  }
}

void cf_nat64_extract(unsigned plen, const uint8_t *addr, uint8_t *out4)
{
  unsigned pos = plen / 8u, i;

  for(i = 0; i < 4; i++, pos++) {
    if(pos == 8)
      pos++;
    out4[i] = addr[pos];
  }
}
