/* SPDX-License-Identifier: MIT */
/* Fuzzes the SMTP reply parser, fed in pieces sized by the first byte, and
 * checks that a parsed reply written back out parses to the same reply. */
#include "lib.h"
#include "buf.h"
#include "smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct smtp_reply *reply)
{
	struct smtp_reply_parser *parser = smtp_reply_parser_create(1024, 20);
	struct smtp_reply again;
	struct buf out = BUF_INIT;
	const char *error;
	size_t consumed;

	for (unsigned i = 0; i < reply->line_count; i++) {
		buf_printf(&out, "%03u%c", reply->code,
			   i + 1 < reply->line_count ? '-' : ' ');
		if (reply->has_enhanced)
			buf_printf(&out, "%u.%u.%u ", reply->enh_class,
				   reply->enh_subject, reply->enh_detail);
		buf_append_str(&out, reply->lines[i]);
		buf_append(&out, "\r\n", 2);
	}
	i_assert(smtp_reply_parser_parse(parser, out.data, out.len, &consumed,
					 &again, &error) == 1);
	i_assert(consumed == out.len);
	i_assert(again.code == reply->code);
	i_assert(again.line_count == reply->line_count);
	i_assert(again.has_enhanced == reply->has_enhanced);
	for (unsigned i = 0; i < reply->line_count; i++)
		i_assert(strcmp(again.lines[i], reply->lines[i]) == 0);
	buf_free(&out);
	smtp_reply_parser_destroy(&parser);
}

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
			check_roundtrip(&reply);
		}
	}
	smtp_reply_parser_destroy(&parser);
	return 0;
}
