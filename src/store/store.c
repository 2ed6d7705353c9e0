/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "log.h"
#include "strutil.h"
#include "store-private.h"

#include <sys/stat.h>

static __thread char store_error_buf[512];

const char *store_error_printf(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(store_error_buf, sizeof(store_error_buf), fmt, args);
	va_end(args);
	return store_error_buf;
}

const char *store_error_str(enum store_error error)
{
	switch (error) {
	case STORE_OK:
		return "ok";
	case STORE_ERR_TEMP:
		return "temporary failure";
	case STORE_ERR_DISK_FULL:
		return "disk full";
	case STORE_ERR_OVER_QUOTA:
		return "over quota";
	case STORE_ERR_NOT_FOUND:
		return "not found";
	case STORE_ERR_EXISTS:
		return "already exists";
	case STORE_ERR_INVALID:
		return "invalid argument";
	case STORE_ERR_HAS_CHILDREN:
		return "mailbox has children";
	}
	return "unknown error";
}

bool store_error_is_temporary(enum store_error error)
{
	return error == STORE_ERR_TEMP || error == STORE_ERR_DISK_FULL;
}

/* ------------------------------------------------------------------ */
/* The writer */

static void store_txn_complete(void *ctx)
{
	struct store_txn *txn = ctx;
	txn->callback(txn, txn->ctx);
	if (!txn->keep)
		store_txn_destroy(&txn);
}

static void store_writer_run_batch(struct store *store, struct store_txn **txns,
				   unsigned count)
{
	const struct store_backend *be = store->backend;
	const char *error;
	enum store_error err;

	for (unsigned i = 0; i < count; i++) {
		err = be->txn_prepare(store, txns[i], &error);
		if (err != STORE_OK)
			store_txn_fail(txns[i], err, "%s", error);
	}
	err = be->batch_begin(store, &error);
	if (err == STORE_OK) {
		for (unsigned i = 0; i < count; i++) {
			if (txns[i]->error == STORE_OK)
				be->txn_apply(store, txns[i]);
		}
		err = be->batch_commit(store, &error);
	}
	if (err != STORE_OK) {
		/* Nothing of the batch is durable: every transaction that
		 * looked fine fails with the batch's error. */
		log_error(NULL, "store_batch_failed", "txns=%u error=%s", count,
			  store_error_str(err));
		be->batch_abort(store, txns, count);
		for (unsigned i = 0; i < count; i++) {
			if (txns[i]->error == STORE_OK) {
				store_txn_reset_results(txns[i]);
				store_txn_fail(txns[i], err, "%s", error);
			}
		}
	} else {
		be->after_commit(store, txns, count);
		store_watch_dispatch(store, txns, count);
	}
	for (unsigned i = 0; i < count; i++)
		completion_post(&txns[i]->target, store_txn_complete, txns[i]);
}

/* Called with store->lock held. */
static void store_writer_enqueue(struct store *store, struct store_txn *txn)
{
	if (store->queue_tail == NULL)
		store->queue_head = txn;
	else
		store->queue_tail->next = txn;
	store->queue_tail = txn;
	store->queue_len++;
	pthread_cond_signal(&store->cond);
}

static void store_txn_parse(struct store_txn *txn)
{
	for (unsigned i = 0; i < txn->op_count; i++) {
		if (txn->ops[i].body.used)
			store_new_body_parse(&txn->ops[i].body);
	}
}

/* The parse stage: big messages are parsed here, then handed on in the
 * order they came. */
static void *store_parser_thread(void *arg)
{
	struct store *store = arg;
	pthread_mutex_lock(&store->lock);
	for (;;) {
		while (store->parse_head == NULL && !store->parse_stopping)
			pthread_cond_wait(&store->parse_cond, &store->lock);
		struct store_txn *txn = store->parse_head;
		if (txn == NULL)
			break; /* stopping and drained */
		store->parse_head = txn->next;
		if (store->parse_head == NULL)
			store->parse_tail = NULL;
		txn->next = NULL;
		pthread_mutex_unlock(&store->lock);

		store_txn_parse(txn);

		pthread_mutex_lock(&store->lock);
		store_writer_enqueue(store, txn);
		store->parse_pending--;
	}
	pthread_mutex_unlock(&store->lock);
	return NULL;
}

static void *store_writer_thread(void *arg)
{
	struct store *store = arg;
	struct store_txn **batch = i_new(struct store_txn *, store->batch_max);

	pthread_mutex_lock(&store->lock);
	for (;;) {
		while (store->queue_head == NULL && !store->stopping)
			pthread_cond_wait(&store->cond, &store->lock);
		if (store->queue_head == NULL)
			break; /* stopping and drained */
		unsigned count = 0;
		while (store->queue_head != NULL && count < store->batch_max) {
			struct store_txn *txn = store->queue_head;
			store->queue_head = txn->next;
			txn->next = NULL;
			batch[count++] = txn;
		}
		if (store->queue_head == NULL)
			store->queue_tail = NULL;
		store->queue_len -= count;
		pthread_mutex_unlock(&store->lock);

		store_writer_run_batch(store, batch, count);

		pthread_mutex_lock(&store->lock);
		store->stat_batches++;
		store->stat_txns += count;
		if (count > store->stat_batch_max)
			store->stat_batch_max = count;
	}
	pthread_mutex_unlock(&store->lock);
	free(batch);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Opening and closing */

static const struct store_backend *store_backend_find(const char *name)
{
	if (name == NULL || strcmp(name, "sqlite") == 0)
		return &store_backend_sqlite;
	return NULL;
}

int store_open(const struct store_settings *set, struct store **store_r,
	       const char **error_r)
{
	const struct store_backend *be = store_backend_find(set->backend);
	if (be == NULL) {
		*error_r = store_error_printf("unknown store backend %s",
					      set->backend);
		return -1;
	}
	if (set->data_dir == NULL || set->data_dir[0] == '\0') {
		*error_r = store_error_printf("no data directory");
		return -1;
	}
	if (mkdir(set->data_dir, 0700) < 0 && errno != EEXIST) {
		*error_r = store_error_printf("mkdir(%s): %s", set->data_dir,
					      strerror(errno));
		return -1;
	}

	struct store *store = i_new(struct store, 1);
	store->backend = be;
	store->data_dir = i_strdup(set->data_dir);
	store->body_inline_max =
	    set->body_inline_max > 0 ? set->body_inline_max : 1024 * 1024;
	store->subaddress_separator = set->no_subaddress ? '\0'
				      : set->subaddress_separator != '\0'
					  ? set->subaddress_separator
					  : '+';
	if (set->postmaster_account != NULL &&
	    set->postmaster_account[0] != '\0') {
		store->postmaster_account = i_strdup(set->postmaster_account);
		str_ascii_lower(store->postmaster_account);
	}
	store->batch_max = set->batch_max > 0 ? set->batch_max : 256;
	store->alias_depth_max =
	    set->alias_depth_max > 0 ? set->alias_depth_max : 8;
	pthread_mutex_init(&store->lock, NULL);
	pthread_cond_init(&store->cond, NULL);
	pthread_cond_init(&store->parse_cond, NULL);
	pthread_mutex_init(&store->watch_lock, NULL);

	/* Files the store creates are 0600, directories 0700, whatever the
	 * caller's umask. */
	mode_t old_umask = umask(077);
	int ret = be->open(store, error_r);
	umask(old_umask);
	if (ret < 0) {
		be->close(store);
		store->backend = NULL;
		store_close(&store);
		return -1;
	}
	if (pthread_create(&store->writer, NULL, store_writer_thread, store) !=
	    0) {
		*error_r = store_error_printf("cannot start the writer thread");
		store_close(&store);
		return -1;
	}
	store->writer_started = true;
	if (pthread_create(&store->parser, NULL, store_parser_thread, store) !=
	    0) {
		*error_r = store_error_printf("cannot start the parse thread");
		store_close(&store);
		return -1;
	}
	store->parser_started = true;
	*store_r = store;
	return 1;
}

void store_close(struct store **_store)
{
	struct store *store = *_store;
	if (store == NULL)
		return;
	*_store = NULL;
	/* New commits are refused from here on; the parse stage drains into
	 * the writer's queue, then the writer drains that. */
	pthread_mutex_lock(&store->lock);
	store->closing = true;
	store->parse_stopping = true;
	pthread_cond_broadcast(&store->parse_cond);
	pthread_mutex_unlock(&store->lock);
	if (store->parser_started)
		pthread_join(store->parser, NULL);
	if (store->writer_started) {
		pthread_mutex_lock(&store->lock);
		store->stopping = true;
		pthread_cond_broadcast(&store->cond);
		pthread_mutex_unlock(&store->lock);
		pthread_join(store->writer, NULL);
	}
	i_assert(store->watch_count == 0);
	if (store->backend != NULL)
		store->backend->close(store);
	pthread_mutex_destroy(&store->lock);
	pthread_cond_destroy(&store->cond);
	pthread_cond_destroy(&store->parse_cond);
	pthread_mutex_destroy(&store->watch_lock);
	i_free(store->postmaster_account);
	i_free(store->data_dir);
	free(store);
}

void store_get_stats(struct store *store, struct store_stats *stats_r)
{
	pthread_mutex_lock(&store->lock);
	stats_r->batches = store->stat_batches;
	stats_r->txns = store->stat_txns;
	stats_r->batch_max = store->stat_batch_max;
	stats_r->queued = store->queue_len;
	pthread_mutex_unlock(&store->lock);
}

unsigned store_schema_version(struct store *store)
{
	return store->backend->schema_version(store);
}

/* ------------------------------------------------------------------ */
/* Transactions */

struct store_txn *store_txn_create(struct store *store)
{
	struct store_txn *txn = i_new(struct store_txn, 1);
	txn->store = store;
	txn->pool = pool_create("store txn", 1024);
	txn->result_pool = pool_create("store txn result", 512);
	txn->error_text = "";
	return txn;
}

void store_txn_destroy(struct store_txn **_txn)
{
	struct store_txn *txn = *_txn;
	if (txn == NULL)
		return;
	*_txn = NULL;
	for (unsigned i = 0; i < txn->op_count; i++)
		store_new_body_free(&txn->ops[i].body);
	free(txn->ops);
	free(txn->changes);
	pool_destroy(&txn->pool);
	pool_destroy(&txn->result_pool);
	free(txn);
}

void store_txn_fail(struct store_txn *txn, enum store_error error,
		    const char *fmt, ...)
{
	i_assert(error != STORE_OK);
	if (txn->error != STORE_OK)
		return;
	va_list args;
	va_start(args, fmt);
	txn->error = error;
	txn->error_text = pool_vprintf(txn->result_pool, fmt, args);
	va_end(args);
}

void store_txn_reset_results(struct store_txn *txn)
{
	char *text = txn->error != STORE_OK ? i_strdup(txn->error_text) : NULL;
	pool_clear(txn->result_pool);
	for (unsigned i = 0; i < txn->op_count; i++) {
		struct store_op_result *r = &txn->ops[i].result;
		enum store_error err = r->error;
		memset(r, 0, sizeof(*r));
		/* Keep which operation failed, for the caller. */
		r->error = err;
		r->error_text = "";
	}
	txn->error_text =
	    text == NULL ? "" : pool_strdup(txn->result_pool, text);
	i_free(text);
	txn->change_count = 0;
}

void store_txn_add_change(struct store_txn *txn, int64_t mailbox_id,
			  enum store_change_type type, uint32_t uid,
			  uint64_t modseq, uint32_t flags, const char *keywords)
{
	if (txn->change_count == txn->change_alloc) {
		txn->change_alloc = txn->change_alloc == 0
					? 16
					: i_size_mul(txn->change_alloc, 2);
		txn->changes =
		    i_realloc(txn->changes, i_size_mul(txn->change_alloc,
						       sizeof(*txn->changes)));
	}
	struct store_txn_change *c = &txn->changes[txn->change_count++];
	c->mailbox_id = mailbox_id;
	c->change.type = type;
	c->change.uid = uid;
	c->change.modseq = modseq;
	c->change.flags = flags;
	c->change.keywords = keywords == NULL ? "" : keywords;
}

struct store_op *store_txn_op_new(struct store_txn *txn,
				  enum store_op_type type, unsigned *idx_r)
{
	i_assert(!txn->submitted);
	if (txn->op_count == txn->op_alloc) {
		txn->op_alloc =
		    txn->op_alloc == 0 ? 4 : i_size_mul(txn->op_alloc, 2);
		txn->ops = i_realloc(
		    txn->ops, i_size_mul(txn->op_alloc, sizeof(*txn->ops)));
	}
	*idx_r = txn->op_count;
	struct store_op *op = &txn->ops[txn->op_count++];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->result.error_text = "";
	return op;
}

static void store_cred_copy(struct pool *pool, struct store_credentials *dst,
			    const struct store_credentials *src)
{
	if (src == NULL) {
		dst->password_hash = dst->scram_salt = "";
		dst->scram_stored_key = dst->scram_server_key = "";
		dst->scram_iterations = 0;
		return;
	}
#define CP(f) dst->f = src->f == NULL ? "" : pool_strdup(pool, src->f)
	CP(password_hash);
	CP(scram_salt);
	CP(scram_stored_key);
	CP(scram_server_key);
#undef CP
	dst->scram_iterations = src->scram_iterations;
}

static unsigned store_txn_op_s(struct store_txn *txn, enum store_op_type type,
			       const char *s1, const char *s2)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, type, &idx);
	op->s1 = pool_strdup(txn->pool, s1);
	op->s2 = pool_strdup(txn->pool, s2);
	return idx;
}

unsigned store_txn_domain_add(struct store_txn *txn, const char *domain)
{
	return store_txn_op_s(txn, STORE_OP_DOMAIN_ADD, domain, NULL);
}

unsigned store_txn_domain_del(struct store_txn *txn, const char *domain)
{
	return store_txn_op_s(txn, STORE_OP_DOMAIN_DEL, domain, NULL);
}

unsigned store_txn_account_add(struct store_txn *txn, const char *address,
			       const struct store_credentials *cred)
{
	unsigned idx = store_txn_op_s(txn, STORE_OP_ACCOUNT_ADD, address, NULL);
	store_cred_copy(txn->pool, &txn->ops[idx].cred, cred);
	return idx;
}

unsigned store_txn_account_del(struct store_txn *txn, const char *address)
{
	return store_txn_op_s(txn, STORE_OP_ACCOUNT_DEL, address, NULL);
}

unsigned store_txn_account_set_credentials(struct store_txn *txn,
					   const char *address,
					   const struct store_credentials *cred)
{
	unsigned idx = store_txn_op_s(txn, STORE_OP_ACCOUNT_SET_CREDENTIALS,
				      address, NULL);
	store_cred_copy(txn->pool, &txn->ops[idx].cred, cred);
	return idx;
}

unsigned store_txn_account_set_quota(struct store_txn *txn, const char *address,
				     uint64_t bytes, uint64_t messages)
{
	unsigned idx =
	    store_txn_op_s(txn, STORE_OP_ACCOUNT_SET_QUOTA, address, NULL);
	txn->ops[idx].n1 = bytes;
	txn->ops[idx].n2 = messages;
	return idx;
}

unsigned store_txn_account_set_disabled(struct store_txn *txn,
					const char *address, bool disabled)
{
	unsigned idx =
	    store_txn_op_s(txn, STORE_OP_ACCOUNT_SET_DISABLED, address, NULL);
	txn->ops[idx].b = disabled;
	return idx;
}

unsigned store_txn_alias_add(struct store_txn *txn, const char *source,
			     const char *target)
{
	return store_txn_op_s(txn, STORE_OP_ALIAS_ADD, source, target);
}

unsigned store_txn_alias_del(struct store_txn *txn, const char *source,
			     const char *target)
{
	return store_txn_op_s(txn, STORE_OP_ALIAS_DEL, source, target);
}

unsigned store_txn_mailbox_create(struct store_txn *txn, int64_t account_id,
				  const char *name,
				  enum store_special_use special_use)
{
	unsigned idx = store_txn_op_s(txn, STORE_OP_MAILBOX_CREATE, name, NULL);
	txn->ops[idx].account_id = account_id;
	txn->ops[idx].flags = special_use;
	return idx;
}

unsigned store_txn_mailbox_rename(struct store_txn *txn, int64_t account_id,
				  const char *old_name, const char *new_name)
{
	unsigned idx =
	    store_txn_op_s(txn, STORE_OP_MAILBOX_RENAME, old_name, new_name);
	txn->ops[idx].account_id = account_id;
	return idx;
}

unsigned store_txn_mailbox_delete(struct store_txn *txn, int64_t account_id,
				  const char *name)
{
	unsigned idx = store_txn_op_s(txn, STORE_OP_MAILBOX_DELETE, name, NULL);
	txn->ops[idx].account_id = account_id;
	return idx;
}

unsigned store_txn_subscribe(struct store_txn *txn, int64_t account_id,
			     const char *name, bool subscribed)
{
	unsigned idx = store_txn_op_s(txn, STORE_OP_SUBSCRIBE, name, NULL);
	txn->ops[idx].account_id = account_id;
	txn->ops[idx].b = subscribed;
	return idx;
}

unsigned store_txn_mailbox_claim_recent(struct store_txn *txn,
					int64_t mailbox_id, uint32_t uid)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_CLAIM_RECENT, &idx);
	op->mailbox_id = mailbox_id;
	op->uid = uid;
	return idx;
}

unsigned store_txn_deliver(struct store_txn *txn, const void *data, size_t size,
			   time_t internaldate,
			   const struct store_delivery_rcpt *rcpts,
			   unsigned rcpt_count, enum store_deliver_flags flags)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_DELIVER, &idx);
	op->internaldate = internaldate;
	op->rcpts = p_new(txn->pool, struct store_delivery_rcpt, rcpt_count);
	for (unsigned i = 0; i < rcpt_count; i++) {
		op->rcpts[i] = rcpts[i];
		op->rcpts[i].mailbox = pool_strdup(txn->pool, rcpts[i].mailbox);
		op->rcpts[i].keywords =
		    pool_strdup(txn->pool, rcpts[i].keywords);
	}
	op->rcpt_count = rcpt_count;
	store_new_body_init(&op->body, data, size,
			    (flags & STORE_DELIVER_CONVERT_LF) != 0);
	return idx;
}

unsigned store_txn_append(struct store_txn *txn, int64_t mailbox_id,
			  const void *data, size_t size, time_t internaldate,
			  uint32_t flags, const char *keywords,
			  enum store_deliver_flags dflags)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_APPEND, &idx);
	op->mailbox_id = mailbox_id;
	op->internaldate = internaldate;
	op->flags = flags;
	op->keywords = pool_strdup(txn->pool, keywords);
	store_new_body_init(&op->body, data, size,
			    (dflags & STORE_DELIVER_CONVERT_LF) != 0);
	return idx;
}

static void store_op_set_ranges(struct store_txn *txn, struct store_op *op,
				const struct store_uid_range *ranges,
				unsigned range_count)
{
	if (ranges == NULL)
		return;
	op->ranges = p_new(txn->pool, struct store_uid_range, range_count);
	memcpy(op->ranges, ranges, sizeof(*ranges) * range_count);
	op->range_count = range_count;
}

unsigned store_txn_copy(struct store_txn *txn, int64_t src_mailbox_id,
			const struct store_uid_range *ranges,
			unsigned range_count, int64_t dst_mailbox_id, bool move)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_COPY, &idx);
	op->mailbox_id = src_mailbox_id;
	op->dst_mailbox_id = dst_mailbox_id;
	op->b = move;
	store_op_set_ranges(txn, op, ranges, range_count);
	if (op->ranges == NULL) {
		/* An empty set copies nothing rather than everything. */
		op->ranges = p_new(txn->pool, struct store_uid_range, 1);
		op->range_count = 0;
	}
	return idx;
}

unsigned store_txn_flags(struct store_txn *txn, int64_t mailbox_id,
			 const struct store_uid_range *ranges,
			 unsigned range_count, enum store_flag_mode mode,
			 uint32_t flags, const char *keywords,
			 uint64_t unchangedsince)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_FLAGS, &idx);
	op->mailbox_id = mailbox_id;
	store_op_set_ranges(txn, op, ranges, range_count);
	if (op->ranges == NULL) {
		op->ranges = p_new(txn->pool, struct store_uid_range, 1);
		op->range_count = 0;
	}
	op->mode = mode;
	op->flags = flags & STORE_FLAGS_ALL;
	op->keywords = pool_strdup(txn->pool, keywords);
	op->unchangedsince = unchangedsince;
	return idx;
}

unsigned store_txn_expunge(struct store_txn *txn, int64_t mailbox_id,
			   const struct store_uid_range *ranges,
			   unsigned range_count, bool only_deleted)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_EXPUNGE, &idx);
	op->mailbox_id = mailbox_id;
	store_op_set_ranges(txn, op, ranges, range_count);
	op->b = only_deleted;
	return idx;
}

static void store_queue_copy(struct store_txn *txn, struct store_op *op,
			     const struct store_queue_envelope *env,
			     const struct store_queue_rcpt *rcpts,
			     unsigned rcpt_count)
{
	op->env = *env;
	op->env.sender =
	    pool_strdup(txn->pool, env->sender == NULL ? "" : env->sender);
	op->env.envid = pool_strdup(txn->pool, env->envid);
	op->qrcpts = p_new(txn->pool, struct store_queue_rcpt, rcpt_count + 1);
	for (unsigned i = 0; i < rcpt_count; i++) {
		op->qrcpts[i].address =
		    pool_strdup(txn->pool, rcpts[i].address);
		op->qrcpts[i].orcpt = pool_strdup(txn->pool, rcpts[i].orcpt);
		op->qrcpts[i].notify = rcpts[i].notify;
	}
	op->qrcpt_count = rcpt_count;
}

unsigned store_txn_enqueue(struct store_txn *txn, const void *data, size_t size,
			   const struct store_queue_envelope *env,
			   const struct store_queue_rcpt *rcpts,
			   unsigned rcpt_count, enum store_deliver_flags flags)
{
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_ENQUEUE, &idx);
	store_queue_copy(txn, op, env, rcpts, rcpt_count);
	store_new_body_init(&op->body, data, size,
			    (flags & STORE_DELIVER_CONVERT_LF) != 0);
	return idx;
}

unsigned store_txn_enqueue_shared(struct store_txn *txn, unsigned body_op,
				  const struct store_queue_envelope *env,
				  const struct store_queue_rcpt *rcpts,
				  unsigned rcpt_count)
{
	i_assert(body_op < txn->op_count);
	enum store_op_type type = txn->ops[body_op].type;
	i_assert(type == STORE_OP_DELIVER || type == STORE_OP_APPEND ||
		 type == STORE_OP_ENQUEUE);
	unsigned idx;
	struct store_op *op = store_txn_op_new(txn, STORE_OP_ENQUEUE, &idx);
	store_queue_copy(txn, op, env, rcpts, rcpt_count);
	op->shared_body = true;
	op->body_op = body_op;
	return idx;
}

unsigned store_txn_queue_update(struct store_txn *txn, int64_t rcpt_id,
				enum store_queue_state state,
				time_t next_attempt, const char *last_error)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_QUEUE_UPDATE, &idx);
	op->rcpt_id = rcpt_id;
	op->flags = state;
	op->internaldate = next_attempt;
	op->s1 = pool_strdup(txn->pool, last_error == NULL ? "" : last_error);
	return idx;
}

unsigned store_txn_queue_delete(struct store_txn *txn, int64_t queue_id)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_QUEUE_DELETE, &idx);
	op->queue_id = queue_id;
	return idx;
}

unsigned store_txn_queue_reschedule(struct store_txn *txn, int64_t queue_id,
				    time_t when)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_QUEUE_RESCHEDULE, &idx);
	op->queue_id = queue_id;
	op->internaldate = when;
	return idx;
}

void store_txn_commit(struct store_txn *txn,
		      const struct completion_target *target,
		      store_txn_callback_t *callback, void *ctx)
{
	struct store *store = txn->store;
	i_assert(!txn->submitted);
	i_assert(callback != NULL && target != NULL);
	txn->submitted = true;
	txn->target = *target;
	txn->callback = callback;
	txn->ctx = ctx;

	/* Small messages are parsed here (cheaper than a thread hop), big
	 * ones on the parse thread. */
	size_t body_bytes = 0;
	for (unsigned i = 0; i < txn->op_count; i++) {
		if (txn->ops[i].body.used)
			body_bytes += txn->ops[i].body.size;
	}
	bool offload = body_bytes >= STORE_PARSE_OFFLOAD_BYTES;
	if (!offload)
		store_txn_parse(txn);

	pthread_mutex_lock(&store->lock);
	if (store->closing) {
		/* The writer may already be gone. The caller still gets its
		 * callback, with a temporary error. */
		pthread_mutex_unlock(&store->lock);
		store_txn_fail(txn, STORE_ERR_TEMP, "the store is closing");
		completion_post(&txn->target, store_txn_complete, txn);
		return;
	}
	if (offload || store->parse_pending > 0) {
		/* Behind a message being parsed even when parsed already:
		 * the writer sees transactions in submission order. */
		if (store->parse_tail == NULL)
			store->parse_head = txn;
		else
			store->parse_tail->next = txn;
		store->parse_tail = txn;
		store->parse_pending++;
		pthread_cond_signal(&store->parse_cond);
	} else {
		store_writer_enqueue(store, txn);
	}
	pthread_mutex_unlock(&store->lock);
}

/* A completion target for a thread that simply waits. */
struct store_waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn)(void *);
	void *fn_ctx;
	bool done;
};

static void store_waiter_post(void *owner, void (*fn)(void *ctx), void *ctx)
{
	struct store_waiter *w = owner;
	pthread_mutex_lock(&w->lock);
	w->fn = fn;
	w->fn_ctx = ctx;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void store_waiter_callback(struct store_txn *txn, void *ctx)
{
	struct store_waiter *w = ctx;
	w->done = true;
}

enum store_error store_txn_commit_wait(struct store_txn *txn)
{
	struct store_waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER};
	struct completion_target target = {store_waiter_post, &w};

	txn->keep = true;
	store_txn_commit(txn, &target, store_waiter_callback, &w);
	pthread_mutex_lock(&w.lock);
	while (w.fn == NULL)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	w.fn(w.fn_ctx);
	i_assert(w.done);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return txn->error;
}

enum store_error store_txn_error(const struct store_txn *txn,
				 const char **text_r)
{
	if (text_r != NULL)
		*text_r = txn->error_text;
	return txn->error;
}

const struct store_op_result *store_txn_result(const struct store_txn *txn,
					       unsigned op)
{
	i_assert(op < txn->op_count);
	return &txn->ops[op].result;
}

unsigned store_txn_op_count(const struct store_txn *txn)
{
	return txn->op_count;
}

static enum store_error store_txn_wait_one(struct store_txn *txn, int64_t *id_r,
					   const char **error_r)
{
	enum store_error err = store_txn_commit_wait(txn);
	const char *text;
	(void)store_txn_error(txn, &text);
	if (id_r != NULL)
		*id_r = store_txn_result(txn, 0)->id;
	*error_r = store_error_printf("%s", text);
	store_txn_destroy(&txn);
	return err;
}

enum store_error store_domain_add(struct store *store, const char *domain,
				  const char **error_r)
{
	struct store_txn *txn = store_txn_create(store);
	store_txn_domain_add(txn, domain);
	return store_txn_wait_one(txn, NULL, error_r);
}

enum store_error store_account_add(struct store *store, const char *address,
				   const struct store_credentials *cred,
				   int64_t *account_id_r, const char **error_r)
{
	struct store_txn *txn = store_txn_create(store);
	store_txn_account_add(txn, address, cred);
	return store_txn_wait_one(txn, account_id_r, error_r);
}

enum store_error store_alias_add(struct store *store, const char *source,
				 const char *target, const char **error_r)
{
	struct store_txn *txn = store_txn_create(store);
	store_txn_alias_add(txn, source, target);
	return store_txn_wait_one(txn, NULL, error_r);
}

/* ------------------------------------------------------------------ */
/* Reads: straight to the backend */

int store_account_lookup(struct store *store, const char *address,
			 struct pool *pool, struct store_account **account_r,
			 const char **error_r)
{
	return store->backend->account_lookup(store, address, 0, pool,
					      account_r, error_r);
}

int store_account_lookup_id(struct store *store, int64_t account_id,
			    struct pool *pool, struct store_account **account_r,
			    const char **error_r)
{
	return store->backend->account_lookup(store, NULL, account_id, pool,
					      account_r, error_r);
}

int store_account_list(struct store *store, const char *domain,
		       struct pool *pool, struct store_account **accounts_r,
		       unsigned *count_r, const char **error_r)
{
	return store->backend->account_list(store, domain, pool, accounts_r,
					    count_r, error_r);
}

int store_domain_list(struct store *store, struct pool *pool,
		      const char *const **domains_r, unsigned *count_r,
		      const char **error_r)
{
	return store->backend->domain_list(store, pool, domains_r, count_r,
					   error_r);
}

int store_domain_exists(struct store *store, const char *domain,
			const char **error_r)
{
	return store->backend->domain_exists(store, domain, error_r);
}

int store_alias_list(struct store *store, const char *domain, struct pool *pool,
		     struct store_alias **aliases_r, unsigned *count_r,
		     const char **error_r)
{
	return store->backend->alias_list(store, domain, pool, aliases_r,
					  count_r, error_r);
}

int store_mailbox_list(struct store *store, int64_t account_id,
		       struct pool *pool, struct store_mailbox **mailboxes_r,
		       unsigned *count_r, const char **error_r)
{
	return store->backend->mailbox_list(store, account_id, pool,
					    mailboxes_r, count_r, error_r);
}

int store_mailbox_lookup(struct store *store, int64_t account_id,
			 const char *name, struct pool *pool,
			 struct store_mailbox **mailbox_r, const char **error_r)
{
	return store->backend->mailbox_lookup(store, account_id, name, 0, pool,
					      mailbox_r, error_r);
}

int store_mailbox_lookup_id(struct store *store, int64_t mailbox_id,
			    struct pool *pool, struct store_mailbox **mailbox_r,
			    const char **error_r)
{
	return store->backend->mailbox_lookup(store, 0, NULL, mailbox_id, pool,
					      mailbox_r, error_r);
}

int store_subscription_list(struct store *store, int64_t account_id,
			    struct pool *pool, const char *const **names_r,
			    unsigned *count_r, const char **error_r)
{
	return store->backend->subscription_list(store, account_id, pool,
						 names_r, count_r, error_r);
}

int store_mailbox_status(struct store *store, int64_t mailbox_id,
			 struct store_mailbox_status *status_r,
			 const char **error_r)
{
	return store->backend->mailbox_status(store, mailbox_id, status_r,
					      error_r);
}

/* Iterators and bodies remember their store through the first member of
 * the backend's struct. */
struct store_message_iter_head {
	struct store *store;
};

struct store_message_iter *store_message_iter_init(struct store *store,
						   int64_t mailbox_id,
						   uint32_t uid_first,
						   uint32_t uid_last,
						   uint64_t changedsince)
{
	return store->backend->message_iter_init(store, mailbox_id, uid_first,
						 uid_last, changedsince, false);
}

int store_message_uids(struct store *store, int64_t mailbox_id,
		       uint32_t uid_first, uint32_t **uids, uint32_t *count,
		       uint32_t *cap, const char **error_r)
{
	return store->backend->message_uids(store, mailbox_id, uid_first, uids,
					    count, cap, error_r);
}

struct store_message_iter *
store_message_iter_init_headers(struct store *store, int64_t mailbox_id,
				uint32_t uid_first, uint32_t uid_last,
				uint64_t changedsince)
{
	return store->backend->message_iter_init(store, mailbox_id, uid_first,
						 uid_last, changedsince, true);
}

const char *store_message_iter_headers(struct store_message_iter *iter)
{
	struct store *store = ((struct store_message_iter_head *)iter)->store;
	return store->backend->message_iter_headers(iter);
}

int store_message_iter_next(struct store_message_iter *iter,
			    struct store_message *msg_r)
{
	struct store *store = ((struct store_message_iter_head *)iter)->store;
	return store->backend->message_iter_next(iter, msg_r);
}

int store_message_iter_deinit(struct store_message_iter **_iter,
			      const char **error_r)
{
	struct store_message_iter *iter = *_iter;
	*_iter = NULL;
	struct store *store = ((struct store_message_iter_head *)iter)->store;
	return store->backend->message_iter_deinit(iter, error_r);
}

int store_message_get(struct store *store, int64_t mailbox_id, uint32_t uid,
		      struct pool *pool, struct store_message_info *info_r,
		      const char **error_r)
{
	return store->backend->message_get(store, mailbox_id, uid, pool, info_r,
					   error_r);
}

int store_body_open(struct store *store, int64_t body_id,
		    struct store_body **body_r, const char **error_r)
{
	return store->backend->body_open(store, body_id, body_r, error_r);
}

uint64_t store_body_size(const struct store_body *body)
{
	const struct store *store =
	    ((const struct store_message_iter_head *)body)->store;
	return store->backend->body_size(body);
}

ssize_t store_body_read(struct store_body *body, uint64_t offset, void *dst,
			size_t size, const char **error_r)
{
	struct store *store = ((struct store_message_iter_head *)body)->store;
	return store->backend->body_read(body, offset, dst, size, error_r);
}

void store_body_close(struct store_body **_body)
{
	struct store_body *body = *_body;
	if (body == NULL)
		return;
	*_body = NULL;
	struct store *store = ((struct store_message_iter_head *)body)->store;
	store->backend->body_close(body);
}

int store_queue_due(struct store *store, time_t now, unsigned max,
		    struct pool *pool, struct store_queue_item **items_r,
		    unsigned *count_r, const char **error_r)
{
	return store->backend->queue_due(store, now, max, pool, items_r,
					 count_r, error_r);
}

int store_queue_next_due(struct store *store, time_t *when_r,
			 const char **error_r)
{
	return store->backend->queue_next_due(store, when_r, error_r);
}

int store_mailbox_vanished(struct store *store, int64_t mailbox_id,
			   uint64_t since_modseq, struct pool *pool,
			   uint32_t **uids_r, unsigned *count_r,
			   const char **error_r)
{
	return store->backend->mailbox_vanished(store, mailbox_id, since_modseq,
						pool, uids_r, count_r, error_r);
}
