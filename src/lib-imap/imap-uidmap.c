/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "imap-uidmap.h"

void imap_uidmap_free(struct imap_uidmap *map)
{
	i_free(map->runs);
	map->runs_count = map->runs_cap = map->count = 0;
}

/* Messages in run r. */
static uint32_t run_len(const struct imap_uidmap *map, uint32_t r)
{
	uint32_t end = r + 1 < map->runs_count ? map->runs[r + 1].seq0
					       : map->count;
	return end - map->runs[r].seq0;
}

void imap_uidmap_append(struct imap_uidmap *map, uint32_t uid)
{
	if (map->runs_count > 0) {
		uint32_t r = map->runs_count - 1;
		if (map->runs[r].uid + run_len(map, r) == uid) {
			map->count++;
			return;
		}
	}
	if (map->runs_count == map->runs_cap) {
		map->runs_cap = map->runs_cap < 2 ? 4 : map->runs_cap * 2;
		map->runs = i_realloc(map->runs, i_size_mul(map->runs_cap,
							  sizeof(*map->runs)));
	}
	map->runs[map->runs_count].uid = uid;
	map->runs[map->runs_count].seq0 = map->count;
	map->runs_count++;
	map->count++;
}

void imap_uidmap_trim(struct imap_uidmap *map)
{
	if (map->runs_cap == map->runs_count)
		return;
	map->runs_cap = map->runs_count;
	if (map->runs_count == 0)
		i_free(map->runs);
	else
		map->runs = i_realloc(map->runs, map->runs_count *
							 sizeof(*map->runs));
}

/* The run holding 0-based index idx (< count). */
static uint32_t run_of_index(const struct imap_uidmap *map, uint32_t idx)
{
	uint32_t lo = 0, hi = map->runs_count;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (map->runs[mid].seq0 <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_uidmap_uid(const struct imap_uidmap *map, uint32_t seq)
{
	i_assert(seq >= 1 && seq <= map->count);
	uint32_t r = run_of_index(map, seq - 1);
	return map->runs[r].uid + (seq - 1 - map->runs[r].seq0);
}

uint32_t imap_uidmap_last_uid(const struct imap_uidmap *map)
{
	return map->count == 0 ? 0 : imap_uidmap_uid(map, map->count);
}

uint32_t imap_uidmap_count_below(const struct imap_uidmap *map, uint32_t uid)
{
	/* The last run starting at or below uid. */
	uint32_t lo = 0, hi = map->runs_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (map->runs[mid].uid <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	uint32_t r = lo - 1, len = run_len(map, r);
	uint32_t off = uid - map->runs[r].uid;
	return map->runs[r].seq0 + (off < len ? off : len);
}

uint32_t imap_uidmap_seq(const struct imap_uidmap *map, uint32_t uid)
{
	uint32_t i = imap_uidmap_count_below(map, uid);
	return i < map->count && imap_uidmap_uid(map, i + 1) == uid ? i + 1 : 0;
}

void imap_uidmap_remove(struct imap_uidmap *map, uint32_t seq)
{
	i_assert(seq >= 1 && seq <= map->count);
	uint32_t idx = seq - 1, r = run_of_index(map, idx);
	uint32_t len = run_len(map, r), off = idx - map->runs[r].seq0;
	uint32_t shift_from; /* the first run whose seq0 moves down */

	if (len == 1) {
		memmove(map->runs + r, map->runs + r + 1,
			(map->runs_count - r - 1) * sizeof(*map->runs));
		map->runs_count--;
		shift_from = r;
	} else if (off == 0) {
		map->runs[r].uid++;
		shift_from = r + 1;
	} else if (off == len - 1) {
		shift_from = r + 1;
	} else {
		/* Split: the messages after it start a new run at its
		 * place. */
		if (map->runs_count == map->runs_cap) {
			map->runs_cap = map->runs_cap < 2 ? 4 : map->runs_cap * 2;
			map->runs = i_realloc(map->runs,
					      i_size_mul(map->runs_cap,
							 sizeof(*map->runs)));
		}
		memmove(map->runs + r + 2, map->runs + r + 1,
			(map->runs_count - r - 1) * sizeof(*map->runs));
		map->runs_count++;
		map->runs[r + 1].uid = map->runs[r].uid + off + 1;
		map->runs[r + 1].seq0 = idx;
		shift_from = r + 2;
	}
	for (uint32_t i = shift_from; i < map->runs_count; i++)
		map->runs[i].seq0--;
	map->count--;
}

void imap_uidmap_uids_to_seqs(const struct imap_uidmap *map,
			      const struct imap_seqset *uidset,
			      struct imap_seqset *seqs_r)
{
	imap_seqset_clear(seqs_r);
	for (size_t i = 0; i < uidset->count; i++) {
		const struct imap_seq_range *r = &uidset->ranges[i];
		uint32_t first = imap_uidmap_count_below(map, r->lo);
		uint32_t last = r->hi == UINT32_MAX ? map->count
				: imap_uidmap_count_below(map, r->hi + 1);
		if (first < last)
			imap_seqset_add_range(seqs_r, first + 1, last);
	}
	imap_seqset_normalize(seqs_r);
}

int imap_uidmap_seqs_to_uids(const struct imap_uidmap *map,
			     const struct imap_seqset *seqset,
			     struct imap_seqset *uids_r)
{
	imap_seqset_clear(uids_r);
	for (size_t i = 0; i < seqset->count; i++) {
		const struct imap_seq_range *s = &seqset->ranges[i];
		if (s->lo == 0 || s->hi > map->count)
			return -1;
		/* 0-based [idx, end): one UID range per run touched. */
		uint32_t idx = s->lo - 1, end = s->hi;
		while (idx < end) {
			uint32_t r = run_of_index(map, idx);
			uint32_t run_end = map->runs[r].seq0 + run_len(map, r);
			uint32_t piece_end = MIN(run_end, end);
			uint32_t uid = map->runs[r].uid + (idx - map->runs[r].seq0);
			imap_seqset_add_range(uids_r, uid,
					      uid + (piece_end - 1 - idx));
			idx = piece_end;
		}
	}
	imap_seqset_normalize(uids_r);
	return 0;
}
