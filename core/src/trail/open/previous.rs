//! Opening, step 4: the segment before the last, read for its header and footer only (its
//! footer carries the chain hash and the tree's edge at its last record, so that opening does
//! not grow with the number of sealed segments), and checked to link to the last segment. When
//! it ends in zeros (a seal whose cut of preallocated space did not reach the disk) it is
//! scanned to find where its footer is.

use super::*;

impl Opener {
    pub(super) fn on_prev_header(&mut self, data: &[u8]) -> Result<(), Error> {
        let name = self.prev_entry().expect("prev exists").1.clone();
        let h = SegmentHeader::decode(data).map_err(|d| header_error(&name, d))?;
        let last = self.last_header.expect("read before");
        if h.version != last.version {
            return Err(Error::Corrupt {
                location: Location::file(&name).at(8).segment(h.segno),
                what: format!(
                    "segment is format version {} but the next one is version {}: a trail never mixes versions",
                    h.version, last.version
                ),
            });
        }
        if h.log_id != last.log_id {
            return Err(Error::Corrupt {
                location: Location::file(&self.last_entry().1)
                    .at(16)
                    .segment(last.segno),
                what: format!(
                    "log id {} differs from the previous segment's {}",
                    last.log_id, h.log_id
                ),
            });
        }
        if h.segno + 1 != last.segno {
            return Err(Error::Corrupt {
                location: Location::file(&self.last_entry().1)
                    .at(32)
                    .segment(last.segno),
                what: format!(
                    "segment number {} does not follow {} (a segment is missing)",
                    last.segno, h.segno
                ),
            });
        }
        self.prev_header = Some(h);
        self.stage = Stage::ReadPrevTrailer;
        Ok(())
    }

    pub(super) fn on_prev_trailer(&mut self, data: &[u8]) -> Result<(), Error> {
        let (_, name, len) = self.prev();
        match Footer::trailer_offset(data, len) {
            Ok(offset) => self.stage = Stage::ReadPrevFooter { offset },
            Err(_) if !data.is_empty() && data.iter().all(|&b| b == 0) => {
                // Zeros at the end: perhaps a seal whose cut of preallocated space was lost.
                let h = self.prev_header.expect("read before");
                self.prev_scanner =
                    Some(SegmentScanner::new(ScanStart::after_header(&h, len, false)));
                self.stage = Stage::ScanPrev {
                    offset: HEADER_LEN as u64,
                };
            }
            Err(d) => {
                return Err(Error::Corrupt {
                    location: Location::file(&name).at(len.saturating_sub(TRAILER_LEN as u64)),
                    what: format!("{d}; a segment followed by another must be sealed"),
                })
            }
        }
        Ok(())
    }

    pub(super) fn on_prev_scan_chunk(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let (_, name, len) = self.prev();
        let scanner = self.prev_scanner.as_mut().expect("scanning");
        scanner.push(data);
        while scanner.next_record().is_some() {}
        let next = offset + data.len() as u64;
        if !scanner.is_done() && next < len && !data.is_empty() {
            self.stage = Stage::ScanPrev { offset: next };
            return Ok(());
        }
        let segno = self.prev_header.expect("read before").segno;
        match self.prev_scanner.take().expect("scanning").finish().end {
            SegmentEnd::Sealed {
                footer,
                trailing_zeros,
            } => {
                let end = len - trailing_zeros;
                self.steps.push_back(IoOp::Truncate {
                    file: name.clone(),
                    len: end,
                });
                self.steps.push_back(IoOp::Sync {
                    file: name,
                    metadata: true,
                });
                let offset = footer.offset;
                let bytes = footer.encode();
                self.on_prev_footer(offset, &bytes)
            }
            other => Err(Error::Corrupt {
                location: Location::file(&name).segment(segno),
                what: format!("a segment followed by another must be sealed, found {other:?}"),
            }),
        }
    }

    pub(super) fn on_prev_footer(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let name = self.prev_entry().expect("prev exists").1.clone();
        let prev_h = self.prev_header.expect("read before");
        let footer = Footer::decode(data).map_err(|d| Error::Corrupt {
            location: Location::file(&name).at(offset).segment(prev_h.segno),
            what: d.to_string(),
        })?;
        let last = self.last_header.expect("read before");
        let last_loc = Location::file(&self.last_entry().1).segment(last.segno);
        if footer.offset != offset || footer.first_seq != prev_h.first_seq {
            return Err(Error::Corrupt {
                location: Location::file(&name).at(offset),
                what: "footer does not describe its segment".into(),
            });
        }
        if footer.last_seq + 1 != last.first_seq {
            return Err(Error::Corrupt {
                location: last_loc.at(40).seq(footer.last_seq + 1),
                what: format!(
                    "segment starts at seq {} but the previous one ends at {}",
                    last.first_seq, footer.last_seq
                ),
            });
        }
        if footer.last_hash != last.anchor {
            return Err(Error::Corrupt {
                location: last_loc.at(48).seq(last.first_seq),
                what: "segment anchor is not the previous segment's last hash".into(),
            });
        }
        self.prev_footer = Some(footer);
        self.stage = self.start_scan()?;
        Ok(())
    }
}
