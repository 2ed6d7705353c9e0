/* SPDX-License-Identifier: MIT */
/* TRANSACTION-state commands: RFC 1939 section 5 and 7 (TOP, UIDL). */
#include "lib.h"
#include "log.h"
#include "conn.h"
#include "store.h"
#include "pop3d.h"

static void pop3_reply_maildrop(struct pop3_session *s, const char *what)
{
	const struct pop3_maildrop *md = s->maildrop;

	pop3_reply(s, "+OK %s%u messages (%llu octets)", what,
		   md->count - md->deleted_count,
		   (unsigned long long)(md->total_size - md->deleted_size));
}

void pop3_cmd_stat(struct pop3_session *s, const struct pop3_command *cmd)
{
	const struct pop3_maildrop *md = s->maildrop;

	/* "+OK nn mm": exactly that, clients parse it. */
	pop3_reply(s, "+OK %u %llu", md->count - md->deleted_count,
		   (unsigned long long)(md->total_size - md->deleted_size));
}

static void pop3_listing(struct pop3_session *s,
			 const struct pop3_command *cmd,
			 enum pop3_stream_kind kind)
{
	struct pop3_message *msg;
	const char *error;

	if (cmd->argc == 1) {
		msg = pop3_maildrop_get_arg(s->maildrop, cmd->args[0], &error);
		if (msg == NULL) {
			pop3_reply(s, "-ERR %s", error);
			return;
		}
		unsigned num = (unsigned)(msg - s->maildrop->msgs) + 1;
		if (kind == POP3_STREAM_LIST) {
			pop3_reply(s, "+OK %u %llu", num,
				   (unsigned long long)msg->size);
		} else {
			char uidl[POP3_UIDL_MAX_LEN];
			pop3_maildrop_uidl(s->maildrop, msg, uidl);
			pop3_reply(s, "+OK %u %s", num, uidl);
		}
		return;
	}
	if (kind == POP3_STREAM_LIST)
		pop3_reply_maildrop(s, "");
	else
		pop3_reply(s, "+OK Unique-ID listing follows");
	struct pop3_stream *st = i_new(struct pop3_stream, 1);
	st->kind = kind;
	pop3_session_stream_start(s, st);
}

void pop3_cmd_list(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_listing(s, cmd, POP3_STREAM_LIST);
}

void pop3_cmd_uidl(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_listing(s, cmd, POP3_STREAM_UIDL);
}

static void pop3_send_message(struct pop3_session *s, const char *arg,
			      bool top, uint64_t lines)
{
	struct pop3_message *msg;
	struct store_body *body;
	const char *error;
	int ret;

	msg = pop3_maildrop_get_arg(s->maildrop, arg, &error);
	if (msg == NULL) {
		pop3_reply(s, "-ERR %s", error);
		return;
	}
	/* Check the body is there before committing to "+OK": afterwards a
	 * failure can only end the connection. */
	ret = store_body_open(s->server->store, msg->body_id, &body, &error);
	if (ret <= 0) {
		if (ret < 0)
			log_error(s->sid, "pop3_body_failed", "uid=%u error=%s",
				  msg->uid, pop3_logq(error));
		pop3_reply(s, ret == 0 ? "-ERR Message was removed by another "
					 "session"
				       : "-ERR [SYS/TEMP] Cannot read message");
		return;
	}
	struct pop3_stream *st = i_new(struct pop3_stream, 1);
	st->kind = POP3_STREAM_BODY;
	st->body_id = msg->body_id;
	st->size = store_body_size(body);
	store_body_close(&body);
	pop3_dotstuff_init(&st->ds, top, lines);

	if (!top)
		msg->retrieved = true;
	if (top)
		pop3_reply(s, "+OK Top of message follows");
	else
		pop3_reply(s, "+OK %llu octets", (unsigned long long)msg->size);
	pop3_session_stream_start(s, st);
}

void pop3_cmd_retr(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_send_message(s, cmd->args[0], false, 0);
}

void pop3_cmd_top(struct pop3_session *s, const struct pop3_command *cmd)
{
	uint64_t lines;

	/* RFC 1939 section 7: n must be non-negative. */
	if (pop3_parse_number(cmd->args[1], UINT64_MAX, &lines) < 0) {
		pop3_reply(s, "-ERR Invalid number of lines");
		return;
	}
	pop3_send_message(s, cmd->args[0], true, lines);
}

void pop3_cmd_dele(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_maildrop *md = s->maildrop;
	struct pop3_message *msg;
	const char *error;

	msg = pop3_maildrop_get_arg(md, cmd->args[0], &error);
	if (msg == NULL) {
		pop3_reply(s, "-ERR %s", error);
		return;
	}
	msg->deleted = true;
	md->deleted_count++;
	md->deleted_size += msg->size;
	pop3_reply(s, "+OK Message %u deleted",
		   (unsigned)(msg - md->msgs) + 1);
}

void pop3_cmd_rset(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_maildrop *md = s->maildrop;

	for (unsigned i = 0; i < md->count; i++)
		md->msgs[i].deleted = false;
	md->deleted_count = 0;
	md->deleted_size = 0;
	pop3_reply_maildrop(s, "Maildrop has ");
}

void pop3_cmd_noop(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_reply(s, "+OK");
}

void pop3_cmd_quit(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (s->state == POP3_STATE_AUTHORIZATION) {
		/* RFC 1939 section 4. */
		pop3_reply(s, "+OK Bye");
		conn_close_after_flush(s->conn, "quit");
		return;
	}
	pop3_maildrop_update(s);
}
