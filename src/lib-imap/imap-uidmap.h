/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_UIDMAP_H
#define POSTHORN_IMAP_UIDMAP_H

#include "lib.h"
#include "imap-seqset.h"

/* A session's sequence-number map (RFC 9051 section 2.3.1.2): the strictly
 * increasing UIDs of messages 1..count, kept as runs of consecutive UIDs.
 * A mailbox that never lost a message in the middle costs 8 bytes however
 * large it is; each gap costs 8 bytes more (a flat array would cost 4 bytes
 * per message). Lookups are binary searches over the runs; removing a
 * message costs O(runs). */
struct imap_uidmap_run {
	uint32_t uid;  /* the run's first UID */
	uint32_t seq0; /* its message's sequence number - 1 */
};

struct imap_uidmap {
	struct imap_uidmap_run *runs;
	uint32_t runs_count, runs_cap;
	uint32_t count; /* messages */
};

#define IMAP_UIDMAP_INIT { NULL, 0, 0, 0 }

void imap_uidmap_free(struct imap_uidmap *map);
/* Appends a message; uid must be above the last one. */
void imap_uidmap_append(struct imap_uidmap *map, uint32_t uid);
/* Frees the spare capacity (after loading a mailbox). */
void imap_uidmap_trim(struct imap_uidmap *map);

/* The UID of message seq (1..count). */
uint32_t imap_uidmap_uid(const struct imap_uidmap *map, uint32_t seq);
/* The highest UID, 0 when empty. */
uint32_t imap_uidmap_last_uid(const struct imap_uidmap *map);
/* The sequence number of uid, or 0 when no message has it. */
uint32_t imap_uidmap_seq(const struct imap_uidmap *map, uint32_t uid);
/* How many messages have a UID below uid. */
uint32_t imap_uidmap_count_below(const struct imap_uidmap *map, uint32_t uid);
/* Removes message seq (1..count); the later ones move down by one. */
void imap_uidmap_remove(struct imap_uidmap *map, uint32_t seq);

/* As imap_seqset_uids_to_seqs() and imap_seqset_seqs_to_uids(), with the
 * map. Cost in proportion to the ranges and the runs they touch, not the
 * messages. */
void imap_uidmap_uids_to_seqs(const struct imap_uidmap *map,
			      const struct imap_seqset *uidset,
			      struct imap_seqset *seqs_r);
int imap_uidmap_seqs_to_uids(const struct imap_uidmap *map,
			     const struct imap_seqset *seqset,
			     struct imap_seqset *uids_r);

#endif
