/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "imap-seqset.h"

void imap_seqset_free(struct imap_seqset *set)
{
	i_free(set->ranges);
	set->count = set->cap = 0;
	set->saved = false;
}

void imap_seqset_clear(struct imap_seqset *set)
{
	set->count = 0;
	set->saved = false;
}

void imap_seqset_add_range(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->count == set->cap) {
		set->cap = set->cap == 0 ? 4 : i_size_mul(set->cap, 2);
		set->ranges = i_realloc(set->ranges,
					i_size_mul(set->cap, sizeof(*set->ranges)));
	}
	set->ranges[set->count].lo = lo;
	set->ranges[set->count].hi = hi;
	set->count++;
}

void imap_seqset_add(struct imap_seqset *set, uint32_t n)
{
	/* Consecutive additions (the common case when building COPYUID or
	 * SEARCH results) extend the last range. */
	if (set->count > 0) {
		struct imap_seq_range *r = &set->ranges[set->count - 1];
		if (r->lo <= r->hi && r->hi != IMAP_SEQ_STAR && n == r->hi + 1) {
			r->hi = n;
			return;
		}
		if (r->lo <= n && n <= r->hi)
			return;
	}
	imap_seqset_add_range(set, n, n);
}

/* seq-number = nz-number / "*"; nz-number = digit-nz *DIGIT, fitting 32
 * bits (RFC 9051 section 9: "number" is 32-bit unsigned). */
static int parse_number(const char **p, uint32_t *n_r)
{
	const char *s = *p;
	uint64_t n = 0;

	if (*s == '*') {
		*n_r = IMAP_SEQ_STAR;
		*p = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n >= UINT32_MAX)
			return -1;
		s++;
	}
	*n_r = (uint32_t)n;
	*p = s;
	return 0;
}

int imap_seqset_parse(const char *str, struct imap_seqset *set,
		      size_t max_ranges, const char **error_r)
{
	const char *p = str;

	imap_seqset_clear(set);
	if (max_ranges == 0)
		max_ranges = 100000;
	if (strcmp(str, "$") == 0) {
		set->saved = true;
		return 1;
	}
	for (;;) {
		uint32_t lo, hi;
		if (parse_number(&p, &lo) < 0) {
			*error_r = "Invalid sequence set";
			return -1;
		}
		hi = lo;
		if (*p == ':') {
			p++;
			if (parse_number(&p, &hi) < 0) {
				*error_r = "Invalid sequence set";
				return -1;
			}
		}
		if (set->count >= max_ranges) {
			*error_r = "Sequence set too long";
			return -1;
		}
		imap_seqset_add_range(set, lo, hi);
		if (*p == '\0')
			return 1;
		if (*p != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		p++;
	}
}

bool imap_seqset_has_star(const struct imap_seqset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		if (set->ranges[i].lo == IMAP_SEQ_STAR ||
		    set->ranges[i].hi == IMAP_SEQ_STAR)
			return true;
	}
	return false;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : (x->hi > y->hi ? 1 : 0);
}

void imap_seqset_normalize(struct imap_seqset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range *r = &set->ranges[i];
		if (r->lo > r->hi) {
			uint32_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->count < 2)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	size_t out = 0;
	for (size_t i = 1; i < set->count; i++) {
		struct imap_seq_range *last = &set->ranges[out];
		const struct imap_seq_range *r = &set->ranges[i];
		if (r->lo <= last->hi || (last->hi != UINT32_MAX &&
					   r->lo == last->hi + 1)) {
			if (r->hi > last->hi)
				last->hi = r->hi;
		} else {
			set->ranges[++out] = *r;
		}
	}
	set->count = out + 1;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value)
{
	size_t out = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (r.lo == IMAP_SEQ_STAR || r.hi == IMAP_SEQ_STAR) {
			if (star_value == 0)
				continue;
			if (r.lo == IMAP_SEQ_STAR)
				r.lo = star_value;
			if (r.hi == IMAP_SEQ_STAR)
				r.hi = star_value;
		}
		set->ranges[out++] = r;
	}
	set->count = out;
	imap_seqset_normalize(set);
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];
		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;
	for (size_t i = 0; i < set->count; i++)
		n += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

uint32_t imap_seqset_max(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[set->count - 1].hi;
}

void imap_seqset_write(const struct imap_seqset *set, struct buf *dest)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		if (i > 0)
			buf_append_byte(dest, ',');
		if (r->lo == IMAP_SEQ_STAR)
			buf_append_byte(dest, '*');
		else
			buf_printf(dest, "%u", r->lo);
		if (r->lo != r->hi) {
			if (r->hi == IMAP_SEQ_STAR)
				buf_append_str(dest, ":*");
			else
				buf_printf(dest, ":%u", r->hi);
		}
	}
}

/* The index of the first uid >= value. */
static uint32_t lower_bound(const uint32_t *uids, uint32_t count, uint32_t value)
{
	uint32_t lo = 0, hi = count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (uids[mid] < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_seq_of_uid(const uint32_t *uids, uint32_t count, uint32_t uid)
{
	uint32_t i = lower_bound(uids, count, uid);
	return i < count && uids[i] == uid ? i + 1 : 0;
}

void imap_seqset_uids_to_seqs(const struct imap_seqset *uidset,
			      const uint32_t *uids, uint32_t count,
			      struct imap_seqset *seqs_r)
{
	imap_seqset_clear(seqs_r);
	for (size_t i = 0; i < uidset->count; i++) {
		const struct imap_seq_range *r = &uidset->ranges[i];
		/* Cost in proportion to the range's hits, not its width. */
		uint32_t first = lower_bound(uids, count, r->lo);
		uint32_t last = r->hi == UINT32_MAX ? count
						     : lower_bound(uids, count, r->hi + 1);
		if (first < last)
			imap_seqset_add_range(seqs_r, first + 1, last);
	}
	imap_seqset_normalize(seqs_r);
}

int imap_seqset_seqs_to_uids(const struct imap_seqset *seqset,
			     const uint32_t *uids, uint32_t count,
			     struct imap_seqset *uids_r)
{
	imap_seqset_clear(uids_r);
	for (size_t i = 0; i < seqset->count; i++) {
		const struct imap_seq_range *r = &seqset->ranges[i];
		if (r->lo == 0 || r->hi > count)
			return -1;
		for (uint32_t s = r->lo; s <= r->hi; s++)
			imap_seqset_add(uids_r, uids[s - 1]);
	}
	imap_seqset_normalize(uids_r);
	return 0;
}
