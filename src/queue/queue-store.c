/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "pool.h"
#include "strutil.h"
#include "workpool.h"
#include "store.h"
#include "queue.h"
#include "queue-store.h"

/* Most queued recipients looked at per load. */
#define QUEUE_STORE_LOAD_MAX_ITEMS 2000
/* Largest body the queue will load (the SMTP listener's own limit is far
 * below; this only guards against a corrupt size). */
#define QUEUE_STORE_BODY_MAX ((uint64_t)1 << 31)

struct queue_store {
	struct store *store;
	struct completion_target target;
	struct queue *queue;
	struct queue_persist persist;
	unsigned pending;
	bool destroyed;
	/* Messages whose attempt results are still on their way to disk:
	 * not loaded again until then, or they would be tried twice. */
	int64_t *writing;
	unsigned writing_count, writing_cap;
	/* A flush skipped messages in flight: flush again once they are
	 * written, or the flush would be lost for them. */
	bool reflush;
};

struct queue_store_commit {
	struct queue_store *qs;
	const char *what;
	bool kick; /* wake the runner once durable */
	int64_t writing_id; /* 0 = none */
};

static void queue_store_free_if_done(struct queue_store *qs)
{
	if (qs->destroyed && qs->pending == 0) {
		i_free(qs->writing);
		i_free(qs);
	}
}

static bool queue_store_is_writing(const struct queue_store *qs, int64_t id)
{
	for (unsigned i = 0; i < qs->writing_count; i++) {
		if (qs->writing[i] == id)
			return true;
	}
	return false;
}

static void queue_store_writing_add(struct queue_store *qs, int64_t id)
{
	if (qs->writing_count == qs->writing_cap) {
		qs->writing_cap = qs->writing_cap == 0 ? 16 : qs->writing_cap * 2;
		qs->writing = i_realloc(qs->writing,
					sizeof(*qs->writing) * qs->writing_cap);
	}
	qs->writing[qs->writing_count++] = id;
}

static void queue_store_writing_del(struct queue_store *qs, int64_t id)
{
	for (unsigned i = 0; i < qs->writing_count; i++) {
		if (qs->writing[i] == id) {
			qs->writing[i] = qs->writing[--qs->writing_count];
			return;
		}
	}
}

static void queue_store_commit_cb(struct store_txn *txn, void *ctx)
{
	struct queue_store_commit *c = ctx;
	struct queue_store *qs = c->qs;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);

	if (err != STORE_OK) {
		/* An update that did not land is retried by the next
		 * attempt (the recipient stays due); an enqueue that did
		 * not land loses a DSN, which is logged. */
		log_error(NULL, "queue-store-error", "op=%s error=\"%s\"",
			  c->what, text);
	}
	qs->pending--;
	bool flush = false;
	if (c->writing_id != 0) {
		queue_store_writing_del(qs, c->writing_id);
		c->kick = true; /* its other recipients may be due */
		if (qs->reflush) {
			qs->reflush = false;
			flush = true;
		}
	}
	if (flush && qs->queue != NULL)
		queue_wake(qs->queue);
	else if (c->kick && qs->queue != NULL)
		queue_kick(qs->queue);
	i_free(c);
	queue_store_free_if_done(qs);
}

static void queue_store_commit(struct queue_store *qs, struct store_txn *txn,
			       const char *what, bool kick, int64_t writing_id)
{
	struct queue_store_commit *c = i_new(struct queue_store_commit, 1);

	c->qs = qs;
	c->what = what;
	c->kick = kick;
	c->writing_id = writing_id;
	if (writing_id != 0)
		queue_store_writing_add(qs, writing_id);
	qs->pending++;
	store_txn_commit(txn, &qs->target, queue_store_commit_cb, c);
}

/* --- conversions --- */

static const char *notify_string(struct pool *pool, unsigned notify)
{
	struct buf b = BUF_INIT;
	const char *ret;

	if (notify == 0)
		return NULL;
	if ((notify & STORE_DSN_NOTIFY_NEVER) != 0)
		return "NEVER";
	if ((notify & STORE_DSN_NOTIFY_SUCCESS) != 0)
		buf_append_str(&b, "SUCCESS,");
	if ((notify & STORE_DSN_NOTIFY_FAILURE) != 0)
		buf_append_str(&b, "FAILURE,");
	if ((notify & STORE_DSN_NOTIFY_DELAY) != 0)
		buf_append_str(&b, "DELAY,");
	if (b.len > 0)
		buf_truncate(&b, b.len - 1);
	ret = pool_strdup(pool, buf_cstr(&b));
	buf_free(&b);
	return ret;
}

static unsigned notify_bits(const char *notify)
{
	unsigned bits = 0;

	if (notify == NULL || notify[0] == '\0')
		return 0;
	for (const char *p = notify; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len == 5 && str_ascii_ncmp_ci(p, "NEVER", 5) == 0)
			bits |= STORE_DSN_NOTIFY_NEVER;
		else if (len == 7 && str_ascii_ncmp_ci(p, "SUCCESS", 7) == 0)
			bits |= STORE_DSN_NOTIFY_SUCCESS;
		else if (len == 7 && str_ascii_ncmp_ci(p, "FAILURE", 7) == 0)
			bits |= STORE_DSN_NOTIFY_FAILURE;
		else if (len == 5 && str_ascii_ncmp_ci(p, "DELAY", 5) == 0)
			bits |= STORE_DSN_NOTIFY_DELAY;
		p += len;
		if (*p == ',')
			p++;
	}
	return bits;
}

static enum queue_dsn_ret ret_from_store(enum store_dsn_ret ret)
{
	return ret == STORE_DSN_RET_FULL   ? QUEUE_DSN_RET_FULL
	       : ret == STORE_DSN_RET_HDRS ? QUEUE_DSN_RET_HDRS
					   : QUEUE_DSN_RET_DEFAULT;
}

static enum store_dsn_ret ret_to_store(enum queue_dsn_ret ret)
{
	return ret == QUEUE_DSN_RET_FULL   ? STORE_DSN_RET_FULL
	       : ret == QUEUE_DSN_RET_HDRS ? STORE_DSN_RET_HDRS
					   : STORE_DSN_RET_DEFAULT;
}

/* --- loading --- */

static int queue_store_read_body(struct queue_store *qs, int64_t body_id,
				 struct buf *out, const char **error_r)
{
	struct store_body *body;
	uint8_t chunk[65536];
	uint64_t off = 0;
	int ret = store_body_open(qs->store, body_id, &body, error_r);

	if (ret <= 0) {
		if (ret == 0)
			*error_r = "body missing";
		return -1;
	}
	if (store_body_size(body) > QUEUE_STORE_BODY_MAX) {
		store_body_close(&body);
		*error_r = "body too large";
		return -1;
	}
	buf_reserve(out, (size_t)store_body_size(body));
	for (;;) {
		ssize_t n = store_body_read(body, off, chunk, sizeof(chunk),
					    error_r);
		if (n < 0) {
			store_body_close(&body);
			return -1;
		}
		if (n == 0)
			break;
		buf_append(out, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	store_body_close(&body);
	return 0;
}

static void queue_store_load_message(struct queue_store *qs,
				     struct queue *queue, struct pool *pool,
				     const struct store_queue_item *items,
				     unsigned count, int64_t queue_id)
{
	const struct store_queue_item *first = NULL;
	struct queue_rcpt_info *rcpts = p_new(pool, struct queue_rcpt_info,
					      count);
	unsigned n = 0;
	struct buf body = BUF_INIT;
	const char *error;

	for (unsigned i = 0; i < count; i++) {
		const struct store_queue_item *it = &items[i];
		if (it->queue_id != queue_id)
			continue;
		if (first == NULL)
			first = it;
		rcpts[n++] = (struct queue_rcpt_info){
			.address = it->rcpt.address,
			.notify = notify_string(pool, it->rcpt.notify),
			.orcpt = it->rcpt.orcpt,
			.state = QUEUE_RCPT_PENDING,
			.attempts = it->attempts,
			.next_attempt = it->next_attempt,
			.last_attempt = it->last_attempt,
			.backend_id = it->rcpt_id,
			.text = it->last_error,
		};
	}
	i_assert(first != NULL);
	if (queue_store_read_body(qs, first->body_id, &body, &error) < 0) {
		/* Without its body the message can't go anywhere: fail its
		 * recipients rather than retry forever. */
		log_error(NULL, "queue-store-body", "queue_id=%lld error=\"%s\"",
			  (long long)queue_id, error);
		struct store_txn *txn = store_txn_create(qs->store);
		for (unsigned i = 0; i < n; i++)
			store_txn_queue_update(txn, rcpts[i].backend_id,
					       STORE_QUEUE_FAILED, 0, error);
		queue_store_commit(qs, txn, "fail-no-body", false, queue_id);
		buf_free(&body);
		return;
	}
	struct queue_message_info info = {
		.id = (uint64_t)queue_id,
		.mail_from = first->env.sender,
		.envid = first->env.envid,
		.ret = ret_from_store(first->env.ret),
		.arrival = first->created,
		.eightbit = first->env.body_type != STORE_QUEUE_BODY_7BIT,
		.data = body.data,
		.size = body.len,
		.rcpts = rcpts,
		.rcpt_count = n,
	};
	(void)queue_restore(queue, &info);
	buf_free(&body);
}

static void queue_store_load_due(void *ctx, struct queue *queue, time_t now,
				 unsigned max)
{
	struct queue_store *qs = ctx;
	struct pool *pool = pool_create("queue load", 4096);
	struct store_queue_item *items;
	unsigned count, loaded = 0;
	const char *error;

	if (store_queue_due(qs->store, now, QUEUE_STORE_LOAD_MAX_ITEMS, pool,
			    &items, &count, &error) < 0) {
		log_error(NULL, "queue-store-load", "error=\"%s\"", error);
		pool_destroy(&pool);
		return;
	}
	for (unsigned i = 0; i < count && loaded < max; i++) {
		bool seen = false;
		/* Once per message: its due recipients go together. */
		for (unsigned j = 0; j < i && !seen; j++)
			seen = items[j].queue_id == items[i].queue_id;
		if (seen)
			continue;
		struct queue_message_info tmp;
		if (queue_store_is_writing(qs, items[i].queue_id) ||
		    queue_lookup(queue, (uint64_t)items[i].queue_id, &tmp) > 0) {
			/* Being attempted or written now. */
			if (now == 0)
				qs->reflush = true;
			continue;
		}
		queue_store_load_message(qs, queue, pool, items, count,
					 items[i].queue_id);
		loaded++;
	}
	pool_destroy(&pool);
}

/* --- writing --- */

static void queue_store_save(void *ctx, const struct queue_message_info *msg,
			     bool is_new)
{
	struct queue_store *qs = ctx;
	struct store_txn *txn;
	unsigned ops = 0;

	i_assert(!is_new); /* store-first: new messages come via enqueue */
	txn = store_txn_create(qs->store);
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		const struct queue_rcpt_info *r = &msg->rcpts[i];
		enum store_queue_state state;
		char *error;

		if (!r->dirty || r->backend_id == 0)
			continue;
		state = r->state == QUEUE_RCPT_DELIVERED ? STORE_QUEUE_DELIVERED
			: r->state == QUEUE_RCPT_FAILED ? STORE_QUEUE_FAILED
							: STORE_QUEUE_PENDING;
		if (r->code != 0)
			error = i_strdup_printf("%u %s %s", r->code,
						r->status != NULL ? r->status : "",
						r->text != NULL ? r->text : "");
		else
			error = i_strdup_printf("%s %s",
						r->status != NULL ? r->status : "",
						r->text != NULL ? r->text : "");
		store_txn_queue_update(txn, r->backend_id, state,
				       r->next_attempt, error);
		i_free(error);
		ops++;
	}
	if (ops == 0) {
		store_txn_destroy(&txn);
		return;
	}
	queue_store_commit(qs, txn, "update", false, (int64_t)msg->id);
}

static void queue_store_enqueue_one(struct queue_store *qs,
				    const struct queue_message_in *msg)
{
	struct store_txn *txn = store_txn_create(qs->store);
	struct store_queue_rcpt *rcpts =
		i_new(struct store_queue_rcpt, msg->rcpt_count);
	struct store_queue_envelope env = {
		.sender = msg->mail_from,
		.envid = msg->envid,
		.ret = ret_to_store(msg->ret),
		.body_type = msg->eightbit ? STORE_QUEUE_BODY_8BITMIME
					   : STORE_QUEUE_BODY_7BIT,
	};

	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		rcpts[i].address = msg->rcpts[i].address;
		rcpts[i].orcpt = msg->rcpts[i].orcpt;
		rcpts[i].notify = notify_bits(msg->rcpts[i].notify);
	}
	store_txn_enqueue(txn, msg->data, msg->size, &env, rcpts,
			  msg->rcpt_count, 0);
	i_free(rcpts);
	queue_store_commit(qs, txn, "enqueue", true, 0);
}

static void queue_store_enqueue(void *ctx, const struct queue_message_in *msg)
{
	queue_store_enqueue_one(ctx, msg);
}

static int queue_store_next_due(void *ctx, time_t *when_r)
{
	struct queue_store *qs = ctx;
	const char *error;
	int ret = store_queue_next_due(qs->store, when_r, &error);

	if (ret < 0)
		log_error(NULL, "queue-store-next", "error=\"%s\"", error);
	return ret < 0 ? 0 : ret;
}

void queue_store_dsn(void *ctx, const char *to, const uint8_t *data,
		     size_t size)
{
	struct queue_store *qs = ctx;
	struct pool *pool = pool_create("queue dsn", 1024);
	struct store_resolution res;
	const char *error;
	int ret = store_resolve(qs->store, to, pool, &res, &error);

	if (ret < 0) {
		log_error(NULL, "queue-dsn-resolve", "to=%s error=\"%s\"", to,
			  error);
		pool_destroy(&pool);
		return;
	}
	if (ret == 0) {
		const char *at = strrchr(to, '@');
		if (at != NULL &&
		    store_domain_exists(qs->store, at + 1, &error) != 0) {
			/* Unknown local sender (or a lookup error): sending
			 * it out would only come back here. */
			log_warn(NULL, "queue-dsn-dropped",
				 "to=%s reason=unknown_local_sender", to);
			pool_destroy(&pool);
			return;
		}
	}
	if (ret > 0 && res.account_count > 0) {
		struct store_txn *txn = store_txn_create(qs->store);
		struct store_delivery_rcpt *rcpts = p_new(
			pool, struct store_delivery_rcpt, res.account_count);
		struct buf msg = BUF_INIT;

		/* RFC 5321 section 4.4: the final delivery records the
		 * (null) reverse-path. */
		buf_append_str(&msg, "Return-Path: <>\r\n");
		buf_append(&msg, data, size);
		for (unsigned i = 0; i < res.account_count; i++)
			rcpts[i].account_id = res.account_ids[i];
		store_txn_deliver(txn, msg.data, msg.len, time(NULL), rcpts,
				  res.account_count, 0);
		buf_free(&msg);
		queue_store_commit(qs, txn, "dsn-deliver", false, 0);
	}
	/* Remote: the sender itself, or remote alias targets. */
	unsigned remote_count = ret > 0 ? res.remote_count : 1;
	for (unsigned i = 0; i < remote_count; i++) {
		struct queue_rcpt_in rcpt = {
			.address = ret > 0 ? res.remote[i] : to,
		};
		struct queue_message_in in = {
			.mail_from = "",
			.rcpts = &rcpt,
			.rcpt_count = 1,
			.data = data,
			.size = size,
			.eightbit = true,
		};
		queue_store_enqueue_one(qs, &in);
	}
	pool_destroy(&pool);
}

/* --- lifecycle --- */

struct queue_store *queue_store_create(struct store *store,
				       const struct completion_target *target)
{
	struct queue_store *qs = i_new(struct queue_store, 1);

	qs->store = store;
	qs->target = *target;
	qs->persist.save = queue_store_save;
	qs->persist.load_due = queue_store_load_due;
	qs->persist.enqueue = queue_store_enqueue;
	qs->persist.next_due = queue_store_next_due;
	qs->persist.ctx = qs;
	return qs;
}

void queue_store_attach(struct queue_store *qs, struct queue *queue)
{
	qs->queue = queue;
}

const struct queue_persist *queue_store_persist(struct queue_store *qs)
{
	return &qs->persist;
}

unsigned queue_store_pending(const struct queue_store *qs)
{
	return qs->pending;
}

void queue_store_destroy(struct queue_store **_qs)
{
	struct queue_store *qs = *_qs;

	if (qs == NULL)
		return;
	*_qs = NULL;
	qs->queue = NULL;
	qs->destroyed = true;
	queue_store_free_if_done(qs);
}
