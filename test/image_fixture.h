/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the image suites (test/test_image*.c): a scratch
 * directory with the site policy (site.rules, which includes extra.rules)
 * and the path of its image (site.cfimg).
 */
#ifndef CURLFENCE_IMAGE_FIXTURE_H
#define CURLFENCE_IMAGE_FIXTURE_H

#include "testutil.h"

#include <stddef.h>

extern char image_dir[64], rules_path[128], inc_path[128], img_path[128];

/* The file site.rules includes. */
extern const char extra_rules[];

/* Make and remove the scratch directory. */
void image_setup(void);
void image_teardown(void);

/* Load or save path; fail the test with the error text when it fails. */
curlfence_policy *load_ok(const char *path);
void save_ok(const curlfence_policy *p, const char *path);

/* p saved as an image at img_path and loaded from there. */
curlfence_policy *via_image(const curlfence_policy *p);

/* The whole file at path in memory (malloc'd), and back. */
unsigned char *slurp(const char *path, size_t *len);
void spill(const char *path, const unsigned char *b, size_t n);

/* The site policy at rules_path and inc_path. */
void write_site(void);

/* Same action and verdict for addr:port from both policies. */
void same_answer(const curlfence_policy *a, const curlfence_policy *b,
                 const char *addr, unsigned port);

#endif
