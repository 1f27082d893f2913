/* SPDX-License-Identifier: MIT */
/*
 * A program with two libcurls, for the preload library's tests: it links
 * libcurl.so.4 and opens PLUGIN (test/prog/two_gnutls.c, linked with
 * libcurl-gnutls.so.4) with local scope, the way Python opens pycurl.
 * For each URL it fetches once through each libcurl and prints the
 * CURLcodes, then which libcurls the process holds.
 *
 *   two-libcurls PLUGIN URL...
 */
#include "fetch.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
  void *plugin;
  void *sym;
  int (*plugin_fetch)(const char *);
  int i, curl = 0, gnutls = 0;
  char line[512];
  FILE *maps;

  if(argc < 3) {
    fputs("usage: two-libcurls PLUGIN URL...\n", stderr);
    return 2;
  }
  plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if(!plugin || !(sym = dlsym(plugin, "two_fetch"))) {
    fprintf(stderr, "two-libcurls: %s\n", dlerror());
    return 2;
  }
  memcpy(&plugin_fetch, &sym, sizeof(plugin_fetch));
  for(i = 2; i < argc; i++) {
    printf("program %d\n", prog_fetch(argv[i], NULL, 0));
    printf("plugin %d\n", plugin_fetch(argv[i]));
  }
  maps = fopen("/proc/self/maps", "r");
  while(maps && fgets(line, sizeof(line), maps)) {
    curl |= strstr(line, "/libcurl.so.4") != NULL;
    gnutls |= strstr(line, "/libcurl-gnutls.so.4") != NULL;
  }
  if(maps)
    fclose(maps);
  printf("%s%s\n", curl ? "libcurl" : "", gnutls ? " libcurl-gnutls" : "");
  return 0;
}
