/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "smtpd-mailauth.h"

/* ---- verdict ---- */

enum { D = SMTPD_MAILAUTH_DELIVER, J = SMTPD_MAILAUTH_JUNK,
       RD = SMTPD_MAILAUTH_REJECT_DMARC, RF = SMTPD_MAILAUTH_REJECT_FROM,
       RS = SMTPD_MAILAUTH_REJECT_SPF, TS = SMTPD_MAILAUTH_DEFER_SPF,
       TD = SMTPD_MAILAUTH_DEFER_DMARC };

/* Columns: SPF ran and its result, DMARC ran, its result, a record and
 * the disposition, the From status, an aligned DKIM temperror; then
 * [auth] spf_reject (not "no"), dmarc_policy = enforce, temperror =
 * defer; the expected action. */
struct verdict_case {
	const char *name;
	bool spf_ran; enum spf_result spf;
	bool dmarc_ran; enum dmarc_result dmarc; bool record;
	enum dmarc_policy disp;
	enum smtpd_from_status from; bool dkim_te;
	bool spf_reject, enforce, defer;
	int expect;
};

#define PASS SPF_RESULT_PASS
#define SFAIL SPF_RESULT_FAIL
#define SOFT SPF_RESULT_SOFTFAIL
#define STEMP SPF_RESULT_TEMPERROR
#define MPASS DMARC_RESULT_PASS
#define MFAIL DMARC_RESULT_FAIL
#define MNONE DMARC_RESULT_NONE
#define MTEMP DMARC_RESULT_TEMPERROR
#define MPERM DMARC_RESULT_PERMERROR
#define PNONE DMARC_POLICY_NONE
#define PQUAR DMARC_POLICY_QUARANTINE
#define PREJ DMARC_POLICY_REJECT
#define ONE SMTPD_FROM_ONE
#define NOFROM SMTPD_FROM_NONE
#define MULTI SMTPD_FROM_MULTIPLE

static const struct verdict_case verdict_cases[] = {
	{ "all pass",            1, PASS,  1, MPASS, 1, PNONE, ONE, 0, 1, 1, 0, D },
	{ "dmarc reject",        1, SFAIL, 1, MFAIL, 1, PREJ,  ONE, 0, 1, 1, 0, RD },
	{ "dmarc quarantine",    1, PASS,  1, MFAIL, 1, PQUAR, ONE, 0, 1, 1, 0, J },
	{ "dmarc sampled out",   1, SFAIL, 1, MFAIL, 1, PNONE, ONE, 0, 1, 1, 0, D },
	{ "dmarc over spf fail", 1, SFAIL, 1, MPASS, 1, PNONE, ONE, 0, 1, 1, 0, D },
	{ "monitor",             1, SFAIL, 1, MFAIL, 1, PREJ,  ONE, 0, 1, 0, 0, D },
	{ "no policy, spf fail", 1, SFAIL, 1, MNONE, 0, PNONE, ONE, 0, 1, 1, 0, RS },
	{ "no policy, softfail", 1, SOFT,  1, MNONE, 0, PNONE, ONE, 0, 1, 1, 0, D },
	{ "spf_reject no",       1, SFAIL, 1, MNONE, 0, PNONE, ONE, 0, 0, 1, 0, D },
	{ "dmarc off, spf fail", 1, SFAIL, 0, MNONE, 0, PNONE, ONE, 0, 1, 1, 0, RS },
	{ "spf off",             0, SFAIL, 1, MNONE, 0, PNONE, ONE, 0, 1, 1, 0, D },
	{ "spf temp, accept",    1, STEMP, 1, MNONE, 0, PNONE, ONE, 0, 1, 1, 0, D },
	{ "spf temp, defer",     1, STEMP, 1, MNONE, 0, PNONE, ONE, 0, 1, 1, 1, TS },
	{ "spf temp, dmarc pass",1, STEMP, 1, MPASS, 1, PNONE, ONE, 0, 1, 1, 1, D },
	{ "spf temp, dmarc fail",1, STEMP, 1, MFAIL, 1, PREJ,  ONE, 0, 1, 1, 1, TD },
	{ "dkim temp, defer",    1, PASS,  1, MFAIL, 1, PREJ,  ONE, 1, 1, 1, 1, TD },
	{ "dkim temp, accept",   1, PASS,  1, MFAIL, 1, PREJ,  ONE, 1, 1, 1, 0, RD },
	{ "dmarc temp, defer",   1, SFAIL, 1, MTEMP, 0, PNONE, ONE, 0, 1, 1, 1, TD },
	{ "dmarc temp, accept",  1, SFAIL, 1, MTEMP, 0, PNONE, ONE, 0, 1, 1, 0, D },
	{ "several From",        1, PASS,  1, MPERM, 0, PNONE, MULTI, 0, 1, 1, 0, RF },
	{ "several From, monitor", 1, PASS, 1, MPERM, 0, PNONE, MULTI, 0, 1, 0, 0, D },
	{ "no From, spf fail",   1, SFAIL, 1, MPERM, 0, PNONE, NOFROM, 0, 1, 1, 0, RS },
};

static void test_verdict(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMENTS(verdict_cases); i++) {
		const struct verdict_case *c = &verdict_cases[i];
		struct smtpd_mailauth_facts f = {
			.spf_ran = c->spf_ran, .spf = c->spf,
			.dmarc_ran = c->dmarc_ran, .dmarc = c->dmarc,
			.dmarc_record = c->record, .disposition = c->disp,
			.from = c->from, .dkim_temperror_aligned = c->dkim_te,
			.spf_reject = c->spf_reject, .enforce = c->enforce,
			.defer = c->defer,
		};
		enum smtpd_mailauth_action got = smtpd_mailauth_verdict(&f);
		if ((int)got != c->expect)
			fail_msg("%s: got %s, want %s", c->name,
				 smtpd_mailauth_action_name(got),
				 smtpd_mailauth_action_name(c->expect));
	}
}

/* ---- splice ---- */

#define PREFIX "Return-Path: <a@b>\r\nReceived: x\r\n"
#define ADDED "Authentication-Results: mx; spf=pass\r\n"

/* msg = PREFIX + room bytes of '#' + content; returns the result. */
static char *splice(const char *content, size_t room, const char *added,
		    unsigned *removed_r, bool *moved_r)
{
	struct buf msg = BUF_INIT;
	size_t start, prefix_len = strlen(PREFIX);
	uint8_t *body_before;
	char *ret;

	buf_append_str(&msg, PREFIX);
	for (size_t i = 0; i < room; i++)
		buf_append_byte(&msg, '#');
	buf_append_str(&msg, content);
	body_before = msg.data;
	start = smtpd_mailauth_splice(&msg, prefix_len, prefix_len + room,
				      added, strlen(added), "mx", removed_r);
	*moved_r = msg.data != body_before;
	ret = i_strndup((const char *)msg.data + start, msg.len - start);
	buf_free(&msg);
	return ret;
}

static void test_splice(void **state)
{
	static const struct {
		const char *content, *expect;
		unsigned removed;
	} cases[] = {
		{ "Subject: s\r\n\r\nbody\r\n",
		  "Subject: s\r\n\r\nbody\r\n", 0 },
		{ "Authentication-Results: mx; dkim=pass\r\nSubject: s\r\n\r\nb\r\n",
		  "Subject: s\r\n\r\nb\r\n", 1 },
		{ "A: 1\r\nAuthentication-Results: (c) MX;\r\n\tspf=pass\r\n"
		  "B: 2\r\nAuthentication-Results: other; spf=pass\r\n"
		  "authentication-results: mx; dmarc=pass\r\nC: 3\r\n\r\n"
		  "Authentication-Results: mx; in the body\r\n",
		  "A: 1\r\nB: 2\r\nAuthentication-Results: other; spf=pass\r\n"
		  "C: 3\r\n\r\nAuthentication-Results: mx; in the body\r\n", 2 },
		{ "Authentication-Results: mxx; x\r\nAuthentication-Results: mx\r\n",
		  "Authentication-Results: mxx; x\r\n", 1 },
		{ "no header at all", "no header at all", 0 },
		{ "Authentication-Results: mx; a\nX: bare lf\n\nbody\n",
		  "X: bare lf\n\nbody\n", 1 },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		for (size_t room = 0; room <= 64; room += 64) {
			unsigned removed;
			bool moved;
			char *got = splice(cases[i].content, room, ADDED,
					   &removed, &moved);
			char *want = i_strdup_printf("%s%s%s", PREFIX, ADDED,
						     cases[i].expect);
			if (strcmp(got, want) != 0)
				fail_msg("case %zu room %zu:\n%s\nwant\n%s", i,
					 room, got, want);
			assert_int_equal(removed, cases[i].removed);
			/* Enough room: done in place. */
			if (room == 64)
				assert_false(moved);
			i_free(got);
			i_free(want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_splice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
