# SPDX-License-Identifier: MIT
"""make install (meson install) into a DESTDIR: binaries, man pages, the
example configuration, the systemd unit; no user created under DESTDIR."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BUILD


def test_install_destdir(tmp_path):
    meson = shutil.which("meson")
    if meson is None:
        pytest.skip("meson not installed")
    dest = str(tmp_path / "root")
    res = subprocess.run([meson, "install", "-C", BUILD, "--no-rebuild",
                          "--destdir", dest, "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    files = set()
    for root, _, names in os.walk(dest):
        for n in names:
            files.add(os.path.relpath(os.path.join(root, n), dest))
    prefix = subprocess.run([meson, "introspect", BUILD, "--buildoptions"],
                            capture_output=True, text=True).stdout
    opts = {o["name"]: o["value"] for o in json.loads(prefix)}
    p = opts["prefix"].lstrip("/")
    sbin = os.path.join(p, opts["sbindir"])
    mandir = os.path.join(p, opts["mandir"])
    for f in (os.path.join(sbin, "posthornd"), os.path.join(sbin, "posthorn"),
              os.path.join(mandir, "man8", "posthornd.8"),
              os.path.join(mandir, "man8", "posthorn.8"),
              os.path.join(mandir, "man5", "posthorn.conf.5"),
              "etc/posthorn/posthorn.conf",
              "etc/posthorn/posthorn.conf.example",
              os.path.join(p, "lib/systemd/system/posthorn.service")):
        assert f in files, sorted(files)
    unit = open(os.path.join(dest, p, "lib/systemd/system/posthorn.service")).read()
    assert "ExecStart=/%s/posthornd -c /etc/posthorn/posthorn.conf\n" % sbin in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    # The installed configuration is valid as it is.
    check = subprocess.run([os.path.join(dest, sbin, "posthornd"), "-c",
                            os.path.join(dest, "etc/posthorn/posthorn.conf"),
                            "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # A second install keeps an admin's edited configuration.
    conf = os.path.join(dest, "etc/posthorn/posthorn.conf")
    with open(conf, "a") as f:
        f.write("; edited\n")
    res = subprocess.run([meson, "install", "-C", BUILD, "--no-rebuild",
                          "--destdir", dest, "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0
    assert open(conf).read().endswith("; edited\n")
