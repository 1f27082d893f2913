/* SPDX-License-Identifier: MIT */
/* The fixture of the reload suites (reload_fixture.h). */
#include "reload_fixture.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

th_server *target_srv;
char reload_dir[64], app_rules[128], target_url[128];

/* The scratch directory and the path of its rules. */
static void scratch(void)
{
  ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  snprintf(reload_dir, sizeof(reload_dir), "/tmp/curlfence-reload-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(reload_dir));
  snprintf(app_rules, sizeof(app_rules), "%s/app.rules", reload_dir);
}

void reload_setup(void)
{
  scratch();
  target_srv = th_start("127.0.0.3", "target");
  ck_assert_ptr_nonnull(target_srv);
  snprintf(target_url, sizeof(target_url), "http://127.0.0.3:%u/",
           th_port(target_srv));
}

void reload_setup_no_server(void)
{
  scratch();
  target_srv = NULL;
  /* Nothing listens here; the rules deny it before any connect. */
  snprintf(target_url, sizeof(target_url), "http://127.0.0.3:9/");
}

void reload_teardown(void)
{
  char cmd[128];

  th_stop(target_srv);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", reload_dir);
  ck_assert_int_eq(system(cmd), 0);
  curl_global_cleanup();
}

static size_t sink_body(char *p, size_t size, size_t n, void *userdata)
{
  (void)p;
  *(size_t *)userdata += size * n;
  return size * n;
}

/* One guarded transfer to the test server; returns libcurl's code. */
CURLcode transfer(curlfence_guard *g, unsigned flags, size_t *got)
{
  CURL *h = curl_easy_init();
  size_t dummy = 0;
  CURLcode rc;

  ck_assert_ptr_nonnull(h);
  curl_easy_setopt(h, CURLOPT_URL, target_url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, got ? got : &dummy);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  ck_assert_int_eq(curlfence_attach(h, g, flags), CURLFENCE_OK);
  rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc;
}

curlfence_guard *guard_from_file(const char *text)
{
  curlfence_policy *p;
  curlfence_guard *g;
  curlfence_error err;

  tu_write_text(app_rules, text);
  ck_assert_msg(curlfence_policy_load_file(&p, app_rules, &err)
                    == CURLFENCE_OK, "%s", err.text);
  ck_assert_int_eq(curlfence_guard_new(&g, p), CURLFENCE_OK);
  curlfence_policy_unref(p);
  return g;
}

const char deny_rules[] = "default allow\ndeny 127.0.0.3\n";
const char allow_rules[] = "default deny\nallow 127.0.0.3   # now\n";
