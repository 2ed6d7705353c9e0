/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "corpus.h"

#include <dirent.h>
#include <sys/stat.h>

uint8_t *corpus_read_file(const char *path, size_t *size_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	uint8_t tmp[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_append(&b, "", 0);
	return buf_steal(&b, size_r);
}

static uint8_t *to_crlf(const uint8_t *data, size_t size, size_t *size_r)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			buf_append_byte(&b, '\r');
		buf_append_byte(&b, data[i]);
	}
	buf_append(&b, "", 0);
	return buf_steal(&b, size_r);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *dir, unsigned int *count_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	unsigned int count = 0;

	*count_r = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = i_realloc(names, sizeof(*names) * (count + 1));
		names[count++] = i_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(*names), name_cmp);
	*count_r = count;
	return names;
}

static void add_message(struct corpus_message **msgs, unsigned int *count,
			char *name, const uint8_t *data, size_t size)
{
	struct corpus_message *m;

	*msgs = i_realloc(*msgs, sizeof(**msgs) * (*count + 1));
	m = &(*msgs)[(*count)++];
	m->name = name;
	m->data = to_crlf(data, size, &m->size);
}

static void split_mbox(const char *file, const uint8_t *data, size_t size,
		       struct corpus_message **msgs, unsigned int *count)
{
	size_t pos = 0, start = 0;
	bool have = false;
	unsigned int n = 0;

	while (pos <= size) {
		const uint8_t *lf = pos < size ? memchr(data + pos, '\n', size - pos) : NULL;
		size_t next = lf == NULL ? size : (size_t)(lf - data) + 1;
		bool from = pos < size && size - pos >= 5 &&
			    memcmp(data + pos, "From ", 5) == 0;

		if (from || pos >= size) {
			if (have || (pos >= size && start < size)) {
				size_t len = pos - start;

				if (len >= 2 && data[start + len - 1] == '\n' &&
				    data[start + len - 2] == '\n')
					len--;
				add_message(msgs, count,
					    i_strdup_printf("mbox/%s.%u", file, ++n),
					    data + start, len);
			}
			if (pos >= size)
				break;
			have = true;
			start = next;
		}
		pos = next;
	}
}

int corpus_add_dir(const char *dir, const char *prefix,
		   struct corpus_message **msgs, unsigned int *count)
{
	struct stat st;
	char **names;
	unsigned int n;

	if (stat(dir, &st) < 0)
		return 0;
	names = list_dir(dir, &n);
	for (unsigned int i = 0; i < n; i++) {
		char *path = i_strdup_printf("%s/%s", dir, names[i]);
		size_t size;
		uint8_t *data = corpus_read_file(path, &size);

		if (data != NULL) {
			add_message(msgs, count,
				    i_strdup_printf("%s/%s", prefix, names[i]),
				    data, size);
			free(data);
		}
		i_free(path);
		i_free(names[i]);
	}
	i_free(names);
	return 1;
}

int corpus_load(const char *shared_dir, struct corpus_message **msgs_r,
		unsigned int *count_r)
{
	struct corpus_message *msgs = NULL;
	unsigned int count = 0, n;
	char *dir, **names;

	dir = i_strdup_printf("%s/corpus/messages", shared_dir);
	if (corpus_add_dir(dir, "messages", &msgs, &count) == 0) {
		i_free(dir);
		*msgs_r = NULL;
		*count_r = 0;
		return 0;
	}
	i_free(dir);

	dir = i_strdup_printf("%s/corpus/mbox", shared_dir);
	names = list_dir(dir, &n);
	for (unsigned int i = 0; i < n; i++) {
		char *path = i_strdup_printf("%s/%s", dir, names[i]);
		size_t size;
		uint8_t *data = corpus_read_file(path, &size);

		if (data != NULL) {
			split_mbox(names[i], data, size, &msgs, &count);
			free(data);
		}
		i_free(path);
		i_free(names[i]);
	}
	i_free(names);
	i_free(dir);
	*msgs_r = msgs;
	*count_r = count;
	return 1;
}

void corpus_free(struct corpus_message **msgs, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		i_free((*msgs)[i].name);
		i_free((*msgs)[i].data);
	}
	i_free(*msgs);
}
