/* SPDX-License-Identifier: MIT */
/* The fixture of the image suites (image_fixture.h). */
#include "image_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char image_dir[64], rules_path[128], inc_path[128], img_path[128];

void image_setup(void)
{
  strcpy(image_dir, "/tmp/cf-image-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(image_dir));
  snprintf(rules_path, sizeof(rules_path), "%s/site.rules", image_dir);
  snprintf(inc_path, sizeof(inc_path), "%s/extra.rules", image_dir);
  snprintf(img_path, sizeof(img_path), "%s/site.cfimg", image_dir);
}

void image_teardown(void)
{
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf %s", image_dir);
  ck_assert_int_eq(system(cmd), 0);
}

curlfence_policy *load_ok(const char *path)
{
  curlfence_policy *p = NULL;
  curlfence_error err;

  if(curlfence_policy_load_file(&p, path, &err))
    ck_abort_msg("load %s: %s", path, err.text);
  return p;
}

void save_ok(const curlfence_policy *p, const char *path)
{
  curlfence_error err;

  if(curlfence_policy_save_image(p, path, &err))
    ck_abort_msg("save %s: %s", path, err.text);
}

curlfence_policy *via_image(const curlfence_policy *p)
{
  save_ok(p, img_path);
  return load_ok(img_path);
}

/* The whole file at path in memory. */
unsigned char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  unsigned char *b;
  long n;

  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

void spill(const char *path, const unsigned char *b, size_t n)
{
  FILE *f = fopen(path, "wb");

  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

static const char site_rules[] =
  "# a site policy\n"
  "default allow\n"
  "unix deny\n"
  "deny 10.0.0.0/8\n"
  "allow 10.20.0.0/16\n"
  "deny 192.0.2.7\n"
  "allow 198.51.100.0/24 port 443,8000-8080\n"
  "deny 198.51.100.0/24\n"
  "deny 2001:db8::/32\n"
  "allow 2001:db8:1::/48 port 443\n"
  "include extra.rules\n";
const char extra_rules[] =
  "deny 127.0.0.0/8\n"
  "deny ::1\n"
  "deny 169.254.169.254\n";

void write_site(void)
{
  tu_write_text(rules_path, site_rules);
  tu_write_text(inc_path, extra_rules);
}

/* Same action and verdict for addr:port from both policies. */
void same_answer(const curlfence_policy *a, const curlfence_policy *b,
                        const char *addr, unsigned port)
{
  curlfence_verdict va, vb;
  curlfence_action xa = tu_decide(a, addr, port, &va);
  curlfence_action xb = tu_decide(b, addr, port, &vb);

  ck_assert_msg(xa == xb, "%s port %u: %d vs %d", addr, port, xa, xb);
  ck_assert_int_eq(tu_decide(a, addr, port, NULL),
                   tu_decide(b, addr, port, NULL));
  ck_assert_int_eq(va.is_default, vb.is_default);
  ck_assert_uint_eq(va.line, vb.line);
  ck_assert_str_eq(va.rule, vb.rule);
  ck_assert_str_eq(va.reason, vb.reason);
  if(va.file)
    ck_assert_str_eq(va.file, vb.file);
  else
    ck_assert_ptr_null(vb.file);
}
