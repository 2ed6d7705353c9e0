/* SPDX-License-Identifier: MIT */
/* Fuzzes the SMTP command-line parser and the MAIL/RCPT/BDAT/HELO argument
 * parsers: the input is fed in pieces whose sizes come from the first byte,
 * and each command's arguments go through the matching parser. Also the
 * address parser on the whole input and the DATA decoder on the rest. */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "smtp-command.h"
#include "smtp-data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_args(struct pool *pool, const struct smtp_command *cmd)
{
	struct smtp_error error;
	struct smtp_mail_args mail;
	struct smtp_rcpt_args rcpt;
	uint64_t bdat_size;
	bool last, valid;
	const char *domain;

	switch (cmd->verb) {
	case SMTP_VERB_MAIL:
		if (smtp_mail_args_parse(cmd->args, pool, SMTP_CAP_ALL, &mail,
					 &error) > 0)
			(void)smtp_address_to_string(pool, &mail.path);
		else
			i_assert(error.code >= 500 && error.text != NULL);
		break;
	case SMTP_VERB_RCPT:
		if (smtp_rcpt_args_parse(cmd->args, pool, SMTP_CAP_ALL, true,
					 &rcpt, &error) > 0)
			(void)smtp_address_to_string(pool, &rcpt.path);
		else
			i_assert(error.code >= 500 && error.text != NULL);
		break;
	case SMTP_VERB_BDAT:
		(void)smtp_bdat_args_parse(cmd->args, &bdat_size, &last, &error);
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		(void)smtp_helo_args_parse(cmd->args, &domain, &valid, &error);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create("fuzz", 1024);
	struct smtp_command_parser *parser = smtp_command_parser_create(512);
	size_t piece = size > 0 ? (size_t)(data[0] % 64) + 1 : 1;
	size_t pos = 0;
	char *str;

	while (pos < size) {
		size_t n = MIN(piece, size - pos), consumed;
		struct smtp_command cmd;
		struct smtp_error error;
		int ret = smtp_command_parser_parse(parser, data + pos, n,
						    &consumed, &cmd, &error);
		i_assert(consumed <= n);
		i_assert(ret != 0 || consumed == n);
		pos += consumed;
		if (ret > 0)
			check_args(pool, &cmd);
		if (ret > 0 && cmd.verb == SMTP_VERB_DATA) {
			struct smtp_data_limits limits = {
				.max_size = 4096, .max_line = 1000,
				.max_headers = 50, .max_received = 5};
			struct smtp_data_decoder *dec =
				smtp_data_decoder_create(SMTP_DATA_MODE_DOT,
							 &limits);
			struct buf out = BUF_INIT;
			ret = smtp_data_decoder_feed(dec, data + pos, size - pos,
						     &out, &consumed);
			i_assert(consumed <= size - pos);
			i_assert(out.len <= 4096);
			pos += consumed;
			buf_free(&out);
			smtp_data_decoder_destroy(&dec);
		}
		if (ret > 0 && cmd.verb == SMTP_VERB_BDAT) {
			struct smtp_data_limits limits = {
				.max_size = 4096, .max_line = 1000,
				.max_headers = 50, .max_received = 5,
				.allow_bare_lf = (data[0] & 1) != 0};
			struct smtp_data_decoder *dec =
				smtp_data_decoder_create(SMTP_DATA_MODE_RAW,
							 &limits);
			struct smtp_error error2;
			struct buf out = BUF_INIT;
			uint64_t chunk;
			bool last;
			if (smtp_bdat_args_parse(cmd.args, &chunk, &last,
						 &error2) > 0) {
				size_t cn = (size_t)MIN(chunk,
							(uint64_t)(size - pos));
				ret = smtp_data_decoder_feed(dec, data + pos, cn,
							     &out, &consumed);
				i_assert(ret == 0 && consumed == cn);
				i_assert(out.len <= 4096);
				pos += cn;
			}
			buf_free(&out);
			smtp_data_decoder_destroy(&dec);
		}
		pool_clear(pool);
	}

	str = i_strndup((const char *)data, size);
	{
		struct smtp_address addr;
		const char *error;
		if (smtp_address_parse(str, pool, SMTP_ADDRESS_FLAG_ALLOW_UTF8,
				       &addr, &error) > 0) {
			const char *again = smtp_address_to_string(pool, &addr);
			struct smtp_address addr2;
			/* What we write back must parse to the same. */
			i_assert(smtp_address_parse(again, pool,
						    SMTP_ADDRESS_FLAG_ALLOW_UTF8,
						    &addr2, &error) > 0);
			i_assert(strcmp(addr.localpart, addr2.localpart) == 0);
		}
	}
	i_free(str);
	smtp_command_parser_destroy(&parser);
	pool_destroy(&pool);
	return 0;
}
