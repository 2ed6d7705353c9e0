/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "cli.h"
#include "pool.h"
#include "store.h"
#include "strutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* posthorn import maildir|mbox ADDRESS PATH [--mailbox NAME]
 *
 * Messages go in through the store like APPENDs (bare LF becomes CRLF,
 * quota applies), a few hundred per transaction. Memory holds one message
 * and one folder's file names, whatever the size of the mailbox. */

/* Larger messages are refused rather than read into memory. */
#define IMPORT_MESSAGE_MAX (256 * 1024 * 1024)
#define IMPORT_TXN_MESSAGES 256
#define IMPORT_TXN_BYTES (32 * 1024 * 1024)
#define IMPORT_KEYWORDS_MAX 26 /* Maildir keyword letters a-z */

struct import {
	struct cli *cli;
	struct store *store;
	const char *address;
	int64_t account_id;
	int64_t mailbox_id;
	const char *mailbox_name;

	struct store_txn *txn;
	unsigned txn_messages;
	size_t txn_bytes;
	unsigned long long imported, bytes;

	/* Progress on a terminal: done out of total (messages or bytes). */
	bool progress;
	const char *what;
	uint64_t done, total;
	int last_percent;
};

static void import_progress(struct import *imp, uint64_t done)
{
	imp->done = done;
	if (!imp->progress || imp->total == 0)
		return;
	int percent = (int)(done * 100 / imp->total);
	if (percent == imp->last_percent)
		return;
	imp->last_percent = percent;
	char bar[41];
	int fill = percent * 40 / 100;
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\r%s [%s] %3d%%", imp->what, bar, percent);
	fflush(stderr);
}

static void import_progress_end(struct import *imp)
{
	if (imp->progress && imp->last_percent >= 0)
		fputc('\n', stderr);
	imp->last_percent = -1;
}

static int import_flush(struct import *imp)
{
	if (imp->txn == NULL)
		return 0;
	struct store_txn *txn = imp->txn;
	imp->txn = NULL;
	enum store_error err = store_txn_commit_wait(txn);
	int ret = 0;
	if (err != STORE_OK) {
		const char *text;
		(void)store_txn_error(txn, &text);
		import_progress_end(imp);
		if (err == STORE_ERR_OVER_QUOTA)
			ret = cli_error("%s is over quota after %llu messages",
					imp->address, imp->imported);
		else
			ret = cli_error("import failed after %llu messages: %s",
					imp->imported, text);
	} else {
		imp->imported += imp->txn_messages;
	}
	imp->txn_messages = 0;
	imp->txn_bytes = 0;
	store_txn_destroy(&txn);
	return ret;
}

static int import_message(struct import *imp, const void *data, size_t size,
			  time_t internaldate, uint32_t flags,
			  const char *keywords)
{
	if (imp->txn == NULL)
		imp->txn = store_txn_create(imp->store);
	store_txn_append(imp->txn, imp->mailbox_id, data, size, internaldate,
			 flags, keywords, STORE_DELIVER_CONVERT_LF);
	imp->txn_messages++;
	imp->txn_bytes += size;
	imp->bytes += size;
	if (imp->txn_messages >= IMPORT_TXN_MESSAGES ||
	    imp->txn_bytes >= IMPORT_TXN_BYTES)
		return import_flush(imp);
	return 0;
}

/* Selects (creating if needed) the mailbox messages go to next. */
static int import_mailbox(struct import *imp, const char *name)
{
	struct pool *pool = pool_create("import", 512);
	struct store_mailbox *mb;
	const char *error;
	int ret = store_mailbox_lookup(imp->store, imp->account_id, name, pool,
				       &mb, &error);
	if (ret == 0) {
		struct store_txn *txn = store_txn_create(imp->store);
		unsigned op =
		    store_txn_mailbox_create(txn, imp->account_id, name, 0);
		enum store_error err = store_txn_commit_wait(txn);
		if (err == STORE_OK) {
			imp->mailbox_id = store_txn_result(txn, op)->id;
			ret = 1;
		} else {
			(void)store_txn_error(txn, &error);
			ret = -1;
		}
		store_txn_destroy(&txn);
	} else if (ret > 0) {
		imp->mailbox_id = mb->id;
	}
	pool_destroy(&pool);
	if (ret < 0)
		return cli_error("cannot open mailbox %s: %s", name, error);
	imp->mailbox_name = name;
	return 0;
}

/* Tells a running daemon, so IDLE sessions see the new mail. The mailbox
 * name is the rest of the control line, spaces included. */
static void import_notify(struct import *imp, const char *name)
{
	char *cmd =
	    i_strdup_printf("mailbox-changed %s %s", imp->address, name);
	cli_notify(imp->cli, cmd);
	i_free(cmd);
}

static int read_file(const char *path, struct buf *out, struct stat *st_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	if (fstat(fileno(f), st_r) < 0 || st_r->st_size > IMPORT_MESSAGE_MAX) {
		fclose(f);
		errno = EFBIG;
		return -1;
	}
	buf_reset(out);
	buf_reserve(out, (size_t)st_r->st_size);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append_max(out, chunk, n, IMPORT_MESSAGE_MAX) < 0) {
			fclose(f);
			errno = EFBIG;
			return -1;
		}
	}
	int err = ferror(f);
	fclose(f);
	return err ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Maildir */

struct maildir_file {
	char *name; /* "cur/..." or "new/..." */
	time_t mtime;
};

static int maildir_file_cmp(const void *a, const void *b)
{
	const struct maildir_file *fa = a, *fb = b;
	/* Delivery order: Maildir names start with the delivery time. */
	const char *na = strchr(fa->name, '/') + 1;
	const char *nb = strchr(fb->name, '/') + 1;
	return strcmp(na, nb);
}

/* dovecot-keywords: "N keyword" per line, N the letter index. */
static void maildir_keywords_load(const char *dir,
				  char *names[IMPORT_KEYWORDS_MAX])
{
	char *path = i_strdup_printf("%s/dovecot-keywords", dir);
	FILE *f = fopen(path, "r");
	i_free(path);
	if (f == NULL)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		char *name = sp + 1;
		name[strcspn(name, "\r\n")] = '\0';
		uint64_t idx;
		if (str_to_uint64(line, IMPORT_KEYWORDS_MAX - 1, &idx) == 0 &&
		    name[0] != '\0') {
			free(names[idx]);
			names[idx] = i_strdup(name);
		}
	}
	fclose(f);
}

/* Maildir info ":2,FLAGS": D draft, F flagged, P passed, R replied,
 * S seen, T trashed; a-z Dovecot keywords. */
static uint32_t maildir_flags(const char *name, char *const kwnames[],
			      struct buf *keywords)
{
	uint32_t flags = 0;
	buf_reset(keywords);
	const char *info = strstr(name, ":2,");
	if (info == NULL)
		return 0;
	for (const char *p = info + 3; *p != '\0'; p++) {
		switch (*p) {
		case 'D':
			flags |= STORE_FLAG_DRAFT;
			break;
		case 'F':
			flags |= STORE_FLAG_FLAGGED;
			break;
		case 'R':
			flags |= STORE_FLAG_ANSWERED;
			break;
		case 'S':
			flags |= STORE_FLAG_SEEN;
			break;
		case 'T':
			flags |= STORE_FLAG_DELETED;
			break;
		case 'P':
			if (keywords->len > 0)
				buf_append_byte(keywords, ' ');
			buf_append_str(keywords, "$Forwarded");
			break;
		default:
			if (*p >= 'a' && *p <= 'z' &&
			    kwnames[*p - 'a'] != NULL) {
				if (keywords->len > 0)
					buf_append_byte(keywords, ' ');
				buf_append_str(keywords, kwnames[*p - 'a']);
			}
			break;
		}
	}
	return flags;
}

static int maildir_list(const char *dir, struct maildir_file **files_r,
			unsigned *count_r)
{
	struct maildir_file *files = NULL;
	unsigned count = 0, alloc = 0;
	static const char *const subdirs[] = {"cur", "new"};
	for (unsigned s = 0; s < N_ELEMENTS(subdirs); s++) {
		char *path = i_strdup_printf("%s/%s", dir, subdirs[s]);
		DIR *d = opendir(path);
		if (d == NULL) {
			int ret = cli_error("cannot read %s: %s", path,
					    strerror(errno));
			i_free(path);
			for (unsigned i = 0; i < count; i++)
				free(files[i].name);
			free(files);
			return ret;
		}
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (count == alloc) {
				alloc = alloc == 0 ? 256 : alloc * 2;
				files = i_realloc(
				    files, i_size_mul(alloc, sizeof(*files)));
			}
			files[count].name =
			    i_strdup_printf("%s/%s", subdirs[s], e->d_name);
			files[count].mtime = 0;
			count++;
		}
		closedir(d);
		i_free(path);
	}
	if (count > 0)
		qsort(files, count, sizeof(*files), maildir_file_cmp);
	*files_r = files;
	*count_r = count;
	return 0;
}

static int import_maildir_folder(struct import *imp, const char *dir)
{
	struct maildir_file *files = NULL;
	unsigned count = 0;
	if (maildir_list(dir, &files, &count) != 0)
		return 1;
	char *kwnames[IMPORT_KEYWORDS_MAX] = {NULL};
	maildir_keywords_load(dir, kwnames);

	struct buf msg = BUF_INIT, keywords = BUF_INIT;
	int ret = 0;
	imp->total = count;
	imp->last_percent = -1;
	for (unsigned i = 0; i < count && ret == 0; i++) {
		char *path = i_strdup_printf("%s/%s", dir, files[i].name);
		struct stat st;
		if (read_file(path, &msg, &st) < 0) {
			ret = cli_error("cannot read %s: %s", path,
					strerror(errno));
		} else {
			uint32_t flags =
			    maildir_flags(files[i].name, kwnames, &keywords);
			/* Like Dovecot: the file's mtime is INTERNALDATE. */
			ret =
			    import_message(imp, msg.data, msg.len, st.st_mtime,
					   flags, buf_cstr(&keywords));
		}
		i_free(path);
		import_progress(imp, i + 1);
	}
	if (ret == 0)
		ret = import_flush(imp);
	import_progress_end(imp);
	for (unsigned i = 0; i < count; i++)
		free(files[i].name);
	free(files);
	for (unsigned i = 0; i < IMPORT_KEYWORDS_MAX; i++)
		free(kwnames[i]);
	buf_free(&msg);
	buf_free(&keywords);
	return ret;
}

static bool maildir_is(const char *dir)
{
	struct stat st;
	char *cur = i_strdup_printf("%s/cur", dir);
	bool ok = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
	i_free(cur);
	return ok;
}

/* Maildir++ folder ".A.B" is mailbox "A/B". */
static char *maildir_folder_name(const char *entry)
{
	char *name = i_strdup(entry + 1);
	for (char *p = name; *p != '\0'; p++) {
		if (*p == '.')
			*p = STORE_HIERARCHY_SEP;
	}
	return name;
}

static int import_maildir(struct import *imp, const char *path,
			  const char *mailbox)
{
	if (!maildir_is(path))
		return cli_error("%s is not a Maildir (no cur/)", path);
	imp->what = "import";
	if (import_mailbox(imp, mailbox != NULL ? mailbox : "INBOX") != 0 ||
	    import_maildir_folder(imp, path) != 0)
		return 1;
	import_notify(imp, imp->mailbox_name);
	if (mailbox != NULL)
		return 0;

	/* Without --mailbox, the Maildir++ folders come along. */
	DIR *d = opendir(path);
	if (d == NULL)
		return cli_error("cannot read %s: %s", path, strerror(errno));
	struct dirent *e;
	int ret = 0;
	while (ret == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		char *dir = i_strdup_printf("%s/%s", path, e->d_name);
		if (maildir_is(dir)) {
			char *name = maildir_folder_name(e->d_name);
			if (import_mailbox(imp, name) != 0 ||
			    import_maildir_folder(imp, dir) != 0)
				ret = 1;
			else
				import_notify(imp, name);
			i_free(name);
		}
		i_free(dir);
	}
	closedir(d);
	return ret;
}

/* ------------------------------------------------------------------ */
/* mbox */

/* "From sender Mon Nov 30 08:22:44 2026": the asctime date after the
 * sender; 0 when there is none. */
static time_t mbox_from_date(const char *line)
{
	const char *p = line + 5;
	while (*p == ' ')
		p++;
	p = strchr(p, ' ');
	if (p == NULL)
		return 0;
	while (*p == ' ')
		p++;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(p, "%a %b %d %H:%M:%S %Y", &tm);
	if (end == NULL)
		return 0;
	return timegm(&tm);
}

/* Status/X-Status/X-Keywords carry the flags; they and the UW/Dovecot
 * bookkeeping headers are not part of the message. */
static bool mbox_header_is_meta(const char *line, size_t len)
{
	static const char *const meta[] = {
	    "Status:", "X-Status:", "X-Keywords:",
	    "X-UID:",  "X-IMAP:",   "X-IMAPbase:"};
	for (unsigned i = 0; i < N_ELEMENTS(meta); i++) {
		size_t ml = strlen(meta[i]);
		if (len >= ml && strncasecmp(line, meta[i], ml) == 0)
			return true;
	}
	return false;
}

static void mbox_meta_apply(const char *line, uint32_t *flags,
			    struct buf *keywords)
{
	const char *value = strchr(line, ':') + 1;
	if (strncasecmp(line, "Status:", 7) == 0) {
		if (strchr(value, 'R') != NULL)
			*flags |= STORE_FLAG_SEEN;
	} else if (strncasecmp(line, "X-Status:", 9) == 0) {
		if (strchr(value, 'A') != NULL)
			*flags |= STORE_FLAG_ANSWERED;
		if (strchr(value, 'F') != NULL)
			*flags |= STORE_FLAG_FLAGGED;
		if (strchr(value, 'T') != NULL)
			*flags |= STORE_FLAG_DRAFT;
		if (strchr(value, 'D') != NULL)
			*flags |= STORE_FLAG_DELETED;
	} else if (strncasecmp(line, "X-Keywords:", 11) == 0) {
		for (const char *p = value; *p != '\0';) {
			size_t skip = strspn(p, " \t,\r\n");
			p += skip;
			size_t len = strcspn(p, " \t,\r\n");
			if (len == 0)
				break;
			if (keywords->len > 0)
				buf_append_byte(keywords, ' ');
			buf_append(keywords, p, len);
			p += len;
		}
	}
}

struct mbox_msg {
	struct buf data, keywords;
	uint32_t flags;
	time_t date;
	bool in_header, dropping, active;
};

static int mbox_finish(struct import *imp, struct mbox_msg *m)
{
	if (!m->active)
		return 0;
	m->active = false;
	/* The blank line before the next "From " belongs to the format. */
	if (m->data.len > 0 && m->data.data[m->data.len - 1] == '\n') {
		size_t l = m->data.len - 1;
		if (l > 0 && m->data.data[l - 1] == '\r')
			l--;
		if (l > 0 && m->data.data[l - 1] == '\n')
			buf_truncate(&m->data, l);
	}
	return import_message(imp, m->data.data, m->data.len,
			      m->date != 0 ? m->date : time(NULL), m->flags,
			      buf_cstr(&m->keywords));
}

static int import_mbox(struct import *imp, const char *path,
		       const char *mailbox)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return cli_error("cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0)
		imp->total = (uint64_t)st.st_size;
	imp->what = "import";
	imp->last_percent = -1;
	if (import_mailbox(imp, mailbox != NULL ? mailbox : "INBOX") != 0) {
		fclose(f);
		return 1;
	}

	struct mbox_msg m;
	memset(&m, 0, sizeof(m));
	char *line = NULL;
	size_t line_alloc = 0;
	ssize_t len;
	bool prev_blank = true;
	uint64_t offset = 0;
	int ret = 0;
	while (ret == 0 && (len = getline(&line, &line_alloc, f)) > 0) {
		offset += (uint64_t)len;
		/* A "From " line after a blank line starts a message
		 * (mboxo/mboxrd; Content-Length is not trusted). */
		if (prev_blank && len >= 5 && strncmp(line, "From ", 5) == 0) {
			ret = mbox_finish(imp, &m);
			buf_reset(&m.data);
			buf_reset(&m.keywords);
			m.flags = 0;
			m.date = mbox_from_date(line);
			m.in_header = true;
			m.dropping = false;
			m.active = true;
			prev_blank = false;
			import_progress(imp, offset);
			continue;
		}
		bool blank =
		    line[0] == '\n' || (line[0] == '\r' && line[1] == '\n');
		prev_blank = blank;
		if (!m.active)
			continue; /* text before the first message */
		if (m.in_header) {
			if (blank) {
				m.in_header = false;
				m.dropping = false;
			} else if (line[0] == ' ' || line[0] == '\t') {
				if (m.dropping)
					continue;
			} else {
				m.dropping = mbox_header_is_meta(line, len);
				if (m.dropping) {
					mbox_meta_apply(line, &m.flags,
							&m.keywords);
					continue;
				}
			}
		}
		/* mboxrd: ">From ", ">>From "... lose one '>'. */
		const char *p = line;
		size_t n = (size_t)len;
		size_t gt = strspn(line, ">");
		if (gt > 0 && strncmp(line + gt, "From ", 5) == 0) {
			p++;
			n--;
		}
		if (buf_append_max(&m.data, p, n, IMPORT_MESSAGE_MAX) < 0)
			ret = cli_error("message too large in %s at byte %llu",
					path, (unsigned long long)offset);
	}
	if (ret == 0 && ferror(f))
		ret = cli_error("cannot read %s: %s", path, strerror(errno));
	if (ret == 0)
		ret = mbox_finish(imp, &m);
	if (ret == 0)
		ret = import_flush(imp);
	import_progress(imp, imp->total);
	import_progress_end(imp);
	free(line);
	fclose(f);
	buf_free(&m.data);
	buf_free(&m.keywords);
	if (ret == 0)
		import_notify(imp, imp->mailbox_name);
	return ret;
}

/* ------------------------------------------------------------------ */


static int import_run(struct cli *cli, char **args, unsigned count,
		      bool maildir)
{
	const char *usage = maildir ? "posthorn import maildir ADDRESS PATH "
				      "[--mailbox NAME]"
				    : "posthorn import mbox ADDRESS PATH "
				      "[--mailbox NAME]";
	const char *mailbox, *error;
	if (cli_mailbox_args(args, count, usage, &mailbox) != 0)
		return 1;
	char *orig = i_strdup(args[0]);
	if (!cli_address_valid(args[0])) {
		int ret = cli_error("malformed address: %s", orig);
		i_free(orig);
		return ret;
	}
	i_free(orig);

	struct import imp;
	memset(&imp, 0, sizeof(imp));
	imp.cli = cli;
	imp.address = args[0];
	imp.progress = isatty(STDERR_FILENO) != 0;
	imp.last_percent = -1;
	imp.store = cli_store(cli);
	if (imp.store == NULL)
		return 1;
	struct pool *pool = pool_create("import", 512);
	struct store_account *account;
	int ret = store_account_lookup(imp.store, imp.address, pool, &account,
				       &error);
	if (ret <= 0) {
		pool_destroy(&pool);
		return ret < 0 ? cli_error("cannot read the store: %s", error)
			       : cli_error("unknown user: %s", imp.address);
	}
	imp.account_id = account->id;
	pool_destroy(&pool);

	ret = maildir ? import_maildir(&imp, args[1], mailbox)
		      : import_mbox(&imp, args[1], mailbox);
	if (imp.txn != NULL)
		store_txn_destroy(&imp.txn);
	if (ret == 0)
		printf("imported %llu messages (%llu bytes) for %s\n",
		       imp.imported, imp.bytes, imp.address);
	return ret;
}

static int import_maildir_cmd(struct cli *cli, char **args, unsigned count)
{
	return import_run(cli, args, count, true);
}

static int import_mbox_cmd(struct cli *cli, char **args, unsigned count)
{
	return import_run(cli, args, count, false);
}

static const struct cli_command import_commands[] = {
    {"maildir", "ADDRESS PATH [--mailbox NAME]", 2, 4, CLI_FLAG_OPTIONS,
     import_maildir_cmd},
    {"mbox", "ADDRESS PATH [--mailbox NAME]", 2, 4, CLI_FLAG_OPTIONS,
     import_mbox_cmd},
    {NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_family cli_family_import = {
    "import",
    "Maildir and mbox into a mailbox",
    import_commands,
};
