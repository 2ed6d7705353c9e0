/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "imap-uidmap.h"

/* The run-length map against a flat array of the same UIDs, through
 * appends and removals at the start, middle and end of runs. */

static void check_same(const struct imap_uidmap *map, const uint32_t *uids,
		       uint32_t count)
{
	assert_int_equal(map->count, count);
	assert_int_equal(imap_uidmap_last_uid(map), count == 0 ? 0 : uids[count - 1]);
	for (uint32_t i = 0; i < count; i++) {
		assert_int_equal(imap_uidmap_uid(map, i + 1), uids[i]);
		assert_int_equal(imap_uidmap_seq(map, uids[i]), i + 1);
	}
	uint32_t max = count == 0 ? 5 : uids[count - 1] + 3;
	for (uint32_t uid = 1, below = 0; uid <= max; uid++) {
		assert_int_equal(imap_uidmap_count_below(map, uid), below);
		bool present = below < count && uids[below] == uid;
		if (!present)
			assert_int_equal(imap_uidmap_seq(map, uid), 0);
		else
			below++;
	}
}

static void test_runs(void **state)
{
	struct imap_uidmap map = IMAP_UIDMAP_INIT;
	uint32_t uids[200] = { 0 }, count = 0;
	(void)state;

	check_same(&map, uids, 0);
	/* 1..50, 60..99, 101, 103..150 */
	for (uint32_t u = 1; u <= 150; u++) {
		if ((u > 50 && u < 60) || u == 100 || u == 102)
			continue;
		imap_uidmap_append(&map, u);
		uids[count++] = u;
	}
	assert_int_equal(map.runs_count, 4);
	check_same(&map, uids, count);
	imap_uidmap_trim(&map);
	assert_int_equal(map.runs_cap, 4);

	/* Deterministic pseudo-random removals down to empty. */
	uint32_t x = 12345, removed = 0;
	while (count > 0) {
		x = x * 1103515245 + 12345;
		uint32_t seq = (x >> 8) % count + 1;
		imap_uidmap_remove(&map, seq);
		memmove(uids + seq - 1, uids + seq, (count - seq) * sizeof(*uids));
		count--;
		check_same(&map, uids, count);
		if (++removed % 7 == 0) {
			/* Appends keep working in between. */
			uint32_t u = imap_uidmap_last_uid(&map) + 1 + (x >> 30);
			imap_uidmap_append(&map, u);
			uids[count++] = u;
			check_same(&map, uids, count);
		}
	}
	imap_uidmap_trim(&map);
	assert_null(map.runs);
	imap_uidmap_free(&map);
}

static void test_sets(void **state)
{
	struct imap_uidmap map = IMAP_UIDMAP_INIT;
	struct imap_seqset in = IMAP_SEQSET_INIT, out = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;
	(void)state;

	/* seqs 1..5 = uids 10..14, 6..7 = 20..21, 8 = 30 */
	for (uint32_t u = 10; u <= 14; u++)
		imap_uidmap_append(&map, u);
	imap_uidmap_append(&map, 20);
	imap_uidmap_append(&map, 21);
	imap_uidmap_append(&map, 30);

	imap_seqset_add_range(&in, 4, 7);
	imap_seqset_add(&in, 8);
	assert_int_equal(imap_uidmap_seqs_to_uids(&map, &in, &out), 0);
	imap_seqset_write(&out, &b);
	assert_string_equal(buf_cstr(&b), "13:14,20:21,30");

	imap_seqset_clear(&in);
	imap_seqset_add(&in, 9);
	assert_int_equal(imap_uidmap_seqs_to_uids(&map, &in, &out), -1);

	imap_seqset_clear(&in);
	imap_seqset_add_range(&in, 12, 25);
	imap_seqset_add_range(&in, 29, UINT32_MAX);
	imap_uidmap_uids_to_seqs(&map, &in, &out);
	buf_reset(&b);
	imap_seqset_write(&out, &b);
	assert_string_equal(buf_cstr(&b), "3:8");

	imap_seqset_clear(&in);
	imap_seqset_add_range(&in, 15, 19);
	imap_uidmap_uids_to_seqs(&map, &in, &out);
	assert_int_equal(out.count, 0);

	buf_free(&b);
	imap_seqset_free(&in);
	imap_seqset_free(&out);
	imap_uidmap_free(&map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_sets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
