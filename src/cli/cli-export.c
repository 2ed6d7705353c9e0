/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "cli.h"
#include "pool.h"
#include "store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* posthorn export maildir|mbox ADDRESS PATH [--mailbox NAME]
 *
 * Files get LF line ends (the Unix form both formats use; import turns them
 * back into CRLF). Messages are listed a chunk at a time and read one at a
 * time, so memory stays bounded and no read snapshot is held for long. */

#define EXPORT_CHUNK 500
#define EXPORT_KEYWORDS_MAX 26

struct export
{
	struct cli *cli;
	struct store *store;
	const char *address;
	int64_t account_id;
	unsigned long long exported;
	struct buf body, out;
	bool progress;
	int last_percent;
};

static void export_progress(struct export *ex, const char *name, uint64_t done,
			    uint64_t total)
{
	if (!ex->progress || total == 0)
		return;
	int percent = (int)(done * 100 / total);
	if (percent == ex->last_percent)
		return;
	ex->last_percent = percent;
	fprintf(stderr, "\rexport %s: %3d%%", name, percent);
	fflush(stderr);
}

static void export_progress_end(struct export *ex)
{
	if (ex->progress && ex->last_percent >= 0)
		fputc('\n', stderr);
	ex->last_percent = -1;
}

/* Reads a whole body into ex->body with CRLF turned into LF. */
static int export_read_body(struct export *ex, int64_t body_id)
{
	struct store_body *body;
	const char *error;
	int ret = store_body_open(ex->store, body_id, &body, &error);
	if (ret <= 0)
		return cli_error("cannot read a message body: %s",
				 ret < 0 ? error : "gone");
	buf_reset(&ex->body);
	char chunk[65536];
	uint64_t off = 0, size = store_body_size(body);
	bool cr = false;
	while (off < size) {
		ssize_t n =
		    store_body_read(body, off, chunk, sizeof(chunk), &error);
		if (n <= 0) {
			store_body_close(&body);
			return cli_error("cannot read a message body: %s",
					 n < 0 ? error : "short");
		}
		for (ssize_t i = 0; i < n; i++) {
			if (cr && chunk[i] != '\n')
				buf_append_byte(&ex->body, '\r');
			cr = chunk[i] == '\r';
			if (!cr)
				buf_append_byte(&ex->body, chunk[i]);
		}
		off += n;
	}
	if (cr)
		buf_append_byte(&ex->body, '\r');
	store_body_close(&body);
	return 0;
}

static int write_all(int fd, const void *data, size_t size)
{
	const uint8_t *p = data;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		size -= n;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cli_error("cannot create %s: %s", path, strerror(errno));
	return 0;
}

/* Calls fn for every message of the mailbox, a chunk at a time. */
static int export_each(struct export *ex, int64_t mailbox_id, const char *name,
		       int (*fn)(struct export *ex,
				 const struct store_message *m, void *ctx),
		       void *ctx)
{
	struct store_mailbox_status st;
	const char *error;
	if (store_mailbox_status(ex->store, mailbox_id, &st, &error) <= 0)
		return cli_error("cannot read mailbox %s", name);
	struct store_message *msgs = i_new(struct store_message, EXPORT_CHUNK);
	char **keywords = i_new(char *, EXPORT_CHUNK);
	uint32_t next_uid = 1;
	uint64_t done = 0;
	int ret = 0;
	ex->last_percent = -1;
	for (;;) {
		unsigned n = 0;
		struct store_message_iter *iter = store_message_iter_init(
		    ex->store, mailbox_id, next_uid, 0, 0);
		struct store_message m;
		while (n < EXPORT_CHUNK &&
		       store_message_iter_next(iter, &m) > 0) {
			msgs[n] = m;
			keywords[n] = i_strdup(m.keywords);
			msgs[n].keywords = keywords[n];
			n++;
		}
		if (store_message_iter_deinit(&iter, &error) < 0)
			ret = cli_error("cannot list mailbox %s: %s", name,
					error);
		for (unsigned i = 0; i < n && ret == 0; i++) {
			ret = fn(ex, &msgs[i], ctx);
			export_progress(ex, name, ++done, st.messages);
		}
		for (unsigned i = 0; i < n; i++)
			i_free(keywords[i]);
		if (ret != 0 || n < EXPORT_CHUNK)
			break;
		next_uid = msgs[n - 1].uid + 1;
	}
	export_progress_end(ex);
	free(msgs);
	free(keywords);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Maildir */

struct maildir_export {
	const char *dir;
	char *keywords[EXPORT_KEYWORDS_MAX];
	char hostname[64];
};

static char maildir_keyword_letter(struct maildir_export *me, const char *kw,
				   size_t len)
{
	for (unsigned i = 0; i < EXPORT_KEYWORDS_MAX; i++) {
		if (me->keywords[i] == NULL) {
			me->keywords[i] = i_strndup(kw, len);
			return (char)('a' + i);
		}
		if (strlen(me->keywords[i]) == len &&
		    strncasecmp(me->keywords[i], kw, len) == 0)
			return (char)('a' + i);
	}
	return '\0'; /* more than Maildir has letters for: dropped */
}

static int maildir_export_message(struct export *ex,
				  const struct store_message *m, void *ctx)
{
	struct maildir_export *me = ctx;
	if (export_read_body(ex, m->body_id) != 0)
		return 1;
	/* Info flags in ASCII order, as the Maildir spec asks. */
	char info[64];
	size_t n = 0;
	if (m->flags & STORE_FLAG_DRAFT)
		info[n++] = 'D';
	if (m->flags & STORE_FLAG_FLAGGED)
		info[n++] = 'F';
	bool forwarded = false;
	char letters[EXPORT_KEYWORDS_MAX + 1];
	size_t nl = 0;
	for (const char *p = m->keywords; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len == 10 && strncasecmp(p, "$Forwarded", 10) == 0)
			forwarded = true;
		else if (len > 0) {
			char c = maildir_keyword_letter(me, p, len);
			if (c != '\0' && memchr(letters, c, nl) == NULL)
				letters[nl++] = c;
		}
		p += len;
		p += strspn(p, " ");
	}
	if (forwarded)
		info[n++] = 'P';
	if (m->flags & STORE_FLAG_ANSWERED)
		info[n++] = 'R';
	if (m->flags & STORE_FLAG_SEEN)
		info[n++] = 'S';
	if (m->flags & STORE_FLAG_DELETED)
		info[n++] = 'T';
	/* keyword letters sorted too */
	for (size_t i = 1; i < nl; i++) {
		for (size_t j = i; j > 0 && letters[j - 1] > letters[j]; j--) {
			char t = letters[j];
			letters[j] = letters[j - 1];
			letters[j - 1] = t;
		}
	}
	memcpy(info + n, letters, nl);
	n += nl;
	info[n] = '\0';

	char *base =
	    i_strdup_printf("%lld.M%uP%d.%s,S=%zu", (long long)m->internaldate,
			    m->uid, (int)getpid(), me->hostname, ex->body.len);
	char *tmp = i_strdup_printf("%s/tmp/%s", me->dir, base);
	char *final = i_strdup_printf("%s/cur/%s:2,%s", me->dir, base, info);
	int ret = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, ex->body.data, ex->body.len) < 0) {
		ret = cli_error("cannot write %s: %s", tmp, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	if (ret == 0) {
		struct timeval tv[2] = {{m->internaldate, 0},
					{m->internaldate, 0}};
		(void)utimes(tmp, tv);
		if (rename(tmp, final) < 0)
			ret = cli_error("cannot rename %s: %s", tmp,
					strerror(errno));
	}
	if (ret != 0)
		(void)unlink(tmp);
	else
		ex->exported++;
	i_free(base);
	i_free(tmp);
	i_free(final);
	return ret;
}

static int maildir_export_folder(struct export *ex, int64_t mailbox_id,
				 const char *name, const char *dir)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	if (mkdir_p(dir) != 0)
		return 1;
	for (unsigned i = 0; i < N_ELEMENTS(subdirs); i++) {
		char *sub = i_strdup_printf("%s/%s", dir, subdirs[i]);
		int ret = mkdir_p(sub);
		i_free(sub);
		if (ret != 0)
			return 1;
	}
	struct maildir_export me;
	memset(&me, 0, sizeof(me));
	me.dir = dir;
	if (gethostname(me.hostname, sizeof(me.hostname) - 1) < 0)
		memcpy(me.hostname, "localhost", 10);
	/* '/' and ':' would break the file name. */
	for (char *p = me.hostname; *p != '\0'; p++) {
		if (*p == '/' || *p == ':')
			*p = '_';
	}
	int ret =
	    export_each(ex, mailbox_id, name, maildir_export_message, &me);
	if (ret == 0 && me.keywords[0] != NULL) {
		char *path = i_strdup_printf("%s/dovecot-keywords", dir);
		FILE *f = fopen(path, "w");
		if (f == NULL)
			ret = cli_error("cannot write %s: %s", path,
					strerror(errno));
		for (unsigned i = 0;
		     f != NULL && i < EXPORT_KEYWORDS_MAX && me.keywords[i];
		     i++)
			fprintf(f, "%u %s\n", i, me.keywords[i]);
		if (f != NULL && fclose(f) != 0)
			ret = cli_error("cannot write %s", path);
		i_free(path);
	}
	for (unsigned i = 0; i < EXPORT_KEYWORDS_MAX; i++)
		i_free(me.keywords[i]);
	return ret;
}

/* Mailbox "A/B" is Maildir++ folder ".A.B"; INBOX is the root. */
static char *maildir_folder_dir(const char *root, const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return i_strdup(root);
	char *dir = i_strdup_printf("%s/.%s", root, name);
	for (char *p = dir + strlen(root) + 2; *p != '\0'; p++) {
		if (*p == STORE_HIERARCHY_SEP)
			*p = '.';
	}
	return dir;
}

/* ------------------------------------------------------------------ */
/* mbox */

static void mbox_append_status(struct buf *out, const struct store_message *m)
{
	buf_append_str(out, (m->flags & STORE_FLAG_SEEN) ? "Status: RO\n"
							 : "Status: O\n");
	if (m->flags & (STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED |
			STORE_FLAG_DRAFT | STORE_FLAG_DELETED)) {
		buf_append_str(out, "X-Status: ");
		if (m->flags & STORE_FLAG_ANSWERED)
			buf_append_byte(out, 'A');
		if (m->flags & STORE_FLAG_FLAGGED)
			buf_append_byte(out, 'F');
		if (m->flags & STORE_FLAG_DRAFT)
			buf_append_byte(out, 'T');
		if (m->flags & STORE_FLAG_DELETED)
			buf_append_byte(out, 'D');
		buf_append_byte(out, '\n');
	}
	if (m->keywords[0] != '\0')
		buf_printf(out, "X-Keywords: %s\n", m->keywords);
}

static int mbox_export_message(struct export *ex, const struct store_message *m,
			       void *ctx)
{
	int fd = *(int *)ctx;
	if (export_read_body(ex, m->body_id) != 0)
		return 1;
	struct buf *out = &ex->out;
	buf_reset(out);
	struct tm tm;
	time_t t = m->internaldate;
	char date[64];
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(out, "From MAILER-DAEMON %s\n", date);

	const uint8_t *p = ex->body.data, *end = p + ex->body.len;
	bool in_header = true;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', end - p);
		const uint8_t *next = nl == NULL ? end : nl + 1;
		size_t len = next - p;
		if (in_header && (p[0] == '\n' ||
				  (len >= 2 && p[0] == '\r' && p[1] == '\n'))) {
			mbox_append_status(out, m);
			in_header = false;
		} else if (!in_header) {
			/* mboxrd: any ">*From " line gets one more '>'. */
			size_t gt = 0;
			while (p + gt < next && p[gt] == '>')
				gt++;
			if ((size_t)(next - p) >= gt + 5 &&
			    memcmp(p + gt, "From ", 5) == 0)
				buf_append_byte(out, '>');
		}
		buf_append(out, p, len);
		p = next;
	}
	if (in_header) {
		/* A message with no body: end its header here. */
		if (out->len > 0 && out->data[out->len - 1] != '\n')
			buf_append_byte(out, '\n');
		mbox_append_status(out, m);
		buf_append_byte(out, '\n');
	} else if (out->len > 0 && out->data[out->len - 1] != '\n') {
		buf_append_byte(out, '\n');
	}
	buf_append_byte(out, '\n');
	if (write_all(fd, out->data, out->len) < 0)
		return cli_error("cannot write the mbox: %s", strerror(errno));
	ex->exported++;
	return 0;
}

static int mbox_export_file(struct export *ex, int64_t mailbox_id,
			    const char *name, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cli_error("cannot create %s: %s", path, strerror(errno));
	int ret = export_each(ex, mailbox_id, name, mbox_export_message, &fd);
	if (close(fd) < 0 && ret == 0)
		ret = cli_error("cannot write %s: %s", path, strerror(errno));
	return ret;
}

/* ------------------------------------------------------------------ */


static int export_run(struct cli *cli, char **args, unsigned count,
		      bool maildir)
{
	const char *usage = maildir ? "posthorn export maildir ADDRESS PATH "
				      "[--mailbox NAME]"
				    : "posthorn export mbox ADDRESS PATH "
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
	const char *path = args[1];

	struct export ex;
	memset(&ex, 0, sizeof(ex));
	ex.cli = cli;
	ex.address = args[0];
	ex.progress = isatty(STDERR_FILENO) != 0;
	ex.last_percent = -1;
	ex.store = cli_store(cli);
	if (ex.store == NULL)
		return 1;
	struct pool *pool = pool_create("export", 1024);
	struct store_account *account;
	int ret =
	    store_account_lookup(ex.store, ex.address, pool, &account, &error);
	if (ret <= 0) {
		pool_destroy(&pool);
		return ret < 0 ? cli_error("cannot read the store: %s", error)
			       : cli_error("unknown user: %s", ex.address);
	}
	ex.account_id = account->id;

	struct store_mailbox *mbs;
	unsigned mb_count;
	if (mailbox != NULL) {
		ret = store_mailbox_lookup(ex.store, ex.account_id, mailbox,
					   pool, &mbs, &error);
		mb_count = 1;
		if (ret == 0) {
			pool_destroy(&pool);
			return cli_error("unknown mailbox: %s", mailbox);
		}
	} else {
		ret = store_mailbox_list(ex.store, ex.account_id, pool, &mbs,
					 &mb_count, &error);
	}
	if (ret < 0) {
		pool_destroy(&pool);
		return cli_error("cannot read the store: %s", error);
	}

	ret = 0;
	if (!maildir && mailbox == NULL)
		ret = mkdir_p(path);
	for (unsigned i = 0; i < mb_count && ret == 0; i++) {
		const char *name = mbs[i].name;
		if (maildir) {
			char *dir = mailbox != NULL
					? i_strdup(path)
					: maildir_folder_dir(path, name);
			ret = maildir_export_folder(&ex, mbs[i].id, name, dir);
			i_free(dir);
		} else if (mailbox != NULL) {
			ret = mbox_export_file(&ex, mbs[i].id, name, path);
		} else {
			/* One file per mailbox: "Archive/2026" is
			 * "Archive.2026.mbox". */
			char *file = i_strdup_printf("%s/%s.mbox", path, name);
			for (char *p = file + strlen(path) + 1; *p != '\0';
			     p++) {
				if (*p == STORE_HIERARCHY_SEP)
					*p = '.';
			}
			ret = mbox_export_file(&ex, mbs[i].id, name, file);
			i_free(file);
		}
	}
	pool_destroy(&pool);
	buf_free(&ex.body);
	buf_free(&ex.out);
	if (ret == 0)
		printf("exported %llu messages for %s\n", ex.exported,
		       ex.address);
	return ret;
}

static int export_maildir_cmd(struct cli *cli, char **args, unsigned count)
{
	return export_run(cli, args, count, true);
}

static int export_mbox_cmd(struct cli *cli, char **args, unsigned count)
{
	return export_run(cli, args, count, false);
}

static const struct cli_command export_commands[] = {
    {"maildir", "ADDRESS PATH [--mailbox NAME]", 2, 4, CLI_FLAG_OPTIONS,
     export_maildir_cmd},
    {"mbox", "ADDRESS PATH [--mailbox NAME]", 2, 4, CLI_FLAG_OPTIONS,
     export_mbox_cmd},
    {NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_family cli_family_export = {
    "export",
    "a mailbox to Maildir or mbox",
    export_commands,
};
