# SPDX-License-Identifier: MIT
"""posthorn queue list|show|flush|retry|delete against a real outbound
queue: A (a.test on 127.0.0.2) relays to B (b.test on 127.0.0.3), each
domain's MX given by a static zone. B is down, so A defers the message
with the connection error; the admin command shows it, B comes up and
`posthorn queue flush` gets it delivered. With A down, the command still
reads and changes the queue through the store."""
import re
import time

import pytest

from conftest import require_store
from instances import (DUMP, ENQUEUE, OUTBOUND, add_users, require_tools,
                       start_instance, stop_all, stored)
from instances import enqueue as enqueue_data

MESSAGE = (b"From: Alice <alice@a.test>\nTo: Bob <bob@b.test>\n"
           b"Subject: held\nMessage-ID: <qcli1@a.test>\n\nWaiting.\n")


def stored_count(server, address):
    return len(stored(server, address))


def wait_for(what, check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.1)


def enqueue(server, sender, *rcpts):
    """Queues MESSAGE in server's store; returns the queue id."""
    return enqueue_data(server, sender, rcpts, MESSAGE)


def queue(server, *args):
    res = server.cli("queue", *args)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture
def two(tmp_path):
    """(A, B) with B stopped: A's mail for b.test finds a closed port."""
    require_store()
    require_tools(DUMP, ENQUEUE)
    servers = []
    try:
        b = start_instance(str(tmp_path / "b"), "127.0.0.3", "mx.b.test")
        servers.append(b)
        if not re.search(r"event=ready .*listeners=\"[^\"]*smtp", b.log()):
            pytest.skip("posthornd has no smtp listener in this build")
        add_users(b, "b.test", "bob@b.test")
        assert b.stop() == 0
        zone = tmp_path / "zone"
        zone.write_text("b.test.     MX 10 mx.b.test.\n"
                        "mx.b.test.  A 127.0.0.3\n"
                        "a.test.     MX 10 mx.a.test.\n"
                        "mx.a.test.  A 127.0.0.2\n")
        a = start_instance(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            extra="[dns]\nstatic = %s\n" % zone
            + OUTBOUND % (b.ports["smtp"], "127.0.0.2"))
        servers.append(a)
        a.wait_log(r"event=queue-start", 5)
        add_users(a, "a.test", "alice@a.test")
        yield a, b
    finally:
        stop_all(servers)


def test_queue_deferred_then_flushed(two):
    a, b = two
    rc, out, _ = queue(a, "list")
    assert (rc, out) == (0, "queue is empty\n")

    qid = enqueue(a, "alice@a.test", "bob@b.test")
    # Not tried yet: pending, due now.
    rc, out, _ = queue(a, "list")
    assert rc == 0
    assert re.match(r"%d  age \d+s  size %d  from <alice@a\.test>\n"
                    r"    to <bob@b\.test>  pending  attempts 0  next now\n"
                    r"1 message, 1 recipient\n$" % (qid, len(MESSAGE) + 6),
                    out), out

    # The flush wakes the daemon, which finds B's port closed.
    offset = len(a.log())
    rc, out, _ = queue(a, "flush")
    assert (rc, out) == (0, "0 deferred recipients made due\n")
    a.wait_log(r"event=queue-deferred id=%d rcpt=bob@b\.test status=4\.4\.1 "
               r"retry_in=300" % qid, 10, offset)

    def listing():
        return queue(a, "list")[1]
    wait_for("the deferral in the store", lambda: "deferred" in listing())
    out = listing()
    assert re.search(r"    to <bob@b\.test>  deferred  attempts 1  next "
                     r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in [45]m\)  "
                     r"error: .*4\.4\.1", out), out
    rc, out, _ = queue(a, "show", str(qid))
    assert rc == 0
    assert "queue id: %d\n" % qid in out
    assert "sender: <alice@a.test>\n" in out
    assert "recipient: <bob@b.test>\n  state: deferred\n  attempts: 1\n" in out
    assert re.search(r"  last error: .*4\.4\.1", out), out
    assert "header:\n  From: Alice <alice@a.test>\n" in out
    assert "  Subject: held\n" in out
    assert "Waiting." not in out

    # retry ID: due again at once, the daemon tries (and defers) again,
    # the attempts go on counting from where they were.
    offset = len(a.log())
    rc, out, _ = queue(a, "retry", str(qid))
    assert (rc, out) == (0, "queue id %d: 1 deferred recipient made due\n"
                         % qid)
    a.wait_log(r"event=queue-deferred id=%d rcpt=bob@b\.test status=4\.4\.1 "
               r"retry_in=600" % qid, 10, offset)
    wait_for("the second attempt in the store",
             lambda: "attempts 2" in listing())

    # B comes back; the flush delivers at once instead of in 10 minutes.
    offset = len(b.log())
    b.start()
    b.wait_log(r"event=ready", 15, offset)
    rc, out, _ = queue(a, "flush")
    assert (rc, out) == (0, "1 deferred recipient made due\n")
    wait_for("delivery to bob", lambda: stored_count(b, "bob@b.test") == 1)
    wait_for("an empty queue", lambda: listing() == "queue is empty\n")
    assert stored_count(a, "alice@a.test") == 0  # no bounce


def test_queue_bad_input(two):
    a, _ = two
    qid = enqueue(a, "alice@a.test", "bob@b.test")
    for args, err in (
            (("show", "abc"), "invalid queue id: abc"),
            (("retry", "0"), "invalid queue id: 0"),
            (("delete", "-1"), "invalid queue id: -1"),
            (("show", str(qid + 1)), "no such queued message: %d" % (qid + 1)),
            (("retry", str(qid + 1)), "no such queued message: %d" % (qid + 1)),
            (("delete", str(qid + 1)), "no such queued message: %d" % (qid + 1)),
            (("list", "extra"), "usage: posthorn queue list"),
            (("flush", "now"), "usage: posthorn queue flush"),
            (("retry",), "usage: posthorn queue retry ID"),
            (("delete", "1", "2"), "usage: posthorn queue delete ID"),
            (("frobnicate",), "unknown command: queue frobnicate")):
        rc, out, stderr = queue(a, *args)
        assert rc == 1, (args, out, stderr)
        assert stderr.startswith("posthorn: " + err), (args, stderr)
        assert stderr.count("\n") == 1, (args, stderr)
        assert out == "", (args, out)


def test_queue_with_daemon_down(two):
    """The store is the queue: list, flush and delete work without
    posthornd, and the flush says nothing goes out until it starts."""
    a, _ = two
    assert a.stop() == 0
    keep = enqueue(a, "alice@a.test", "bob@b.test")
    gone = enqueue(a, "alice@a.test", "bob@b.test", "carol@b.test")
    rc, out, _ = queue(a, "list")
    assert rc == 0
    assert re.search(r"^%d  .*\n    to <bob@b\.test>  pending.*\n"
                     r"%d  .*\n    to <bob@b\.test>  pending.*\n"
                     r"    to <carol@b\.test>  pending.*\n"
                     r"2 messages, 3 recipients\n$" % (keep, gone), out,
                     re.M), out
    rc, out, _ = queue(a, "flush")
    assert rc == 0
    assert out == ("0 deferred recipients made due\n"
                   "posthornd is not running: the queue runs when it starts\n")
    rc, out, _ = queue(a, "delete", str(gone))
    assert (rc, out) == (0, "queue id %d deleted (no bounce sent)\n" % gone)
    rc, out, _ = queue(a, "list")
    assert rc == 0
    assert "%d  " % keep in out and "%d  " % gone not in out
    assert out.endswith("1 message, 1 recipient\n"), out
    rc, _, stderr = queue(a, "delete", str(gone))
    assert rc == 1 and "no such queued message" in stderr
