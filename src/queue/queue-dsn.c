/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "timeutil.h"
#include "queue-dsn.h"

#include <stdatomic.h>
#include <unistd.h>

static const char *const action_names[] = {
	[QUEUE_DSN_ACTION_FAILED] = "failed",
	[QUEUE_DSN_ACTION_DELAYED] = "delayed",
	[QUEUE_DSN_ACTION_DELIVERED] = "delivered",
	[QUEUE_DSN_ACTION_RELAYED] = "relayed",
};

static int (*_Atomic dsn_signer)(void *ctx, const char *host,
				 const void *msg, size_t len,
				 struct buf *headers_out);
static void *_Atomic dsn_signer_ctx;

void queue_dsn_set_signer(int (*sign)(void *ctx, const char *host,
				      const void *msg, size_t len,
				      struct buf *headers_out),
			  void *ctx)
{
	dsn_signer_ctx = ctx;
	dsn_signer = sign;
}

bool queue_dsn_wanted(const char *notify, enum queue_dsn_action action)
{
	const char *want;

	switch (action) {
	case QUEUE_DSN_ACTION_FAILED:
		want = "FAILURE";
		break;
	case QUEUE_DSN_ACTION_DELAYED:
		want = "DELAY";
		break;
	default:
		want = "SUCCESS";
		break;
	}
	if (notify == NULL || notify[0] == '\0')
		return action == QUEUE_DSN_ACTION_FAILED ||
		       action == QUEUE_DSN_ACTION_DELAYED;
	/* notify-list = notify-list-element *("," notify-list-element) */
	const char *p = notify;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (len == strlen(want) && str_ascii_ncmp_ci(p, want, len) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Header field values must stay one line: CR, LF and other controls from a
 * peer's reply become spaces. */
static void append_clean(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		buf_append_byte(out, c < 0x20 || c == 0x7f ? ' ' : c);
	}
}

static void append_date_field(struct buf *out, const char *name, time_t t)
{
	char date[64];

	if (t == 0)
		return;
	buf_printf(out, "%s: %s\r\n", name,
		   time_format_rfc5322(t, date, sizeof(date)));
}

static bool has_8bit(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

/* RFC 3464 section 2.3.1/2.3.2: "rfc822;" address, or "utf-8;" for an
 * internationalized one (RFC 6533 section 3). The ORCPT keeps its own
 * address type. */
static void append_addr_field(struct buf *out, const char *name,
			      const char *typed, const char *address)
{
	buf_printf(out, "%s: ", name);
	if (typed != NULL) {
		append_clean(out, typed);
	} else {
		buf_append_str(out, has_8bit(address) ? "utf-8;" : "rfc822;");
		append_clean(out, address);
	}
	buf_append_str(out, "\r\n");
}

static const char *subject_for(const struct queue_dsn *dsn)
{
	bool failed = false, delayed = false;

	for (unsigned i = 0; i < dsn->rcpt_count; i++) {
		if (dsn->rcpts[i].action == QUEUE_DSN_ACTION_FAILED)
			failed = true;
		else if (dsn->rcpts[i].action == QUEUE_DSN_ACTION_DELAYED)
			delayed = true;
	}
	if (failed)
		return "Undelivered Mail Returned to Sender";
	if (delayed)
		return "Delayed Mail (still being retried)";
	return "Successful Mail Delivery Report";
}

static void append_human(struct buf *out, const struct queue_dsn *dsn)
{
	buf_printf(out, "This is the mail system at host %s.\r\n\r\n",
		   dsn->reporting_mta);
	for (unsigned i = 0; i < dsn->rcpt_count; i++) {
		const struct queue_dsn_rcpt *r = &dsn->rcpts[i];
		buf_append_str(out, "<");
		append_clean(out, r->address);
		switch (r->action) {
		case QUEUE_DSN_ACTION_FAILED:
			buf_append_str(out, ">: delivery failed permanently");
			break;
		case QUEUE_DSN_ACTION_DELAYED:
			buf_append_str(out,
				       ">: delivery delayed, still trying");
			break;
		case QUEUE_DSN_ACTION_DELIVERED:
			buf_append_str(out, ">: delivered");
			break;
		case QUEUE_DSN_ACTION_RELAYED:
			buf_append_str(out, ">: relayed to a host that does "
					    "not report delivery status");
			break;
		}
		if (r->remote_mta != NULL) {
			buf_append_str(out, " (host ");
			append_clean(out, r->remote_mta);
			buf_append_str(out, ")");
		}
		buf_append_str(out, "\r\n");
		if (r->diag_text != NULL) {
			buf_append_str(out, "    ");
			if (r->diag_code != 0)
				buf_printf(out, "%u %s ", r->diag_code,
					   r->status);
			append_clean(out, r->diag_text);
			buf_append_str(out, "\r\n");
		}
	}
}

static void append_status(struct buf *out, const struct queue_dsn *dsn)
{
	/* RFC 3464 section 2.2: per-message fields. */
	buf_printf(out, "Reporting-MTA: dns; %s\r\n", dsn->reporting_mta);
	if (dsn->envid != NULL && dsn->envid[0] != '\0') {
		buf_append_str(out, "Original-Envelope-Id: ");
		append_clean(out, dsn->envid);
		buf_append_str(out, "\r\n");
	}
	append_date_field(out, "Arrival-Date", dsn->arrival_date);
	/* RFC 3464 section 2.3: one block per recipient, each after a
	 * blank line. */
	for (unsigned i = 0; i < dsn->rcpt_count; i++) {
		const struct queue_dsn_rcpt *r = &dsn->rcpts[i];
		buf_append_str(out, "\r\n");
		if (r->orcpt != NULL && strchr(r->orcpt, ';') != NULL)
			append_addr_field(out, "Original-Recipient", r->orcpt,
					  NULL);
		append_addr_field(out, "Final-Recipient", NULL, r->address);
		buf_printf(out, "Action: %s\r\n", action_names[r->action]);
		buf_append_str(out, "Status: ");
		append_clean(out, r->status);
		buf_append_str(out, "\r\n");
		if (r->remote_mta != NULL) {
			buf_append_str(out, "Remote-MTA: dns; ");
			append_clean(out, r->remote_mta);
			buf_append_str(out, "\r\n");
		}
		if (r->diag_code != 0) {
			buf_printf(out, "Diagnostic-Code: smtp; %u %s ",
				   r->diag_code, r->status);
			append_clean(out, r->diag_text != NULL ? r->diag_text
							       : "");
			buf_append_str(out, "\r\n");
		}
		append_date_field(out, "Last-Attempt-Date", r->last_attempt);
		if (r->action == QUEUE_DSN_ACTION_DELAYED)
			append_date_field(out, "Will-Retry-Until",
					  r->will_retry_until);
	}
}

/* The header section including its terminating empty line. */
static size_t header_size(const uint8_t *data, size_t size)
{
	if (size >= 2 && data[0] == '\r' && data[1] == '\n')
		return 2;
	for (size_t i = 0; i + 3 < size; i++) {
		if (data[i] == '\r' && data[i + 1] == '\n' &&
		    data[i + 2] == '\r' && data[i + 3] == '\n')
			return i + 4;
	}
	return size;
}

static void append_crlf_terminated(struct buf *out, const uint8_t *data,
				   size_t size)
{
	buf_append(out, data, size);
	if (size < 2 || data[size - 2] != '\r' || data[size - 1] != '\n')
		buf_append_str(out, "\r\n");
}

static void dsn_build(const struct queue_dsn *dsn, struct buf *out);

void queue_dsn_build(const struct queue_dsn *dsn, struct buf *out)
{
	int (*sign)(void *, const char *, const void *, size_t, struct buf *) =
		dsn_signer;
	struct buf msg = BUF_INIT;

	if (sign == NULL) {
		dsn_build(dsn, out);
		return;
	}
	/* The signature goes above the DSN, below whatever out holds
	 * already (a Return-Path for local delivery). */
	dsn_build(dsn, &msg);
	(void)sign(dsn_signer_ctx, dsn->reporting_mta, msg.data, msg.len, out);
	buf_append(out, msg.data, msg.len);
	buf_free(&msg);
}

static void dsn_build(const struct queue_dsn *dsn, struct buf *out)
{
	static atomic_uint counter;
	time_t now = dsn->now != 0 ? dsn->now : time(NULL);
	unsigned n = atomic_fetch_add(&counter, 1);
	int64_t us = time_real_us();
	char boundary[96], date[64];
	bool full = false, delayed_only = true, global = false;

	for (unsigned i = 0; i < dsn->rcpt_count; i++) {
		if (dsn->rcpts[i].action != QUEUE_DSN_ACTION_DELAYED)
			delayed_only = false;
		if (has_8bit(dsn->rcpts[i].address) ||
		    has_8bit(dsn->rcpts[i].orcpt))
			global = true;
	}
	/* A delay notice never carries the whole message: it is still on
	 * its way. */
	full = dsn->ret == QUEUE_DSN_RET_FULL && !delayed_only;
	if (dsn->boundary != NULL)
		snprintf(boundary, sizeof(boundary), "%s", dsn->boundary);
	else
		snprintf(boundary, sizeof(boundary),
			 "=_posthorn_%llx_%x_%d",
			 (unsigned long long)us, n, (int)getpid());

	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
		   dsn->reporting_mta);
	buf_append_str(out, "To: <");
	append_clean(out, dsn->to);
	buf_append_str(out, ">\r\n");
	buf_printf(out, "Subject: %s\r\n", subject_for(dsn));
	buf_printf(out, "Date: %s\r\n",
		   time_format_rfc5322(now, date, sizeof(date)));
	buf_printf(out, "Message-ID: <dsn.%llx.%x@%s>\r\n",
		   (unsigned long long)us, n, dsn->reporting_mta);
	/* RFC 3834 section 5: an automatic reply. */
	buf_append_str(out, "Auto-Submitted: auto-replied\r\n");
	buf_append_str(out, "MIME-Version: 1.0\r\n");
	buf_printf(out,
		   "Content-Type: multipart/report; "
		   "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
		   boundary);
	buf_append_str(out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	buf_printf(out, "--%s\r\n", boundary);
	buf_append_str(out, "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: 8bit\r\n"
			    "Content-Description: Notification\r\n\r\n");
	append_human(out, dsn);

	buf_printf(out, "\r\n--%s\r\n", boundary);
	/* RFC 6533 section 6: UTF-8 addresses need the global form. */
	buf_printf(out, "Content-Type: message/%sdelivery-status\r\n"
		   "Content-Description: Delivery report\r\n\r\n",
		   global ? "global-" : "");
	append_status(out, dsn);

	if (dsn->original != NULL) {
		buf_printf(out, "\r\n--%s\r\n", boundary);
		if (full) {
			buf_append_str(out,
				       "Content-Type: message/rfc822\r\n"
				       "Content-Description: Undelivered "
				       "Message\r\n\r\n");
			append_crlf_terminated(out, dsn->original,
					       dsn->original_size);
		} else {
			size_t hs = header_size(dsn->original,
						dsn->original_size);
			buf_append_str(out,
				       "Content-Type: text/rfc822-headers\r\n"
				       "Content-Description: Undelivered "
				       "Message Headers\r\n\r\n");
			append_crlf_terminated(out, dsn->original, hs);
		}
	}
	buf_printf(out, "\r\n--%s--\r\n", boundary);
}
