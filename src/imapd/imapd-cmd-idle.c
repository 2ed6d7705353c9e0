/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "strutil.h"
#include "conn.h"

/* IDLE (RFC 2177, RFC 9051 section 6.3.13): changes are flushed as the
 * store's watch reports them, so new mail reaches the client as soon as its
 * commit is durable. */

void imapd_cmd_idle(struct imapd_client *client, struct imapd_cmd *cmd)
{
	if (cmd->args_count != 0) {
		imapd_cmd_reply(client, "BAD", "No arguments expected");
		return;
	}
	client->input = IMAPD_INPUT_IDLE;
	/* An idling session may wait for half an hour: keep only the tag,
	 * not the parser's command memory. */
	client->tag_copy = i_strdup(cmd->tag);
	memset(cmd, 0, sizeof(*cmd));
	cmd->tag = client->tag_copy;
	cmd->name = "IDLE";
	imap_parser_release(client->parser);
	imapd_write_str(client, "+ idling\r\n");
	if (client->mbox != NULL)
		imapd_mailbox_flush_changes(client, true);
}

void imapd_idle_input_line(struct imapd_client *client, const char *line)
{
	client->input = IMAPD_INPUT_COMMAND;
	if (str_ascii_eq_ci(line, "DONE"))
		imapd_cmd_reply(client, "OK", "IDLE terminated");
	else
		imapd_cmd_reply(client, "BAD", "Expected DONE");
}
