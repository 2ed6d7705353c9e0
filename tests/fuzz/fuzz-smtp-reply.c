/* SPDX-License-Identifier: MIT */
/* Fuzzes the SMTP reply parser, fed in pieces sized by the first byte. */
#include "lib.h"
#include "smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply_parser *parser = smtp_reply_parser_create(512, 20);
	size_t piece = size > 0 ? (size_t)(data[0] % 32) + 1 : 1;
	size_t pos = 0;

	while (pos < size) {
		size_t n = MIN(piece, size - pos), consumed;
		struct smtp_reply reply;
		const char *error;
		int ret = smtp_reply_parser_parse(parser, data + pos, n,
						  &consumed, &reply, &error);
		i_assert(consumed <= n);
		pos += consumed;
		if (ret < 0)
			break;
		if (ret > 0) {
			i_assert(reply.code >= 200 && reply.code <= 559);
			i_assert(reply.line_count >= 1 && reply.line_count <= 20);
			for (unsigned i = 0; i < reply.line_count; i++)
				(void)strlen(reply.lines[i]);
		}
	}
	smtp_reply_parser_destroy(&parser);
	return 0;
}
