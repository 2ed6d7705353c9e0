/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "message-address.h"
#include "message-header.h"
#include "mime-parser.h"
#include "imap-quote.h"
#include "imap-envelope.h"

/* address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
 * (RFC 3501 section 9) */
static void write_addresses(struct buf *dest,
			    const struct message_address *addr)
{
	if (addr == NULL) {
		buf_append_str(dest, "NIL");
		return;
	}
	buf_append_byte(dest, '(');
	for (; addr != NULL; addr = addr->next) {
		buf_append_byte(dest, '(');
		if (addr->name == NULL)
			buf_append_str(dest, "NIL");
		else
			imap_append_string_for_humans(dest, addr->name);
		buf_append_byte(dest, ' ');
		imap_append_nstring_nolf(dest, addr->route);
		buf_append_byte(dest, ' ');
		imap_append_nstring_nolf(dest, addr->mailbox);
		buf_append_byte(dest, ' ');
		imap_append_nstring_nolf(dest, addr->domain);
		buf_append_byte(dest, ')');
	}
	buf_append_byte(dest, ')');
}

void imap_envelope_write(struct buf *dest, const struct mime_envelope *env)
{
	if (env == NULL) {
		buf_append_str(dest, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	buf_append_byte(dest, '(');
	imap_append_nstring_nolf(dest, env->date);
	buf_append_byte(dest, ' ');
	if (env->subject == NULL)
		buf_append_str(dest, "NIL");
	else
		imap_append_string_for_humans(dest, env->subject);
	buf_append_byte(dest, ' ');
	write_addresses(dest, env->from);
	buf_append_byte(dest, ' ');
	/* RFC 3501 section 7.4.2: sender and reply-to default to from */
	write_addresses(dest, env->sender != NULL ? env->sender : env->from);
	buf_append_byte(dest, ' ');
	write_addresses(dest, env->reply_to != NULL ? env->reply_to : env->from);
	buf_append_byte(dest, ' ');
	write_addresses(dest, env->to);
	buf_append_byte(dest, ' ');
	write_addresses(dest, env->cc);
	buf_append_byte(dest, ' ');
	write_addresses(dest, env->bcc);
	buf_append_byte(dest, ' ');
	imap_append_nstring_nolf(dest, env->in_reply_to);
	buf_append_byte(dest, ' ');
	imap_append_nstring_nolf(dest, env->message_id);
	buf_append_byte(dest, ')');
}

void imap_envelope_write_header(struct buf *dest, const uint8_t *header,
				size_t header_size)
{
	struct pool *pool = pool_create("imap envelope header", 4096);
	struct mime_part *root;

	header_size = message_header_block_size(header, header_size);
	root = mime_parse(pool, header, header_size, NULL);
	imap_envelope_write(dest, root->envelope);
	pool_destroy(&pool);
}
