/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "net-test-util.h"
int main(void) { return 0; }
