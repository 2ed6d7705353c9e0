/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "spf.h"
#include "dkim.h"
#include "dmarc.h"

char *mailauth_ar_from_checks(const char *authserv_id,
			      const struct spf_check *spf,
			      const struct dkim_verify *dkim,
			      const struct dmarc_check *dmarc,
			      const char *from_domain)
{
	size_t ndkim = dkim != NULL ? dkim_verify_count(dkim) : 0;
	struct mailauth_ar_entry *e = i_new(struct mailauth_ar_entry, ndkim + 3);
	size_t n = 0;

	if (spf != NULL) {
		bool helo = strcmp(spf_check_identity(spf), "helo") == 0;
		e[n].method = "spf";
		e[n].result = spf_result_name(spf_check_result(spf));
		e[n].props[0][0] = helo ? "smtp.helo" : "smtp.mailfrom";
		e[n].props[0][1] = spf_check_domain(spf);
		n++;
	}
	if (dkim != NULL && ndkim == 0) {
		e[n].method = "dkim";
		e[n].result = "none";
		n++;
	}
	for (size_t i = 0; i < ndkim; i++) {
		const struct dkim_verify_result *r = dkim_verify_get(dkim, i);
		e[n].method = "dkim";
		e[n].result = dkim_result_name(r->result);
		if (r->result != DKIM_RESULT_PASS)
			e[n].reason = r->reason;
		if (r->domain != NULL) {
			e[n].props[0][0] = "header.d";
			e[n].props[0][1] = r->domain;
			e[n].props[1][0] = "header.s";
			e[n].props[1][1] = r->selector;
			e[n].props[2][0] = "header.b";
			e[n].props[2][1] = r->b_prefix;
		}
		n++;
	}
	if (dmarc != NULL) {
		e[n].method = "dmarc";
		e[n].result = dmarc_result_name(dmarc_check_result(dmarc));
		if (from_domain != NULL && from_domain[0] != '\0') {
			e[n].props[0][0] = "header.from";
			e[n].props[0][1] = from_domain;
		}
		n++;
	}
	char *ret = mailauth_authentication_results(authserv_id, e, n);
	free(e);
	return ret;
}
