/* SPDX-License-Identifier: MIT */
/* The configuration parser: any text either loads, and then prints as a
 * file that loads again to an equal configuration, or fails with one or
 * more "NAME:LINE: key: message" lines; never a crash. */
#include "lib.h"
#include "buf.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = i_strndup((const char *)data, size);
	struct buf errors = BUF_INIT, out = BUF_INIT;
	struct config *config = NULL, *again = NULL;

	if (config_load_string("fuzz", text, &config, &errors) == 1) {
		i_assert(errors.len == 0);
		config_format(config, &out);
		i_assert(config_load_string("again", buf_cstr(&out), &again,
					    &errors) == 1);
		i_assert(config_equal(config, again));
		config_unref(&again);
		config_unref(&config);
	} else {
		i_assert(config == NULL);
		i_assert(errors.len > 0 && errors.data[errors.len - 1] == '\n');
		i_assert(strncmp(buf_cstr(&errors), "fuzz:", 5) == 0);
	}
	buf_free(&errors);
	buf_free(&out);
	i_free(text);
	return 0;
}
