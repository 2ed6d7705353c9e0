# SPDX-License-Identifier: MIT
"""Differential test: FETCH of body sections (BODY[n.m], MIME, HEADER,
TEXT, HEADER.FIELDS, partials, BINARY) on every corpus message, posthornd
against a throwaway Dovecot (Debian's dovecot-imapd) on the same bytes.
Skipped when Dovecot or ../shared is missing or when not root."""
import importlib.util
import imaplib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

if not os.path.exists(os.path.join(os.path.dirname(__file__), "conftest.py")):
    pytest.skip("needs the daemon's integration harness", allow_module_level=True)

from conftest import require_shared, require_store  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REFS = os.path.join(os.path.dirname(HERE), "corpus-ref", "make-refs.py")

USER = "alice@example.com"
PASSWORD = "correct horse"

SECTIONS = [
    "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]",
    "BODY.PEEK[1.MIME]", "BODY.PEEK[2]", "BODY.PEEK[2.MIME]",
    "BODY.PEEK[1.1]", "BODY.PEEK[1.2]", "BODY.PEEK[2.1]", "BODY.PEEK[2.2]",
    "BODY.PEEK[1.1.MIME]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]",
    "BODY.PEEK[3]", "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT RECEIVED)]",
    "BODY.PEEK[]<3.10>", "BODY.PEEK[1]<0.7>", "BODY.PEEK[TEXT]<5.100>",
    "RFC822.SIZE", "BINARY.PEEK[1]", "BINARY.SIZE[1]",
]


def load_refs():
    spec = importlib.util.spec_from_file_location("make_refs", REFS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def dovecot():
    if shutil.which("dovecot") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's dovecot-imapd")
    if not os.path.exists(REFS):
        pytest.skip("needs tests/corpus-ref/make-refs.py")
    refs = load_refs()
    tmp = tempfile.mkdtemp(prefix="posthorn-dovecot-")
    os.chmod(tmp, 0o755)
    port = refs.free_port()
    try:
        proc = refs.start_dovecot(tmp, port)
    except SystemExit as e:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(str(e))
    yield refs, port
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def fetch_value(c, seq, item):
    typ, data = c.fetch(str(seq), "(%s)" % item)
    if typ != "OK":
        return ("NO", typ)
    raw = b""
    for d in data:
        if isinstance(d, tuple):
            raw += d[0] + b"\r\n" + d[1]
        elif d is not None:
            raw += d
    # Drop "n (" and ")"; the item name stays (BODY[...]<origin>). A
    # stray "UID n)n (" from an unsolicited FETCH goes too.
    raw = re.sub(rb"^\d+ \(UID \d+\)", b"", raw)
    return re.sub(rb"^\d+ \(", b"", raw)[:-1]


def test_fetch_sections_match_dovecot(posthorn_factory, dovecot):
    require_store()
    corpus = require_shared("corpus")
    refs, port = dovecot
    msgs = refs.corpus_messages(corpus)
    server = posthorn_factory()
    if not re.search(r'listeners="[^"]*imap=', server.log()):
        pytest.skip("posthornd has no IMAP listener")
    server.cli("domain", "add", "example.com", check=True)
    server.cli("user", "add", USER, "--password-stdin",
               input=PASSWORD + "\n", check=True)

    saved = imaplib.MapCRLF
    imaplib.MapCRLF = re.compile(br"(?!)")  # append bytes as they are
    try:
        ours = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
        ours.login(USER, PASSWORD)
        theirs = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        theirs.login("test", "pass")
        for _, data in msgs:
            assert ours.append("INBOX", None, None, data)[0] == "OK"
            assert theirs.append("INBOX", None, None, data)[0] == "OK"
    finally:
        imaplib.MapCRLF = saved
    ours.select("INBOX")
    theirs.select("INBOX")

    def reconnect():
        c = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        c.login("test", "pass")
        c.select("INBOX")
        return c

    # Whether part 1 of each message is a leaf (not multipart/message).
    leaf1 = {}
    for seq in range(1, len(msgs) + 1):
        bs = fetch_value(ours, seq, "BODYSTRUCTURE")
        first = bs[len(b"BODYSTRUCTURE "):]
        if first.startswith(b"(("):
            first = first[1:]
        leaf1[seq] = not (first.startswith(b"((") or
                          first.lower().startswith(b'("message" "rfc822"'))

    diffs = []
    skipped = []
    for seq, (name, _) in enumerate(msgs, 1):
        binary_len = None
        for item in SECTIONS:
            try:
                b = fetch_value(theirs, seq, item)
            except imaplib.IMAP4.abort:
                # Dovecot itself fails on some items of broken mail
                # (e.g. BINARY of an invalid encoding): no oracle there.
                skipped.append("%s %s" % (name, item))
                theirs = reconnect()
                continue
            a = fetch_value(ours, seq, item)
            if item.startswith("BINARY") and not leaf1[seq]:
                # BINARY of a multipart or message part: Dovecot decodes
                # the parts inside and its BINARY.SIZE does not match its
                # own BINARY; ours is the part's content as is.
                continue
            if item == "BINARY.SIZE[1]" and isinstance(b, tuple):
                continue  # Dovecot: NO [UNKNOWN-CTE] for odd encodings
            if item == "BINARY.PEEK[1]" and isinstance(b, bytes):
                m = re.match(rb"BINARY\[1\] ~?\{(\d+)\}", b)
                binary_len = int(m.group(1)) if m else None
            if item == "BINARY.SIZE[1]" and \
                    a == b"BINARY.SIZE[1] %d" % (binary_len or -1):
                # Dovecot's BINARY.SIZE sometimes differs from the size of
                # its own BINARY[1]; ours is that size (RFC 3516 4.2).
                continue
            if a != b:
                diffs.append("%s %s:\n  ours   %r\n  dovecot %r"
                             % (name, item, a[:300], b[:300]))
    ours.logout()
    theirs.logout()
    print("no oracle for: %s" % ", ".join(skipped))
    assert not diffs, "%d differences:\n%s" % (len(diffs), "\n".join(diffs[:40]))
