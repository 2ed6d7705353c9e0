# SPDX-License-Identifier: MIT
"""QRESYNC (RFC 7162 section 3.2) against a real posthornd: ENABLE, SELECT
with the QRESYNC parameter after another session expunged and changed flags,
VANISHED instead of EXPUNGE (own EXPUNGE, UID EXPUNGE, MOVE, another
session's expunge during NOOP and IDLE), UID FETCH (CHANGEDSINCE VANISHED)
and the errors. Driven over a raw socket so every untagged line is seen."""
import os
import re
import socket

import pytest

if not os.path.exists(os.path.join(os.path.dirname(__file__), "conftest.py")):
    pytest.skip("needs the daemon's integration harness", allow_module_level=True)

from conftest import require_store  # noqa: E402

USER = "alice@example.com"
PASSWORD = "correct horse"


def message(n):
    return (b"From: bob@example.org\r\nTo: alice@example.com\r\n"
            b"Subject: message %d\r\n\r\nbody %d\r\n" % (n, n))


@pytest.fixture
def imap(posthorn_factory):
    require_store()
    server = posthorn_factory()
    if not re.search(r'listeners="[^"]*imap=', server.log()):
        pytest.skip("posthornd has no IMAP listener (imapd not built in)")
    server.cli("domain", "add", "example.com", check=True)
    server.cli("user", "add", USER, "--password-stdin",
               input=PASSWORD + "\n", check=True)
    return server


class Session:
    """One IMAP connection; cmd() returns (untagged lines, tagged line)."""

    def __init__(self, server):
        self.sock = socket.create_connection(("127.0.0.1", server.ports["imap"]),
                                             10)
        self.f = self.sock.makefile("rb")
        self.n = 0
        assert self.readline().startswith("* OK")
        self.ok("LOGIN %s \"%s\"" % (USER, PASSWORD))

    def readline(self):
        line = self.f.readline()
        assert line.endswith(b"\r\n"), line
        return line[:-2].decode()

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def cmd(self, line):
        self.n += 1
        tag = "q%d" % self.n
        self.send("%s %s" % (tag, line))
        untagged = []
        while True:
            got = self.readline()
            if got.startswith(tag + " "):
                return untagged, got[len(tag) + 1:]
            untagged.append(got)

    def ok(self, line):
        untagged, tagged = self.cmd(line)
        assert tagged.startswith("OK"), (line, tagged)
        return untagged

    def bad(self, line):
        untagged, tagged = self.cmd(line)
        assert tagged.startswith("BAD"), (line, tagged)
        return untagged

    def append(self, n, flags="()"):
        body = message(n)
        self.n += 1
        tag = "q%d" % self.n
        self.sock.sendall(b"%s APPEND INBOX %s {%d+}\r\n" % (
            tag.encode(), flags.encode(), len(body)) + body + b"\r\n")
        while True:
            got = self.readline()
            if got.startswith(tag + " "):
                assert got.startswith(tag + " OK"), got
                return int(re.search(r"APPENDUID \d+ (\d+)", got).group(1))

    def close(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, AssertionError):
            pass
        self.sock.close()


def status(s):
    """UIDVALIDITY and HIGHESTMODSEQ of INBOX."""
    lines = s.ok("STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)")
    m = re.search(r"UIDVALIDITY (\d+) HIGHESTMODSEQ (\d+)", lines[0])
    return int(m.group(1)), int(m.group(2))


def fetches(lines):
    """{uid: (seq, flags, modseq)} of untagged FETCH lines."""
    out = {}
    for line in lines:
        m = re.match(r"\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) "
                     r"MODSEQ \((\d+)\)\)$", line)
        if m:
            out[int(m.group(2))] = (int(m.group(1)), m.group(3), int(m.group(4)))
    return out


def vanished(lines, earlier):
    prefix = "* VANISHED (EARLIER) " if earlier else "* VANISHED "
    uids = set()
    for line in lines:
        if line.startswith(prefix) and (earlier or "(EARLIER)" not in line):
            for part in line[len(prefix):].split(","):
                lo, _, hi = part.partition(":")
                uids.update(range(int(lo), int(hi or lo) + 1))
    return uids


def test_capability_and_enable(imap):
    s = Session(imap)
    caps = s.ok("CAPABILITY")[0].split()
    assert "QRESYNC" in caps and "CONDSTORE" in caps and "ENABLE" in caps
    assert s.ok("ENABLE QRESYNC") == ["* ENABLED QRESYNC"]
    # Already enabled: nothing new.
    assert s.ok("ENABLE QRESYNC") == ["* ENABLED"]
    s.close()
    s = Session(imap)
    assert s.ok("ENABLE QRESYNC CONDSTORE") == ["* ENABLED QRESYNC CONDSTORE"]
    s.close()
    s = Session(imap)
    assert s.ok("ENABLE CONDSTORE") == ["* ENABLED CONDSTORE"]
    assert s.ok("ENABLE QRESYNC") == ["* ENABLED QRESYNC"]
    s.close()


def test_select_qresync_reports_changes(imap):
    a = Session(imap)
    uids = [a.append(i) for i in range(1, 9)]  # UIDs 1..8
    uidvalidity, modseq = status(a)
    # Another session expunges 2, 5 and 6 and changes flags of 3 and 7.
    b = Session(imap)
    b.ok("SELECT INBOX")
    b.ok("UID STORE 2,5,6 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 2,5:6")
    b.ok("UID STORE 3 +FLAGS.SILENT (\\Seen)")
    b.ok("UID STORE 7 +FLAGS.SILENT ($Done)")
    b.close()
    _, new_modseq = status(a)
    assert new_modseq > modseq

    a.ok("ENABLE QRESYNC")
    lines = a.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, modseq))
    assert "* 5 EXISTS" in lines
    assert "* OK [HIGHESTMODSEQ %d] Highest" % new_modseq in lines
    assert vanished(lines, True) == {2, 5, 6}
    assert not vanished(lines, False)
    changed = fetches(lines)
    assert set(changed) == {3, 7}
    assert changed[3][0] == 2 and "\\Seen" in changed[3][1]
    assert changed[7][0] == 4 and "$Done" in changed[7][1]
    # VANISHED (EARLIER) comes before the FETCHes (RFC 7162 3.2.6).
    first_fetch = min(i for i, l in enumerate(lines) if " FETCH " in l)
    assert max(i for i, l in enumerate(lines) if l.startswith("* VANISHED")) < first_fetch

    # Restricted to known UIDs.
    lines = a.ok("EXAMINE INBOX (QRESYNC (%d %d 1:3))" % (uidvalidity, modseq))
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed"
    assert vanished(lines, True) == {2}
    assert set(fetches(lines)) == {3}
    # With sequence match data (checked, then the complete history is used).
    lines = a.ok("SELECT INBOX (QRESYNC (%d %d 1:8 (1,3 1,3)))"
                 % (uidvalidity, modseq))
    assert vanished(lines, True) == {2, 5, 6}
    # Up to date: nothing to report.
    lines = a.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, new_modseq))
    assert not vanished(lines, True) and not fetches(lines)
    # modseq 0: every expunge and every message.
    lines = a.ok("SELECT INBOX (QRESYNC (%d 0))" % uidvalidity)
    assert vanished(lines, True) == {2, 5, 6}
    assert set(fetches(lines)) == {1, 3, 4, 7, 8}
    # Another UIDVALIDITY: a plain SELECT.
    lines = a.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity + 1, modseq))
    assert not vanished(lines, True) and not fetches(lines)
    assert "* OK [UIDVALIDITY %d] UIDs valid" % uidvalidity in lines
    assert len(uids) == 8
    a.close()


def test_own_expunge_is_vanished(imap):
    a = Session(imap)
    for i in range(1, 7):
        a.append(i)
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    a.ok("STORE 2:3,5 +FLAGS.SILENT (\\Deleted)")
    untagged, tagged = a.cmd("EXPUNGE")
    assert untagged == ["* VANISHED 2:3,5"]
    _, modseq = status(a)
    assert tagged == "OK [HIGHESTMODSEQ %d] EXPUNGE completed" % modseq
    # Sequence numbers follow: 1 4 6 are left.
    lines = a.ok("FETCH 1:* (UID)")
    assert lines == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)", "* 3 FETCH (UID 6)"]
    a.ok("UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    untagged, tagged = a.cmd("UID EXPUNGE 4")
    assert untagged == ["* VANISHED 4"] and "[HIGHESTMODSEQ " in tagged
    # Nothing expunged: no VANISHED, no HIGHESTMODSEQ needed.
    assert a.ok("EXPUNGE") == []
    # MOVE answers with VANISHED too.
    a.ok("CREATE Other")
    untagged, tagged = a.cmd("UID MOVE 6 Other")
    assert untagged[0].startswith("* OK [COPYUID ")
    assert untagged[1:] == ["* VANISHED 6"]
    _, modseq = status(a)
    assert tagged == "OK [HIGHESTMODSEQ %d] MOVE completed" % modseq
    assert a.ok("FETCH 1:* (UID)") == ["* 1 FETCH (UID 1)"]
    # CLOSE stays silent.
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert a.ok("CLOSE") == []
    a.close()


def test_other_session_expunge_is_vanished(imap):
    a = Session(imap)
    for i in range(1, 8):
        a.append(i)
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    plain = Session(imap)  # no QRESYNC: still EXPUNGE
    plain.ok("SELECT INBOX")
    b = Session(imap)
    b.ok("SELECT INBOX")
    b.ok("UID STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    lines = a.ok("NOOP")
    assert vanished(lines, False) == {2, 4}
    assert not any(l.endswith(" EXPUNGE") for l in lines)
    assert [l for l in plain.ok("NOOP") if "FETCH" not in l] == [
        "* 2 EXPUNGE", "* 3 EXPUNGE"]
    # Not during a sequence-number FETCH (RFC 7162 3.2.10.2), but during
    # UID FETCH it may come.
    b.ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 1")
    lines = a.ok("FETCH 1:* (UID)")
    assert not vanished(lines, False)
    assert vanished(a.ok("NOOP"), False) == {1}

    # A FETCH by sequence number showing a MODSEQ above a held-back
    # expunge's tells the client a HIGHESTMODSEQ below it (RFC 7162 6).
    b.ok("UID STORE 6 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 6")
    _, expunge_modseq = status(b)
    b.ok("UID STORE 3 +FLAGS.SILENT (\\Seen)")
    for _ in range(200):  # until the watch event has reached a's thread
        lines = a.ok("FETCH 1 (UID MODSEQ)")
        if any("HIGHESTMODSEQ" in l for l in lines):
            break
    assert not vanished(lines, False)
    assert lines[-1] == ("* OK [HIGHESTMODSEQ %d] VANISHED delayed"
                         % (expunge_modseq - 1))
    assert vanished(a.ok("NOOP"), False) == {6}

    # Nor during a UID SEARCH with message numbers in it; UID SEARCH by
    # UIDs may carry it.
    b.ok("UID STORE 7 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 7")
    for _ in range(200):  # until the watch event has reached a's thread
        lines = a.ok("UID SEARCH 1:*")
        if any("HIGHESTMODSEQ" in l for l in lines):
            break
    assert not vanished(lines, False)
    assert vanished(a.ok("UID SEARCH UID 1:*"), False) == {7}

    # During IDLE.
    a.send("i1 IDLE")
    assert a.readline().startswith("+ ")
    b.ok("UID STORE 5 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 5")
    line = a.readline()
    while not line.startswith("* VANISHED"):
        assert not line.endswith(" EXPUNGE"), line
        line = a.readline()
    assert line == "* VANISHED 5"
    a.send("DONE")
    assert a.readline() == "i1 OK IDLE terminated"
    assert a.ok("FETCH 1:* (UID)") == ["* 1 FETCH (UID 3)"]
    for s in (a, b, plain):
        s.close()


def test_uid_fetch_changedsince_vanished(imap):
    a = Session(imap)
    for i in range(1, 11):
        a.append(i)
    _, modseq = status(a)
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b = Session(imap)
    b.ok("SELECT INBOX")
    b.ok("UID STORE 3,8,10 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 3,8,10")
    b.ok("UID STORE 5 +FLAGS.SILENT (\\Flagged)")
    b.close()
    a.ok("NOOP")  # takes in the VANISHED

    lines = a.ok("UID FETCH 1:7 (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert lines[0] == "* VANISHED (EARLIER) 3"
    changed = fetches(lines)
    assert set(changed) == {5} and "\\Flagged" in changed[5][1]
    # "*" reaches expunged UIDs above the last message too.
    lines = a.ok("UID FETCH 4:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert vanished(lines, True) == {8, 10}
    # Without VANISHED: the flag change only.
    lines = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % modseq)
    assert not vanished(lines, True) and set(fetches(lines)) == {5}
    a.close()


def test_errors(imap):
    a = Session(imap)
    a.append(1)
    uidvalidity, modseq = status(a)
    # QRESYNC parameter and VANISHED without ENABLE QRESYNC.
    a.bad("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, modseq))
    a.ok("SELECT INBOX (CONDSTORE)")
    a.bad("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    a.ok("ENABLE QRESYNC")
    # VANISHED without CHANGEDSINCE, and on FETCH.
    a.bad("UID FETCH 1:* (FLAGS) (VANISHED)")
    a.bad("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    a.bad("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED VANISHED)")
    # Malformed parameters leave the mailbox as it was.
    for params in ("(QRESYNC)", "(QRESYNC ())", "(QRESYNC (0 1))",
                   "(QRESYNC (%d))" % uidvalidity,
                   "(QRESYNC (%d x))" % uidvalidity,
                   "(QRESYNC (%d 1 1:*))" % uidvalidity,
                   "(QRESYNC (%d 1 $))" % uidvalidity,
                   "(QRESYNC (%d 1 1:5 (1:2 3)))" % uidvalidity,
                   "(QRESYNC (%d 1 1:5 (2,1 3,4)))" % uidvalidity,
                   "(QRESYNC (%d 1 1:5 (1 2) extra))" % uidvalidity,
                   "(QRESYNC (%d 1) QRESYNC (%d 1))" % (uidvalidity, uidvalidity),
                   "(FOO)"):
        untagged = a.bad("SELECT INBOX " + params)
        assert not any("CLOSED" in l for l in untagged)
    # Still selected.
    assert a.ok("UID FETCH 1 (UID)") == ["* 1 FETCH (UID 1)"]
    # A known-uids set as long as a command line may be (the line limit
    # bounds it before the parser's range limit, unit-tested) works.
    long_set = ",".join(str(i) for i in range(1, 20000, 2))
    lines = a.ok("SELECT INBOX (QRESYNC (%d 0 %s))" % (uidvalidity, long_set))
    assert set(fetches(lines)) == {1}
    # Past the line limit the connection ends, as for any command.
    a.send("x SELECT INBOX (QRESYNC (%d 1 %s))"
           % (uidvalidity, ",".join(str(i) for i in range(1, 100000, 2))))
    rest = a.f.read()
    assert b"x OK" not in rest
    a.sock.close()


def test_empty_mailbox_and_implicit_seen(imap):
    a = Session(imap)
    a.ok("ENABLE QRESYNC")
    lines = a.ok("STATUS Trash (UIDVALIDITY)")
    uidvalidity = int(re.search(r"UIDVALIDITY (\d+)", lines[0]).group(1))
    lines = a.ok("SELECT Trash (QRESYNC (%d 1 1:100))" % uidvalidity)
    assert "* 0 EXISTS" in lines
    assert not vanished(lines, True) and not fetches(lines)

    # FETCH BODY[] sets \Seen: the client hears the new MODSEQ with the UID
    # (RFC 7162 section 3.2.4).
    a.append(1)
    a.ok("SELECT INBOX")
    _, before = status(a)
    lines = a.ok("FETCH 1 (BODY[TEXT])")
    _, after = status(a)
    assert after > before
    changed = fetches(lines)
    assert list(changed) == [1] and changed[1][0] == 1
    assert "\\Seen" in changed[1][1].split() and changed[1][2] == after
    a.close()
