/* SPDX-License-Identifier: MIT */
/* The DKIM key record parser. */
#include "lib.h"
#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_key_record rec;
	const char *error = NULL;
	if (dkim_key_record_parse((const char *)data, size, &rec, &error) > 0) {
		i_assert(rec.revoked == (rec.pubkey == NULL));
		dkim_key_record_free(&rec);
	} else {
		i_assert(error != NULL);
	}
	return 0;
}
