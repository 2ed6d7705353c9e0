/* SPDX-License-Identifier: MIT */
/* The DMARC rua= parser and the XML escaper of the aggregate reports: both
 * take text published in DNS by anyone. */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "dmarc-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Escaped text is safe between tags: no markup characters, no controls, and
 * every '&' starts one of the five entities. */
static void check_escaped(const struct buf *out)
{
	static const char *const entities[] = { "&amp;", "&lt;", "&gt;",
						"&quot;", "&apos;" };
	for (size_t i = 0; i < out->len; i++) {
		unsigned char c = out->data[i];
		i_assert(c != '<' && c != '>' && c != '"' && c != '\'');
		i_assert(c >= 0x20 && c != 0x7f);
		if (c != '&')
			continue;
		bool known = false;
		for (size_t e = 0; e < N_ELEMENTS(entities) && !known; e++) {
			size_t len = strlen(entities[e]);
			known = out->len - i >= len &&
				memcmp(out->data + i, entities[e], len) == 0;
		}
		i_assert(known);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = i_malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	struct pool *pool = pool_create("fuzz-rua", 1024);
	struct dmarc_report_uri *uris = NULL;
	unsigned skipped = 0;
	unsigned n = dmarc_report_rua_parse(text, pool, &uris, &skipped);
	i_assert(n <= DMARC_REPORT_URI_MAX);
	for (unsigned i = 0; i < n; i++) {
		const char *at = strchr(uris[i].address, '@');
		i_assert(at != NULL && at != uris[i].address);
		i_assert(uris[i].domain[0] != '\0');
		for (const char *d = uris[i].domain; *d != '\0'; d++)
			i_assert(!(*d >= 'A' && *d <= 'Z'));
	}
	pool_destroy(&pool);

	struct buf out = BUF_INIT;
	dmarc_report_xml_escape(&out, text);
	check_escaped(&out);
	buf_free(&out);
	i_free(text);
	return 0;
}
