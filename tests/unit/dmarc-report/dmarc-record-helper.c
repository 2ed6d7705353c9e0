/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "store.h"
#include "dmarc.h"
#include "dmarc-report.h"

/* Not a unit test: the integration tests' stand-in for smtpd. It runs a
 * real DMARC check (lib-dmarc) against a canned DNS answer and hands the
 * result to dmarc_report_record(), COUNT times, into the store of DATA_DIR:
 *
 *   dmarc-record-helper DATA_DIR WHEN "_dmarc TXT" FROM_DOMAIN SOURCE_IP
 *       SPF_RESULT SPF_DOMAIN DKIM_DOMAIN DKIM_RESULT COUNT
 *
 * WHEN is the event time (0 = now; it dates a new period's start). The
 * TXT record answers _dmarc.FROM_DOMAIN, every other name is NXDOMAIN. */

struct fake_lookup {
	struct fake_lookup *next;
	char *name;
	enum dns_type type;
	mailauth_dns_callback_t *callback;
	void *ctx;
};

struct fake_dns {
	struct fake_lookup *pending;
	const char *from_domain, *txt;
};

static void *fake_lookup(void *dns_ctx, const char *name, enum dns_type type,
			 mailauth_dns_callback_t *callback, void *cb_ctx)
{
	struct fake_dns *f = dns_ctx;
	struct fake_lookup *l = i_new(struct fake_lookup, 1);
	l->name = i_strdup(name);
	l->type = type;
	l->callback = callback;
	l->ctx = cb_ctx;
	l->next = f->pending;
	f->pending = l;
	return l;
}

static void fake_cancel(void *dns_ctx, void *request)
{
	struct fake_dns *f = dns_ctx;
	for (struct fake_lookup **p = &f->pending; *p != NULL;
	     p = &(*p)->next) {
		if (*p == request) {
			struct fake_lookup *l = *p;
			*p = l->next;
			i_free(l->name);
			i_free(l);
			return;
		}
	}
}

static void fake_run(struct fake_dns *f)
{
	while (f->pending != NULL) {
		struct fake_lookup *l = f->pending;
		f->pending = l->next;
		char *want = i_strdup_printf("_dmarc.%s", f->from_domain);
		size_t len = strlen(l->name);
		if (len > 0 && l->name[len - 1] == '.')
			l->name[len - 1] = '\0';
		struct dns_rr rr = {
		    .type = DNS_TYPE_TXT,
		    .txt_or_data = (uint8_t *)f->txt,
		    .txt_len = strlen(f->txt),
		};
		struct dns_answer answer = {.rcode = 3};
		if (l->type == DNS_TYPE_TXT && str_ascii_eq_ci(l->name, want)) {
			answer.rcode = 0;
			answer.rrs = &rr;
			answer.count = 1;
		}
		l->callback(&answer, NULL, l->ctx);
		i_free(want);
		i_free(l->name);
		i_free(l);
	}
}

static void check_done(struct dmarc_check *check, void *ctx)
{
	*(bool *)ctx = true;
}

int main(int argc, char **argv)
{
	if (argc != 11) {
		fprintf(stderr, "usage: %s DATA_DIR WHEN TXT FROM_DOMAIN "
				"SOURCE_IP SPF_RESULT SPF_DOMAIN DKIM_DOMAIN "
				"DKIM_RESULT COUNT\n",
			argv[0]);
		return 2;
	}
	uint64_t when, count;
	if (str_to_uint64(argv[2], INT64_MAX, &when) < 0 ||
	    str_to_uint64(argv[10], 1000000, &count) < 0) {
		fprintf(stderr, "bad WHEN or COUNT\n");
		return 2;
	}
	struct store_settings set = {.data_dir = argv[1]};
	struct store *store;
	const char *error;
	if (store_open(&set, &store, &error) < 0) {
		fprintf(stderr, "cannot open store: %s\n", error);
		return 1;
	}
	struct fake_dns f = {.from_domain = argv[4], .txt = argv[3]};
	struct mailauth_dns dns = {
	    .lookup = fake_lookup,
	    .cancel = fake_cancel,
	    .dns_ctx = &f,
	};
	struct dmarc_dkim_input dkim = {.result = argv[9], .domain = argv[8]};
	struct dmarc_input in = {
	    .from_domain = argv[4],
	    .spf_result = argv[6],
	    .spf_domain = argv[7],
	    .dkim = &dkim,
	    .dkim_count = argv[8][0] != '\0' ? 1 : 0,
	};
	bool done = false;
	struct dmarc_check *check =
	    dmarc_check_start(&dns, &in, check_done, &done);
	fake_run(&f);
	if (!done) {
		fprintf(stderr, "the DMARC check did not finish\n");
		return 1;
	}
	struct dmarc_report_event ev = {
	    .source_ip = argv[5],
	    .envelope_from = argv[7],
	    .envelope_to = "b.test",
	    .input = &in,
	    .applied = dmarc_check_disposition(check),
	    .when = (time_t)when,
	};
	for (uint64_t i = 0; i < count; i++)
		dmarc_report_record(store, check, &ev);
	printf("result=%s disposition=%s\n",
	       dmarc_result_name(dmarc_check_result(check)),
	       dmarc_policy_name(ev.applied));
	dmarc_check_destroy(&check);
	/* Closing finishes the detached commits. */
	store_close(&store);
	return 0;
}
