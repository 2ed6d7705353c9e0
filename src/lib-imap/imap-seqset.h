/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_SEQSET_H
#define POSTHORN_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Sequence sets (RFC 9051 section 9, "sequence-set"):
 *
 *   sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"
 *   seq-range    = seq-number ":" seq-number
 *   seq-number   = nz-number / "*"
 *
 * A parsed set keeps "*" unresolved (IMAP_SEQ_STAR); imap_seqset_resolve()
 * replaces it with the largest number in use, orders each range, sorts and
 * merges, after which the set is a sorted list of disjoint ranges. */

#define IMAP_SEQ_STAR UINT32_MAX

struct imap_seq_range {
	uint32_t lo, hi;
};

struct imap_seqset {
	struct imap_seq_range *ranges; /* i_malloc'd */
	size_t count, cap;
	/* "$" (RFC 5182 SEARCHRES): the saved search result; no ranges. */
	bool saved;
};

#define IMAP_SEQSET_INIT { NULL, 0, 0, false }

/* Parses str (whole string). Returns 1, or -1 with *error_r. max_ranges
 * bounds peer input (0 = 100,000). */
int imap_seqset_parse(const char *str, struct imap_seqset *set,
		      size_t max_ranges, const char **error_r);
void imap_seqset_free(struct imap_seqset *set);
void imap_seqset_clear(struct imap_seqset *set);
/* Appends a range (any order; lo may be > hi). */
void imap_seqset_add_range(struct imap_seqset *set, uint32_t lo, uint32_t hi);
void imap_seqset_add(struct imap_seqset *set, uint32_t n);
bool imap_seqset_has_star(const struct imap_seqset *set);
/* Replaces "*" with star_value, orders, sorts and merges. For message
 * sequence numbers star_value is EXISTS; for UIDs the highest UID in the
 * mailbox (so that "559:*" includes the last message even when 559 is
 * higher, RFC 9051 section 6.4.9). With star_value 0 (empty mailbox) a
 * range holding "*" is dropped. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value);
/* Sorts and merges only (no "*" in the set). */
void imap_seqset_normalize(struct imap_seqset *set);
/* After resolve/normalize. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* After resolve/normalize: largest number, 0 if empty. */
uint32_t imap_seqset_max(const struct imap_seqset *set);
/* Writes "1:3,7" (sorted sets come out compact). Nothing for an empty
 * set. */
void imap_seqset_write(const struct imap_seqset *set, struct buf *dest);

/* Resolution against a session's view of a mailbox: uids is the strictly
 * increasing array of UIDs of messages 1..count.
 *
 * A UID set (resolved with the highest UID) to the set of sequence numbers
 * of the messages it names; UIDs that no message has are skipped. */
void imap_seqset_uids_to_seqs(const struct imap_seqset *uidset,
			      const uint32_t *uids, uint32_t count,
			      struct imap_seqset *seqs_r);
/* A sequence set (resolved with count) to the UIDs of those messages.
 * Returns -1 when a number is above count. */
int imap_seqset_seqs_to_uids(const struct imap_seqset *seqset,
			     const uint32_t *uids, uint32_t count,
			     struct imap_seqset *uids_r);
/* The sequence number of uid, or 0 when no message has it. */
uint32_t imap_seq_of_uid(const uint32_t *uids, uint32_t count, uint32_t uid);

#endif
