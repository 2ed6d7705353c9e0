/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_CONTROL_CLIENT_H
#define POSTHORN_CONTROL_CLIENT_H

/* The control socket: a Unix stream socket named CONTROL_SOCKET_NAME in the
 * data directory (mode 0600), where a running posthornd takes one-line
 * commands from the posthorn command and answers each with one line:
 *
 *   ping                          -> OK pong
 *   auth-flush ADDRESS [ID]       -> OK   drop cached authentications
 *   queue-wake                    -> OK   retry the outbound queue now
 *   queue-kick                    -> OK   send what is due now (no flush)
 *   mailbox-changed ADDRESS BOX   -> OK   new mail for IDLE sessions
 *   reload                        -> OK   as SIGHUP
 *
 * Errors are "ERR <text>". Lines end in LF and are at most
 * CONTROL_LINE_MAX bytes; arguments are separated by one space and may not
 * contain spaces or control characters. See control.c in src/daemon for the
 * server. */

#define CONTROL_SOCKET_NAME "control"
#define CONTROL_LINE_MAX 1024

/* Sends one command and reads the reply, waiting at most timeout_ms in
 * all. Returns 1 with *reply_r (i_malloc'd, without the line end), 0 when
 * no daemon is listening (no socket, or connection refused: not an error
 * for the admin command), or -1 with *error_r (thread-local text). */
int control_client_send(const char *data_dir, const char *command,
			unsigned timeout_ms, char **reply_r,
			const char **error_r);

#endif
