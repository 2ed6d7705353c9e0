/* SPDX-License-Identifier: MIT */
/* DNS answers come from the network: the decoder must reject or decode any
 * bytes without reading outside them. The first input byte picks the type
 * asked for. */
#include "lib.h"
#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_MX,
					 DNS_TYPE_TXT, DNS_TYPE_CNAME,
					 DNS_TYPE_PTR, DNS_TYPE_TLSA};
	if (size == 0)
		return 0;
	uint16_t type = types[data[0] % N_ELEMENTS(types)];
	/* A copy of exactly size bytes, so ASan sees any overread. */
	uint8_t *copy = i_memdup(data + 1, size - 1);
	struct dns_answer answer;
	const char *error;

	if (dns_packet_parse(copy, size - 1, type, &answer, &error) == 0) {
		for (size_t i = 0; i < answer.count; i++) {
			const struct dns_rr *rr = &answer.rrs[i];
			i_assert(rr->type == type);
			i_assert(strlen(rr->owner) < DNS_NAME_MAX);
			if (type == DNS_TYPE_MX)
				i_assert(rr->u.mx.host[strlen(rr->u.mx.host) - 1] == '.');
		}
		dns_mx_sort(answer.rrs, type == DNS_TYPE_MX ? answer.count : 0);
		dns_answer_free(&answer);
	}
	free(copy);
	return 0;
}
