/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "config.h"
#include "control-client.h"
#include "strutil.h"

#include <ctype.h>
#include <termios.h>
#include <unistd.h>

/* Longest password taken (lib-auth's AUTH_PASSWORD_MAX_LEN). */
#define CLI_PASSWORD_MAX 1024

int cli_error(const char *fmt, ...)
{
	va_list args;
	fputs("posthorn: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	return 1;
}

void cli_warning(const char *fmt, ...)
{
	va_list args;
	fputs("posthorn: warning: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
}

void cli_password_free(char **password)
{
	if (*password == NULL)
		return;
	explicit_bzero(*password, strlen(*password));
	i_free(*password);
}

/* One line from fd, without its line end; NULL at EOF before any byte. */
static char *read_line(FILE *fp, bool *too_long_r)
{
	char *line = NULL;
	size_t size = 0;
	ssize_t n = getline(&line, &size, fp);
	*too_long_r = false;
	if (n < 0) {
		free(line);
		return NULL;
	}
	size_t len = (size_t)n;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	line[len] = '\0';
	if (len > CLI_PASSWORD_MAX || strlen(line) != len)
		*too_long_r = true;
	char *copy = i_strdup(line);
	explicit_bzero(line, size);
	free(line);
	return copy;
}

static char *prompt_noecho(const char *prompt)
{
	struct termios old, noecho;
	bool too_long;

	/* Echo goes off before the prompt appears: whoever answers it (a
	 * person or a script watching for the prompt) types into a terminal
	 * that no longer echoes, and nothing typed is flushed away. */
	bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
	if (restore) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &noecho);
	}
	fputs(prompt, stderr);
	fflush(stderr);
	char *pw = read_line(stdin, &too_long);
	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
	if (pw != NULL && too_long) {
		cli_password_free(&pw);
		cli_error("password too long (max %d bytes)", CLI_PASSWORD_MAX);
		return NULL;
	}
	return pw;
}

char *cli_password_read(struct cli *cli, bool confirm)
{
	char *pw;
	if (cli->password_stdin || !isatty(STDIN_FILENO)) {
		bool too_long;
		pw = read_line(stdin, &too_long);
		if (pw != NULL && too_long) {
			cli_password_free(&pw);
			cli_error("password too long or contains a NUL byte (max %d bytes)",
				  CLI_PASSWORD_MAX);
			return NULL;
		}
	} else {
		pw = prompt_noecho("Password: ");
		if (pw != NULL && pw[0] != '\0' && confirm) {
			char *again = prompt_noecho("Retype password: ");
			bool same = again != NULL && strcmp(pw, again) == 0;
			cli_password_free(&again);
			if (!same) {
				cli_password_free(&pw);
				cli_error("passwords do not match");
				return NULL;
			}
		}
	}
	if (pw == NULL || pw[0] == '\0') {
		cli_password_free(&pw);
		cli_error("missing password");
		return NULL;
	}
	return pw;
}

void cli_notify(struct cli *cli, const char *command)
{
	char *reply = NULL;
	const char *error;
	int ret = control_client_send(cli->config->server.data_dir, command,
				      5000, &reply, &error);
	if (ret < 0) {
		cli_warning("could not tell the daemon (%s): %s", command, error);
		return;
	}
	if (ret > 0 && strncmp(reply, "OK", 2) != 0)
		cli_warning("daemon answered %s: %s", command, reply);
	i_free(reply);
}

bool cli_domain_valid(char *domain)
{
	size_t len = strlen(domain), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = domain[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || domain[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '-') {
			if (label == 0 && c == '-')
				return false;
			label++;
		} else {
			return false;
		}
	}
	str_ascii_lower(domain);
	return true;
}

/* RFC 5321 section 4.1.2 Dot-string: atoms of atext joined by single
 * dots. Quoted local parts are not taken for accounts. */
static bool local_part_valid(const char *s, size_t len)
{
	static const char atext_specials[] = "!#$%&'*+-/=?^_`{|}~";
	if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!isalnum(c) && strchr(atext_specials, c) == NULL) {
			return false;
		}
	}
	return true;
}

bool cli_address_valid(char *address)
{
	char *at = strrchr(address, '@');
	if (at == NULL || strlen(address) > 254)
		return false;
	if (!local_part_valid(address, (size_t)(at - address)))
		return false;
	if (!cli_domain_valid(at + 1))
		return false;
	str_ascii_lower(address);
	return true;
}

int cli_mailbox_args(char **args, unsigned count, const char *usage,
		     const char **mailbox_r)
{
	*mailbox_r = NULL;
	unsigned positional = 0;
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(args[i], "--mailbox") == 0) {
			if (i + 1 >= count || *mailbox_r != NULL)
				return cli_error("usage: %s", usage);
			*mailbox_r = args[++i];
		} else if (strncmp(args[i], "--", 2) == 0) {
			return cli_error("unknown option: %s", args[i]);
		} else {
			args[positional++] = args[i];
		}
	}
	if (positional != 2)
		return cli_error("usage: %s", usage);
	return 0;
}
