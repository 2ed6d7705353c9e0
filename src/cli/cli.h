/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_CLI_H
#define POSTHORN_CLI_H

#include <stdbool.h>
#include "lib.h"

/* The posthorn admin command: `posthorn [-c FILE] FAMILY VERB ARGS...`.
 * Each command family (domain, user, alias; later quota, import, export,
 * dkim) lives in its own cli-<family>.c with a table of verbs; main.c
 * dispatches. Every failure is one line on stderr, "posthorn: ...", and
 * exit status 1. */

struct config;
struct store;

struct cli {
	const char *config_path; /* NULL = embedded default */
	struct config *config;
	/* Opened on first use by cli_store(). */
	struct store *store;
	/* --password-stdin was given. */
	bool password_stdin;
};

#define CLI_FLAG_PASSWORD_STDIN 0x1 /* accepts --password-stdin */
#define CLI_FLAG_OPTIONS 0x2 /* other --options reach run() as arguments */

struct cli_command {
	const char *verb;
	const char *usage; /* arguments after the verb, for messages */
	unsigned min_args, max_args; /* positional; max UINT_MAX = any */
	unsigned flags;
	/* Returns the exit status (0 ok, 1 failure after cli_error()). */
	int (*run)(struct cli *cli, char **args, unsigned count);
};

struct cli_family {
	const char *name;
	const char *summary;
	const struct cli_command *commands; /* ends with verb NULL */
};

extern const struct cli_family cli_family_domain;
extern const struct cli_family cli_family_user;
extern const struct cli_family cli_family_alias;
extern const struct cli_family cli_family_import;
extern const struct cli_family cli_family_export;
extern const struct cli_family cli_family_dkim;
extern const struct cli_family cli_family_queue;
extern const struct cli_family cli_family_dmarc;
extern const struct cli_family cli_family_dns;

/* Arguments of import/export: ADDRESS PATH [--mailbox NAME]. Moves the two
 * positional arguments to args[0] and args[1]; returns 0 with *mailbox_r
 * NULL when --mailbox was not given, or 1 after cli_error(usage). */
int cli_mailbox_args(char **args, unsigned count, const char *usage,
		     const char **mailbox_r);

/* Prints "posthorn: <message>" on stderr; returns 1 (the exit status). */
int cli_error(const char *fmt, ...) ATTR_FORMAT(1, 2);
/* Prints "posthorn: warning: <message>" on stderr. */
void cli_warning(const char *fmt, ...) ATTR_FORMAT(1, 2);

/* Opens the store of the configured data directory, switching to the
 * directory owner's user first when running as root. Returns the store,
 * or NULL after cli_error(). */
struct store *cli_store(struct cli *cli);
/* Closes the store if it was opened (waits for its writer). */
void cli_store_close(struct cli *cli);

/* Reads a new password: with --password-stdin or when stdin is not a
 * terminal, one line from stdin; otherwise a prompt without echo, asked
 * twice when confirm. Returns an i_malloc'd string (wipe and free it with
 * cli_password_free()), or NULL after cli_error() (missing, empty, too
 * long, mismatch). */
char *cli_password_read(struct cli *cli, bool confirm);
void cli_password_free(char **password);

/* Tells a running daemon what changed (control-client.h); no daemon is
 * not an error, a failure is only a warning (the change itself is done). */
void cli_notify(struct cli *cli, const char *command);

/* Syntax checks for admin input; addresses and domains are lower-cased in
 * place. */
bool cli_domain_valid(char *domain);
bool cli_address_valid(char *address);

#endif
