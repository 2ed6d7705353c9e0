/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "message-header.h"
#include "smtpd-mailauth.h"

static const char *const action_names[] = {
	[SMTPD_MAILAUTH_DELIVER] = "deliver",
	[SMTPD_MAILAUTH_JUNK] = "junk",
	[SMTPD_MAILAUTH_REJECT_DMARC] = "reject_dmarc",
	[SMTPD_MAILAUTH_REJECT_FROM] = "reject_from",
	[SMTPD_MAILAUTH_REJECT_SPF] = "reject_spf",
	[SMTPD_MAILAUTH_DEFER_SPF] = "defer_spf",
	[SMTPD_MAILAUTH_DEFER_DMARC] = "defer_dmarc",
};

const char *smtpd_mailauth_action_name(enum smtpd_mailauth_action action)
{
	i_assert((size_t)action < N_ELEMENTS(action_names));
	return action_names[action];
}

enum smtpd_mailauth_action
smtpd_mailauth_verdict(const struct smtpd_mailauth_facts *f)
{
	enum spf_result spf = f->spf_ran ? f->spf : SPF_RESULT_NONE;

	if (f->dmarc_ran) {
		/* RFC 7489 section 6.6.1: several author domains cannot be
		 * evaluated as one, and delivering would let a second From
		 * slip past the first one's policy. */
		if (f->from == SMTPD_FROM_MULTIPLE && f->enforce)
			return SMTPD_MAILAUTH_REJECT_FROM;
		if (f->dmarc == DMARC_RESULT_TEMPERROR)
			return f->defer ? SMTPD_MAILAUTH_DEFER_DMARC :
				SMTPD_MAILAUTH_DELIVER;
		if (f->dmarc_record) {
			if (f->dmarc != DMARC_RESULT_FAIL)
				return SMTPD_MAILAUTH_DELIVER;
			/* A check that could not run might have passed. */
			if (f->defer && (spf == SPF_RESULT_TEMPERROR ||
					 f->dkim_temperror_aligned))
				return SMTPD_MAILAUTH_DEFER_DMARC;
			if (!f->enforce)
				return SMTPD_MAILAUTH_DELIVER;
			switch (f->disposition) {
			case DMARC_POLICY_REJECT:
				return SMTPD_MAILAUTH_REJECT_DMARC;
			case DMARC_POLICY_QUARANTINE:
				return SMTPD_MAILAUTH_JUNK;
			default:
				return SMTPD_MAILAUTH_DELIVER;
			}
		}
	}
	if (!f->spf_ran || !f->spf_reject)
		return SMTPD_MAILAUTH_DELIVER;
	if (spf == SPF_RESULT_FAIL)
		return SMTPD_MAILAUTH_REJECT_SPF;
	if (spf == SPF_RESULT_TEMPERROR && f->defer)
		return SMTPD_MAILAUTH_DEFER_SPF;
	return SMTPD_MAILAUTH_DELIVER;
}

struct splice_range {
	size_t start, end; /* within the content */
};

size_t smtpd_mailauth_splice(struct buf *msg, size_t prefix_len,
			     size_t content_start, const void *added,
			     size_t added_len, const char *authserv_id,
			     unsigned *removed_r)
{
	struct message_header_iter iter;
	struct message_header_field field;
	struct splice_range *rm = NULL;
	size_t count = 0, alloc = 0, hsize, dst, kept_end;
	uint8_t *content;

	i_assert(prefix_len <= content_start && content_start <= msg->len);
	content = msg->data + content_start;
	hsize = message_header_block_size(content, msg->len - content_start);
	message_header_iter_init(&iter, content, hsize);
	while (message_header_iter_next(&iter, &field) > 0) {
		if (field.no_colon ||
		    !message_header_field_is(&field, "Authentication-Results") ||
		    !mailauth_ar_is_ours((const char *)field.value,
					 field.value_len, authserv_id))
			continue;
		if (count == alloc) {
			alloc = alloc == 0 ? 4 : alloc * 2;
			rm = i_realloc(rm, alloc * sizeof(*rm));
		}
		rm[count].start = field.offset;
		rm[count].end = field.offset + field.size;
		count++;
	}
	*removed_r = count;

	/* From the last removed field back, each run of kept header bytes
	 * moves up against what is already in place; dst is where that
	 * starts. Runs move towards higher addresses and are taken from the
	 * top down, so none is overwritten before it has moved. */
	dst = content_start + hsize;
	kept_end = hsize;
	for (size_t i = count; i > 0; i--) {
		size_t len = kept_end - rm[i - 1].end;
		dst -= len;
		memmove(msg->data + dst, content + rm[i - 1].end, len);
		kept_end = rm[i - 1].start;
	}
	dst -= kept_end;
	memmove(msg->data + dst, content, kept_end);
	i_free(rm);

	/* [dst, len) is the content now; room is everything between. */
	if (added_len <= dst - prefix_len) {
		dst -= added_len;
		memcpy(msg->data + dst, added, added_len);
		dst -= prefix_len;
		memmove(msg->data + dst, msg->data, prefix_len);
		return dst;
	}
	struct buf out = BUF_INIT;
	buf_reserve(&out, prefix_len + added_len + msg->len - dst);
	buf_append(&out, msg->data, prefix_len);
	buf_append(&out, added, added_len);
	buf_append(&out, msg->data + dst, msg->len - dst);
	buf_free(msg);
	*msg = out;
	return 0;
}
