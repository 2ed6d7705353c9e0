/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DMARC_REPORT_H
#define POSTHORN_DMARC_REPORT_H

#include <stdbool.h>
#include <time.h>
#include "dmarc.h"

/* DMARC aggregate reports (RFC 7489 section 7.2): smtpd records one row per
 * evaluated message whose policy record asks for reports (rua=); at the end
 * of each reporting period ([auth] report_interval, or `posthorn dmarc
 * report --now`) the rows are grouped per policy domain into the appendix C
 * XML, gzipped, and queued through the outbound queue to each rua address.
 *
 * This header is the contract between smtpd (the caller of
 * dmarc_report_record) and the report module. */

struct store;
struct dkim_verify;

/* What smtpd knows about one message besides the DMARC check itself. */
struct dmarc_report_event {
	const char *source_ip;       /* "192.0.2.1" or "2001:db8::1" */
	const char *envelope_from;   /* MAIL FROM domain; "" for <> */
	const char *envelope_to;     /* domain of the first recipient */
	const struct dmarc_input *input; /* as given to dmarc_check_start */
	const struct dkim_verify *dkim;  /* for selectors; may be NULL */
	/* The disposition actually applied: DMARC_POLICY_NONE (delivered),
	 * QUARANTINE (filed in Junk) or REJECT (refused). */
	enum dmarc_policy applied;
	time_t when;                 /* 0 = now */
};

/* Records one message for the aggregate report of check's policy domain
 * when its record carries rua=; does nothing otherwise (no record, no
 * rua, [auth] dmarc_reports = no is the caller's test). Never blocks: the
 * row goes to the store's writer thread without waiting; a failure is
 * logged, never reported to the caller. Callable from any thread. */
void dmarc_report_record(struct store *store, const struct dmarc_check *check,
			 const struct dmarc_report_event *ev);

#endif
