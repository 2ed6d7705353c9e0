/* SPDX-License-Identifier: MIT */
/* The DKIM-Signature tag parser: a parsed signature always has the
 * required tags and signs From; otherwise an error message. */
#include "lib.h"
#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_signature *sig = NULL;
	const char *error = NULL;
	if (dkim_signature_parse((const char *)data, size, &sig, &error) > 0) {
		i_assert(sig->domain != NULL && sig->selector != NULL);
		i_assert(sig->b_len > 0 && sig->bh_len > 0);
		bool from = false;
		for (size_t i = 0; i < sig->header_count; i++)
			from = from || strcmp(sig->headers[i], "from") == 0;
		i_assert(from);
		dkim_signature_free(&sig);
	} else {
		i_assert(sig == NULL && error != NULL);
	}
	return 0;
}
