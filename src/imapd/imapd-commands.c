/* SPDX-License-Identifier: MIT */
#include "imapd.h"

/* Which command runs in which state (RFC 9051 sections 6.1 to 6.4). */
static const struct imapd_command imapd_commands[] = {
	{ "APPEND", imapd_cmd_append, IMAPD_CMD_AUTHED },
	{ "AUTHENTICATE", imapd_cmd_authenticate, IMAPD_CMD_NOT_AUTH },
	{ "CAPABILITY", imapd_cmd_capability, IMAPD_CMD_ANY },
	{ "CHECK", imapd_cmd_check, IMAPD_CMD_SELECTED },
	{ "CLOSE", imapd_cmd_close, IMAPD_CMD_SELECTED },
	{ "COPY", imapd_cmd_copy, IMAPD_CMD_SELECTED | IMAPD_CMD_UID },
	{ "CREATE", imapd_cmd_create, IMAPD_CMD_AUTHED },
	{ "DELETE", imapd_cmd_delete, IMAPD_CMD_AUTHED },
	{ "ENABLE", imapd_cmd_enable, IMAPD_CMD_AUTHED },
	{ "EXAMINE", imapd_cmd_select, IMAPD_CMD_AUTHED },
	{ "EXPUNGE", imapd_cmd_expunge, IMAPD_CMD_SELECTED | IMAPD_CMD_UID },
	{ "FETCH", imapd_cmd_fetch,
	  IMAPD_CMD_SELECTED | IMAPD_CMD_UID | IMAPD_CMD_NO_EXPUNGE },
	{ "ID", imapd_cmd_id, IMAPD_CMD_ANY },
	{ "IDLE", imapd_cmd_idle, IMAPD_CMD_AUTHED },
	{ "LIST", imapd_cmd_list, IMAPD_CMD_AUTHED },
	{ "LOGIN", imapd_cmd_login, IMAPD_CMD_NOT_AUTH },
	{ "LOGOUT", imapd_cmd_logout, IMAPD_CMD_ANY },
	{ "LSUB", imapd_cmd_list, IMAPD_CMD_AUTHED },
	{ "MOVE", imapd_cmd_copy, IMAPD_CMD_SELECTED | IMAPD_CMD_UID },
	{ "NAMESPACE", imapd_cmd_namespace, IMAPD_CMD_AUTHED },
	{ "NOOP", imapd_cmd_noop, IMAPD_CMD_ANY },
	{ "RENAME", imapd_cmd_rename, IMAPD_CMD_AUTHED },
	{ "SEARCH", imapd_cmd_search,
	  IMAPD_CMD_SELECTED | IMAPD_CMD_UID | IMAPD_CMD_NO_EXPUNGE },
	{ "SELECT", imapd_cmd_select, IMAPD_CMD_AUTHED },
	{ "STARTTLS", imapd_cmd_starttls, IMAPD_CMD_NOT_AUTH },
	{ "STATUS", imapd_cmd_status, IMAPD_CMD_AUTHED },
	{ "STORE", imapd_cmd_store,
	  IMAPD_CMD_SELECTED | IMAPD_CMD_UID | IMAPD_CMD_NO_EXPUNGE },
	{ "SUBSCRIBE", imapd_cmd_subscribe, IMAPD_CMD_AUTHED },
	{ "UNSELECT", imapd_cmd_close, IMAPD_CMD_SELECTED },
	{ "UNSUBSCRIBE", imapd_cmd_subscribe, IMAPD_CMD_AUTHED },
};

const struct imapd_command *imapd_command_find(const char *name)
{
	size_t lo = 0, hi = N_ELEMENTS(imapd_commands);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(name, imapd_commands[mid].name);
		if (cmp == 0)
			return &imapd_commands[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
