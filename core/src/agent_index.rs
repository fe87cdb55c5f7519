//! The agent index: per sealed segment, which records belong to which agent
//! (`gen_ai.agent.id`), so that "what did agent X do between T1 and T2" reads X's records and
//! not the whole time range.
//!
//! The index is derived data in a sidecar file beside its segment, named
//! [`index_name`] (`<first seq, 20 digits>.agents`). The writer builds it from the records it
//! commits (an [`AgentIndexBuilder`] per active segment, fed in `build_batch`; sealing never
//! re-reads the segment) and writes it right after the footer is durable, without a sync and
//! with a failure that does not matter: the file is never trusted over the trail. A query
//! ([`crate::agent_query`]) accepts an index only when its checksums hold and its header equals
//! the segment's footer (first and last seq, count, last hash, first and last timestamp, footer
//! offset), and when its per-agent counts add up to the footer's record count; it then checks
//! every record it returns (CRC, seq, and its chain hash from the record before it) and that the
//! record really is the agent's. Anything else — no file, a bad checksum, an index that does not
//! match the footer, an entry that points at another agent's record or at no record — makes the
//! query scan that segment instead, so an index changes the cost of an answer, never the answer.
//! The byte layout is in FORMAT.md ("Agent index").

pub use crate::agent_builder::AgentIndexBuilder;
use crate::event::AuditEvent;
use crate::footer::Footer;
use crate::hash::Hash;
use crate::header::HEADER_LEN;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Magic at the start of an agent index file.
pub const INDEX_MAGIC: [u8; 8] = *b"EVDTAGX\0";
/// The one format version.
pub const INDEX_VERSION: u32 = 1;
/// Length of the fixed header.
pub const INDEX_HEADER_LEN: usize = 120;
/// Largest agent table a reader accepts (a longer one is damaged or forged).
pub const MAX_TABLE_LEN: u64 = 64 << 20;
/// Extension of an index file: `<segment name>` + this.
pub const INDEX_EXT: &str = ".agents";

/// The index file of the segment named `segment`: its first seq's 20 digits and
/// [`INDEX_EXT`] (`00000000000000000001.evseg` → `00000000000000000001.agents`; the name does
/// not contain `.evseg`, which verification keeps for segments).
pub fn index_name(segment: &str) -> String {
    let stem = segment
        .strip_suffix(crate::naming::SEGMENT_EXT)
        .unwrap_or(segment);
    format!("{stem}{INDEX_EXT}")
}

/// The first seq of the segment whose index file is `name`, or `None` when `name` is not an
/// index file's name.
pub fn parse_index_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(INDEX_EXT)?;
    crate::naming::parse_segment_name(&format!("{stem}{}", crate::naming::SEGMENT_EXT))
}

/// The agent of a record, as the index files it: `Some` for every payload that decodes as an
/// [`AuditEvent`] (with that event's `agent_id`), and possibly for a few more (a JSON object
/// with a string `gen_ai.agent.id` that is not a whole event). A query filters its candidates
/// with the full event decoding, so listing more is harmless; listing fewer would not be.
pub fn agent_of(payload: &[u8]) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct AgentOnly<'a> {
        #[serde(rename = "gen_ai.agent.id", borrow)]
        agent: Cow<'a, str>,
    }
    // Only the one field is decoded (no allocation when it has no escapes); when that fails
    // (a duplicate key, say) the full decoding decides, so no event is ever left out.
    match serde_json::from_slice::<AgentOnly>(payload) {
        Ok(a) => Some(a.agent),
        Err(_) => AuditEvent::from_json(payload)
            .ok()
            .map(|e| Cow::Owned(e.agent_id)),
    }
}

/// One record of an agent, as the index locates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentEntry {
    /// The record's seq.
    pub seq: u64,
    /// Its timestamp.
    pub ts: u64,
    /// File offset of its frame.
    pub offset: u64,
    /// Its frame length.
    pub len: u32,
    /// Frame length of the record before it in the segment (0 for the segment's first).
    pub prev_len: u32,
}

/// Encodes an index file: `agents` in ascending name order, each with its entries in seq order.
pub fn encode<'a>(
    footer: &Footer,
    unindexed: u64,
    agents: impl Iterator<Item = (&'a str, Vec<AgentEntry>)>,
) -> Vec<u8> {
    let lists: Vec<(&str, u64, Vec<u8>)> = agents
        .map(|(name, entries)| {
            let mut list = Vec::new();
            let mut prev = (footer.first_seq, footer.first_ts);
            for e in &entries {
                put_entry(&mut list, prev, e);
                prev = (e.seq, e.ts);
            }
            (name, entries.len() as u64, list)
        })
        .collect();
    assemble(
        footer,
        unindexed,
        0,
        lists.iter().map(|(n, c, l)| (*n, *c, l.as_slice())),
    )
}

/// Appends one entry to an agent's list, delta-encoded from `prev` (the agent's previous
/// entry's seq and timestamp, or the segment's first seq and timestamp).
pub(crate) fn put_entry(list: &mut Vec<u8>, prev: (u64, u64), e: &AgentEntry) {
    put_varint(list, e.seq - prev.0);
    put_varint(list, e.ts - prev.1);
    put_varint(list, e.offset);
    put_varint(list, e.len as u64);
    put_varint(list, e.prev_len as u64);
}

/// Lays out an index file from encoded lists (`(name, count, list)` in ascending name order)
/// for the records `footer` describes. `last_len` is the frame length of the last record the
/// index covers: 0 in a sealed segment's index, which has its footer; a live segment's index
/// ([`crate::agent_builder::AgentIndexBuilder::encode_live`]) has none, and a reader finds the
/// last covered record by it (a hint it checks, so outside the checksum).
pub(crate) fn assemble<'a>(
    footer: &Footer,
    unindexed: u64,
    last_len: u32,
    agents: impl Iterator<Item = (&'a str, u64, &'a [u8])>,
) -> Vec<u8> {
    let agents: Vec<(&str, u64, &[u8])> = agents.collect();
    let mut table = Vec::new();
    // The lists follow the table; a list's offset is from the start of the file.
    let table_len: usize = agents.iter().map(|(n, ..)| 2 + n.len() + 28).sum();
    let mut list_at = (INDEX_HEADER_LEN + table_len) as u64;
    for (name, count, list) in &agents {
        table.extend_from_slice(&(name.len() as u16).to_le_bytes());
        table.extend_from_slice(name.as_bytes());
        table.extend_from_slice(&count.to_le_bytes());
        table.extend_from_slice(&list_at.to_le_bytes());
        table.extend_from_slice(&(list.len() as u64).to_le_bytes());
        table.extend_from_slice(&crc32c::crc32c(list).to_le_bytes());
        list_at += list.len() as u64;
    }
    let lists_len: usize = agents.iter().map(|(.., l)| l.len()).sum();
    let mut out = Vec::with_capacity(INDEX_HEADER_LEN + table.len() + lists_len);
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    out.extend_from_slice(&(agents.len() as u32).to_le_bytes());
    for v in [
        footer.first_seq,
        footer.last_seq,
        footer.count,
        unindexed,
        footer.first_ts,
        footer.last_ts,
        footer.offset,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(footer.last_hash.as_bytes());
    out.extend_from_slice(&(table.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out), &table);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&last_len.to_le_bytes());
    debug_assert_eq!(out.len(), INDEX_HEADER_LEN);
    out.extend_from_slice(&table);
    for (.., list) in &agents {
        out.extend_from_slice(list);
    }
    out
}

/// The fixed header of an index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHead {
    /// Number of agents in the table.
    pub agents: u32,
    /// First seq of the segment.
    pub first_seq: u64,
    /// Last seq of the segment.
    pub last_seq: u64,
    /// Records in the segment.
    pub count: u64,
    /// Records that are filed under no agent.
    pub unindexed: u64,
    /// Timestamp of the first record.
    pub first_ts: u64,
    /// Timestamp of the last record.
    pub last_ts: u64,
    /// File offset of the segment's footer.
    pub footer_offset: u64,
    /// Chain hash of the segment's last record.
    pub last_hash: Hash,
    /// Length of the agent table that follows the header.
    pub table_len: u64,
    /// Frame length of the last record covered, in a live segment's index (0 in a sealed
    /// one's): where a reader checks that record. Outside the checksum: a wrong value only
    /// makes that check fail.
    pub last_len: u32,
    crc: u32,
}

/// One agent's row in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// Its records in the segment.
    pub count: u64,
    /// File offset of its list.
    pub list_offset: u64,
    /// Length of its list.
    pub list_len: u64,
    /// CRC32C of its list.
    pub list_crc: u32,
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().expect("8 bytes"))
}

impl IndexHead {
    /// Decodes the fixed header (the table's checksum is checked by [`IndexHead::table`]).
    pub fn decode(d: &[u8]) -> Result<IndexHead, String> {
        if d.len() < INDEX_HEADER_LEN {
            return Err(format!(
                "agent index shorter than its {INDEX_HEADER_LEN}-byte header"
            ));
        }
        if d[0..8] != INDEX_MAGIC {
            return Err("agent index: bad magic".into());
        }
        let version = u32::from_le_bytes(d[8..12].try_into().expect("4"));
        if version != INDEX_VERSION {
            return Err(format!("agent index: unknown version {version}"));
        }
        let head = IndexHead {
            agents: u32::from_le_bytes(d[12..16].try_into().expect("4")),
            first_seq: u64_at(d, 16),
            last_seq: u64_at(d, 24),
            count: u64_at(d, 32),
            unindexed: u64_at(d, 40),
            first_ts: u64_at(d, 48),
            last_ts: u64_at(d, 56),
            footer_offset: u64_at(d, 64),
            last_hash: Hash(d[72..104].try_into().expect("32")),
            table_len: u64_at(d, 104),
            crc: u32::from_le_bytes(d[112..116].try_into().expect("4")),
            last_len: u32::from_le_bytes(d[116..120].try_into().expect("4")),
        };
        if head.table_len > MAX_TABLE_LEN {
            return Err(format!("agent index: table of {} bytes", head.table_len));
        }
        Ok(head)
    }

    /// Whether this index describes the segment sealed by `f`.
    pub fn matches_footer(&self, f: &Footer) -> bool {
        self.first_seq == f.first_seq
            && self.last_seq == f.last_seq
            && self.count == f.count
            && self.first_ts == f.first_ts
            && self.last_ts == f.last_ts
            && self.footer_offset == f.offset
            && self.last_hash == f.last_hash
    }

    /// Checks the header and table checksum (`header` is the first [`INDEX_HEADER_LEN`] bytes,
    /// `table` the `table_len` after them) and decodes the table: agent → row, with the rows'
    /// counts adding up to the segment's count.
    pub fn table(&self, header: &[u8], table: &[u8]) -> Result<BTreeMap<String, AgentRow>, String> {
        let mut rows = BTreeMap::new();
        self.walk(header, table, |name, row| {
            rows.insert(name.to_string(), row);
        })?;
        Ok(rows)
    }

    /// [`IndexHead::table`]'s checks, keeping only `agent`'s row (`None`: the agent has no
    /// record in the segment). Allocates nothing: what a query for one agent needs.
    pub fn find(
        &self,
        header: &[u8],
        table: &[u8],
        agent: &str,
    ) -> Result<Option<AgentRow>, String> {
        let mut found = None;
        self.walk(header, table, |name, row| {
            if name == agent {
                found = Some(row);
            }
        })?;
        Ok(found)
    }

    /// Checks the table and calls `each` with every row in name order.
    fn walk(
        &self,
        header: &[u8],
        table: &[u8],
        mut each: impl FnMut(&str, AgentRow),
    ) -> Result<(), String> {
        if table.len() as u64 != self.table_len || header.len() < 112 {
            return Err("agent index: table cut short".into());
        }
        let crc = crc32c::crc32c_append(crc32c::crc32c(&header[..112]), table);
        if crc != self.crc {
            return Err("agent index: header or table checksum mismatch".into());
        }
        let mut at = 0;
        let mut rows = 0u64;
        let mut total = self.unindexed;
        let mut last: Option<&str> = None;
        let lists_at = INDEX_HEADER_LEN as u64 + self.table_len;
        let mut list_end = lists_at;
        while at < table.len() {
            let bad = || "agent index: malformed table".to_string();
            let len = u16::from_le_bytes(
                table
                    .get(at..at + 2)
                    .ok_or_else(bad)?
                    .try_into()
                    .expect("2"),
            );
            let name_end = at + 2 + len as usize;
            let row_end = name_end + 28;
            let row = table.get(at..row_end).ok_or_else(bad)?;
            let name = std::str::from_utf8(&row[2..2 + len as usize]).map_err(|_| bad())?;
            if last.is_some_and(|l| l >= name) {
                return Err("agent index: table not in name order".into());
            }
            let r = &row[2 + len as usize..];
            let agent = AgentRow {
                count: u64_at(r, 0),
                list_offset: u64_at(r, 8),
                list_len: u64_at(r, 16),
                list_crc: u32::from_le_bytes(r[24..28].try_into().expect("4")),
            };
            // Lists follow the table in name order, back to back.
            if agent.list_offset != list_end || agent.count == 0 {
                return Err(bad());
            }
            list_end = list_end.checked_add(agent.list_len).ok_or_else(bad)?;
            total = total.checked_add(agent.count).ok_or_else(bad)?;
            last = Some(name);
            rows += 1;
            each(name, agent);
            at = row_end;
        }
        if rows != self.agents as u64 {
            return Err("agent index: agent count disagrees with the table".into());
        }
        if total != self.count {
            return Err(format!(
                "agent index: files {total} records, the segment holds {}",
                self.count
            ));
        }
        Ok(())
    }

    /// Decodes one agent's list (checked against its row's checksum and count, and against the
    /// segment's bounds: seqs increasing within the segment, frames inside its records).
    pub fn entries(&self, row: &AgentRow, list: &[u8]) -> Result<Vec<AgentEntry>, String> {
        let bad = |what: &str| format!("agent index: list {what}");
        if list.len() as u64 != row.list_len || crc32c::crc32c(list) != row.list_crc {
            return Err(bad("checksum mismatch"));
        }
        let mut out = Vec::with_capacity(row.count.min(1 << 20) as usize);
        let mut at = 0;
        let mut prev = (self.first_seq, self.first_ts);
        let mut prev_end = HEADER_LEN as u64;
        for i in 0..row.count {
            let mut next = || get_varint(list, &mut at).ok_or_else(|| bad("cut short"));
            let (ds, dt, offset, len, prev_len) = (next()?, next()?, next()?, next()?, next()?);
            let seq = prev.0.checked_add(ds).ok_or_else(|| bad("seq overflow"))?;
            let ts = prev.1.checked_add(dt).ok_or_else(|| bad("ts overflow"))?;
            let (Ok(len), Ok(prev_len)) = (u32::try_from(len), u32::try_from(prev_len)) else {
                return Err(bad("frame length too large"));
            };
            let first = seq == self.first_seq;
            let ok = (i == 0 || ds > 0)
                && seq <= self.last_seq
                && ts <= self.last_ts
                && offset >= prev_end
                && len > 0
                && offset.saturating_add(len as u64) <= self.footer_offset
                && first == (offset == HEADER_LEN as u64)
                && first == (prev_len == 0)
                && offset.saturating_sub(prev_len as u64) >= HEADER_LEN as u64;
            if !ok {
                return Err(bad("entry outside the segment or out of order"));
            }
            prev_end = offset + len as u64;
            prev = (seq, ts);
            out.push(AgentEntry {
                seq,
                ts,
                offset,
                len,
                prev_len,
            });
        }
        if at != list.len() {
            return Err(bad("has trailing bytes"));
        }
        Ok(out)
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(d: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *d.get(*at)?;
        *at += 1;
        v |= ((b & 0x7f) as u64).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The IO that writes `index` (when there is one) as the index of segment `segment`: a fresh
/// temporary file, then a rename over the index name, so a reader sees a whole file or the old
/// one. Not synced: after a crash the file may be missing or damaged, which a query detects and
/// answers by scanning.
pub fn write_ops(segment: &str, index: Option<Vec<u8>>) -> Vec<crate::io::IoOp> {
    write_ops_via(segment, index, ".tmp")
}

/// [`write_ops`] through the temporary file `<index name><tmp_suffix>` (a rebuild beside a live
/// writer uses its own, so the two never write one file; both write the same bytes).
pub fn write_ops_via(
    segment: &str,
    index: Option<Vec<u8>>,
    tmp_suffix: &str,
) -> Vec<crate::io::IoOp> {
    use crate::io::IoOp;
    let Some(data) = index else {
        return Vec::new();
    };
    let name = index_name(segment);
    let tmp = format!("{name}{tmp_suffix}");
    vec![
        IoOp::Create { file: tmp.clone() },
        IoOp::Write {
            file: tmp.clone(),
            offset: 0,
            data,
        },
        IoOp::Close { file: tmp.clone() },
        IoOp::Rename {
            from: tmp,
            to: name,
        },
    ]
}
