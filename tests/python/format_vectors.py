"""Rebuilds every FORMAT.md test vector from FORMAT.md's prose alone, as an outside implementer
would: pure-Python CRC32C, the `blake3` package for BLAKE3. It proves the document is enough to
write a verifier; core/tests/format_vectors.rs proves the implementation matches the document.

    python -m pip install blake3 && python tests/python/format_vectors.py

Not run by ./scripts/test (it needs the `blake3` package); run it after changing FORMAT.md.
"""
import os
import re, struct, blake3
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
assert KG.hex() == vals["k_genesis"]
log = H("00112233445566778899aabbccddeeff")
gen = blake3.blake3(log, key=KG).digest()
assert gen.hex() == vals["genesis"]
def header(segno, first, anchor):
    b = b"EVDTSEG\0" + struct.pack("<II", 1, 128) + log + struct.pack("<QQ", segno, first) + anchor + bytes(44)
    return b + struct.pack("<I", crc32c(b))
def frame(seq, ts, h, payload):
    n = 56 + len(payload); f = (n + 7) & ~7
    body = struct.pack("<QQ", seq, ts) + h + payload + bytes(f - n)
    w0 = struct.pack("<I", 1 | (len(payload) << 8))
    return w0 + struct.pack("<I", crc32c(body, crc32c(w0))) + body
ts = lambda n: 1_700_000_000_000_000_000 + 1000 * (n - 1)
# set 1
assert header(0, 1, gen).hex() == vals["segment_header"]
prev = gen; seg = header(0, 1, gen); idx = []
for n in (1, 2, 3):
    p = H(vals[f"record{n}_payload"]); t = ts(n)
    leaf = blake3.blake3(bytes([1]) + struct.pack("<QQ", n, t) + p, key=KL).digest()
    h = blake3.blake3(prev + leaf, key=KC).digest()
    fr = frame(n, t, h, p)
    assert fr.hex() == vals[f"record{n}_frame"], n
    assert fr[4:8].hex() == vals[f"record{n}_crc_le_bytes"] and int(vals[f"record{n}_crc"], 16) == struct.unpack("<I", fr[4:8])[0]
    seg += fr; prev = h
seg += H(vals["footer"])
assert blake3.blake3(seg).hexdigest() == vals["sealed_segment_blake3"]
cp = f"evident-checkpoint v1\nlog {log.hex()}\nseq 3\nhash {prev.hex()}\n".encode()
assert cp.hex() == vals["checkpoint_text"]
assert H(vals["checkpoint_json"]).decode() == '{"log_id":"%s","seq":3,"hash":"%s"}' % (log.hex(), prev.hex())
# set 2
prev = gen; seg0 = header(0, 1, gen); index = []; tss = []
for n in range(1, 8):
    off = len(seg0)
    if not index or off >= index[-1][2] + 65536: index.append((n, ts(n), off))
    p = bytes([n]) * 30000
    leaf = blake3.blake3(bytes([1]) + struct.pack("<QQ", n, ts(n)) + p, key=KL).digest()
    h = blake3.blake3(prev + leaf, key=KC).digest()
    fr = frame(n, ts(n), h, p)
    assert fr[:56].hex() == vals[f"trail2_record{n}_frame_head"]
    seg0 += fr; prev = h
assert ",".join(str(e[0]) for e in index) == vals["trail2_segment0_index_seqs"]
foff = len(seg0)
body = struct.pack("<QQQ", 7, 1, 7) + prev + struct.pack("<QQII", ts(1), ts(7), 65536, len(index))
for e in index: body += struct.pack("<QQQ", *e)
body += struct.pack("<Q", foff) + b"EVDTEND\0"
w0 = struct.pack("<I", 0xF0 | (len(body) << 8))
footer = w0 + struct.pack("<I", crc32c(body, crc32c(w0))) + body
assert footer.hex() == vals["trail2_segment0_footer"]
seg0 += footer
assert len(seg0) == int(vals["trail2_segment0_len"]) and blake3.blake3(seg0).hexdigest() == vals["trail2_segment0_blake3"]
retained = prev
seg1 = header(1, 8, prev)
assert seg1.hex() == vals["trail2_segment1_header"]
for n in (8, 9):
    p = H(vals[f"trail2_record{n}_payload"])
    leaf = blake3.blake3(bytes([1]) + struct.pack("<QQ", n, ts(n)) + p, key=KL).digest()
    h = blake3.blake3(prev + leaf, key=KC).digest()
    seg1 += frame(n, ts(n), h, p); prev = h
assert 4096 - len(seg1) == int(vals["trail2_segment1_zero_tail"])
seg1 += bytes(4096 - len(seg1))
assert blake3.blake3(seg1).hexdigest() == vals["trail2_segment1_blake3"]
assert H(vals["trail2_head_checkpoint_text"]).decode() == f"evident-checkpoint v1\nlog {log.hex()}\nseq 9\nhash {prev.hex()}\n"
assert H(vals["trail2_retained_checkpoint_text"]).decode() == f"evident-checkpoint v1\nlog {log.hex()}\nseq 7\nhash {retained.hex()}\n"
print("all FORMAT.md vectors rebuilt independently from the prose")
