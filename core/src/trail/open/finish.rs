//! Opening, steps 5-7: how the last segment ends (clean, torn, preallocated, an interrupted
//! seal) and what the open must still write before the trail reports itself open.

use super::*;

impl Opener {
    /// Decides how the last segment ends and queues what the open must still do; gives the
    /// stage that does it.
    pub(super) fn finish_scan(&mut self) -> Result<Stage, Error> {
        let h = self.last_header.expect("read before");
        let (_, name, len) = self.last();
        let rewrite_file = name.clone();
        let mut summary = self.scanner.take().expect("scanning").finish();
        // The end of the bytes a crashed writer may have left in the page cache only.
        let mut tail_end = summary.end_offset;
        let tree = summary.tree.take().unwrap_or_default();
        let tree_base = self.tree_base.take().unwrap_or_default();
        let prev_ts = self.prev_footer.as_ref().map_or(0, |f| f.last_ts);
        let loc = || Location::file(&name).segment(h.segno);
        let last_seq = summary.next_seq - 1;
        // Damage is reported where it is, before the comparison with the checkpoint: the scan
        // stops at the damage, so the trail also looks shorter than its checkpoint, and
        // `BehindCheckpoint` would hide the file, offset and seq of the edit.
        if let SegmentEnd::Corrupt(d) = &summary.end {
            let mut what = d.kind.to_string();
            if let Some((at, seq)) = d.resumes_at {
                what.push_str(&format!(
                    "; valid records resume at offset {at} (seq {seq})"
                ));
            }
            return Err(Error::Corrupt {
                location: loc().at(d.offset).seq(d.seq),
                what,
            });
        }
        if let (SegmentEnd::Torn { offset, found, .. }, Some(cp)) = (&summary.end, self.checkpoint)
        {
            if cp.seq >= summary.next_seq {
                let location = loc().at(*offset).seq(summary.next_seq);
                return Err(crate::verify::covered_damage(location, found, &cp));
            }
        }
        if let Some(cp) = self.checkpoint {
            if cp.seq > last_seq {
                return Err(Error::BehindCheckpoint {
                    checkpoint: cp,
                    last_seq,
                });
            }
        }
        let mut sealed = None;
        match summary.end {
            SegmentEnd::Clean => {}
            SegmentEnd::ZeroTail { len: zeros, .. } => {
                self.note_tail(TailReport::Preallocated { bytes: zeros })
            }
            SegmentEnd::Sealed {
                footer,
                trailing_zeros,
            } => {
                tail_end = len - trailing_zeros;
                if trailing_zeros > 0 {
                    let end = len - trailing_zeros;
                    self.steps.push_back(IoOp::Truncate {
                        file: name.clone(),
                        len: end,
                    });
                }
                // Make the seal durable before the next segment is created. A writer that
                // crashed between writing the footer and its fsync left the footer in the
                // page cache only; one whose footer fsync failed (and then gave up) left pages
                // the kernel already marked clean, which a later fsync does not write. A power
                // loss after the next segment's directory entry is durable would then leave an
                // unsealed segment followed by another, and the trail would refuse to open.
                // The tail rewrite below writes the footer's (identical) bytes again, which
                // dirties them, so this fsync covers them in both cases.
                self.steps.push_back(IoOp::Sync {
                    file: name.clone(),
                    metadata: true,
                });
                self.note_tail(TailReport::Sealed);
                sealed = Some(footer);
            }
            SegmentEnd::Torn {
                offset,
                data_len: torn,
                found,
                ..
            } => {
                if self.opts.recovery == RecoveryMode::AbsoluteConsistency {
                    return Err(Error::TornTail {
                        location: loc().at(offset).seq(summary.next_seq),
                        len: torn,
                    });
                }
                self.steps.push_back(IoOp::Truncate {
                    file: name.clone(),
                    len: offset,
                });
                self.report.tail = TailReport::Truncated {
                    file: name.clone(),
                    offset,
                    bytes: torn,
                    first_lost_seq: summary.next_seq,
                    found,
                };
            }
            SegmentEnd::Corrupt(_) => unreachable!("returned above"),
        }
        if let (Some(cp), true) = (self.checkpoint, summary.records > 0) {
            if cp.seq >= h.first_seq && self.checkpoint_hash_seen.is_none() {
                return Err(Error::CheckpointMismatch {
                    checkpoint: cp,
                    what: "record not found".into(),
                });
            }
        }
        self.report.segments = self.segments.len();
        let mut segments: Vec<(u64, String)> = self
            .segments
            .iter()
            .map(|(f, n, _)| (*f, n.clone()))
            .collect();
        let active = Active {
            name: name.clone(),
            segno: h.segno,
            first_seq: h.first_seq,
            anchor: h.anchor,
            written_end: summary.end_offset,
            synced_end: summary.end_offset,
            file_len: match &self.report.tail {
                TailReport::Preallocated { .. } => len,
                _ => summary.end_offset,
            },
            // Whatever follows the records may be reserved but unwritten: filled again.
            zeroed_end: summary.end_offset,
            reserved: true,
            records: summary.records,
            first_ts: summary.first_ts,
            base_ts: prev_ts,
            index: summary.index,
            agents: {
                let mut agents = std::mem::take(&mut self.agents);
                if agents.len() as u64 >= summary.records {
                    agents.truncate(summary.records as usize);
                } else {
                    agents.mark_incomplete();
                }
                agents
            },
            // Nothing written yet: the writer writes the live index soon (see
            // `Trail::live_index_due`), so readers need not scan what open already scanned.
            live_index_end: HEADER_LEN as u64,
            tree_base,
        };
        let origin = self.resolve_origin(h.log_id, false)?;
        let mut opened = Opened {
            log_id: h.log_id,
            next_seq: summary.next_seq,
            head: summary.last_hash,
            last_ts: summary.last_ts,
            tree: tree.clone(),
            origin,
            active,
            segments: Vec::new(),
            report: std::mem::take(&mut self.report),
        };
        if sealed.is_none() {
            // Rewrite the header (same bytes) and sync before the first acknowledgement. An
            // earlier open may have created this segment and seen its sync fail; the kernel then
            // marks the page clean without writing it, and the header would never reach the disk
            // however many later syncs succeed ("fsyncgate"). Writing it again re-dirties it.
            // Likewise the directory entry: an earlier open may have created the file and seen
            // the directory sync fail.
            self.steps.push_back(IoOp::Write {
                file: name.clone(),
                offset: 0,
                data: h.encode().to_vec(),
            });
            self.steps.push_back(IoOp::Sync {
                file: name.clone(),
                metadata: true,
            });
            self.steps.push_back(IoOp::SyncDir);
        }
        if sealed.is_some() {
            // The last segment is sealed (rotation stopped between seal and create): continue in
            // a new one.
            let header = SegmentHeader {
                version: crate::header::FormatVersion::V2,
                log_id: h.log_id,
                segno: h.segno + 1,
                first_seq: summary.next_seq,
                anchor: summary.last_hash,
            };
            self.steps.push_back(IoOp::Close { file: name });
            opened.active = self.create_segment_ops(header, summary.last_ts, tree);
            segments.push((header.first_seq, opened.active.name.clone()));
            opened.active.first_ts = None;
        }
        opened.segments = segments;
        opened.report.log_id = h.log_id;
        opened.report.head = Checkpoint {
            log_id: h.log_id,
            seq: last_seq,
            hash: summary.last_hash,
        };
        opened.report.next_seq = summary.next_seq;
        let from = self.checkpoint_end.unwrap_or(HEADER_LEN as u64);
        if from < tail_end {
            // Everything queued so far (the sync, and after a seal the next segment) waits
            // for the rewrite: see `open_rewrite`.
            let rewrite = TailRewrite {
                file: rewrite_file,
                offset: from,
                end: tail_end,
                held: std::mem::take(&mut self.steps),
            };
            self.rewrite = Some((rewrite, Box::new(opened)));
            return Ok(Stage::Rewrite);
        }
        self.done = Some(Box::new(opened));
        Ok(Stage::Finish)
    }
}
