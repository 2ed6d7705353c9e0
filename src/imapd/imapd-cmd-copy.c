/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "store.h"

/* COPY (RFC 9051 section 6.4.7) and MOVE (RFC 6851) with COPYUID (RFC
 * 4315). Bodies are shared by the store, never copied. */

struct copy_ctx {
	bool move;
	int64_t dst_id;
};

static void copy_done(struct imapd_client *client, struct store_txn *txn,
		      void *context)
{
	struct copy_ctx *ctx = context;
	bool move = ctx->move;
	int64_t dst_id = ctx->dst_id;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);
	struct imap_seqset src = IMAP_SEQSET_INIT, dst = IMAP_SEQSET_INIT;
	struct buf s = BUF_INIT, d = BUF_INIT;

	if (client->mbox != NULL && client->mbox->id == dst_id && err == STORE_OK)
		imapd_mailbox_sync_new(client);
	if (err != STORE_OK) {
		imapd_cmd_reply(client, "NO", "%s", err == STORE_ERR_NOT_FOUND ?
				"[TRYCREATE] Destination mailbox does not exist" :
				imapd_store_error_text(err, text));
		return;
	}
	const struct store_op_result *r = store_txn_result(txn, 0);
	/* Pairs in source order: write them unsorted to keep them aligned. */
	for (unsigned i = 0; i < r->count; i++) {
		imap_seqset_add(&src, r->src_uids[i]);
		imap_seqset_add(&dst, r->uids[i]);
	}
	imap_seqset_write(&src, &s);
	imap_seqset_write(&dst, &d);
	if (r->count == 0) {
		imapd_cmd_reply(client, "OK", "%s completed (no messages)",
				move ? "MOVE" : "COPY");
	} else if (move) {
		imapd_printf(client, "* OK [COPYUID %u %s %s] Moved\r\n",
			     r->uidvalidity, buf_cstr(&s), buf_cstr(&d));
		if (client->mbox != NULL)
			imapd_mailbox_expunged(client, r->src_uids, r->count);
		if (client->qresync && r->src_modseq > 0) {
			/* RFC 6851 section 4.4. */
			imapd_cmd_reply(client, "OK", "[HIGHESTMODSEQ %llu] MOVE completed",
					(unsigned long long)r->src_modseq);
		} else {
			imapd_cmd_reply(client, "OK", "MOVE completed");
		}
	} else {
		imapd_cmd_reply(client, "OK", "[COPYUID %u %s %s] COPY completed",
				r->uidvalidity, buf_cstr(&s), buf_cstr(&d));
	}
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
	buf_free(&s);
	buf_free(&d);
}

void imapd_cmd_copy(struct imapd_client *client, struct imapd_cmd *cmd)
{
	bool move = strcmp(cmd->name, "MOVE") == 0;
	struct imap_seqset seqs = IMAP_SEQSET_INIT, uids = IMAP_SEQSET_INIT;
	struct store_mailbox *box;
	const char *set, *raw, *name, *error;
	int ret;

	if (cmd->args_count != 2 || !imap_arg_get_atom(&cmd->args[0], &set) ||
	    !imap_arg_get_astring(&cmd->args[1], &raw)) {
		imapd_cmd_reply(client, "BAD", "Usage: %s set mailbox", cmd->name);
		return;
	}
	if ((name = imapd_mailbox_name_in(client, raw, &error)) == NULL ||
	    imapd_mailbox_resolve_set(client, set, cmd->uid, &seqs, &uids,
				      &error) < 0) {
		imap_seqset_free(&seqs);
		imap_seqset_free(&uids);
		imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	imap_seqset_free(&seqs);
	if (move && client->mbox->readonly) {
		imap_seqset_free(&uids);
		imapd_cmd_reply(client, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	ret = store_mailbox_lookup(client->svc->store, client->account_id, name,
				   cmd->pool, &box, &error);
	if (ret <= 0) {
		imap_seqset_free(&uids);
		imapd_cmd_reply(client, "NO", ret == 0 ?
				"[TRYCREATE] Destination mailbox does not exist" :
				"[UNAVAILABLE] Cannot open mailbox");
		return;
	}
	if (uids.count == 0) {
		imap_seqset_free(&uids);
		imapd_cmd_reply(client, "OK", "%s completed (no messages)", cmd->name);
		return;
	}
	struct store_uid_range *ranges =
		p_new(cmd->pool, struct store_uid_range, uids.count);
	for (size_t i = 0; i < uids.count; i++) {
		ranges[i].first = uids.ranges[i].lo;
		ranges[i].last = uids.ranges[i].hi;
	}
	struct store_txn *txn = store_txn_create(client->svc->store);
	store_txn_copy(txn, client->mbox->id, ranges, (unsigned)uids.count,
		       box->id, move);
	imap_seqset_free(&uids);
	struct copy_ctx *ctx = p_new(cmd->pool, struct copy_ctx, 1);
	ctx->move = move;
	ctx->dst_id = box->id;
	imapd_txn_commit(client, txn, copy_done, ctx);
}
