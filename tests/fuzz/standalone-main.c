/* SPDX-License-Identifier: MIT */
/* A small driver for fuzz targets built without libFuzzer: runs every seed
 * in the given directories or files, then a fixed number of deterministic
 * pseudo-random mutations of them. Same seeds, same run: a failure is
 * reproducible, and the input that failed is written to
 * ./fuzz-failing-input (the driver installs no signal handlers; it writes
 * the input before running it when FUZZ_SAVE_EACH is set).
 *
 * usage: fuzz-NAME [-n MUTATIONS] [-s SEED] DIR|FILE...
 * The meson test runs each target on tests/fuzz/corpus/NAME/ (suite
 * "fuzz"); it is the short smoke test of `make check`. */
#include "lib.h"
#include "buf.h"

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEFAULT_MUTATIONS 3000
#define MAX_INPUT_SIZE (256 * 1024)

struct seed {
	uint8_t *data;
	size_t size;
};

static struct seed *seeds;
static unsigned int seeds_count;
static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: small and the same everywhere */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	uint8_t tmp[8192];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0 && b.len < MAX_INPUT_SIZE)
		buf_append(&b, tmp, n);
	fclose(f);
	if (b.len > MAX_INPUT_SIZE)
		buf_truncate(&b, MAX_INPUT_SIZE);
	seeds = i_realloc(seeds, sizeof(*seeds) * (seeds_count + 1));
	seeds[seeds_count].size = b.len;
	seeds[seeds_count].data = b.len == 0 ? i_malloc(1) : buf_steal(&b, &n);
	seeds_count++;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	unsigned int count = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "cannot stat %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = i_realloc(names, sizeof(*names) * (count + 1));
		names[count++] = i_strdup_printf("%s/%s", path, de->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(*names), name_cmp);
	for (unsigned int i = 0; i < count; i++) {
		add_file(names[i]);
		i_free(names[i]);
	}
	i_free(names);
}

/* Bytes that matter to mail grammars, inserted more often than chance. */
static const char *const tokens[] = {
	"\r\n", "\n", "\r\n\r\n", "--", "\r\n--", ":", ";", "=", "\"", "\\",
	"(", ")", "<", ">", "@", ",", "=?", "?=", "?B?", "?Q?", "*0*=",
	"''", "%", " ", "\t", "\r\n ", "\0", "\xff", "\xc3\xa9",
	"Content-Type: multipart/mixed; boundary=b\r\n",
	"Content-Type: message/rfc822\r\n", "\r\n--b\r\n", "\r\n--b--\r\n",
};

static void mutate(struct buf *b)
{
	unsigned int n = 1 + (unsigned int)rng_below(8);

	for (unsigned int i = 0; i < n; i++) {
		size_t pos = rng_below(b->len + 1);

		switch (rng_below(7)) {
		case 0: /* flip a bit */
			if (b->len > 0)
				b->data[rng_below(b->len)] ^= (uint8_t)(1u << rng_below(8));
			break;
		case 1: /* random byte */
			if (b->len > 0)
				b->data[rng_below(b->len)] = (uint8_t)rng();
			break;
		case 2: { /* delete a range */
			size_t len = rng_below(MIN(b->len - MIN(pos, b->len), 64) + 1);

			if (pos < b->len) {
				memmove(b->data + pos, b->data + pos + len,
					b->len - pos - len);
				b->len -= len;
			}
			break;
		}
		case 3:
		case 4: { /* insert a token */
			const char *t = tokens[rng_below(N_ELEMENTS(tokens))];
			size_t len = t[0] == '\0' ? 1 : strlen(t);
			struct buf nb = BUF_INIT;

			buf_append(&nb, b->data, pos);
			buf_append(&nb, t, len);
			buf_append(&nb, b->data + pos, b->len - pos);
			buf_free(b);
			*b = nb;
			break;
		}
		case 5: { /* duplicate a range */
			size_t len = rng_below(MIN(b->len - MIN(pos, b->len), 256) + 1);
			struct buf nb = BUF_INIT;

			if (pos >= b->len)
				break;
			buf_append(&nb, b->data, pos + len);
			buf_append(&nb, b->data + pos, b->len - pos);
			buf_free(b);
			*b = nb;
			break;
		}
		default: { /* splice in a piece of another seed */
			const struct seed *s = &seeds[rng_below(seeds_count)];
			size_t from = rng_below(s->size + 1);
			size_t len = rng_below(MIN(s->size - from, 512) + 1);
			struct buf nb = BUF_INIT;

			buf_append(&nb, b->data, pos);
			buf_append(&nb, s->data + from, len);
			buf_append(&nb, b->data + pos, b->len - pos);
			buf_free(b);
			*b = nb;
			break;
		}
		}
		if (b->len > MAX_INPUT_SIZE)
			buf_truncate(b, MAX_INPUT_SIZE);
	}
}

static void run_one(const uint8_t *data, size_t size)
{
	/* a private copy, so reads past the end are caught by ASan */
	uint8_t *copy = i_malloc(size == 0 ? 1 : size);

	if (size > 0)
		memcpy(copy, data, size);
	if (getenv("FUZZ_SAVE_EACH") != NULL) {
		FILE *f = fopen("fuzz-failing-input", "wb");

		if (f != NULL) {
			fwrite(copy, 1, size, f);
			fclose(f);
		}
	}
	(void)LLVMFuzzerTestOneInput(copy, size);
	free(copy);
}

int main(int argc, char **argv)
{
	unsigned long mutations = DEFAULT_MUTATIONS;
	uint64_t seed = 0x5eed;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			mutations = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [-n MUTATIONS] [-s SEED] DIR|FILE...\n",
				argv[0]);
			return 2;
		}
	}
	for (; i < argc; i++)
		add_path(argv[i]);
	if (seeds_count == 0) {
		/* nothing given: still exercise the target */
		add_file("/dev/null");
	}
	rng_state = seed == 0 ? 1 : seed;
	for (unsigned int s = 0; s < seeds_count; s++)
		run_one(seeds[s].data, seeds[s].size);
	for (unsigned long m = 0; m < mutations; m++) {
		const struct seed *s = &seeds[rng_below(seeds_count)];
		struct buf b = BUF_INIT;

		buf_append(&b, s->data, s->size);
		mutate(&b);
		run_one(b.data, b.len);
		buf_free(&b);
	}
	printf("%s: %u seeds and %lu mutations ran without a crash\n", argv[0],
	       seeds_count, mutations);
	for (unsigned int s = 0; s < seeds_count; s++)
		free(seeds[s].data);
	free(seeds);
	return 0;
}
