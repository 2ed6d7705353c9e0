/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SPF_H
#define POSTHORN_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "mailauth-dns.h"

/* Sender Policy Framework, RFC 7208: an asynchronous check_host().
 *
 * How smtpd uses it:
 *   at MAIL FROM (or at end of DATA, whichever the policy wants):
 *     struct spf_request req = { .client_ip = ..., .helo = helo,
 *                                .sender = mail_from (or "" for <>),
 *                                .receiver = our hostname };
 *     spf_check_start(&dns, &req, on_spf_done, session);
 *   on_spf_done(check, session) runs later from the event loop; read
 *   spf_check_result(), spf_check_explanation(), and build the header
 *   with spf_received_header(); then spf_check_destroy(&check).
 *   A session that ends first calls spf_check_destroy() (pending DNS is
 *   cancelled and the callback never runs).
 * With a null reverse-path the HELO identity is checked (section 2.4);
 * "postmaster@<helo>" is then the sender for macros. */

enum spf_result {
	SPF_RESULT_NONE,
	SPF_RESULT_NEUTRAL,
	SPF_RESULT_PASS,
	SPF_RESULT_FAIL,
	SPF_RESULT_SOFTFAIL,
	SPF_RESULT_TEMPERROR,
	SPF_RESULT_PERMERROR,
};

/* RFC 7208 section 4.6.4: at most 10 DNS-querying terms, 2 void lookups. */
#define SPF_MAX_DNS_MECHANISMS 10
#define SPF_MAX_VOID_LOOKUPS 2
#define SPF_MAX_NAMES_PER_LOOKUP 10

struct spf_request {
	/* The SMTP client's address: AF_INET or AF_INET6 (a v4-mapped v6
	 * address is treated as IPv4). */
	struct sockaddr_storage client_ip;
	const char *helo;     /* HELO/EHLO argument; may be NULL */
	const char *sender;   /* MAIL FROM address without <>; "" = null path */
	const char *receiver; /* our host name, for %{r} and the header */
	/* Seconds since the epoch for %{t}; 0 = now. */
	long long now;
	/* RFC 7208 section 4.6.4: the whole evaluation may take at most this
	 * long; a lookup answering later ends it with temperror ("time limit
	 * exceeded"), so a hostile chain of slow names holds a session for
	 * about this plus one DNS timeout. 0 = SPF_DEFAULT_TIME_LIMIT_MS. */
	unsigned time_limit_ms;
	/* Monotonic milliseconds; NULL = time_mono_ms(). For tests. */
	int64_t (*clock_ms)(void);
};
/* The RFC's "at least 20 seconds". */
#define SPF_DEFAULT_TIME_LIMIT_MS 20000

struct spf_check;
typedef void spf_callback_t(struct spf_check *check, void *ctx);

/* Starts check_host() for req (copied; the strings need not outlive the
 * call). callback runs exactly once, later, unless the check is destroyed
 * first. dns must outlive the check. */
struct spf_check *spf_check_start(const struct mailauth_dns *dns,
				  const struct spf_request *req,
				  spf_callback_t *callback, void *ctx);
/* Cancels pending lookups; sets *check to NULL. NULL is allowed. */
void spf_check_destroy(struct spf_check **check);

bool spf_check_done(const struct spf_check *check);
enum spf_result spf_check_result(const struct spf_check *check);
/* The explanation for a fail (section 6.2), expanded, or NULL. */
const char *spf_check_explanation(const struct spf_check *check);
/* Why the result is what it is (e.g. "mechanism ip4:192.0.2.0/24
 * matched", "too many DNS lookups"); never NULL once done. */
const char *spf_check_reason(const struct spf_check *check);
/* The identity checked: "mailfrom" or "helo", and the domain checked. */
const char *spf_check_identity(const struct spf_check *check);
const char *spf_check_domain(const struct spf_check *check);

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" */
const char *spf_result_name(enum spf_result result);

/* The Received-SPF header field (section 9.1), folded, without trailing
 * CRLF, e.g.
 *   Received-SPF: pass (mx.example.org: domain of a@b.test designates
 *    192.0.2.1 as permitted sender) client-ip=192.0.2.1;
 *    envelope-from="a@b.test"; helo=mail.b.test; identity=mailfrom;
 *    receiver=mx.example.org;
 * Returns a newly allocated string (i_free it). */
char *spf_received_header(const struct spf_check *check);

/* Syntax check of one SPF record (section 4.6/12): 1 when valid, -1 with
 * *error_r otherwise; 0 when it is not an SPF record at all (no "v=spf1").
 * Used by the evaluator, the fuzzer and `posthorn dns`. */
int spf_record_check(const char *record, size_t len, const char **error_r);

#endif
