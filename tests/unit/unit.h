/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_UNIT_H
#define POSTHORN_UNIT_H

/* What every cmocka test file includes: cmocka needs these standard headers
 * before its own, and setjmp must come before lib.h poisons nothing it uses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib.h"

#endif
