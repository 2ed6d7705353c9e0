/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "buf.h"
#include "pool.h"
#include "store.h"
#include "strutil.h"
#include "config.h"
#include "control-client.h"

#include <stdlib.h>

/* posthorn queue list|show|flush|retry|delete: the outbound queue as the
 * store keeps it. Reads and writes go through the store, so every verb
 * works whether posthornd runs or not; a running daemon is told to look
 * at the queue again after flush and retry. Only recipients still pending
 * are in the queue: delivered and bounced ones are done. */

/* The message header shown by `queue show`, at most. */
#define QUEUE_SHOW_HEADER_MAX (64 * 1024)

/* The queue's pending recipients, ordered by arrival (message id breaks
 * ties, then recipient id), read once per command. */
struct queue_listing {
	struct pool *pool;
	struct store_queue_item *items;
	unsigned count;
	time_t now;
};

static int queue_item_cmp(const void *p1, const void *p2)
{
	const struct store_queue_item *a = p1, *b = p2;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	if (a->queue_id != b->queue_id)
		return a->queue_id < b->queue_id ? -1 : 1;
	if (a->rcpt_id != b->rcpt_id)
		return a->rcpt_id < b->rcpt_id ? -1 : 1;
	return 0;
}

/* 0 ok, 1 after cli_error(). */
static int queue_listing_read(struct cli *cli, struct queue_listing *l)
{
	const char *error;
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	l->pool = pool_create("queue-list", 4096);
	l->now = time(NULL);
	if (store_queue_due(store, 0, 0, l->pool, &l->items, &l->count,
			    &error) < 0) {
		pool_destroy(&l->pool);
		return cli_error("cannot read the queue: %s", error);
	}
	if (l->count > 1)
		qsort(l->items, l->count, sizeof(l->items[0]), queue_item_cmp);
	return 0;
}

static void queue_listing_free(struct queue_listing *l)
{
	pool_destroy(&l->pool);
}

/* 1 and *id_r, or 0 after cli_error(). */
static int queue_id_parse(const char *arg, int64_t *id_r)
{
	uint64_t v;
	if (str_to_uint64(arg, INT64_MAX, &v) < 0 || v == 0) {
		cli_error("invalid queue id: %s (see posthorn queue list)", arg);
		return 0;
	}
	*id_r = (int64_t)v;
	return 1;
}

/* Peer-supplied text (error replies, header fields) goes to a terminal:
 * control characters are shown as '?'. */
static void queue_print_safe(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
}

static void queue_print_safe_str(const char *s)
{
	queue_print_safe(s, strlen(s));
}

/* "45s", "12m", "3h05m", "2d04h". */
static const char *queue_duration(time_t secs, char *dst, size_t size)
{
	if (secs < 0)
		secs = 0;
	long long s = (long long)secs;
	if (s < 60)
		snprintf(dst, size, "%llds", s);
	else if (s < 3600)
		snprintf(dst, size, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(dst, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(dst, size, "%lldd%02lldh", s / 86400,
			   s % 86400 / 3600);
	return dst;
}

/* ISO 8601 UTC, second precision. */
static const char *queue_time(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(dst, size, "%lld", (long long)t);
	return dst;
}

/* Deferred: an attempt failed and the next one is not due yet. Pending:
 * never tried, or due now (the daemon takes it on its next run). */
static bool queue_item_deferred(const struct store_queue_item *it, time_t now)
{
	return it->attempts > 0 && it->next_attempt > now;
}

static void queue_print_next(const struct store_queue_item *it, time_t now)
{
	char tbuf[64], dbuf[32];
	if (it->next_attempt <= now)
		fputs("now", stdout);
	else
		printf("%s (in %s)", queue_time(it->next_attempt, tbuf,
						sizeof(tbuf)),
		       queue_duration(it->next_attempt - now, dbuf,
				      sizeof(dbuf)));
}

static int queue_list(struct cli *cli, char **args, unsigned count)
{
	struct queue_listing l;
	if (queue_listing_read(cli, &l) != 0)
		return 1;
	unsigned messages = 0;
	for (unsigned i = 0; i < l.count; i++) {
		const struct store_queue_item *it = &l.items[i];
		char dbuf[32];
		if (i == 0 || it->queue_id != l.items[i - 1].queue_id) {
			messages++;
			printf("%lld  age %s  size %llu  from <",
			       (long long)it->queue_id,
			       queue_duration(l.now - it->created, dbuf,
					      sizeof(dbuf)),
			       (unsigned long long)it->size);
			queue_print_safe_str(it->env.sender);
			puts(">");
		}
		fputs("    to <", stdout);
		queue_print_safe_str(it->rcpt.address);
		printf(">  %s  attempts %u  next ",
		       queue_item_deferred(it, l.now) ? "deferred" : "pending",
		       it->attempts);
		queue_print_next(it, l.now);
		if (it->last_error[0] != '\0') {
			fputs("  error: ", stdout);
			queue_print_safe_str(it->last_error);
		}
		putchar('\n');
	}
	if (l.count == 0)
		puts("queue is empty");
	else
		printf("%u message%s, %u recipient%s\n", messages,
		       messages == 1 ? "" : "s", l.count,
		       l.count == 1 ? "" : "s");
	queue_listing_free(&l);
	return 0;
}

static void queue_print_notify(unsigned notify)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ STORE_DSN_NOTIFY_NEVER, "NEVER" },
		{ STORE_DSN_NOTIFY_SUCCESS, "SUCCESS" },
		{ STORE_DSN_NOTIFY_FAILURE, "FAILURE" },
		{ STORE_DSN_NOTIFY_DELAY, "DELAY" },
	};
	bool first = true;
	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		if ((notify & names[i].bit) == 0)
			continue;
		printf("%s%s", first ? "" : ",", names[i].name);
		first = false;
	}
}

/* Prints the message's header (up to the empty line, at most
 * QUEUE_SHOW_HEADER_MAX bytes), indented. */
static int queue_show_header(struct store *store, int64_t body_id)
{
	struct store_body *body;
	const char *error;
	int ret = store_body_open(store, body_id, &body, &error);
	if (ret <= 0)
		return cli_error("cannot read the message: %s",
				 ret < 0 ? error : "its body is gone");
	char *data = i_malloc(QUEUE_SHOW_HEADER_MAX);
	ssize_t n = store_body_read(body, 0, data, QUEUE_SHOW_HEADER_MAX,
				    &error);
	store_body_close(&body);
	if (n < 0) {
		i_free(data);
		return cli_error("cannot read the message: %s", error);
	}
	size_t len = (size_t)n, pos = 0;
	bool complete = false;
	puts("header:");
	while (pos < len && !complete) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl == NULL ? len : (size_t)(nl - data);
		size_t line_end = end;
		if (line_end > pos && data[line_end - 1] == '\r')
			line_end--;
		if (line_end == pos && nl != NULL) {
			complete = true; /* the empty line ends the header */
			break;
		}
		fputs("  ", stdout);
		queue_print_safe(data + pos, line_end - pos);
		putchar('\n');
		pos = end + 1;
	}
	if (!complete && len == QUEUE_SHOW_HEADER_MAX)
		puts("  [header longer than 64 KB: cut]");
	i_free(data);
	return 0;
}

static int queue_show(struct cli *cli, char **args, unsigned count)
{
	int64_t id;
	if (queue_id_parse(args[0], &id) == 0)
		return 1;
	struct queue_listing l;
	if (queue_listing_read(cli, &l) != 0)
		return 1;
	const struct store_queue_item *first = NULL;
	for (unsigned i = 0; i < l.count && first == NULL; i++) {
		if (l.items[i].queue_id == id)
			first = &l.items[i];
	}
	if (first == NULL) {
		queue_listing_free(&l);
		return cli_error("no such queued message: %lld", (long long)id);
	}
	static const char *const rets[] = { "default", "full", "hdrs" };
	static const char *const bodies[] = { "7bit", "8bitmime",
					      "binarymime" };
	char tbuf[64], dbuf[32];
	printf("queue id: %lld\n", (long long)id);
	printf("arrival: %s (%s ago)\n",
	       queue_time(first->created, tbuf, sizeof(tbuf)),
	       queue_duration(l.now - first->created, dbuf, sizeof(dbuf)));
	printf("size: %llu\n", (unsigned long long)first->size);
	fputs("sender: <", stdout);
	queue_print_safe_str(first->env.sender);
	puts(">");
	if (first->env.envid != NULL) {
		fputs("envid: ", stdout);
		queue_print_safe_str(first->env.envid);
		putchar('\n');
	}
	printf("ret: %s\n", first->env.ret < N_ELEMENTS(rets)
				    ? rets[first->env.ret] : "?");
	printf("body: %s%s\n", first->env.body_type < N_ELEMENTS(bodies)
				       ? bodies[first->env.body_type] : "?",
	       first->env.smtputf8 ? ", smtputf8" : "");
	if (first->env.account_id != 0)
		printf("submitted by account id: %lld\n",
		       (long long)first->env.account_id);
	for (const struct store_queue_item *it = first;
	     it < l.items + l.count && it->queue_id == id; it++) {
		fputs("recipient: <", stdout);
		queue_print_safe_str(it->rcpt.address);
		puts(">");
		printf("  state: %s\n",
		       queue_item_deferred(it, l.now) ? "deferred" : "pending");
		printf("  attempts: %u\n", it->attempts);
		fputs("  next attempt: ", stdout);
		queue_print_next(it, l.now);
		putchar('\n');
		if (it->last_error[0] != '\0') {
			fputs("  last error: ", stdout);
			queue_print_safe_str(it->last_error);
			putchar('\n');
		}
		if (it->rcpt.notify != 0) {
			fputs("  notify: ", stdout);
			queue_print_notify(it->rcpt.notify);
			putchar('\n');
		}
		if (it->rcpt.orcpt != NULL) {
			fputs("  orcpt: ", stdout);
			queue_print_safe_str(it->rcpt.orcpt);
			putchar('\n');
		}
	}
	int ret = queue_show_header(cli->store, first->body_id);
	queue_listing_free(&l);
	return ret;
}

/* Makes the deferred recipients of queue_id (0 = all) due now, in the
 * store rather than only in the daemon: a daemon-side flush loads at most
 * one run's worth of messages, and a stopped daemon would forget it.
 * Known cost: the daemon derives an attempt's predecessor time from
 * next_attempt, so a flush soon after a delay notice can bring a second
 * one (the queue keeps no "notified" flag in the store). Returns
 * 1 and *count_r, 0 for an unknown message, or -1 after cli_error(). */
static int queue_reschedule(struct cli *cli, int64_t queue_id,
			    unsigned *count_r)
{
	struct store *store = cli_store(cli);
	if (store == NULL)
		return -1;
	struct store_txn *txn = store_txn_create(store);
	unsigned op = store_txn_queue_reschedule(txn, queue_id, time(NULL));
	enum store_error err = store_txn_commit_wait(txn);
	const char *text = "";
	if (err == STORE_OK)
		*count_r = store_txn_result(txn, op)->count;
	else
		store_txn_error(txn, &text);
	if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
		cli_error("cannot update the queue: %s", text);
	store_txn_destroy(&txn);
	return err == STORE_OK ? 1 : err == STORE_ERR_NOT_FOUND ? 0 : -1;
}

/* Tells a running daemon; says so when none runs, since then nothing
 * goes out until it starts. */
static void queue_tell_daemon(struct cli *cli, const char *command)
{
	char *reply = NULL;
	const char *error;
	int ret = control_client_send(cli->config->server.data_dir, command,
				      5000, &reply, &error);
	if (ret < 0) {
		cli_warning("could not tell the daemon (%s): %s", command,
			    error);
	} else if (ret == 0) {
		puts("posthornd is not running: the queue runs when it starts");
	} else if (strncmp(reply, "OK", 2) != 0) {
		cli_warning("daemon answered %s: %s", command, reply);
	}
	i_free(reply);
}

static int queue_flush(struct cli *cli, char **args, unsigned count)
{
	unsigned n = 0;
	if (queue_reschedule(cli, 0, &n) < 0)
		return 1;
	printf("%u deferred recipient%s made due\n", n, n == 1 ? "" : "s");
	/* queue-wake also takes every pending recipient the daemon has in
	 * hand, so a flush is a flush even for a message mid-attempt. */
	queue_tell_daemon(cli, "queue-wake");
	return 0;
}

static int queue_retry(struct cli *cli, char **args, unsigned count)
{
	int64_t id;
	unsigned n = 0;
	if (queue_id_parse(args[0], &id) == 0)
		return 1;
	int ret = queue_reschedule(cli, id, &n);
	if (ret < 0)
		return 1;
	if (ret == 0)
		return cli_error("no such queued message: %lld", (long long)id);
	printf("queue id %lld: %u deferred recipient%s made due\n",
	       (long long)id, n, n == 1 ? "" : "s");
	/* Only what is due now, not a flush of the whole queue. */
	queue_tell_daemon(cli, "queue-kick");
	return 0;
}

static int queue_delete(struct cli *cli, char **args, unsigned count)
{
	int64_t id;
	if (queue_id_parse(args[0], &id) == 0)
		return 1;
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	struct store_txn *txn = store_txn_create(store);
	store_txn_queue_delete(txn, id);
	enum store_error err = store_txn_commit_wait(txn);
	const char *text = "";
	if (err != STORE_OK)
		store_txn_error(txn, &text);
	store_txn_destroy(&txn);
	if (err == STORE_ERR_NOT_FOUND)
		return cli_error("no such queued message: %lld", (long long)id);
	if (err != STORE_OK)
		return cli_error("cannot delete queued message %lld: %s",
				 (long long)id, text);
	printf("queue id %lld deleted (no bounce sent)\n", (long long)id);
	return 0;
}

static const struct cli_command queue_commands[] = {
	{ "list", "", 0, 0, 0, queue_list },
	{ "show", "ID", 1, 1, 0, queue_show },
	{ "flush", "", 0, 0, 0, queue_flush },
	{ "retry", "ID", 1, 1, 0, queue_retry },
	{ "delete", "ID", 1, 1, 0, queue_delete },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_queue = {
	"queue", "the outbound queue", queue_commands,
};
