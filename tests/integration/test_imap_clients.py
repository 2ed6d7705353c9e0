# SPDX-License-Identifier: MIT
"""Real IMAP clients against posthornd: curl (imap:// and imaps://),
mbsync (isync) syncing both ways, fetchmail over IMAP."""
import glob
import imaplib
import os
import re
import shutil
import subprocess

import pytest

if not os.path.exists(os.path.join(os.path.dirname(__file__), "conftest.py")):
    pytest.skip("needs the daemon's integration harness", allow_module_level=True)

from conftest import require_store  # noqa: E402

USER = "alice@example.com"
PASSWORD = "correct horse"
MSG = (b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n"
       b"Subject: client test %d\r\nMessage-ID: <c%d@example.org>\r\n\r\n"
       b"body %d\r\n")


@pytest.fixture
def imap(posthorn_factory):
    require_store()
    server = posthorn_factory()
    if not re.search(r'listeners="[^"]*imap=', server.log()):
        pytest.skip("posthornd has no IMAP listener (imapd not built in)")
    server.cli("domain", "add", "example.com", check=True)
    server.cli("user", "add", USER, "--password-stdin",
               input=PASSWORD + "\n", check=True)
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    c.login(USER, PASSWORD)
    for i in (1, 2):
        assert c.append("INBOX", None, None, MSG % (i, i, i))[0] == "OK"
    c.logout()
    return server


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip("%s is not installed" % tool)


def test_curl_imap_and_imaps(imap):
    need("curl")
    base = "imap://127.0.0.1:%d" % imap.ports["imap"]
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--user",
                          "%s:%s" % (USER, PASSWORD), base + "/"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "INBOX" in out.stdout and "Sent" in out.stdout
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--user",
                          "%s:%s" % (USER, PASSWORD), base + "/INBOX;UID=2"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Subject: client test 2" in out.stdout and "body 2" in out.stdout
    out = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", "--user",
                          "%s:%s" % (USER, PASSWORD),
                          "imaps://127.0.0.1:%d/INBOX;UID=1" % imap.ports["imaps"]],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "body 1" in out.stdout
    # STARTTLS required by the client.
    out = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "20",
                          "--user", "%s:%s" % (USER, PASSWORD),
                          base + "/INBOX;UID=1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "body 1" in out.stdout


def test_mbsync_both_ways(imap, tmp_path):
    need("mbsync")
    local = tmp_path / "mail"
    local.mkdir()
    cert = os.path.join(imap.data_dir, "selfsigned-cert.pem")
    rc = tmp_path / "mbsyncrc"
    rc.write_text("""IMAPAccount acc
Host 127.0.0.1
Port %d
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
Timeout 20

IMAPStore remote
Account acc

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns INBOX Sent
Create Both
Expunge Both
SyncState *
""" % (imap.ports["imaps"], USER, PASSWORD, cert, local, local))

    def sync():
        out = subprocess.run(["mbsync", "-c", str(rc), "ch"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr

    sync()
    files = glob.glob(str(local / "INBOX" / "*" / "*"))
    assert len(files) == 2
    assert any(b"body 1" in open(f, "rb").read() for f in files)
    # A local message goes up; a local flag change too.
    with open(local / "INBOX" / "new" / "1.local:2,", "wb") as f:
        f.write(MSG % (3, 3, 3))
    first = sorted(glob.glob(str(local / "INBOX" / "cur" / "*")) +
                   glob.glob(str(local / "INBOX" / "new" / "*,U=1*")))[0]
    base = os.path.basename(first)
    os.rename(first, str(local / "INBOX" / "cur" / (base.split(":2,")[0] + ":2,S")))
    sync()
    c = imaplib.IMAP4("127.0.0.1", imap.ports["imap"], timeout=10)
    c.login(USER, PASSWORD)
    c.select("INBOX")
    typ, data = c.search(None, "ALL")
    assert data == [b"1 2 3"]
    typ, data = c.fetch("3", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"body 3\r\n"
    typ, data = c.search(None, "SEEN")
    assert data[0] != b""
    # A server-side expunge goes down.
    c.store("1", "+FLAGS", "\\Deleted")
    c.expunge()
    c.logout()
    sync()
    files = glob.glob(str(local / "INBOX" / "*" / "*"))
    assert len(files) == 2


def test_fetchmail(imap, tmp_path):
    need("fetchmail")
    out_file = tmp_path / "delivered"
    rc = tmp_path / "fetchmailrc"
    rc.write_text("""set no syslog
poll 127.0.0.1 protocol IMAP port %d auth password
  user "%s" password "%s" is root here
  keep
  sslproto '' no sslcertck
  mda "/bin/sh -c 'cat >> %s'"
""" % (imap.ports["imap"], USER, PASSWORD, out_file))
    os.chmod(rc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=str(tmp_path), HOME=str(tmp_path))
    out = subprocess.run(["fetchmail", "-f", str(rc), "-v", "--nodetach"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    data = out_file.read_bytes()
    assert b"body 1" in data and b"body 2" in data
