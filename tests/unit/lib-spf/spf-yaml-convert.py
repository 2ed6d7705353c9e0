#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Turns the openspf RFC 7208 test suite (YAML) into a line format the C
# test reads; the SPF logic under test stays in C. One line per item,
# free text hex-encoded:
#   S                                   a new scenario (fresh zone)
#   Z hexname TYPE data                   A/AAAA addr, MX pref hexhost,
#                                       PTR hexname, TXT hexdata, TIMEOUT -
#                                       (TIMEOUT: types without records)
#   T name hexhelo ip hexmailfrom res[,res] hexexplanation|-
import sys
import yaml


def hx(s):
    if isinstance(s, bytes):
        return s.hex() or '-'
    return s.encode('utf-8').hex() or '-'


def txt(v):
    if isinstance(v, list):
        return ''.join(v)
    return str(v)


out = []
with open(sys.argv[1], 'rb') as f:
    docs = list(yaml.safe_load_all(f))
for doc in docs:
    if not doc:
        continue
    out.append('S')
    for name, recs in (doc.get('zonedata') or {}).items():
        name = hx(name.lower().rstrip('.'))
        types = set()
        for r in recs:
            if isinstance(r, dict):
                types.update(r.keys())
        for r in recs:
            if r == 'TIMEOUT':
                out.append('Z %s TIMEOUT -' % name)
                continue
            (t, v), = r.items()
            if t == 'SPF':
                # Type SPF is gone in RFC 7208; the suite's drivers copy
                # SPF records to TXT when a name has no TXT of its own.
                if 'TXT' in types:
                    continue
                t = 'TXT'
            if t == 'TXT':
                if v == 'NONE':
                    continue  # the name exists, without TXT records
                out.append('Z %s TXT %s' % (name, hx(txt(v))))
            elif t == 'MX':
                out.append('Z %s MX %d %s' % (name, v[0], hx(v[1])))
            elif t in ('A', 'AAAA'):
                for a in (v if isinstance(v, list) else [v]):
                    out.append('Z %s %s %s' % (name, t, a))
            elif t == 'PTR':
                out.append('Z %s PTR %s' % (name, hx(v)))
            elif t == 'CNAME':
                out.append('Z %s CNAME %s' % (name, hx(v)))
    for tname, t in doc['tests'].items():
        res = t['result']
        if isinstance(res, list):
            res = ','.join(res)
        exp = t.get('explanation')
        out.append('T %s %s %s %s %s %s' % (
            tname, hx(t.get('helo', '')), t['host'], hx(t.get('mailfrom', '')),
            res, hx(exp) if exp is not None else '-'))
sys.stdout.write('\n'.join(out) + '\n')
