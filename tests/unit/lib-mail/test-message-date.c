/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "message-date.h"

static void test_dates(void **state)
{
	static const struct {
		const char *in;
		bool ok;
		int64_t t;
		int tz;
	} cases[] = {
		{ "Fri, 21 Nov 1997 09:55:06 -0600", true, 880127706, -360 },
		{ "Tue, 1 Jul 2003 10:52:37 +0200", true, 1057049557, 120 },
		{ "Thu, 13 Feb 1969 23:32:54 -0330", true, -27723426, -210 },
		{ "21 Nov 97 09:55:06 GMT", true, 880106106, 0 },
		{ "Fri, 21 Nov 1997 09:55 -0600", true, 880127700, -360 },
		{ "Fri , 21 Nov 1997 09 : 55 : 06 (comment) -0600 (CST)", true, 880127706, -360 },
		{ "1 Jan 2000 00:00:00 EST", true, 946702800, -300 },
		{ "1 jan 100 00:00:00 +0000", true, 946684800, 0 },
		{ "1 Jan 2049 00:00:00 PDT", true, 2493097200, -420 },
		{ "1 Jan 49 00:00:00 +0000", true, 2493072000, 0 },
		{ "1 Jan 50 00:00:00 +0000", true, -631152000, 0 },
		{ "1 Jan 2000 00:00:00 Q", true, 946684800, 0 },
		{ "1 Jan 2000 00:00:00 XYZT", true, 946684800, 0 },
		{ "1 Jan 2000 00:00:00", true, 946684800, 0 },
		{ "Mon, 1-Jan-2001 00:00:00 +0100", true, 978303600, 60 },
		{ "", false, 0, 0 },
		{ "yesterday", false, 0, 0 },
		{ "32 Jan 2000 00:00:00 +0000", false, 0, 0 },
		{ "1 Foo 2000 00:00:00 +0000", false, 0, 0 },
		{ "1 Jan 2000 24:00:00 +0000", false, 0, 0 },
		{ "1 Jan 2000 00:00:00 +01", false, 0, 0 },
		{ "1 Jan 2000", false, 0, 0 },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		time_t t = 0;
		int tz = 0;
		bool ok = message_date_parse((const uint8_t *)cases[i].in,
					     strlen(cases[i].in), &t, &tz);

		if (ok != cases[i].ok)
			fail_msg("case %zu: '%s' ok=%d", i, cases[i].in, ok);
		if (ok && ((int64_t)t != cases[i].t || tz != cases[i].tz))
			fail_msg("case %zu: '%s' gave %lld %d", i, cases[i].in,
				 (long long)t, tz);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
