# SPDX-License-Identifier: MIT
"""Least privilege after a real run: posthornd started as root with
user = nobody receives mail over SMTP and IMAP APPEND, accounts are made
with the posthorn command, then every file under the data directory must
be 0600 (or stricter) and every directory 0700, all owned by the daemon's
user, recursively."""
import imaplib
import os
import pwd
import re
import smtplib
import stat

import pytest

try:
    from conftest import require_store
except ImportError:
    pytest.skip("needs the integration harness", allow_module_level=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_data_files_0600_dirs_0700(posthorn_factory, world_dir):
    require_store()
    nobody = pwd.getpwnam("nobody")
    server = posthorn_factory(user="nobody", workdir=world_dir)
    if not re.search(r'listeners="[^"]*smtp=[^"]*imap=', server.log()):
        pytest.skip("smtp or imap not built in")
    server.cli("domain", "add", "example.org", check=True)
    server.cli("user", "add", "alice@example.org", "--password-stdin",
               input="pw\n", check=True)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("x@example.net", ["alice@example.org"],
                   b"Subject: one\r\n\r\nbody\r\n" + b"y" * 900 + b"\r\n" * 100)
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    c.login("alice@example.org", "pw")
    res = c.create("Projects")
    assert res[0] == "OK", res
    assert c.append("Projects", r"(\Seen)", None,
                    b"Subject: two\r\n\r\nbody\r\n")[0] == "OK"
    c.logout()
    server.control("ping")

    bad = []
    count = 0
    for root, dirs, files in os.walk(server.data_dir):
        for name in dirs + files + [""]:
            p = os.path.join(root, name) if name else root
            st = os.lstat(p)
            count += 1
            mode = stat.S_IMODE(st.st_mode)
            if st.st_uid != nobody.pw_uid:
                bad.append("%s owned by uid %d" % (p, st.st_uid))
            if stat.S_ISDIR(st.st_mode):
                if mode != 0o700:
                    bad.append("%s dir mode %o" % (p, mode))
            elif mode & 0o077:
                bad.append("%s mode %o" % (p, mode))
    assert count > 3
    assert not bad, "\n".join(bad)
