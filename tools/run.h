/* SPDX-License-Identifier: MIT */
/* curlfence run: see tools/run.c. */
#ifndef CURLFENCE_TOOLS_RUN_H
#define CURLFENCE_TOOLS_RUN_H

int cmd_run(int argc, char **argv);

#endif
