/* SPDX-License-Identifier: MIT */
/*
 * curlfence check: what the command (check.c) and its reading of
 * standard input (check_stdin.c) share.
 */
#ifndef CURLFENCE_CHECK_H
#define CURLFENCE_CHECK_H

#include "cli.h"
#include "engine/engine.h"

#include <netinet/in.h>

/* Lines of text output are gathered in out and written to stdout in
 * large blocks: a batch of `check -` prints millions, and stdio's cost
 * per call was most of its time.  Anything else written to stdout
 * (--json, the lines of the general path) goes through stdio after out is
 * flushed into it, so the order holds. */
#define CHECK_OUT_SIZE (1 << 16)
/* Lines of standard input decided before they are printed together */
#define CHECK_BATCH 32

struct fast_line;

typedef struct check_ctx {
  curlfence_policy *p;
  cli_pins pins;
  int json, numeric, quiet;
  int denied, failed;
  int line_mode;          /* stdout is a terminal: each line as it comes */
  char *out;              /* CHECK_OUT_SIZE bytes */
  size_t outn;
  int have_dflt;          /* dflt is the policy's default, looked up */
  curlfence_verdict dflt;
  struct fast_line *batch; /* CHECK_BATCH lines decided, not printed */
  size_t nbatch;
  char addr[INET_ADDRSTRLEN];
  const char *file;       /* the last rules file printed, flen bytes */
  size_t flen;
} check_ctx;

/* Print the decision about input (host: the canonical name decided with
 * the address, or NULL; addr its text), through stdio. */
void check_print_one(check_ctx *c, const char *input, const char *host,
                     const char *addr, unsigned port,
                     const curlfence_verdict *v);

/* Report input as undecided (msg says why): exit status 2. */
void check_print_error(check_ctx *c, const char *input, const char *msg);

/* Decide a destination operand or line: ADDRESS, ADDRESS:PORT,
 * [V6ADDR]:PORT, HOST or HOST:PORT.  Its own port wins over port, the
 * command's (-p or the trailing PORT); own_port (NULL: none) is a second
 * word of a standard input line. */
void check_dest(check_ctx *c, char *dest, const char *own_port,
                unsigned port);

/* check_stdin.c */

/* The usual spelling of an IPv4 address, "a.b.c.d" with no leading zero,
 * at the start of s, read without inet_pton's cost (it was a tenth of a
 * batch's): its length, or 0 when s does not start with one (a digit
 * right after it makes it another spelling). */
size_t check_quad_prefix(const char *s, unsigned char *out);

/* Everything decided so far, out to stdio: before stdio is written to
 * directly, and before the input the batch points into is moved. */
void check_sync(check_ctx *c);

/* Standard input, one "ADDRESS [PORT]" or "ADDRESS:PORT" a line, read
 * in large blocks.  The answers gathered are written before a read that
 * would wait: a program that writes an address and waits for its answer
 * gets it, and a file or a busy pipe is answered in large blocks. */
void check_stdin(check_ctx *c, unsigned port);

#endif
