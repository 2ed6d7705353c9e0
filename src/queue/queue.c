/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "pool.h"
#include "strutil.h"
#include "smtp-client.h"
#include "queue-dsn.h"
#include "queue-mx.h"
#include "queue.h"

#include <event2/event.h>

#define QUEUE_DEFAULT_RETRY_INITIAL (5 * 60)
#define QUEUE_DEFAULT_RETRY_MAX (4 * 60 * 60)
#define QUEUE_DEFAULT_GIVE_UP (5 * 24 * 60 * 60)
#define QUEUE_DEFAULT_DELAY_NOTIFY (4 * 60 * 60)
#define QUEUE_DEFAULT_MAX_SESSIONS 20
/* Recipients per SMTP transaction: RFC 5321 section 4.5.3.1.8 makes 100
 * the least a server must take; more go in further sessions. */
#define QUEUE_MAX_RCPTS_PER_SESSION 100
/* The runner looks again at least this often (clock jumps, lost wakes). */
#define QUEUE_MAX_SLEEP_S 60

struct queue_rcpt {
	struct queue_rcpt_info info;
	bool in_flight;
};

struct queue_msg {
	struct queue_msg *prev, *next;
	struct pool *pool;
	uint64_t id;
	char *mail_from, *envid;
	enum queue_dsn_ret ret;
	time_t arrival;
	bool eightbit;
	uint8_t *data;
	size_t size;
	struct queue_rcpt *rcpts;
	unsigned rcpt_count;
	unsigned jobs; /* deliveries in flight */
	bool deleted;
	/* Scratch for queue_lookup(). */
	struct queue_rcpt_info *infos;
};

/* One delivery attempt: one message's recipients in one domain. */
struct queue_job {
	struct queue *queue;
	struct queue_msg *msg;
	char *domain;
	unsigned *rcpt_idx;
	unsigned rcpt_count;
	struct queue_mx_lookup *mx;
	struct queue_mx_addr *addrs;
	unsigned addr_count, addr_next;
	struct smtp_client *client;
	struct pool *pool;
	/* STARTTLS failed with the current address: try it again in
	 * plaintext (opportunistic TLS must not make mail undeliverable). */
	bool no_tls;
};

struct queue {
	struct event_base *base;
	struct dns_resolver *resolver;
	struct queue_settings set;
	struct queue_persist persist;
	struct pool *pool;
	struct event *timer;
	struct event *run_ev;
	struct queue_msg *head;
	unsigned msg_count;
	uint64_t next_id;
	unsigned sessions;
	/* Store-first: the next load takes every pending recipient. */
	bool flush;
	queue_dsn_callback_t *dsn_cb;
	void *dsn_ctx;
	char sid[LOG_SID_SIZE];
	/* Jobs in flight, so destroy can abort them. */
	struct queue_job **jobs;
	unsigned job_count, job_cap;
};

static void queue_job_start_addr(struct queue_job *job);

unsigned queue_backoff_delay(unsigned attempts, unsigned initial_s,
			     unsigned max_s)
{
	uint64_t delay = initial_s;

	for (unsigned i = 1; i < attempts && delay < max_s; i++)
		delay *= 2;
	return delay > max_s ? max_s : (unsigned)delay;
}

/* --- messages --- */

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at == NULL ? "" : at + 1;
}

static void queue_msg_info(struct queue_msg *msg,
			   struct queue_message_info *info_r)
{
	if (msg->infos == NULL)
		msg->infos = p_new(msg->pool, struct queue_rcpt_info,
				   msg->rcpt_count);
	for (unsigned i = 0; i < msg->rcpt_count; i++)
		msg->infos[i] = msg->rcpts[i].info;
	info_r->id = msg->id;
	info_r->mail_from = msg->mail_from;
	info_r->envid = msg->envid;
	info_r->ret = msg->ret;
	info_r->arrival = msg->arrival;
	info_r->eightbit = msg->eightbit;
	info_r->data = msg->data;
	info_r->size = msg->size;
	info_r->rcpts = msg->infos;
	info_r->rcpt_count = msg->rcpt_count;
}

static void queue_msg_save(struct queue *queue, struct queue_msg *msg,
			   bool is_new)
{
	struct queue_message_info info;

	if (queue->persist.save == NULL)
		return;
	queue_msg_info(msg, &info);
	queue->persist.save(queue->persist.ctx, &info, is_new);
}

static void queue_msg_free(struct queue *queue, struct queue_msg *msg)
{
	if (msg->prev != NULL)
		msg->prev->next = msg->next;
	else
		queue->head = msg->next;
	if (msg->next != NULL)
		msg->next->prev = msg->prev;
	queue->msg_count--;
	i_free(msg->data);
	/* The struct lives in its own pool. */
	struct pool *pool = msg->pool;
	pool_destroy(&pool);
}

static struct queue_msg *queue_msg_new(struct queue *queue, uint64_t id,
				       const char *mail_from,
				       const char *envid,
				       enum queue_dsn_ret ret, time_t arrival,
				       bool eightbit, const uint8_t *data,
				       size_t size, unsigned rcpt_count)
{
	struct pool *pool = pool_create("queue message", 1024);
	struct queue_msg *msg = p_new(pool, struct queue_msg, 1);

	msg->pool = pool;
	msg->id = id;
	msg->mail_from = pool_strdup(pool, mail_from);
	msg->envid = pool_strdup(pool, envid);
	msg->ret = ret;
	msg->arrival = arrival;
	msg->eightbit = eightbit;
	msg->data = i_memdup(data, size);
	msg->size = size;
	msg->rcpts = p_new(pool, struct queue_rcpt, rcpt_count);
	msg->rcpt_count = rcpt_count;
	msg->next = queue->head;
	if (queue->head != NULL)
		queue->head->prev = msg;
	queue->head = msg;
	queue->msg_count++;
	return msg;
}

static struct queue_msg *queue_find(struct queue *queue, uint64_t id)
{
	for (struct queue_msg *m = queue->head; m != NULL; m = m->next) {
		if (m->id == id && !m->deleted)
			return m;
	}
	return NULL;
}

static bool queue_msg_open(const struct queue_msg *msg)
{
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		if (msg->rcpts[i].info.state == QUEUE_RCPT_PENDING)
			return true;
	}
	return false;
}

/* --- scheduling --- */

static void queue_schedule(struct queue *queue)
{
	/* Run from the loop soon, never inside the caller. */
	event_active(queue->run_ev, EV_TIMEOUT, 0);
}

static void queue_arm_timer(struct queue *queue, time_t now)
{
	time_t next = now + QUEUE_MAX_SLEEP_S, when;

	if (queue->persist.next_due != NULL &&
	    queue->persist.next_due(queue->persist.ctx, &when) > 0 &&
	    when < next)
		next = when;

	for (struct queue_msg *m = queue->head; m != NULL; m = m->next) {
		for (unsigned i = 0; i < m->rcpt_count; i++) {
			const struct queue_rcpt *r = &m->rcpts[i];
			if (r->info.state == QUEUE_RCPT_PENDING &&
			    !r->in_flight && r->info.next_attempt < next)
				next = r->info.next_attempt;
		}
	}
	struct timeval tv = {next > now ? next - now : 0, 0};
	evtimer_add(queue->timer, &tv);
}

static void queue_run(struct queue *queue);
static void queue_wake_memory(struct queue *queue, time_t now);

static void queue_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			   void *ctx)
{
	queue_run(ctx);
}

/* --- DSNs --- */

static void queue_send_dsn(struct queue *queue, struct queue_msg *msg,
			   const struct queue_dsn_rcpt *rcpts, unsigned count)
{
	struct buf out = BUF_INIT;

	/* RFC 3461 section 6.2 / RFC 5321 section 6.1: never a DSN about
	 * a message from the null sender. */
	if (count == 0 || msg->mail_from[0] == '\0')
		return;
	struct queue_dsn dsn = {
		.reporting_mta = queue->set.hostname,
		.to = msg->mail_from,
		.envid = msg->envid,
		.arrival_date = msg->arrival,
		.ret = msg->ret,
		.original = msg->data,
		.original_size = msg->size,
		.rcpts = rcpts,
		.rcpt_count = count,
	};
	queue_dsn_build(&dsn, &out);
	char qbuf[256];
	log_info(queue->sid, "queue-dsn", "id=%llu to=%s rcpts=%u action=%s",
		 (unsigned long long)msg->id,
		 log_quote(qbuf, sizeof(qbuf), msg->mail_from), count,
		 rcpts[0].action == QUEUE_DSN_ACTION_DELAYED ? "delayed"
		 : rcpts[0].action == QUEUE_DSN_ACTION_FAILED ? "failed"
							       : "relayed");
	if (queue->dsn_cb != NULL) {
		queue->dsn_cb(queue->dsn_ctx, msg->mail_from, out.data,
			      out.len);
	} else {
		struct queue_rcpt_in rcpt = {.address = msg->mail_from};
		struct queue_message_in in = {
			.mail_from = "",
			.rcpts = &rcpt,
			.rcpt_count = 1,
			.data = out.data,
			.size = out.len,
			.eightbit = true,
		};
		(void)queue_submit(queue, &in);
	}
	buf_free(&out);
}

/* --- jobs --- */

static void queue_job_free(struct queue_job *job)
{
	struct queue *queue = job->queue;

	for (unsigned i = 0; i < queue->job_count; i++) {
		if (queue->jobs[i] == job) {
			queue->jobs[i] = queue->jobs[--queue->job_count];
			break;
		}
	}
	queue_mx_lookup_cancel(&job->mx);
	smtp_client_destroy(&job->client);
	for (unsigned i = 0; i < job->rcpt_count; i++)
		job->msg->rcpts[job->rcpt_idx[i]].in_flight = false;
	job->msg->jobs--;
	queue->sessions--;
	/* The struct lives in its own pool. */
	struct pool *pool = job->pool;
	pool_destroy(&pool);
}

static void queue_rcpt_set_result(struct queue_rcpt *r, struct pool *pool,
				  const char *status, unsigned code,
				  const char *text, const char *remote)
{
	r->info.status = pool_strdup(pool, status);
	r->info.code = code;
	r->info.text = pool_strdup(pool, text);
	r->info.remote_mta = pool_strdup(pool, remote);
}

/* Applies one recipient result; collects a DSN entry when one is due. */
static void queue_job_apply(struct queue_job *job, unsigned k,
			    enum smtp_client_rcpt_status status,
			    const char *enhanced, unsigned code,
			    const char *text, const char *remote,
			    bool peer_dsn, bool tls, bool eightbit_plain,
			    time_t now,
			    struct queue_dsn_rcpt *dsn_r, bool *want_dsn_r)
{
	struct queue *queue = job->queue;
	struct queue_msg *msg = job->msg;
	struct queue_rcpt *r = &msg->rcpts[job->rcpt_idx[k]];
	enum queue_dsn_action action;
	char qbuf[256];

	*want_dsn_r = false;
	/* Strings go to the message pool: it lives as long as the info.
	 * Old values stay until the message goes: bounded by attempts. */
	time_t prev_attempt = r->info.last_attempt;
	queue_rcpt_set_result(r, msg->pool, enhanced, code, text, remote);
	r->info.attempts++;
	r->info.last_attempt = now;
	r->info.dirty = true;
	if (status == SMTP_CLIENT_RCPT_OK) {
		r->info.state = QUEUE_RCPT_DELIVERED;
		char hbuf[256];
		log_info(queue->sid, "queue-delivered",
			 "id=%llu rcpt=%s host=%s tls=%s%s",
			 (unsigned long long)msg->id,
			 log_quote(qbuf, sizeof(qbuf), r->info.address),
			 log_quote(hbuf, sizeof(hbuf),
				   remote != NULL ? remote : ""),
			 tls ? "yes" : "no",
			 eightbit_plain ? " note=8bit_without_8bitmime" : "");
		/* RFC 3461 section 5.2.2: a peer without DSN can't report
		 * success, so we say "relayed" when SUCCESS was asked. */
		if (peer_dsn)
			return;
		action = QUEUE_DSN_ACTION_RELAYED;
	} else if (status == SMTP_CLIENT_RCPT_PERMFAIL ||
		   now - msg->arrival >= (time_t)queue->set.give_up_s) {
		r->info.state = QUEUE_RCPT_FAILED;
		action = QUEUE_DSN_ACTION_FAILED;
		char tbuf[256];
		log_info(queue->sid, "queue-failed", "id=%llu rcpt=%s status=%s "
			 "reason=%s", (unsigned long long)msg->id,
			 log_quote(qbuf, sizeof(qbuf), r->info.address),
			 enhanced, log_quote(tbuf, sizeof(tbuf), text));
	} else {
		unsigned delay = queue_backoff_delay(r->info.attempts,
						     queue->set.retry_initial_s,
						     queue->set.retry_max_s);
		char tbuf[256];
		r->info.next_attempt = now + delay;
		log_info(queue->sid, "queue-deferred",
			 "id=%llu rcpt=%s status=%s retry_in=%u reason=%s",
			 (unsigned long long)msg->id,
			 log_quote(qbuf, sizeof(qbuf), r->info.address),
			 enhanced, delay, log_quote(tbuf, sizeof(tbuf), text));
		/* Once: on the first attempt ending past the delay time. */
		time_t notify_at = msg->arrival + queue->set.delay_notify_s;
		if (queue->set.no_delay_notify || r->info.delay_notified ||
		    now < notify_at ||
		    (prev_attempt != 0 && prev_attempt >= notify_at))
			return;
		r->info.delay_notified = true;
		action = QUEUE_DSN_ACTION_DELAYED;
	}
	if (!queue_dsn_wanted(r->info.notify, action))
		return;
	*want_dsn_r = true;
	*dsn_r = (struct queue_dsn_rcpt){
		.address = r->info.address,
		.orcpt = r->info.orcpt,
		.action = action,
		.status = r->info.status,
		.remote_mta = r->info.remote_mta,
		.diag_code = code,
		.diag_text = r->info.text,
		.last_attempt = now,
		.will_retry_until = msg->arrival + queue->set.give_up_s,
	};
}

/* Every recipient of the job gets its result; then DSNs, persistence and
 * cleanup. */
static void queue_job_done(struct queue_job *job,
			   const struct smtp_client_result *res,
			   enum smtp_client_rcpt_status status,
			   const char *enhanced, const char *text)
{
	struct queue *queue = job->queue;
	struct queue_msg *msg = job->msg;
	struct queue_dsn_rcpt *dsn = p_new(job->pool, struct queue_dsn_rcpt,
					   job->rcpt_count);
	unsigned dsn_count[4] = {0};
	struct queue_dsn_rcpt *by_action[4];
	time_t now = time(NULL);

	for (unsigned a = 0; a < 4; a++)
		by_action[a] = p_new(job->pool, struct queue_dsn_rcpt,
				     job->rcpt_count);
	for (unsigned k = 0; k < job->rcpt_count; k++) {
		bool want;
		if (res != NULL) {
			const struct smtp_client_rcpt_result *rr =
				&res->rcpts[k];
			const char *remote =
				res->remote_name[0] != '\0'
					? pool_printf(job->pool, "%s (%s)",
						      res->remote_name,
						      res->remote_addr)
					: res->remote_addr;
			queue_job_apply(job, k, rr->status, rr->enhanced,
					rr->code, rr->text, remote,
					res->peer_dsn, res->tls,
					res->eightbit_without_8bitmime, now,
					&dsn[k], &want);
		} else {
			queue_job_apply(job, k, status, enhanced, 0, text,
					NULL, false, false, false, now,
					&dsn[k], &want);
		}
		if (want)
			by_action[dsn[k].action][dsn_count[dsn[k].action]++] =
				dsn[k];
	}
	/* One DSN per kind of outcome, so the subject says what happened. */
	if (!msg->deleted) {
		for (unsigned a = 0; a < 4; a++)
			queue_send_dsn(queue, msg, by_action[a], dsn_count[a]);
	}
	queue_job_free(job);
	if (msg->deleted) {
		if (msg->jobs == 0)
			queue_msg_free(queue, msg);
	} else if (queue->persist.load_due != NULL) {
		/* Store-first: write what this attempt changed; between
		 * attempts the message lives in the store only. */
		queue_msg_save(queue, msg, false);
		for (unsigned i = 0; i < msg->rcpt_count; i++)
			msg->rcpts[i].info.dirty = false;
		if (msg->jobs == 0)
			queue_msg_free(queue, msg);
	} else if (!queue_msg_open(msg) && msg->jobs == 0) {
		if (queue->persist.remove != NULL)
			queue->persist.remove(queue->persist.ctx, msg->id);
		queue_msg_free(queue, msg);
	} else {
		queue_msg_save(queue, msg, false);
		for (unsigned i = 0; i < msg->rcpt_count; i++)
			msg->rcpts[i].info.dirty = false;
	}
	queue_schedule(queue);
}

static void queue_job_client_cb(const struct smtp_client_result *res,
				void *ctx)
{
	struct queue_job *job = ctx;
	const struct smtp_client_settings *cset = &job->queue->set.client;

	if (res->try_next_host && !res->tls && !job->no_tls &&
	    cset->ssl_ctx != NULL && !cset->require_tls &&
	    strcmp(res->stage, "starttls") == 0) {
		char tbuf[256];
		log_info(job->queue->sid, "queue-tls-fallback",
			 "id=%llu host=%s reason=%s",
			 (unsigned long long)job->msg->id, res->remote_addr,
			 log_quote(tbuf, sizeof(tbuf),
				   res->rcpt_count > 0 ? res->rcpts[0].text
						       : ""));
		job->no_tls = true;
		job->addr_next--;
		smtp_client_destroy(&job->client);
		queue_job_start_addr(job);
		return;
	}
	if (res->try_next_host && job->addr_next < job->addr_count) {
		/* RFC 5321 section 5.1: the next address, then the next
		 * MX, before giving up on this attempt. */
		log_debug(job->queue->sid, "queue-next-host",
			  "id=%llu domain=%s failed=%s stage=%s",
			  (unsigned long long)job->msg->id, job->domain,
			  res->remote_addr, res->stage);
		smtp_client_destroy(&job->client);
		queue_job_start_addr(job);
		return;
	}
	queue_job_done(job, res, 0, NULL, NULL);
}

static void queue_job_start_addr(struct queue_job *job)
{
	struct queue *queue = job->queue;
	struct queue_msg *msg = job->msg;
	const struct queue_mx_addr *addr = &job->addrs[job->addr_next++];
	struct smtp_client_rcpt *rcpts =
		p_new(job->pool, struct smtp_client_rcpt, job->rcpt_count);

	for (unsigned k = 0; k < job->rcpt_count; k++) {
		const struct queue_rcpt *r = &msg->rcpts[job->rcpt_idx[k]];
		rcpts[k].address = r->info.address;
		rcpts[k].notify = r->info.notify;
		rcpts[k].orcpt = r->info.orcpt;
	}
	struct smtp_client_message cmsg = {
		.mail_from = msg->mail_from,
		.rcpts = rcpts,
		.rcpt_count = job->rcpt_count,
		.data = msg->data,
		.size = msg->size,
		.eightbit = msg->eightbit,
		.envid = msg->envid,
		.ret = msg->ret == QUEUE_DSN_RET_FULL   ? SMTP_CLIENT_RET_FULL
		       : msg->ret == QUEUE_DSN_RET_HDRS ? SMTP_CLIENT_RET_HDRS
							: SMTP_CLIENT_RET_NONE,
	};
	struct smtp_client_settings cset = queue->set.client;
	if (job->no_tls)
		cset.ssl_ctx = NULL;
	job->client = smtp_client_create(queue->base, &cset, &cmsg);
	smtp_client_run(job->client, addr->ip,
			queue->set.relay_host != NULL ? queue->set.relay_port
						      : queue->set.mx_port,
			queue->set.source_ip, queue_job_client_cb, job);
}

static void queue_job_mx_cb(const struct queue_mx_result *res, void *ctx)
{
	struct queue_job *job = ctx;

	job->mx = NULL;
	if (res->status != QUEUE_MX_OK) {
		queue_job_done(job, NULL,
			       res->status == QUEUE_MX_PERMFAIL
				       ? SMTP_CLIENT_RCPT_PERMFAIL
				       : SMTP_CLIENT_RCPT_TEMPFAIL,
			       res->enhanced, res->error);
		return;
	}
	job->addrs = p_new(job->pool, struct queue_mx_addr, res->addr_count);
	for (unsigned i = 0; i < res->addr_count; i++) {
		job->addrs[i].host = pool_strdup(job->pool, res->addrs[i].host);
		job->addrs[i].ip = pool_strdup(job->pool, res->addrs[i].ip);
	}
	job->addr_count = res->addr_count;
	queue_job_start_addr(job);
}

static void queue_job_start(struct queue *queue, struct queue_msg *msg,
			    const char *domain)
{
	struct pool *pool = pool_create("queue job", 1024);
	struct queue_job *job = p_new(pool, struct queue_job, 1);

	job->pool = pool;
	job->queue = queue;
	job->msg = msg;
	job->domain = pool_strdup(pool, domain);
	job->rcpt_idx = p_new(pool, unsigned, msg->rcpt_count);
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		struct queue_rcpt *r = &msg->rcpts[i];
		if (job->rcpt_count < QUEUE_MAX_RCPTS_PER_SESSION &&
		    r->info.state == QUEUE_RCPT_PENDING && !r->in_flight &&
		    r->info.next_attempt <= time(NULL) &&
		    str_ascii_eq_ci(domain_of(r->info.address), domain)) {
			r->in_flight = true;
			job->rcpt_idx[job->rcpt_count++] = i;
		}
	}
	i_assert(job->rcpt_count > 0);
	msg->jobs++;
	queue->sessions++;
	if (queue->job_count == queue->job_cap) {
		queue->job_cap = queue->job_cap == 0 ? 16 : queue->job_cap * 2;
		queue->jobs = i_realloc(queue->jobs,
					sizeof(*queue->jobs) * queue->job_cap);
	}
	queue->jobs[queue->job_count++] = job;
	log_debug(queue->sid, "queue-attempt", "id=%llu domain=%s rcpts=%u",
		  (unsigned long long)msg->id, domain, job->rcpt_count);
	if (queue->set.relay_host != NULL)
		job->mx = queue_mx_lookup_host(queue->base, queue->resolver,
					       queue->set.relay_host,
					       queue_job_mx_cb, job);
	else
		job->mx = queue_mx_lookup(queue->base, queue->resolver, domain,
					  queue->set.hostname, queue_job_mx_cb,
					  job);
}

static void queue_run(struct queue *queue)
{
	time_t now = time(NULL);

	if (queue->persist.load_due != NULL &&
	    queue->sessions < queue->set.max_sessions) {
		bool flush = queue->flush;
		queue->flush = false;
		queue->persist.load_due(queue->persist.ctx, queue,
					flush ? 0 : now,
					queue->set.max_sessions -
						queue->sessions);
		if (flush)
			queue_wake_memory(queue, now);
	}

	for (struct queue_msg *m = queue->head;
	     m != NULL && queue->sessions < queue->set.max_sessions;
	     m = m->next) {
		if (m->deleted)
			continue;
		for (unsigned i = 0; i < m->rcpt_count &&
				     queue->sessions < queue->set.max_sessions;
		     i++) {
			struct queue_rcpt *r = &m->rcpts[i];
			if (r->info.state != QUEUE_RCPT_PENDING ||
			    r->in_flight || r->info.next_attempt > now)
				continue;
			/* The job takes every due recipient of this
			 * domain. */
			queue_job_start(queue, m, domain_of(r->info.address));
		}
	}
	queue_arm_timer(queue, now);
}

static void queue_run_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			 void *ctx)
{
	queue_run(ctx);
}

/* --- API --- */

struct queue *queue_create(struct event_base *base,
			   struct dns_resolver *resolver,
			   const struct queue_settings *set,
			   const struct queue_persist *persist)
{
	struct pool *pool = pool_create("queue", 1024);
	struct queue *queue = p_new(pool, struct queue, 1);

	i_assert(set->hostname != NULL);
	queue->pool = pool;
	queue->base = base;
	queue->resolver = resolver;
	queue->set = *set;
	queue->set.hostname = pool_strdup(pool, set->hostname);
	queue->set.source_ip = pool_strdup(pool, set->source_ip);
	queue->set.relay_host = set->relay_host != NULL &&
					set->relay_host[0] != '\0'
				? pool_strdup(pool, set->relay_host)
				: NULL;
	if (queue->set.relay_port == 0)
		queue->set.relay_port = 25;
	queue->set.client.auth_user = pool_strdup(pool, set->client.auth_user);
	queue->set.client.auth_password =
		pool_strdup(pool, set->client.auth_password);
	if (queue->set.mx_port == 0)
		queue->set.mx_port = 25;
	if (queue->set.retry_initial_s == 0)
		queue->set.retry_initial_s = QUEUE_DEFAULT_RETRY_INITIAL;
	if (queue->set.retry_max_s == 0)
		queue->set.retry_max_s = QUEUE_DEFAULT_RETRY_MAX;
	if (queue->set.give_up_s == 0)
		queue->set.give_up_s = QUEUE_DEFAULT_GIVE_UP;
	if (queue->set.delay_notify_s == 0)
		queue->set.delay_notify_s = QUEUE_DEFAULT_DELAY_NOTIFY;
	if (queue->set.max_sessions == 0)
		queue->set.max_sessions = QUEUE_DEFAULT_MAX_SESSIONS;
	if (queue->set.client.helo_name == NULL)
		queue->set.client.helo_name = queue->set.hostname;
	else
		queue->set.client.helo_name =
			pool_strdup(pool, set->client.helo_name);
	if (persist != NULL)
		queue->persist = *persist;
	queue->next_id = 1;
	queue->timer = evtimer_new(base, queue_timer_cb, queue);
	queue->run_ev = event_new(base, -1, 0, queue_run_cb, queue);
	log_session_id_new(queue->sid);
	return queue;
}

void queue_destroy(struct queue **_queue)
{
	struct queue *queue = *_queue;

	if (queue == NULL)
		return;
	*_queue = NULL;
	while (queue->job_count > 0)
		queue_job_free(queue->jobs[queue->job_count - 1]);
	while (queue->head != NULL)
		queue_msg_free(queue, queue->head);
	event_free(queue->timer);
	event_free(queue->run_ev);
	i_free(queue->jobs);
	/* The struct lives in its own pool. */
	struct pool *pool = queue->pool;
	pool_destroy(&pool);
}

void queue_set_dsn_callback(struct queue *queue, queue_dsn_callback_t *cb,
			    void *ctx)
{
	queue->dsn_cb = cb;
	queue->dsn_ctx = ctx;
}

uint64_t queue_submit(struct queue *queue, const struct queue_message_in *in)
{
	time_t now = time(NULL);

	if (queue->persist.enqueue != NULL) {
		queue->persist.enqueue(queue->persist.ctx, in);
		return 0;
	}
	struct queue_msg *msg = queue_msg_new(
		queue, queue->next_id++, in->mail_from, in->envid, in->ret,
		in->arrival != 0 ? in->arrival : now, in->eightbit, in->data,
		in->size, in->rcpt_count);

	for (unsigned i = 0; i < in->rcpt_count; i++) {
		struct queue_rcpt_info *r = &msg->rcpts[i].info;
		r->address = pool_strdup(msg->pool, in->rcpts[i].address);
		r->notify = pool_strdup(msg->pool, in->rcpts[i].notify);
		r->orcpt = pool_strdup(msg->pool, in->rcpts[i].orcpt);
		r->state = QUEUE_RCPT_PENDING;
		r->next_attempt = now;
	}
	char qbuf[256];
	log_info(queue->sid, "queue-add", "id=%llu from=%s rcpts=%u size=%zu",
		 (unsigned long long)msg->id,
		 msg->mail_from[0] == '\0'
			 ? "<>"
			 : log_quote(qbuf, sizeof(qbuf), msg->mail_from),
		 in->rcpt_count, in->size);
	queue_msg_save(queue, msg, true);
	queue_schedule(queue);
	return msg->id;
}

int queue_restore(struct queue *queue, const struct queue_message_info *in)
{
	if (queue_find(queue, in->id) != NULL)
		return 0;
	struct queue_msg *msg = queue_msg_new(
		queue, in->id, in->mail_from, in->envid, in->ret, in->arrival,
		in->eightbit, in->data, in->size, in->rcpt_count);

	for (unsigned i = 0; i < in->rcpt_count; i++) {
		struct queue_rcpt_info *r = &msg->rcpts[i].info;
		const struct queue_rcpt_info *src = &in->rcpts[i];
		*r = *src;
		r->address = pool_strdup(msg->pool, src->address);
		r->notify = pool_strdup(msg->pool, src->notify);
		r->orcpt = pool_strdup(msg->pool, src->orcpt);
		r->status = pool_strdup(msg->pool, src->status);
		r->text = pool_strdup(msg->pool, src->text);
		r->remote_mta = pool_strdup(msg->pool, src->remote_mta);
		r->dirty = false;
		if (r->last_attempt == 0 && r->attempts > 0) {
			/* The attempt that set next_attempt happened one
			 * backoff step before it. */
			r->last_attempt = r->next_attempt -
				queue_backoff_delay(r->attempts,
						    queue->set.retry_initial_s,
						    queue->set.retry_max_s);
		}
	}
	if (in->id >= queue->next_id)
		queue->next_id = in->id + 1;
	queue_schedule(queue);
	return 1;
}

static void queue_msg_make_due(struct queue_msg *msg, time_t now)
{
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		if (msg->rcpts[i].info.state == QUEUE_RCPT_PENDING)
			msg->rcpts[i].info.next_attempt = now;
	}
}

static void queue_wake_memory(struct queue *queue, time_t now)
{
	for (struct queue_msg *m = queue->head; m != NULL; m = m->next)
		queue_msg_make_due(m, now);
}

void queue_wake(struct queue *queue)
{
	queue_wake_memory(queue, time(NULL));
	queue->flush = true;
	queue_schedule(queue);
}

void queue_kick(struct queue *queue)
{
	queue_schedule(queue);
}

int queue_retry(struct queue *queue, uint64_t id)
{
	struct queue_msg *msg = queue_find(queue, id);

	if (msg == NULL)
		return 0;
	queue_msg_make_due(msg, time(NULL));
	queue_schedule(queue);
	return 1;
}

int queue_delete(struct queue *queue, uint64_t id)
{
	struct queue_msg *msg = queue_find(queue, id);

	if (msg == NULL)
		return 0;
	if (queue->persist.remove != NULL)
		queue->persist.remove(queue->persist.ctx, msg->id);
	if (msg->jobs > 0) {
		/* Its sessions finish first; they see the flag. */
		msg->deleted = true;
		return 1;
	}
	queue_msg_free(queue, msg);
	return 1;
}

unsigned queue_count(const struct queue *queue)
{
	return queue->msg_count;
}

int queue_lookup(struct queue *queue, uint64_t id,
		 struct queue_message_info *info_r)
{
	struct queue_msg *msg = queue_find(queue, id);

	if (msg == NULL)
		return 0;
	queue_msg_info(msg, info_r);
	return 1;
}

unsigned queue_active_sessions(const struct queue *queue)
{
	return queue->sessions;
}
