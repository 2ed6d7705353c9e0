/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the POP3 command parser, and the byte-stuffing encoder
 * fed the same bytes in pieces (its output must always end in exactly one
 * terminator line). */
#include "lib.h"
#include "buf.h"
#include "pop3-command.h"
#include "pop3-dotstuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pop3_command cmd;
	enum pop3_command_error code;
	const char *error;
	uint64_t num;

	if (pop3_command_parse(data, size, &cmd, &code, &error) > 0) {
		i_assert(cmd.argc <= POP3_COMMAND_MAX_ARGS);
		i_assert(strlen(cmd.name) >= 3);
		for (unsigned i = 0; i < cmd.argc; i++)
			(void)pop3_parse_number(cmd.args[i], UINT32_MAX, &num);
	} else {
		i_assert(code != POP3_COMMAND_OK && error != NULL);
	}

	struct buf out = BUF_INIT;
	struct pop3_dotstuff ds;
	size_t off = 0, piece = size > 0 ? (data[0] % 7) + 1 : 1;
	pop3_dotstuff_init(&ds, size > 1 && (data[1] & 1) != 0,
			   size > 2 ? data[2] % 4 : 0);
	while (off < size && !pop3_dotstuff_done(&ds)) {
		size_t n = MIN(piece, size - off);
		off += pop3_dotstuff_feed(&ds, data + off, n, &out);
	}
	pop3_dotstuff_finish(&ds, &out);
	i_assert(out.len >= 3 &&
		 memcmp(out.data + out.len - 3, ".\r\n", 3) == 0);
	/* The only ".\r\n" line is the last one. */
	for (size_t i = 0; i + 3 < out.len; i++) {
		if (out.data[i] == '.' && out.data[i + 1] == '\r' &&
		    out.data[i + 2] == '\n')
			i_assert(i > 0 && !(out.data[i - 1] == '\n' &&
					    (i < 2 || out.data[i - 2] == '\r')));
	}
	buf_free(&out);
	return 0;
}
