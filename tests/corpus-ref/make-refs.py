#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates the golden BODYSTRUCTURE / ENVELOPE / BODY files in this
directory with Dovecot as the oracle.

Needs root and Debian's dovecot-imapd (apt-get install dovecot-imapd). It
starts a throwaway Dovecot on 127.0.0.1 (a free high port, a temporary
Maildir, a passwd-file user), APPENDs every corpus message the way the store
would hold it (mbox files split on "From " lines, bare LF turned into CRLF),
FETCHes BODYSTRUCTURE, ENVELOPE and BODY, and writes one .ref per message.
Besides the shared corpus it runs our own edge cases in extra-src/ (refs in
extra/).

    tests/corpus-ref/make-refs.py [CORPUS_DIR]     (default ../shared/corpus)

.ref format (binary safe, read by tests/unit/lib-imap/test-corpus.c):
    "<ITEM> <length>\n" <length bytes of the FETCH value> "\n"
for ITEM in BODYSTRUCTURE, ENVELOPE, BODY, exactly as Dovecot sent them
(literals included as "{n}\r\n..."). The message splitting rules here and in
tests/unit/lib-imap/corpus.c must stay the same.

Known differences where we deliberately do not follow Dovecot are listed in
README.md beside this script.
"""
import imaplib
import os
import re
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def to_crlf(data):
    out = bytearray()
    prev = 0
    for i, c in enumerate(data):
        if c == 0x0A and (i == 0 or data[i - 1] != 0x0D):
            out += data[prev:i] + b"\r\n"
            prev = i + 1
    out += data[prev:]
    return bytes(out)


def split_mbox(data):
    """Every line starting with "From " starts a message (the line itself is
    dropped); one blank line before the next "From " is the separator."""
    msgs = []
    cur = None
    lines = [l + b"\n" for l in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    for line in lines:
        if not line:
            continue
        if line.startswith(b"From "):
            if cur is not None:
                msgs.append(cur)
            cur = bytearray()
            continue
        if cur is None:
            cur = bytearray()
        cur += line
    if cur is not None:
        msgs.append(cur)
    out = []
    for m in msgs:
        m = bytes(m)
        if m.endswith(b"\n\n"):
            m = m[:-1]
        out.append(m)
    return out


def corpus_messages(corpus):
    """(ref name, CRLF message bytes), in a stable order."""
    res = []
    mdir = os.path.join(corpus, "messages")
    for name in sorted(os.listdir(mdir)):
        with open(os.path.join(mdir, name), "rb") as f:
            res.append(("messages/" + name, to_crlf(f.read())))
    # our own edge cases, kept beside this script
    edir = os.path.join(HERE, "extra-src")
    for name in sorted(os.listdir(edir)):
        with open(os.path.join(edir, name), "rb") as f:
            res.append(("extra/" + name, to_crlf(f.read())))
    bdir = os.path.join(corpus, "mbox")
    for name in sorted(os.listdir(bdir)):
        with open(os.path.join(bdir, name), "rb") as f:
            for i, m in enumerate(split_mbox(f.read()), 1):
                res.append(("mbox/%s.%d" % (name, i), to_crlf(m)))
    return res


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_dovecot(tmp, port):
    pw = pwd.getpwnam("dovecot")
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    with open(os.path.join(tmp, "users"), "w") as f:
        f.write("test:{PLAIN}pass:%d:%d::%s\n" % (pw.pw_uid, pw.pw_gid, home))
    conf = os.path.join(tmp, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("""
protocols = imap
listen = 127.0.0.1
base_dir = %(tmp)s/run
state_dir = %(tmp)s/state
log_path = %(tmp)s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 0
mail_location = maildir:~/Maildir
# store messages byte for byte (the default turns CRLF into LF, which
# loses a byte of CR CR LF and of a CR at the very end)
mail_save_crlf = yes
passdb {
  driver = passwd-file
  args = %(tmp)s/users
}
userdb {
  driver = passwd-file
  args = %(tmp)s/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
""" % {"tmp": tmp, "port": port})
    proc = subprocess.Popen(["dovecot", "-F", "-c", conf])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("dovecot did not start; see %s/dovecot.log" % tmp)


def raw_fetch(imap, seq, item):
    typ, data = imap.fetch(str(seq), "(%s)" % item)
    if typ != "OK":
        raise RuntimeError("FETCH %s failed: %r" % (item, data))
    raw = b""
    for d in data:
        if isinstance(d, tuple):
            raw += d[0] + b"\r\n" + d[1]
        else:
            raw += d
    prefix = b"%d (%s " % (seq, item.encode())
    if not raw.startswith(prefix) or not raw.endswith(b")"):
        raise RuntimeError("unexpected FETCH response: %r" % raw[:200])
    return raw[len(prefix):-1]


def main():
    # imaplib.append() rewrites bare CR and LF to CRLF; our messages are
    # already in their stored form and must reach Dovecot byte for byte.
    imaplib.MapCRLF = re.compile(br"(?!)")
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "..", "shared", "corpus")
    msgs = corpus_messages(corpus)
    tmp = tempfile.mkdtemp(prefix="posthorn-refs-")
    os.chmod(tmp, 0o755)
    port = free_port()
    proc = start_dovecot(tmp, port)
    try:
        imap = imaplib.IMAP4("127.0.0.1", port)
        imap.login("test", "pass")
        imap.select("INBOX")
        for seq, (name, msg) in enumerate(msgs, 1):
            typ, data = imap.append("INBOX", None, None, msg)
            if typ != "OK":
                raise RuntimeError("APPEND %s: %r" % (name, data))
            imap.noop()
            out = b""
            for item in ("BODYSTRUCTURE", "ENVELOPE", "BODY"):
                v = raw_fetch(imap, seq, item)
                out += b"%s %d\n" % (item.encode(), len(v)) + v + b"\n"
            path = os.path.join(HERE, name + ".ref")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(out)
        imap.logout()
        print("wrote %d reference files" % len(msgs))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
