/* SPDX-License-Identifier: MIT */
/*
 * A guard's counters in the Prometheus text exposition format (version
 * 0.0.4), for an application's /metrics and the preload's textfile.
 *
 * Counters are read through cf_guard_counters() only, so the way the guard
 * keeps them can change without this file noticing.  Series that count
 * decisions are always written for the common reasons ("rule",
 * "default"), even at zero, so that a rate() over them starts at the
 * first scrape; rarer reasons and per-rule hits appear once they are
 * nonzero, which keeps a policy of a million rules from writing a
 * million lines every few seconds.
 */
#include "guard.h"

/* A label value: backslash, double quote and newline escaped as the
 * format says; any other byte outside printable ASCII as the text \xHH,
 * as curlfence_error shows it, so the line stays valid UTF-8. */
static void label(FILE *out, const char *s)
{
  const unsigned char *p = (const unsigned char *)(s ? s : "");

  for(; *p; p++) {
    if(*p == '\\' || *p == '"')
      fprintf(out, "\\%c", *p);
    else if(*p == '\n')
      fputs("\\n", out);
    else if(*p < 0x20 || *p >= 0x7f)
      fprintf(out, "\\\\x%02x", *p);
    else
      fputc(*p, out);
  }
}

static void family(FILE *out, const char *name, const char *type,
                   const char *help)
{
  fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const outcome_names[CF_OUTCOME_N] = {
  "allow", "deny", "report"
};

CURLFENCE_API curlfence_code curlfence_guard_metrics(curlfence_guard *guard,
                                                     FILE *out)
{
  cf_guard_counts n;
  curlfence_policy *p;
  const cf_audit *audit;
  uint64_t generation, gen2, lost = 0;
  int has_sink = 0;
  unsigned slot, o, c, r;
  size_t i, nstats;

  if(!guard || !out)
    return CURLFENCE_E_INVAL;
  cf_guard_counters(guard, &n);
  /* The sink is only safe to read while its settings are in use. */
  (void)cf_live_acquire(&guard->live, &slot, &gen2);
  audit = cf_live_audit(&guard->live, slot);
  if(audit->fn == curlfence_sink_write && audit->data) {
    has_sink = 1;
    lost = curlfence_sink_errors(audit->data);
  }
  cf_live_release(&guard->live, slot);
  p = curlfence_guard_policy(guard, &generation);

  family(out, "curlfence_decisions_total", "counter",
         "Connection checks decided, by decision (allow, deny, or report: "
         "a denial report-only mode let through), check and reason.");
  for(o = 0; o < CF_OUTCOME_N; o++)
    for(c = 0; c < CF_CHECK_N; c++)
      for(r = 0; r < CF_REASON_N; r++) {
        /* The program's own socket checks only once they happened: most
         * guards never see one. */
        if((r > 1 || c > CURLFENCE_CHECK_REUSED) && !n.decisions[o][c][r])
          continue;
        fprintf(out, "curlfence_decisions_total{decision=\"%s\",check=\"%s\","
                "reason=\"%s\"} %llu\n", outcome_names[o],
                cf_check_name((curlfence_check)c),
                cf_reason_names[r],
                (unsigned long long)n.decisions[o][c][r]);
      }

  family(out, "curlfence_rule_hits_total", "counter",
         "Decisions made by each rule of the policy in force (rules that "
         "decided nothing yet are left out), the default and the unix "
         "setting.");
  nstats = p->rs.nrules + 2;
  for(i = 0; i < nstats; i++) {
    curlfence_rule_stat st;

    cf_policy_rule_stat(p, i, &st);
    if(!st.hits && i < p->rs.nrules)
      continue;
    fputs("curlfence_rule_hits_total{file=\"", out);
    label(out, st.file);
    fprintf(out, "\",line=\"%u\",rule=\"", st.line);
    label(out, st.rule);
    fprintf(out, "\"} %llu\n", (unsigned long long)st.hits);
  }

  family(out, "curlfence_audit_events_written_total", "counter",
         "Events the audit callback recorded.");
  fprintf(out, "curlfence_audit_events_written_total %llu\n",
          (unsigned long long)n.audit_written);
  family(out, "curlfence_audit_events_failed_total", "counter",
         "Events the audit callback could not record.");
  fprintf(out, "curlfence_audit_events_failed_total %llu\n",
          (unsigned long long)n.audit_errors);
  if(has_sink) {
    family(out, "curlfence_audit_events_lost_total", "counter",
           "Events the audit sink in use lost since it was opened.");
    fprintf(out, "curlfence_audit_events_lost_total %llu\n",
            (unsigned long long)lost);
  }

  family(out, "curlfence_reloads_total", "counter",
         "Policy switches (ok) and reloads that kept the old policy "
         "(failed).");
  fprintf(out, "curlfence_reloads_total{result=\"ok\"} %llu\n"
          "curlfence_reloads_total{result=\"failed\"} %llu\n",
          (unsigned long long)n.reloads,
          (unsigned long long)n.reload_failures);

  family(out, "curlfence_policy_generation", "gauge",
         "Generation of the policy in force (1 for the first).");
  fprintf(out, "curlfence_policy_generation %llu\n",
          (unsigned long long)generation);
  family(out, "curlfence_policy_load_time_seconds", "gauge",
         "When the policy in force was loaded, seconds since the epoch.");
  fprintf(out, "curlfence_policy_load_time_seconds %lld.%06lld\n",
          (long long)(p->loaded_us / 1000000),
          (long long)(p->loaded_us % 1000000));
  family(out, "curlfence_policy_rules", "gauge",
         "Address rules in the policy in force.");
  fprintf(out, "curlfence_policy_rules %llu\n",
          (unsigned long long)p->rs.nrules);
  curlfence_policy_unref(p);
  return fflush(out) || ferror(out) ? CURLFENCE_E_IO : CURLFENCE_OK;
}
