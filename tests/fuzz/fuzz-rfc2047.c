/* SPDX-License-Identifier: MIT */
/* RFC 2047 encoded words and RFC 2231 values: the output must always be
 * valid UTF-8, whatever the input and charset. */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "rfc2047.h"
#include "mime-param.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool utf8_valid(const uint8_t *s, size_t len)
{
	struct buf b = BUF_INIT;
	bool ok;

	utf8_append_valid(&b, s, len);
	ok = b.len == len && (len == 0 || memcmp(b.data, s, len) == 0);
	buf_free(&b);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create("fuzz rfc2047", 4096);
	const char *out, *lang;
	char *str;

	out = rfc2047_decode(pool, data, size);
	if (!utf8_valid((const uint8_t *)out, strlen(out)))
		abort();

	str = pool_strndup(pool, (const char *)data, size);
	(void)rfc2231_value_decode(pool, str, &out, &lang);
	if (!utf8_valid((const uint8_t *)out, strlen(out)))
		abort();
	pool_destroy(&pool);
	return 0;
}
