//! Writes the fuzz targets' seed corpus, made from real trails, under the directory given
//! (default `core/fuzz/corpus`): record frames, headers, footers and checkpoints for `decode`,
//! whole segment bodies for `scan`, mutation scripts for `mutated_trail`, command sequences for
//! `state_machine`, proof texts and edit scripts for `proofs`. Used by `scripts/fuzz`.

use evident_core::sim::{drive, FakeDisk, Faults};
use evident_core::{LogId, Options, Trail};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "core/fuzz/corpus".into())
        .into();
    let mut disk = FakeDisk::new(1, Faults::default());
    let mut t = Trail::open(
        Options {
            segment_bytes: 2048,
            ..Options::default()
        },
        LogId([7; 16]),
        1,
    );
    for i in 0..60u64 {
        let ev = format!(
            r#"{{"gen_ai.agent.id":"a{}","correlation.id":"c{i}","kind":"tool.call","gen_ai.tool.name":"web.search","gen_ai.tool.call.id":"call_{i}","gen_ai.security.decision.type":"allow"}}"#,
            i % 3
        );
        t.handle_append(i, ev.into_bytes(), 1_700_000_000_000_000_000 + i * 1000)
            .unwrap();
    }
    t.handle_close();
    drive(&mut t, &mut disk, 1_000_000);
    let mut n = 0;
    let mut write = |target: &str, bytes: &[u8]| -> std::io::Result<()> {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        n += 1;
        std::fs::write(dir.join(format!("seed-{n:04}")), bytes)
    };
    for name in disk.file_names() {
        let bytes = disk.read_file(&name).unwrap().to_vec();
        if name.ends_with(".evseg") {
            write("decode", &bytes[..128])?;
            write("decode", &bytes[128..])?; // starts with the first frame
            if let Ok(off) =
                evident_core::footer::Footer::trailer_offset(&bytes, bytes.len() as u64)
            {
                write("decode", &bytes[off as usize..])?;
            }
            for ctl in [0u8, 1, 2, 3, 0x41] {
                let mut s = vec![ctl];
                s.extend_from_slice(&bytes[128..]);
                write("scan", &s)?;
            }
        } else {
            write("decode", &bytes)?;
        }
    }
    // Mutation scripts: flip, truncate, zero, extend, splice, on various files.
    for (file, op) in [(0u8, 0u8), (1, 1), (2, 2), (3, 3), (4, 4), (5, 0), (1, 2)] {
        write("mutated_trail", &[file, op, 0x90, 0x00, 0x05, 0x00])?;
    }
    // Command sequences: appends, IO, faults, crashes.
    write(
        "state_machine",
        &[0, 1, 2, 12, 13, 14, 3, 4, 12, 10, 5, 12, 26],
    )?;
    write("state_machine", &[0, 1, 8, 12, 12, 12, 2, 12, 11, 0, 12])?;
    write(
        "state_machine",
        &[6, 0, 12, 7, 1, 12, 9, 2, 12, 10, 3, 12, 27],
    )?;
    // Proof formats: raw texts (mode 0) and edit scripts on a valid bundle / consistency
    // file (modes 1 and 2; an empty script checks the unchanged file verifies).
    write("proofs", b"\0c2sp.org/tlog-proof@v1\nindex 0\n\nexample.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")?;
    write("proofs", b"\0evident/tlog-consistency@v1\nsizes 1 2\n\n")?;
    for script in [
        &[1u8][..],
        &[2],
        &[1, 0x40, 0, b'x'],
        &[2, 0x50, 0, b'1'],
        &[1, 0xf0, 0, b'9'],
    ] {
        write("proofs", script)?;
    }
    println!("wrote {n} seed files under {}", root.display());
    Ok(())
}
