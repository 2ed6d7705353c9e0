/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "message-address.h"

/* Renders the list as IMAP-like tuples: (name route mailbox domain) */
static const char *addr_str(struct pool *pool, const struct message_address *a)
{
	struct buf b = BUF_INIT;
	const char *ret;

	for (; a != NULL; a = a->next) {
		buf_printf(&b, "(%s %s %s %s%s)", a->name ? a->name : "NIL",
			   a->route ? a->route : "NIL",
			   a->mailbox ? a->mailbox : "NIL",
			   a->domain ? a->domain : "NIL", a->invalid ? " !" : "");
	}
	ret = pool_strdup(pool, buf_cstr(&b));
	buf_free(&b);
	return ret;
}

static void test_addresses(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		/* RFC 5322 appendix A examples */
		{ "\"Joe Q. Public\" <john.q.public@example.com>",
		  "(Joe Q. Public NIL john.q.public example.com)" },
		{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
		  "(Mary Smith NIL mary x.test)(NIL NIL jdoe example.org)(Who? NIL one y.test)" },
		{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
		  "(NIL NIL boss nil.test)(Giant; \"Big\" Box NIL sysservices example.net)" },
		{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
		  "(NIL NIL A Group NIL)(Ed Jones NIL c a.test)(NIL NIL joe where.test)"
		  "(John NIL jdoe one.test)(NIL NIL NIL NIL)" },
		{ "Undisclosed recipients:;",
		  "(NIL NIL Undisclosed recipients NIL)(NIL NIL NIL NIL)" },
		{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		  "(Pete NIL pete silly.test)" },
		/* obsolete forms (section 4.4) */
		{ "<@route1,@route2:user@host.example>",
		  "(NIL @route1,@route2 user host.example)" },
		{ "John Doe <jdoe@machine(comment).  example>",
		  "(John Doe NIL jdoe machine.example)" },
		{ "Joe Q. Public <john.q.public@example.com>",
		  "(Joe Q. Public NIL john.q.public example.com)" },
		{ "user@[192.168.0.1]", "(NIL NIL user [192.168.0.1])" },
		/* a comment names an addr-spec */
		{ "jdoe@example.org (John Doe)", "(John Doe NIL jdoe example.org)" },
		/* encoded words stay raw (IMAP sends them as they are) */
		{ "=?ISO-8859-1?Q?Keld_J=F8rn?= <keld@dkuug.dk>",
		  "(=?ISO-8859-1?Q?Keld_J=F8rn?= NIL keld dkuug.dk)" },
		/* broken ones, as Dovecot reports them */
		{ "user", "(NIL NIL user MISSING_DOMAIN !)" },
		{ "foo bar", "(foo bar NIL MISSING_MAILBOX MISSING_DOMAIN !)" },
		{ "<Undisclosed Recipients>", "(NIL NIL Undisclosed SYNTAX_ERROR !)" },
		{ "Name <>", "(Name NIL MISSING_MAILBOX MISSING_DOMAIN !)" },
		{ "a@b, , c@d", "(NIL NIL a b)(NIL NIL MISSING_MAILBOX MISSING_DOMAIN !)(NIL NIL c d)" },
		{ "a@b garbage", "(NIL NIL a b)" },
		{ "", "" },
		{ "   (just a comment)  ", "" },
		{ "a@b,", "(NIL NIL a b)" },
		{ "\"unterminated <x@y>", "(NIL NIL MISSING_MAILBOX MISSING_DOMAIN !)" },
		{ "group: a@b", "(NIL NIL group NIL)(NIL NIL a b)(NIL NIL NIL NIL !)" },
	};
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *out = addr_str(pool, message_address_parse(pool,
			(const uint8_t *)cases[i].in, strlen(cases[i].in), 0));
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu: '%s' gave '%s', want '%s'", i,
				 cases[i].in, out, cases[i].out);
	}
	pool_destroy(&pool);
}

static void test_limit(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct buf b = BUF_INIT;
	unsigned int n = 0;

	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "u%d@example.com, ", i);
	for (struct message_address *a = message_address_parse(pool, b.data, b.len, 10);
	     a != NULL; a = a->next)
		n++;
	assert_int_equal(n, 10);
	buf_free(&b);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
