/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAPD_H
#define POSTHORN_IMAPD_H

#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "imap-parser.h"
#include "imap-seqset.h"
#include "imap-uidmap.h"
#include "workpool.h"

/* The IMAP server (RFC 9051 with RFC 3501 compatibility). Private to
 * src/imapd/: imapd.c runs connections and dispatches through the const
 * command table of imapd-commands.c; each imapd-cmd-*.c file holds one
 * command family. */

struct conn;
struct store;
struct store_change;
struct store_watch;
struct auth_server;
struct auth_session;
struct event;
struct imapd_client;

/* RFC 9051 section 3. */
enum imapd_state {
	IMAPD_STATE_NOT_AUTH,
	IMAPD_STATE_AUTH,
	IMAPD_STATE_SELECTED,
	IMAPD_STATE_LOGOUT,
};

enum imapd_cmd_flags {
	IMAPD_CMD_NOT_AUTH = 1 << 0,
	IMAPD_CMD_AUTH = 1 << 1,
	IMAPD_CMD_SELECTED = 1 << 2,
	/* A "UID" prefix is allowed. */
	IMAPD_CMD_UID = 1 << 3,
	/* RFC 9051 section 7.5.1: no untagged EXPUNGE while this command
	 * runs in its sequence-number form (FETCH, STORE, SEARCH). */
	IMAPD_CMD_NO_EXPUNGE = 1 << 4,
};
#define IMAPD_CMD_ANY (IMAPD_CMD_NOT_AUTH | IMAPD_CMD_AUTH | IMAPD_CMD_SELECTED)
#define IMAPD_CMD_AUTHED (IMAPD_CMD_AUTH | IMAPD_CMD_SELECTED)

struct imapd_cmd {
	/* In the parser's command pool: valid until the tagged reply (input
	 * is paused meanwhile, so the parser is not fed). */
	const char *tag;
	const char *name;
	bool uid;
	const struct imap_arg *args;
	size_t args_count;
	struct pool *pool;
};

typedef void imapd_cmd_func_t(struct imapd_client *client,
			      struct imapd_cmd *cmd);

struct imapd_command {
	const char *name;
	imapd_cmd_func_t *func;
	unsigned flags;
};

/* Looks a command up in the table (name upper-case). */
const struct imapd_command *imapd_command_find(const char *name);

/* Per service (imap / imaps) state, shared by its connections. */
struct imapd_service {
	struct store *store;
	struct auth_server *auth;
	uint64_t max_message_size;
	/* Idle timeout once logged in (RFC 9051 section 5.4: at least 30
	 * minutes); before login a shorter one applies. */
	unsigned idle_timeout_ms;
	bool implicit_tls;
};

/* A change reported by the store's watch, kept until it may be sent. */
struct imapd_change {
	int type; /* enum store_change_type */
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;
	char *keywords;
};

#define IMAPD_OWN_MODSEQS 16
#define IMAPD_MAX_PENDING_CHANGES 100000

/* The selected mailbox as this session sees it: map gives the sequence
 * numbers. */
struct imapd_mailbox {
	int64_t id;
	char *name;
	bool readonly;
	uint32_t uidvalidity;
	struct imap_uidmap map;
	/* Messages with uid >= this are \Recent to this session. */
	uint32_t recent_first_uid;
	struct store_watch *watch;
	struct imapd_change *pending;
	size_t pending_count, pending_cap;
	/* Modseqs of this session's own flag changes: their watch events
	 * are not echoed. */
	uint64_t own_modseqs[IMAPD_OWN_MODSEQS];
	unsigned own_pos;
	bool gone;
};

enum imapd_input_mode {
	IMAPD_INPUT_COMMAND,
	IMAPD_INPUT_IDLE,
	IMAPD_INPUT_AUTHENTICATE,
};

struct imapd_client {
	struct conn *conn;
	struct imapd_service *svc;
	const char *sid;
	int refcount;
	bool closed;

	struct imap_parser *parser;
	enum imapd_state state;
	enum imapd_input_mode input;
	struct imapd_cmd cmd;
	const struct imapd_command *command;
	/* A command is running (possibly waiting for the store). */
	bool busy;
	/* The current command forbids untagged EXPUNGE. */
	bool no_expunge;

	/* Authentication. */
	struct auth_session *auth;
	bool auth_ref;
	struct completion_target target;
	struct event *delay_timer;
	char *delay_reply;
	int64_t account_id;
	char *username;
	/* Counted in the per-user session limit. */
	bool session_counted;

	/* ENABLEd extensions; condstore also by a CONDSTORE-enabling
	 * command (RFC 7162 section 3.1). */
	bool rev2, utf8, condstore;
	/* ENABLE QRESYNC (RFC 7162 section 3.2.3): VANISHED instead of
	 * EXPUNGE from then on. Implies condstore. */
	bool qresync;

	struct imapd_mailbox *mbox;
	/* SEARCHRES (RFC 5182) saved result, as UIDs. */
	struct imap_seqset saved;

	/* The tag of a command that released the parser's memory while it
	 * waits (IDLE); cmd.tag points here then. */
	char *tag_copy;

	/* A FETCH being streamed (imapd-cmd-fetch.c). */
	void *fetch_ctx;
};

/* --- imapd.c --- */
/* Authenticated sessions per account, across all I/O threads. */
#define IMAPD_MAX_SESSIONS_PER_USER 100
bool imapd_user_session_add(int64_t account_id);
void imapd_user_session_remove(int64_t account_id);

void imapd_client_ref(struct imapd_client *client);
/* Returns false when the client is gone (closed) after dropping the
 * reference: the caller must not touch it then. */
bool imapd_client_unref(struct imapd_client *client);

void imapd_write(struct imapd_client *client, const void *data, size_t len);
void imapd_write_str(struct imapd_client *client, const char *str);
void imapd_printf(struct imapd_client *client, const char *fmt, ...)
	ATTR_FORMAT(2, 3);
void imapd_write_buf(struct imapd_client *client, struct buf *b);

/* Ends the current command with "<tag> <status> <text>": sends pending
 * untagged changes first, then resumes input. status is "OK", "NO" or
 * "BAD"; text may start with a response code. */
void imapd_cmd_reply(struct imapd_client *client, const char *status,
		     const char *fmt, ...) ATTR_FORMAT(3, 4);
/* The command continues asynchronously: input pauses until
 * imapd_cmd_reply(). */
void imapd_cmd_async(struct imapd_client *client);

/* The capability list for the current state (no leading space). */
const char *imapd_capabilities(struct imapd_client *client, struct buf *b);
/* True when plaintext passwords are acceptable: TLS, or loopback. */
bool imapd_client_secure(struct imapd_client *client);
struct completion_target imapd_client_target(struct imapd_client *client);

/* Mailbox names between the client's form (modified UTF-7 for rev1
 * clients, UTF-8 after ENABLE UTF8=ACCEPT or IMAP4rev2) and the store's
 * UTF-8. Returns NULL with *error_r for invalid names. "INBOX" in any case
 * becomes "INBOX". */
const char *imapd_mailbox_name_in(struct imapd_client *client,
				  const char *name, const char **error_r);
void imapd_append_mailbox_name(struct imapd_client *client, struct buf *b,
			       const char *name);

/* --- imapd-mailbox.c: the selected mailbox's view --- */
int imapd_mailbox_open(struct imapd_client *client, int64_t mailbox_id,
		       const char *name, bool readonly, const char **error_r);
void imapd_mailbox_close(struct imapd_client *client);
/* Sends the untagged responses for changes other sessions made, as far as
 * allowed now (no EXPUNGE when allow_expunge is false). */
void imapd_mailbox_flush_changes(struct imapd_client *client,
				 bool allow_expunge);
/* Reads messages committed after the view's last UID and announces them
 * with EXISTS (after this session's own APPEND/COPY into the selected
 * mailbox, RFC 9051 section 6.3.12). */
void imapd_mailbox_sync_new(struct imapd_client *client);
void imapd_mailbox_add_own_modseq(struct imapd_mailbox *mbox, uint64_t modseq);
/* Removes the UIDs from the view and reports them: "* n EXPUNGE" for each
 * (in the order given, numbers as left by the ones before), or one
 * "* VANISHED uids" once QRESYNC is enabled (RFC 7162 section 3.2.10.2).
 * UIDs not in the view are skipped. */
void imapd_mailbox_expunged(struct imapd_client *client, const uint32_t *uids,
			    unsigned count);
/* Sends "* VANISHED (EARLIER) uids" (RFC 7162 section 3.2.10.1) for the
 * UIDs expunged from the selected mailbox with a modseq above
 * since_modseq, restricted to filter (a normalized UID set; NULL = all).
 * Nothing when there are none. Returns 1, or -1 with *error_r (store). */
int imapd_mailbox_vanished_earlier(struct imapd_client *client,
				   uint64_t since_modseq,
				   const struct imap_seqset *filter,
				   struct pool *pool, const char **error_r);
/* Appends VANISHED lines for uids (normalized, not empty); long sets are
 * split over several lines. */
void imapd_vanished_write(struct buf *b, bool earlier,
			  const struct imap_seqset *uids);
/* Parses a sequence set (or UID set when uid) and resolves it against the
 * view into sequence numbers (seqs_r) and UIDs (uids_r, may be NULL).
 * Returns 1, or -1 with *error_r (reply BAD). */
int imapd_mailbox_resolve_set(struct imapd_client *client, const char *str,
			      bool uid, struct imap_seqset *seqs_r,
			      struct imap_seqset *uids_r, const char **error_r);
/* Writes "(\Seen kw ...)" for store flags and keywords of uid. */
void imapd_append_flags(struct imapd_client *client, struct buf *b,
			uint32_t uid, uint32_t flags, const char *keywords);
bool imapd_mailbox_is_recent(struct imapd_client *client, uint32_t uid);
/* Messages in the view with uid >= recent_first_uid. */
uint32_t imapd_mailbox_recent_count(struct imapd_mailbox *mbox);

/* --- command families --- */
void imapd_cmd_capability(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_noop(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_logout(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_id(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_enable(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_starttls(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_namespace(struct imapd_client *, struct imapd_cmd *);

void imapd_cmd_login(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_authenticate(struct imapd_client *, struct imapd_cmd *);
void imapd_auth_input_line(struct imapd_client *, const char *line);
void imapd_auth_client_free(struct imapd_client *);

void imapd_cmd_select(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_create(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_delete(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_rename(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_subscribe(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_list(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_status(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_check(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_close(struct imapd_client *, struct imapd_cmd *);

void imapd_cmd_append(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_fetch(struct imapd_client *, struct imapd_cmd *);
void imapd_fetch_write_ready(struct imapd_client *);
void imapd_fetch_free(struct imapd_client *);
/* SELECT/EXAMINE with QRESYNC (RFC 7162 section 3.2.5.1): streams
 * "* n FETCH (UID u FLAGS (...) MODSEQ (m))" for the messages in seqs (a
 * normalized set of sequence numbers, taken over and cleared) whose modseq
 * is above changedsince (0 = all), then replies "OK ok_text". */
void imapd_fetch_changed(struct imapd_client *client, struct imap_seqset *seqs,
			 uint64_t changedsince, const char *ok_text);
void imapd_cmd_store(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_expunge(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_copy(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_search(struct imapd_client *, struct imapd_cmd *);
void imapd_cmd_idle(struct imapd_client *, struct imapd_cmd *);
void imapd_idle_input_line(struct imapd_client *, const char *line);

/* Commits txn and calls done on the client's thread once it is durable
 * (input paused meanwhile); done is skipped when the client went away. */
struct store_txn;
typedef void imapd_txn_done_t(struct imapd_client *client,
			      struct store_txn *txn, void *ctx);
void imapd_txn_commit(struct imapd_client *client, struct store_txn *txn,
		      imapd_txn_done_t *done, void *ctx);
/* Replies OK text, or NO with the store's error. */
void imapd_txn_reply(struct imapd_client *client, struct store_txn *txn,
		     const char *ok_text);

/* --- imapd-decode.c --- */
struct mime_part;
/* Decodes base64 / quoted-printable (RFC 2045 sections 6.7, 6.8); 7bit,
 * 8bit, binary and none are copied. Returns -1 for an unknown encoding. */
int imapd_cte_decode(const char *cte, const uint8_t *in, size_t len,
		     struct buf *out);
/* The part's Content-Transfer-Encoding token (NULL when absent), in tmp. */
const char *imapd_part_cte(const struct mime_part *part, char *tmp,
			   size_t size);

/* Maps a store error to an IMAP response code + text ("[NONEXISTENT] ..."). */
const char *imapd_store_error_text(int store_error, const char *text);

#endif
