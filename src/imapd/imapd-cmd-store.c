/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "store.h"
#include "imap-args.h"

/* STORE (RFC 9051 section 6.4.6), EXPUNGE and UID EXPUNGE (6.4.3, RFC
 * 4315). Replies come after the commit. */

static struct store_uid_range *uid_ranges(struct pool *pool,
					  const struct imap_seqset *uids)
{
	struct store_uid_range *r = p_new(pool, struct store_uid_range,
					   uids->count == 0 ? 1 : uids->count);
	for (size_t i = 0; i < uids->count; i++) {
		r[i].first = uids->ranges[i].lo;
		r[i].last = uids->ranges[i].hi;
	}
	return r;
}

struct store_ctx {
	struct imap_seqset uids;
	bool silent;
};

static void store_done(struct imapd_client *client, struct store_txn *txn,
		       void *context)
{
	struct store_ctx *ctx = context;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);

	if (err != STORE_OK) {
		imap_seqset_free(&ctx->uids);
		free(ctx);
		imapd_cmd_reply(client, "NO", "%s", imapd_store_error_text(err, text));
		return;
	}
	const struct store_op_result *r = store_txn_result(txn, 0);
	if (client->mbox != NULL)
		imapd_mailbox_add_own_modseq(client->mbox, r->modseq);

	struct buf b = BUF_INIT, mod = BUF_INIT;
	struct imap_seqset modified = IMAP_SEQSET_INIT;
	for (unsigned i = 0; i < r->modified_count; i++)
		imap_seqset_add(&modified, r->modified_uids[i]);
	imap_seqset_normalize(&modified);

	if (!ctx->silent && client->mbox != NULL && ctx->uids.count > 0) {
		struct imapd_mailbox *mbox = client->mbox;
		for (size_t i = 0; i < ctx->uids.count; i++) {
			struct store_message_iter *iter = store_message_iter_init(
				client->svc->store, mbox->id, ctx->uids.ranges[i].lo,
				ctx->uids.ranges[i].hi, 0);
			struct store_message msg;
			while (store_message_iter_next(iter, &msg) > 0) {
				uint32_t seq = imap_uidmap_seq(&mbox->map,
							       msg.uid);
				if (seq == 0 || imap_seqset_contains(&modified, msg.uid))
					continue;
				buf_printf(&b, "* %u FETCH (", seq);
				/* RFC 7162 section 3.2.4. */
				if (client->cmd.uid || client->condstore)
					buf_printf(&b, "UID %u ", msg.uid);
				buf_append_str(&b, "FLAGS ");
				imapd_append_flags(client, &b, msg.uid, msg.flags,
						   msg.keywords);
				if (client->condstore)
					buf_printf(&b, " MODSEQ (%llu)",
						   (unsigned long long)msg.modseq);
				buf_append_str(&b, ")\r\n");
				if (b.len > 64 * 1024)
					imapd_write_buf(client, &b);
			}
			(void)store_message_iter_deinit(&iter, &text);
		}
		imapd_write_buf(client, &b);
	}
	if (modified.count > 0) {
		imap_seqset_write(&modified, &mod);
		imapd_cmd_reply(client, "OK", "[MODIFIED %s] Conditional STORE failed",
				buf_cstr(&mod));
	} else {
		imapd_cmd_reply(client, "OK", "STORE completed");
	}
	buf_free(&b);
	buf_free(&mod);
	imap_seqset_free(&modified);
	imap_seqset_free(&ctx->uids);
	free(ctx);
}

void imapd_cmd_store(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct imap_seqset seqs = IMAP_SEQSET_INIT;
	struct imap_store_args st;
	const char *set, *error;
	static const enum store_flag_mode modes[] = {
		[IMAP_STORE_REPLACE] = STORE_FLAGS_REPLACE,
		[IMAP_STORE_ADD] = STORE_FLAGS_ADD,
		[IMAP_STORE_REMOVE] = STORE_FLAGS_REMOVE,
	};

	if (cmd->args_count < 3 || !imap_arg_get_atom(&cmd->args[0], &set)) {
		imapd_cmd_reply(client, "BAD", "Usage: STORE set item flags");
		return;
	}
	if (imap_store_args_parse(cmd->args + 1, cmd->args_count - 1, cmd->pool,
				  &st, &error) < 0) {
		imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	struct store_ctx *ctx = i_new(struct store_ctx, 1);
	if (imapd_mailbox_resolve_set(client, set, cmd->uid, &seqs, &ctx->uids,
				      &error) < 0) {
		imap_seqset_free(&seqs);
		imap_seqset_free(&ctx->uids);
		free(ctx);
		imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	imap_seqset_free(&seqs);
	if (client->mbox->readonly) {
		imap_seqset_free(&ctx->uids);
		free(ctx);
		imapd_cmd_reply(client, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (ctx->uids.count == 0) {
		imap_seqset_free(&ctx->uids);
		free(ctx);
		imapd_cmd_reply(client, "OK", "STORE completed (no messages)");
		return;
	}
	struct buf kw = BUF_INIT;
	for (size_t i = 0; i < st.flags.keywords_count; i++) {
		if (i > 0)
			buf_append_byte(&kw, ' ');
		buf_append_str(&kw, st.flags.keywords[i]);
	}
	ctx->silent = st.silent;
	if (st.unchangedsince > 0)
		client->condstore = true;
	struct store_txn *txn = store_txn_create(client->svc->store);
	store_txn_flags(txn, client->mbox->id, uid_ranges(cmd->pool, &ctx->uids),
			(unsigned)ctx->uids.count, modes[st.mode], st.flags.system,
			buf_cstr(&kw), st.unchangedsince);
	buf_free(&kw);
	imapd_txn_commit(client, txn, store_done, ctx);
}

static void expunge_done(struct imapd_client *client, struct store_txn *txn,
			 void *ctx)
{
	const char *text;
	enum store_error err = store_txn_error(txn, &text);

	(void)ctx;
	if (err != STORE_OK) {
		imapd_cmd_reply(client, "NO", "%s", imapd_store_error_text(err, text));
		return;
	}
	const struct store_op_result *r = store_txn_result(txn, 0);
	/* UIDs ascend: each "* n EXPUNGE" uses the numbers left after the
	 * ones before it (RFC 9051 section 7.5.1). */
	if (client->mbox != NULL)
		imapd_mailbox_expunged(client, r->uids, r->count);
	if (client->qresync && r->count > 0) {
		/* RFC 7162 sections 3.2.7 and 3.2.9. */
		imapd_cmd_reply(client, "OK", "[HIGHESTMODSEQ %llu] EXPUNGE completed",
				(unsigned long long)r->modseq);
		return;
	}
	imapd_cmd_reply(client, "OK", "EXPUNGE completed");
}

void imapd_cmd_expunge(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct imap_seqset seqs = IMAP_SEQSET_INIT, uids = IMAP_SEQSET_INIT;
	const char *set, *error;
	struct store_txn *txn;

	if (client->mbox->readonly) {
		imapd_cmd_reply(client, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (cmd->uid) {
		if (cmd->args_count != 1 || !imap_arg_get_atom(&cmd->args[0], &set) ||
		    imapd_mailbox_resolve_set(client, set, true, &seqs, &uids,
					      &error) < 0) {
			imap_seqset_free(&seqs);
			imap_seqset_free(&uids);
			imapd_cmd_reply(client, "BAD", "Usage: UID EXPUNGE uid-set");
			return;
		}
		txn = store_txn_create(client->svc->store);
		if (uids.count == 0) {
			store_txn_destroy(&txn);
			imap_seqset_free(&seqs);
			imap_seqset_free(&uids);
			imapd_cmd_reply(client, "OK", "EXPUNGE completed");
			return;
		}
		store_txn_expunge(txn, client->mbox->id, uid_ranges(cmd->pool, &uids),
				  (unsigned)uids.count, true);
		imap_seqset_free(&seqs);
		imap_seqset_free(&uids);
	} else {
		if (cmd->args_count != 0) {
			imapd_cmd_reply(client, "BAD", "No arguments expected");
			return;
		}
		txn = store_txn_create(client->svc->store);
		store_txn_expunge(txn, client->mbox->id, NULL, 0, true);
	}
	imapd_txn_commit(client, txn, expunge_done, NULL);
}
