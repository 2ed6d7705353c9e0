/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "store.h"
#include "imap-args.h"

/* APPEND (RFC 9051 section 6.3.12) with MULTIAPPEND (RFC 3502) and
 * APPENDUID (RFC 4315). The tagged OK is sent only after the commit. */

static void append_done(struct imapd_client *client, struct store_txn *txn,
			void *ctx)
{
	const char *text;
	enum store_error err = store_txn_error(txn, &text);
	struct imap_seqset uids = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;
	uint32_t uidvalidity = 0;

	if (err != STORE_OK) {
		imapd_cmd_reply(client, "NO", "%s", imapd_store_error_text(err, text));
		return;
	}
	for (unsigned i = 0; i < store_txn_op_count(txn); i++) {
		const struct store_op_result *r = store_txn_result(txn, i);
		uidvalidity = r->uidvalidity;
		imap_seqset_add(&uids, r->uid);
	}
	imap_seqset_write(&uids, &b);
	if (client->mbox != NULL && client->mbox->id == *(const int64_t *)ctx)
		imapd_mailbox_sync_new(client);
	imapd_cmd_reply(client, "OK", "[APPENDUID %u %s] APPEND completed",
			uidvalidity, buf_cstr(&b));
	imap_seqset_free(&uids);
	buf_free(&b);
}

void imapd_cmd_append(struct imapd_client *client, struct imapd_cmd *cmd)
{
	const struct imap_arg *args = cmd->args;
	size_t count = cmd->args_count, i = 1;
	struct store_mailbox *box;
	const char *raw, *name, *error;
	int ret;

	if (count < 2 || !imap_arg_get_astring(&args[0], &raw)) {
		imapd_cmd_reply(client, "BAD", "Usage: APPEND mailbox [flags] [date] message");
		return;
	}
	if ((name = imapd_mailbox_name_in(client, raw, &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	ret = store_mailbox_lookup(client->svc->store, client->account_id, name,
				   cmd->pool, &box, &error);
	if (ret <= 0) {
		imapd_cmd_reply(client, "NO", ret == 0 ?
				"[TRYCREATE] Mailbox does not exist" :
				"[UNAVAILABLE] Cannot open mailbox");
		return;
	}

	struct store_txn *txn = store_txn_create(client->svc->store);
	while (i < count) {
		struct imap_flags flags;
		time_t date = time(NULL);
		int tz;
		const char *datestr;

		memset(&flags, 0, sizeof(flags));
		if (args[i].type == IMAP_ARG_LIST) {
			if (imap_flags_parse(&args[i], cmd->pool, &flags, &error) < 0)
				goto bad;
			i++;
		}
		if (i + 1 < count && args[i].type == IMAP_ARG_QUOTED) {
			datestr = args[i].str;
			if (imap_datetime_parse(datestr, &date, &tz) < 0) {
				error = "Invalid date-time";
				goto bad;
			}
			i++;
		}
		if (i >= count || args[i].type != IMAP_ARG_LITERAL) {
			error = "Missing message literal";
			goto bad;
		}
		/* RFC 3516 section 4.3: literal8 content is binary; stored as
		 * is. Bare LFs become CRLF (DESIGN.md). */
		struct buf kw = BUF_INIT;
		for (size_t k = 0; k < flags.keywords_count; k++) {
			if (k > 0)
				buf_append_byte(&kw, ' ');
			buf_append_str(&kw, flags.keywords[k]);
		}
		if (kw.len > STORE_KEYWORDS_MAX) {
			buf_free(&kw);
			error = "Too many keywords";
			goto bad;
		}
		store_txn_append(txn, box->id, args[i].str, args[i].len, date,
				 flags.system, buf_cstr(&kw), STORE_DELIVER_CONVERT_LF);
		buf_free(&kw);
		i++;
	}
	/* ctx: the target mailbox, to announce new messages if selected. */
	int64_t *target = p_new(cmd->pool, int64_t, 1);
	*target = box->id;
	imapd_txn_commit(client, txn, append_done, target);
	return;
bad:
	store_txn_destroy(&txn);
	imapd_cmd_reply(client, "BAD", "%s", error);
}
