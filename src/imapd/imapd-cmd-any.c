/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "strutil.h"
#include "conn.h"
#include "imap-quote.h"

void imapd_cmd_capability(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct buf b = BUF_INIT;
	imapd_printf(client, "* CAPABILITY %s\r\n", imapd_capabilities(client, &b));
	buf_free(&b);
	imapd_cmd_reply(client, "OK", "CAPABILITY completed");
}

void imapd_cmd_noop(struct imapd_client *client, struct imapd_cmd *cmd)
{
	imapd_cmd_reply(client, "OK", "%s completed", cmd->name);
}

void imapd_cmd_check(struct imapd_client *client, struct imapd_cmd *cmd)
{
	/* Every change is durable when its command answers. */
	imapd_cmd_reply(client, "OK", "CHECK completed");
}

void imapd_cmd_logout(struct imapd_client *client, struct imapd_cmd *cmd)
{
	imapd_write_str(client, "* BYE Logging out\r\n");
	client->state = IMAPD_STATE_LOGOUT;
	imapd_cmd_reply(client, "OK", "LOGOUT completed");
}

/* RFC 2971: id ("name" "value" ...) / NIL; the client's values are only
 * validated, never echoed into logs unquoted. */
void imapd_cmd_id(struct imapd_client *client, struct imapd_cmd *cmd)
{
	if (cmd->args_count != 1 ||
	    (!imap_arg_is_nil(&cmd->args[0]) &&
	     (cmd->args[0].type != IMAP_ARG_LIST || cmd->args[0].len % 2 != 0 ||
	      cmd->args[0].len > 60))) {
		imapd_cmd_reply(client, "BAD", "Invalid ID arguments");
		return;
	}
	imapd_write_str(client, "* ID (\"name\" \"Posthorn\" \"version\" \""
				POSTHORN_VERSION "\")\r\n");
	imapd_cmd_reply(client, "OK", "ID completed");
}

/* RFC 5161; IMAP4rev2 (RFC 9051 section 6.3.1), UTF8=ACCEPT (RFC 6855),
 * CONDSTORE and QRESYNC (RFC 7162). */
void imapd_cmd_enable(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct buf b = BUF_INIT;
	const char *cap;
	bool condstore_before = client->condstore, condstore_listed = false;

	if (cmd->args_count == 0) {
		imapd_cmd_reply(client, "BAD", "Missing capability");
		return;
	}
	buf_append_str(&b, "* ENABLED");
	for (size_t i = 0; i < cmd->args_count; i++) {
		if (!imap_arg_get_atom(&cmd->args[i], &cap)) {
			buf_free(&b);
			imapd_cmd_reply(client, "BAD", "Invalid capability");
			return;
		}
		if (str_ascii_eq_ci(cap, "IMAP4rev2") && !client->rev2) {
			client->rev2 = true;
			client->utf8 = true;
			buf_append_str(&b, " IMAP4rev2");
		} else if (str_ascii_eq_ci(cap, "CONDSTORE") && !condstore_before &&
			   !condstore_listed) {
			/* Also after QRESYNC earlier in this command: "ENABLE
			 * QRESYNC CONDSTORE" lists both (RFC 7162 3.2.3). */
			client->condstore = true;
			condstore_listed = true;
			buf_append_str(&b, " CONDSTORE");
		} else if (str_ascii_eq_ci(cap, "QRESYNC") && !client->qresync) {
			/* RFC 7162 section 3.2.3: a CONDSTORE enabling
			 * command; CONDSTORE is listed only when asked for. */
			client->qresync = true;
			client->condstore = true;
			buf_append_str(&b, " QRESYNC");
		} else if (str_ascii_eq_ci(cap, "UTF8=ACCEPT") && !client->utf8) {
			client->utf8 = true;
			buf_append_str(&b, " UTF8=ACCEPT");
		}
	}
	buf_append_str(&b, "\r\n");
	imapd_write_buf(client, &b);
	buf_free(&b);
	imapd_cmd_reply(client, "OK", "ENABLE completed");
}

void imapd_cmd_starttls(struct imapd_client *client, struct imapd_cmd *cmd)
{
	if (conn_is_tls(client->conn) || !conn_can_starttls(client->conn)) {
		imapd_cmd_reply(client, "BAD", "TLS not available");
		return;
	}
	imapd_cmd_reply(client, "OK", "Begin TLS negotiation now");
	imap_parser_reset(client->parser);
	if (conn_starttls(client->conn) < 0)
		conn_close(client->conn, "starttls failed");
}

void imapd_cmd_namespace(struct imapd_client *client, struct imapd_cmd *cmd)
{
	imapd_write_str(client, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imapd_cmd_reply(client, "OK", "NAMESPACE completed");
}
