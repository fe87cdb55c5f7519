"""Rebuilds every FORMAT.md test vector from FORMAT.md's prose alone, as an outside implementer
would: pure-Python CRC32C, the `blake3` package for BLAKE3. It proves the document is enough to
write a verifier; core/tests/format_vectors.rs proves the implementation matches the document.

    python -m pip install blake3 && python tests/python/format_vectors.py

Not run by ./scripts/test (it needs the `blake3` package); run it after changing FORMAT.md.
"""
import os
import hashlib, re, struct, blake3
doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "FORMAT.md")).read()
vals = {}
for block in doc.split("```vectors\n")[1:]:
    block = block.split("```")[0]
    key = None
    for line in block.splitlines():
        t = line.strip()
        if not t: continue
        if ":" in t:
            key, v = t.split(":", 1); vals[key.strip()] = v.strip()
        else:
            vals[key] += t
def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
H = bytes.fromhex
KG = blake3.blake3(b"", derive_key_context="evident 2026-11-22 v1 genesis").digest()
KL = blake3.blake3(b"", derive_key_context="evident 2026-11-22 v1 leaf").digest()
KC = blake3.blake3(b"", derive_key_context="evident 2026-11-22 v1 chain").digest()
KP = blake3.blake3(b"", derive_key_context="evident 2026-12-01 v2 payload").digest()
assert KG.hex() == vals["k_genesis"] and KP.hex() == vals["k_payload"]
def leaf(n, t, p, version=2):
    # Version 2 hashes the payload's hash (K_PAYLOAD) after kind, seq and ts; version 1 the payload.
    tail = blake3.blake3(p, key=KP).digest() if version == 2 else p
    return blake3.blake3(bytes([1]) + struct.pack("<QQ", n, t) + tail, key=KL).digest()
# The RFC 6962 tree over the leaves, written from the recursive definition (not a compact range).
sha = lambda b: hashlib.sha256(b).digest()
def mth(nodes):
    if not nodes: return sha(b"")
    if len(nodes) == 1: return nodes[0]
    k = 1
    while k * 2 < len(nodes): k *= 2
    return sha(b"\x01" + mth(nodes[:k]) + mth(nodes[k:]))
def edge(leaves):
    # One complete subtree per set bit of the size, largest (leftmost) first.
    nodes = [sha(b"\x00" + l) for l in leaves]; out = []; at = 0; n = len(nodes)
    for bit in reversed(range(64)):
        if n >> bit & 1:
            out.append(mth(nodes[at:at + (1 << bit)])); at += 1 << bit
    return b"".join(out)
def footer_frame(count, first, last, last_hash, ts_first, ts_last, index, offset, tree_edge):
    body = struct.pack("<QQQ", count, first, last) + last_hash + struct.pack("<QQII", ts_first, ts_last, 65536, len(index))
    for e in index: body += struct.pack("<QQQ", *e)
    body += tree_edge + struct.pack("<Q", offset) + b"EVDTEND\0"
    w0 = struct.pack("<I", 0xF0 | (len(body) << 8))
    return w0 + struct.pack("<I", crc32c(body, crc32c(w0))) + body
log = H("00112233445566778899aabbccddeeff")
gen = blake3.blake3(log, key=KG).digest()
assert gen.hex() == vals["genesis"]
def header(segno, first, anchor, version=2):
    b = b"EVDTSEG\0" + struct.pack("<II", version, 128) + log + struct.pack("<QQ", segno, first) + anchor + bytes(44)
    return b + struct.pack("<I", crc32c(b))
def frame(seq, ts, h, payload):
    n = 56 + len(payload); f = (n + 7) & ~7
    body = struct.pack("<QQ", seq, ts) + h + payload + bytes(f - n)
    w0 = struct.pack("<I", 1 | (len(payload) << 8))
    return w0 + struct.pack("<I", crc32c(body, crc32c(w0))) + body
ts = lambda n: 1_700_000_000_000_000_000 + 1000 * (n - 1)
# set 1, in format 2 (the vectors) and format 1 (the documented version-1 segment)
def set1(version):
    prev = gen; seg = header(0, 1, gen, version); leaves = []
    for n in (1, 2, 3):
        p = H(vals[f"record{n}_payload"]); t = ts(n)
        l = leaf(n, t, p, version); leaves.append(l)
        h = blake3.blake3(prev + l, key=KC).digest()
        fr = frame(n, t, h, p)
        if version == 2:
            assert blake3.blake3(p, key=KP).hexdigest() == vals[f"record{n}_payload_hash"], n
            assert l.hex() == vals[f"record{n}_leaf"] and fr.hex() == vals[f"record{n}_frame"], n
            assert fr[4:8].hex() == vals[f"record{n}_crc_le_bytes"] and int(vals[f"record{n}_crc"], 16) == struct.unpack("<I", fr[4:8])[0]
        seg += fr; prev = h
    e = edge(leaves) if version == 2 else b""
    seg += footer_frame(3, 1, 3, prev, ts(1), ts(3), [(1, ts(1), 128)], len(seg), e)
    return seg, prev, leaves
assert header(0, 1, gen).hex() == vals["segment_header"]
seg, prev, leaves = set1(2)
assert edge(leaves).hex() == vals["tree_edge_3"] and mth([sha(b"\x00" + l) for l in leaves]).hex() == vals["tree_root_3"]
assert seg[-len(H(vals["footer"])):] == H(vals["footer"])
assert blake3.blake3(seg).hexdigest() == vals["sealed_segment_blake3"]
cp = f"evident-checkpoint v1\nlog {log.hex()}\nseq 3\nhash {prev.hex()}\n".encode()
assert cp.hex() == vals["checkpoint_text"]
assert H(vals["head_checkpoint_file"]) == cp + f"root {vals['tree_root_3']}\n".encode()
assert blake3.blake3(set1(1)[0]).hexdigest() == "905c16131facb8b1776b8c6f00a5d5f653b048ebd5604270e2121d88a3e44c18", "version 1" 
assert H(vals["checkpoint_json"]).decode() == '{"log_id":"%s","seq":3,"hash":"%s"}' % (log.hex(), prev.hex())
# set 2
prev = gen; seg0 = header(0, 1, gen); index = []; leaves = []
for n in range(1, 8):
    off = len(seg0)
    if not index or off >= index[-1][2] + 65536: index.append((n, ts(n), off))
    p = bytes([n]) * 30000
    l = leaf(n, ts(n), p); leaves.append(l)
    h = blake3.blake3(prev + l, key=KC).digest()
    fr = frame(n, ts(n), h, p)
    assert fr[:56].hex() == vals[f"trail2_record{n}_frame_head"]
    seg0 += fr; prev = h
assert ",".join(str(e[0]) for e in index) == vals["trail2_segment0_index_seqs"]
assert edge(leaves).hex() == vals["trail2_segment0_tree_edge"]
footer = footer_frame(7, 1, 7, prev, ts(1), ts(7), index, len(seg0), edge(leaves))
assert footer.hex() == vals["trail2_segment0_footer"]
seg0 += footer
assert len(seg0) == int(vals["trail2_segment0_len"]) and blake3.blake3(seg0).hexdigest() == vals["trail2_segment0_blake3"]
retained = prev
seg1 = header(1, 8, prev)
assert seg1.hex() == vals["trail2_segment1_header"]
for n in (8, 9):
    p = H(vals[f"trail2_record{n}_payload"])
    l = leaf(n, ts(n), p); leaves.append(l)
    h = blake3.blake3(prev + l, key=KC).digest()
    seg1 += frame(n, ts(n), h, p); prev = h
assert 4096 - len(seg1) == int(vals["trail2_segment1_zero_tail"])
seg1 += bytes(4096 - len(seg1))
assert blake3.blake3(seg1).hexdigest() == vals["trail2_segment1_blake3"]
assert H(vals["trail2_head_checkpoint_text"]).decode() == f"evident-checkpoint v1\nlog {log.hex()}\nseq 9\nhash {prev.hex()}\n"
root9 = mth([sha(b"\x00" + l) for l in leaves]).hex()
assert root9 == vals["trail2_tree_root_9"]
assert H(vals["trail2_head_checkpoint_file"]).decode() == f"evident-checkpoint v1\nlog {log.hex()}\nseq 9\nhash {prev.hex()}\nroot {root9}\n"
assert H(vals["trail2_retained_checkpoint_text"]).decode() == f"evident-checkpoint v1\nlog {log.hex()}\nseq 7\nhash {retained.hex()}\n"
print("all FORMAT.md vectors rebuilt independently from the prose")
