/* SPDX-License-Identifier: MIT */
/*
 * image.h - the compiled image format, shared by the files that read
 * (image_load.c) and write (image_write.c) images; the layout is
 * described at the top of image.c.  Private to those files.
 */
#ifndef CURLFENCE_IMAGE_H
#define CURLFENCE_IMAGE_H

#include "engine.h"

#include <stdint.h>
#include <sys/stat.h>

/* Version 5: the IPv4 table in blocks, the host rules section always
 * there.  Earlier versions are refused. */
#define CF_IMAGE_VERSION 5u
#define CF_BYTE_ORDER 0x01020304u
#define HDR_SIZE 64u
#define SEC_SIZE 24u
#define SEC_ALIGN 64u
#define MAX_SECTIONS 64u

/* "\x89CFIMG\r\n" (image.c) */
extern const unsigned char cf_image_magic[8];

enum {
  SEC_RULES = CF_PART_N + 1, SEC_PORTS, SEC_TEXTS, SEC_SOURCES,
  SEC_SETTINGS, SEC_STRINGS, SEC_NAT64, SEC_HOSTS, SEC_END
};
#define NSEC (SEC_END - 1)

/* A source file as recorded. */
typedef struct cf_img_src {
  uint32_t name;     /* strings: as named in messages */
  uint32_t path;     /* strings: relative to the image's directory, or
                        absolute */
  uint32_t flags;    /* SRC_FILE: read from a file (size..hash valid) */
  uint32_t pad;
  uint64_t size;
  uint64_t zero;     /* written as 0, never read */
  uint64_t hash;
} cf_img_src;
#define SRC_FILE 1u

typedef struct cf_img_set {
  uint8_t set, action, pad[2];
  uint32_t file, line;
  uint32_t text;     /* strings */
} cf_img_set;

_Static_assert(sizeof(cf_rule) == 40, "cf_rule is 40 bytes in images");
_Static_assert(sizeof(cf_port_range) == 4, "port ranges are 4 bytes");
_Static_assert(sizeof(cf_img_src) == 40, "source records are 40 bytes");
_Static_assert(sizeof(cf_img_set) == 16, "settings are 16 bytes");
_Static_assert(sizeof(cf_nat64) == 32, "nat64 prefixes are 32 bytes");
_Static_assert(sizeof(cf_hostrule) == 52, "host rules are 52 bytes");

/* The record size of section id; 0 for an unknown id. */
static inline size_t sec_size(unsigned id)
{
  switch(id) {
  case SEC_RULES: return sizeof(cf_rule);
  case SEC_PORTS: return sizeof(cf_port_range);
  case SEC_TEXTS: return 1;
  case SEC_SOURCES: return sizeof(cf_img_src);
  case SEC_SETTINGS: return sizeof(cf_img_set);
  case SEC_STRINGS: return 1;
  case SEC_NAT64: return sizeof(cf_nat64);
  case SEC_HOSTS: return sizeof(cf_hostrule);
  default: return id >= 1 && id <= CF_PART_N ? cf_table_part_size(id - 1) : 0;
  }
}

/* What a loaded image keeps besides the policy's own fields. */
struct cf_image {
  const unsigned char *base;
  size_t len;
  int mapped;
  const cf_img_src *src;
  size_t nsrc;
  const char *strings;
};

/* image.c: the path of source file rel (as recorded) for the image at
 * image_path: relative ones are relative to the image's directory.
 * Allocated; NULL when out of memory. */
char *cf_image_source_path(const char *image_path, const char *rel);
/* image.c: the content hash of the file at path, and its stat.  0, or an
 * errno. */
int cf_image_hash_file(const char *path, uint64_t *hash, struct stat *st);

#endif
