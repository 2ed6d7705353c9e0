/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "buf.h"
#include "config.h"

#include <limits.h>

/* Command families linked into this build. The store-backed families need
 * src/store and src/lib-auth (HAVE_STORE, set by src/cli/meson.build). */
static const struct cli_family *const cli_families[] = {
#ifdef HAVE_STORE
	&cli_family_domain,
	&cli_family_user,
	&cli_family_alias,
	&cli_family_import,
	&cli_family_export,
	&cli_family_queue,
#endif
#ifdef HAVE_DKIM
	&cli_family_dkim,
#endif
#ifdef HAVE_DMARC_REPORT
	&cli_family_dmarc,
#endif
#ifdef HAVE_CLI_DNS
	&cli_family_dns,
#endif
	NULL
};

static const struct {
	const char *name, *summary;
} cli_families_planned[] = {
	{ "domain", "local domains" },
	{ "user", "accounts and passwords" },
	{ "alias", "aliases and catch-alls" },
};

static void usage(FILE *out)
{
	fputs("Usage: posthorn [-c FILE] COMMAND VERB [ARGS...]\n\n", out);
	for (size_t i = 0; cli_families[i] != NULL; i++) {
		const struct cli_family *f = cli_families[i];
		for (size_t j = 0; f->commands[j].verb != NULL; j++)
			fprintf(out, "  posthorn %s %s%s%s\n", f->name,
				f->commands[j].verb,
				f->commands[j].verb[0] != '\0' ? " " : "",
				f->commands[j].usage);
	}
	if (cli_families[0] == NULL) {
		for (size_t i = 0; i < N_ELEMENTS(cli_families_planned); i++)
			fprintf(out, "  posthorn %s ...  (%s: needs the store, not built yet)\n",
				cli_families_planned[i].name,
				cli_families_planned[i].summary);
	}
	fputs("\nOptions:\n"
	      "  -c, --config FILE  the configuration posthornd uses (default:\n"
	      "                     the embedded default, data in ./posthorn-data)\n"
	      "  --password-stdin   read the password as one line from stdin\n"
	      "  -V, --version      print the version\n"
	      "  -h, --help         this text\n"
	      "\nSee posthorn(8).\n", out);
}

static int run_command(struct cli *cli, const struct cli_family *family,
		       int argc, char **argv)
{
	const struct cli_command *cmd = NULL, *verbless = NULL;
	for (size_t i = 0; family->commands[i].verb != NULL; i++) {
		if (family->commands[i].verb[0] == '\0')
			verbless = &family->commands[i];
		else if (argc >= 1 &&
			 strcmp(family->commands[i].verb, argv[0]) == 0)
			cmd = &family->commands[i];
	}
	if (cmd == NULL && verbless != NULL) {
		/* "posthorn dns DOMAIN": the arguments start right after
		 * the family name (argv[0] is skipped below). */
		cmd = verbless;
		argc++;
		argv--;
	}
	if (argc < 1)
		return cli_error("usage: posthorn %s VERB ... (see posthorn --help)",
				 family->name);
	if (cmd == NULL)
		return cli_error("unknown command: %s %s (see posthorn --help)",
				 family->name, argv[0]);

	char **args = i_new(char *, (size_t)argc);
	unsigned count = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0 &&
		    (cmd->flags & CLI_FLAG_PASSWORD_STDIN) != 0) {
			cli->password_stdin = true;
		} else if (argv[i][0] == '-' && argv[i][1] == '-' &&
			   (cmd->flags & CLI_FLAG_OPTIONS) == 0) {
			i_free(args);
			return cli_error("unknown option for %s %s: %s", family->name,
					 cmd->verb, argv[i]);
		} else {
			args[count++] = argv[i];
		}
	}
	if (count < cmd->min_args || count > cmd->max_args) {
		i_free(args);
		return cli_error("usage: posthorn %s %s%s%s", family->name,
				 cmd->verb, cmd->verb[0] != '\0' ? " " : "",
				 cmd->usage);
	}
	int ret = cmd->run(cli, args, count);
	i_free(args);
	return ret;
}

int main(int argc, char **argv)
{
	struct cli cli;
	int i = 1;

	memset(&cli, 0, sizeof(cli));
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return cli_error("%s needs a file name", a);
			cli.config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			cli.config_path = a + 9;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("posthorn %s\n", POSTHORN_VERSION);
			return 0;
		} else {
			return cli_error("unknown option: %s (see posthorn --help)", a);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}

	const struct cli_family *family = NULL;
	for (size_t f = 0; cli_families[f] != NULL; f++) {
		if (strcmp(cli_families[f]->name, argv[i]) == 0)
			family = cli_families[f];
	}
	if (family == NULL) {
		for (size_t f = 0; f < N_ELEMENTS(cli_families_planned); f++) {
			if (strcmp(cli_families_planned[f].name, argv[i]) == 0)
				return cli_error("%s: not available in this build (the store is not built yet)",
						 argv[i]);
		}
		return cli_error("unknown command: %s (see posthorn --help)", argv[i]);
	}

	struct buf errors = BUF_INIT;
	if (config_load(cli.config_path, &cli.config, &errors) < 0) {
		/* The first problem is enough here: posthornd --check lists
		 * them all. */
		const char *text = buf_cstr(&errors);
		int len = (int)strcspn(text, "\n");
		cli_error("bad configuration: %.*s", len, text);
		buf_free(&errors);
		return 1;
	}
	buf_free(&errors);

	int ret = run_command(&cli, family, argc - i - 1, argv + i + 1);
#ifdef HAVE_STORE
	cli_store_close(&cli);
#endif
	config_unref(&cli.config);
	return ret;
}
