/* SPDX-License-Identifier: MIT */
/* The SPF record parser: any bytes give a valid record, no record, or a
 * syntax error with a message; never a crash. */
#include "lib.h"
#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *error = NULL;
	int ret = spf_record_check((const char *)data, size, &error);
	i_assert(ret >= -1 && ret <= 1);
	i_assert(ret != -1 || error != NULL);
	return 0;
}
