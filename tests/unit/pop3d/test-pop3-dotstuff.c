/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pop3-dotstuff.h"

struct stuff_case {
	const char *in;
	bool top;
	uint64_t lines;
	const char *out;
};

static const struct stuff_case cases[] = {
	{ "", false, 0, ".\r\n" },
	{ "a\r\n", false, 0, "a\r\n.\r\n" },
	{ ".\r\n", false, 0, "..\r\n.\r\n" },
	{ "..x\r\n.\r\n", false, 0, "...x\r\n..\r\n.\r\n" },
	{ "a\r\n.b\r\nc.\r\n", false, 0, "a\r\n..b\r\nc.\r\n.\r\n" },
	/* No final line end: one is added before the terminator. */
	{ "abc", false, 0, "abc\r\n.\r\n" },
	{ "abc\r", false, 0, "abc\r\n.\r\n" },
	{ ".", false, 0, "..\r\n.\r\n" },
	/* Bare LF becomes CRLF; a lone CR stays data. */
	{ "a\nb\n", false, 0, "a\r\nb\r\n.\r\n" },
	{ "a\rb\r\n", false, 0, "a\rb\r\n.\r\n" },
	{ "\n.\n", false, 0, "\r\n..\r\n.\r\n" },
	/* TOP: header, blank line, n body lines. */
	{ "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 0,
	  "H: 1\r\nH: 2\r\n\r\n.\r\n" },
	{ "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 2,
	  "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "H: 1\r\n\r\n.b1\r\n\r\nb3\r\n", true, 2,
	  "H: 1\r\n\r\n..b1\r\n\r\n.\r\n" },
	{ "H: 1\r\n\r\nb1\r\n", true, 10, "H: 1\r\n\r\nb1\r\n.\r\n" },
	{ "H: 1\r\n\r\nb1", true, 10, "H: 1\r\n\r\nb1\r\n.\r\n" },
	/* No blank line at all: the whole message. */
	{ "H: 1\r\nH: 2\r\n", true, 0, "H: 1\r\nH: 2\r\n.\r\n" },
	/* A header line of only "\r\r" is not blank. */
	{ "H: 1\r\n\r\r\nX\r\n\r\nb\r\n", true, 0,
	  "H: 1\r\n\r\r\nX\r\n\r\n.\r\n" },
	/* Bare-LF blank line ends the header too. */
	{ "H: 1\n\nb1\nb2\n", true, 1, "H: 1\r\n\r\nb1\r\n.\r\n" },
};

static void run_case(const struct stuff_case *c, size_t piece, struct buf *out)
{
	struct pop3_dotstuff ds;
	size_t len = strlen(c->in), off = 0;

	buf_reset(out);
	pop3_dotstuff_init(&ds, c->top, c->lines);
	while (off < len && !pop3_dotstuff_done(&ds)) {
		size_t n = MIN(piece, len - off);
		size_t used = pop3_dotstuff_feed(&ds, (const uint8_t *)c->in + off,
						 n, out);
		assert_true(used <= n);
		if (used < n)
			assert_true(pop3_dotstuff_done(&ds));
		off += used;
	}
	pop3_dotstuff_finish(&ds, out);
}

/* Every case, whole and cut into pieces of every small size, must give
 * the same output: the encoder keeps its state across pieces. */
static void test_cases(void **state)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		for (size_t piece = 1; piece <= strlen(cases[i].in) + 1;
		     piece++) {
			run_case(&cases[i], piece, &out);
			if (!buf_equals(&out, cases[i].out,
					strlen(cases[i].out)))
				fail_msg("case %zu piece %zu: got \"%s\"", i,
					 piece, buf_cstr(&out));
		}
	}
	buf_free(&out);
}

/* The stuffed output always parses back (unstuffing) to the CRLF form of
 * the input and never contains a premature terminator. */
static void test_roundtrip(void **state)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct pop3_dotstuff ds;
	unsigned seed = 1;
	const char alphabet[] = ".\r\nab";

	for (int round = 0; round < 200; round++) {
		buf_reset(&in);
		buf_reset(&out);
		size_t len = (size_t)(round * 7 % 97);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf_append_byte(&in, (uint8_t)alphabet[(seed >> 16) % 5]);
		}
		pop3_dotstuff_init(&ds, false, 0);
		pop3_dotstuff_feed(&ds, in.data, in.len, &out);
		pop3_dotstuff_finish(&ds, &out);

		/* Unstuff line by line until the terminator. */
		const char *p = (const char *)out.data;
		const char *end = p + out.len;
		bool terminated = false;
		while (p < end) {
			const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
			assert_non_null(eol);
			if (eol - p == 1 && p[0] == '.') {
				terminated = true;
				assert_true(eol + 2 == end);
				break;
			}
			p = eol + 2;
		}
		assert_true(terminated);
	}
	buf_free(&in);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
