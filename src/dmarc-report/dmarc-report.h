/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DMARC_REPORT_H
#define POSTHORN_DMARC_REPORT_H

#include <stdbool.h>
#include <stdint.h>
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

/* ------------------------------------------------------------------ */
/* The pieces, public for the runner, the admin command and tests.      */

struct pool;
struct buf;
struct store_dmarc_row;
struct mailauth_dns;
struct completion_target;
struct event_base;

/* Fills *row_r (strings from pool) for check and ev; false when the check
 * found no record or the record has no rua=, so nothing is recorded. */
bool dmarc_report_row_from_check(const struct dmarc_check *check,
				 const struct dmarc_report_event *ev,
				 struct pool *pool,
				 struct store_dmarc_row *row_r);

/* One rua destination (RFC 7489 section 6.2, dmarc-uri). */
struct dmarc_report_uri {
	const char *address;  /* the mailto: address, percent-decoded */
	const char *domain;   /* its domain, lower case */
	uint64_t max_size;    /* "!10m": bytes; 0 = no limit */
};
/* Most destinations used from one rua= (section 6.2 lets a receiver cap
 * them; the rest are ignored). */
#define DMARC_REPORT_URI_MAX 8
/* Parses a rua= value: comma-separated URIs, each with an optional
 * "!<digits>[kmgt]" size limit. Keeps mailto: URIs with one plain
 * local@domain address; other schemes and malformed URIs are skipped
 * (skipped_r counts them, may be NULL). Returns the number kept (0 ..
 * DMARC_REPORT_URI_MAX), *uris_r from pool. */
unsigned dmarc_report_rua_parse(const char *rua, struct pool *pool,
				struct dmarc_report_uri **uris_r,
				unsigned *skipped_r);

/* Appends s to out escaped for XML text (& < > " '); control characters
 * and bytes that are not well-formed UTF-8 become '?', since XML 1.0 has
 * no way to carry them and the values come from the internet. */
void dmarc_report_xml_escape(struct buf *out, const char *s);

struct dmarc_report_meta {
	const char *org_name;
	const char *email;      /* the report sender */
	const char *report_id;
	time_t begin, end;
};
/* Appends the appendix C <feedback> document for rows, which all belong
 * to one policy domain; policy_published comes from the newest row (the
 * highest id). count > 0. */
void dmarc_report_xml(const struct dmarc_report_meta *meta,
		      const struct store_dmarc_row *rows, unsigned count,
		      struct buf *out);
/* gzip (RFC 1952) of data appended to out. -1 with *error_r on a zlib
 * failure. */
int dmarc_report_gzip(const void *data, size_t size, struct buf *out,
		      const char **error_r);

/* The report message (section 7.2.1.1). */
struct dmarc_report_mail {
	const char *from;           /* the report sender address */
	const char *const *to;      /* rua addresses */
	unsigned to_count;
	const char *policy_domain;
	const char *org_name;       /* Submitter: */
	const char *receiver;       /* our domain, first part of the file
				       name */
	const char *report_id;
	time_t begin, end;
	const void *gz;             /* the gzipped XML */
	size_t gz_size;
	const char *boundary;       /* NULL = random; for tests */
	time_t now;                 /* Date:; 0 = now */
};
/* "receiver!policy-domain!begin!end.xml.gz" into out. */
void dmarc_report_filename(const struct dmarc_report_mail *mail,
			   struct buf *out);
/* Appends the whole message (CRLF): multipart/mixed with a text/plain
 * part and the application/gzip attachment in base64. */
void dmarc_report_message(const struct dmarc_report_mail *mail,
			  struct buf *out);

/* ------------------------------------------------------------------ */
/* Reporting: closing periods and queueing the reports                  */

struct dmarc_report_settings {
	const char *hostname;  /* receiver domain and Message-ID */
	const char *sender;    /* From; NULL/"" = postmaster@hostname */
	const char *org_name;  /* NULL/"" = hostname */
	unsigned interval;     /* seconds; 0 = 86400 */
	/* DKIM signing of the report, or NULL: called with the sender's
	 * domain and the whole message; appends DKIM-Signature field(s)
	 * (CRLF-terminated) to headers_out and returns 1, 0 when the domain
	 * has no key, -1 on failure (the report then goes unsigned). The
	 * shape of dkimsign_message() (src/dkim-sign). Runs on the pass's
	 * thread. */
	int (*sign)(void *sign_ctx, const char *domain, const void *msg,
		    size_t len, struct buf *headers_out);
	void *sign_ctx;
	/* Called, when not NULL, for each local account a report was
	 * delivered to, after the commit (another process's admin command
	 * tells the daemon's IDLE sessions). */
	void (*delivered)(void *ctx, const char *address);
	void *delivered_ctx;
};

/* When the period that began at begin is due to close: the first multiple
 * of interval (counted from the epoch, so UTC midnight for a day) after
 * begin. */
time_t dmarc_report_period_due(time_t begin, unsigned interval);

struct dmarc_report_stats {
	unsigned periods_closed; /* by this pass */
	unsigned reports;        /* policy domains reported */
	unsigned dropped;        /* policy domains whose rows were dropped
				    for want of an acceptable destination */
	unsigned destinations;   /* rua addresses a report was queued for */
	unsigned skipped;        /* destinations refused: scheme, size,
				    unverified external destination */
	unsigned deferred;       /* reports left for the next pass (DNS
				    temperror for every destination) */
	unsigned errors;         /* store failures */
};
typedef void dmarc_report_done_t(const struct dmarc_report_stats *stats,
				 void *ctx);

/* One reporting pass, asynchronous, on the calling thread's event loop
 * (target posts there; dns answers there):
 *  1. close_now: close the open period at once; otherwise only when its
 *     dmarc_report_period_due() has passed (also after downtime);
 *  2. for each closed period and each policy domain with rows: build the
 *     report; drop rua destinations of other schemes or whose !size is
 *     smaller than the message; verify each external destination
 *     (section 7.1: a rua domain outside the policy domain's
 *     organisational domain must publish
 *     <policy-domain>._report._dmarc.<rua-domain> TXT "v=DMARC1...");
 *     then, in ONE store transaction, deliver to local recipients,
 *     enqueue for remote ones and delete the rows. When every
 *     destination failed verification with a DNS temperror, the rows stay
 *     for the next pass (for up to two days after the period's end).
 * Store reads are synchronous (allowed on a loop, see store.h), writes go
 * through the writer. done runs once, later, unless aborted first; the
 * run is freed after done returns (forget the pointer there). */
struct dmarc_report_run;
struct dmarc_report_run *
dmarc_report_run_start(struct store *store,
		       const struct dmarc_report_settings *set,
		       const struct mailauth_dns *dns,
		       const struct completion_target *target, bool close_now,
		       dmarc_report_done_t *done, void *ctx);
/* Stops a pass whose done has not run yet: done is not called. A store
 * commit in flight completes later and frees what is left. Sets *run to
 * NULL. */
void dmarc_report_run_abort(struct dmarc_report_run **run);

/* The daemon's timer: a pass at creation (periods that ended while the
 * daemon was down are reported), then one at every period boundary (and
 * an hour after a pass that deferred something). queued(ctx) runs after a
 * pass that queued reports, so the owner can wake its queue. Everything on
 * base's thread; set, dns and target must outlive the scheduler. */
struct dmarc_report_scheduler;
struct dmarc_report_scheduler *
dmarc_report_scheduler_create(struct event_base *base, struct store *store,
			      const struct dmarc_report_settings *set,
			      const struct mailauth_dns *dns,
			      const struct completion_target *target,
			      void (*queued)(void *ctx), void *ctx);
void dmarc_report_scheduler_destroy(struct dmarc_report_scheduler **sched);

#endif
