/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTP_ADDRESS_PRIVATE_H
#define POSTHORN_SMTP_ADDRESS_PRIVATE_H

#include "smtp-address.h"

/* Why an address was refused, so MAIL and RCPT can pick reply codes. */
enum smtp_address_error {
	SMTP_ADDRESS_OK = 0,
	SMTP_ADDRESS_ERR_SYNTAX,
	SMTP_ADDRESS_ERR_LOCALPART_LONG,
	SMTP_ADDRESS_ERR_DOMAIN_LONG,
	SMTP_ADDRESS_ERR_PATH_LONG,
	SMTP_ADDRESS_ERR_NON_ASCII, /* 8-bit octets without ALLOW_UTF8 */
	SMTP_ADDRESS_ERR_BAD_UTF8,
};

int smtp_path_parse_full(const char *s, struct pool *pool,
			 enum smtp_address_flags flags, bool allow_null,
			 struct smtp_address *addr_r, const char **end_r,
			 enum smtp_address_error *code_r,
			 const char **error_r);

#endif
