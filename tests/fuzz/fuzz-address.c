/* SPDX-License-Identifier: MIT */
/* RFC 5322 address lists, as ENVELOPE needs them. */
#include "lib.h"
#include "pool.h"
#include "message-address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create("fuzz address", 4096);
	struct message_address *addr;
	unsigned int count = 0, groups = 0;

	addr = message_address_parse(pool, data, size, 100);
	for (; addr != NULL; addr = addr->next) {
		count++;
		if (addr->mailbox != NULL && addr->domain == NULL) {
			groups++; /* group start */
		} else if (addr->mailbox == NULL) {
			if (addr->domain != NULL || groups == 0)
				abort(); /* a group end without a start */
			groups--;
		} else if (strlen(addr->mailbox) > size + 20 ||
			   strlen(addr->domain) > size + 20) {
			abort();
		}
		if (addr->name != NULL && strlen(addr->name) > size * 2 + 1)
			abort();
	}
	if (count > 100)
		abort();
	pool_destroy(&pool);
	return 0;
}
