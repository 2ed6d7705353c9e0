/* SPDX-License-Identifier: MIT */
/* The DMARC record parser. */
#include "lib.h"
#include "dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record rec;
	const char *error = NULL;
	int ret = dmarc_record_parse((const char *)data, size, &rec, &error);
	if (ret > 0) {
		i_assert(rec.pct <= 100);
		i_assert(rec.p != DMARC_POLICY_UNSPECIFIED);
		dmarc_record_free(&rec);
	} else if (ret < 0) {
		i_assert(error != NULL);
	}
	return 0;
}
