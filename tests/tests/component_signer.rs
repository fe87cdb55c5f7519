//! The component's `origin` and `signer` open options: the origin is set at creation and kept
//! (another is refused), a signed trail keeps `checkpoint.note` byte-identical to the native
//! adapter's for the same records and key, signs at open, rotation, sync, checkpoint, close and
//! at most once per interval on calls, and never signs a fork: a restored backup or another
//! history is refused at open with an error naming both roots.

use evident_core::note::{KeyKind, SigningKey};
use evident_core::witness::CheckpointBody;
use evident_core::LogId;
use evident_native::signer::Signer;
use evident_native::{Options, Trail, TrailOptions};
use evident_tests::trail_files;
use evident_tests::wasm::{
    default_options, signer_options, Error as WitError, Instance, OpenOptions, SignerOptions,
};
use std::path::Path;

const LOG_ID: &str = "0123456789abcdef0123456789abcdef";
const T0: u64 = 1_700_000_000_000_000_000;
const ORIGIN: &str = "example.com/audit";

fn key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, KeyKind::Ed25519, &[42; 32]).unwrap()
}

fn key_text() -> String {
    key().private_text().expose().to_string()
}

fn payload(i: u64) -> Vec<u8> {
    let n = (i * 37 % 500) as usize;
    let mut p = format!("{{\"kind\":\"custom\",\"n\":{i},\"pad\":\"").into_bytes();
    p.extend(std::iter::repeat_n(b'x', n));
    p.extend_from_slice(b"\"}");
    p
}

fn wit_options() -> OpenOptions {
    OpenOptions {
        segment_bytes: Some(8192),
        log_id: Some(LOG_ID.into()),
        ..default_options()
    }
}

fn signed(signer: SignerOptions) -> OpenOptions {
    OpenOptions {
        signer: Some(signer),
        ..wit_options()
    }
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The native adapter appends records `range` to the trail in `dir` and closes it.
fn native_write(dir: &Path, origin: Option<&str>, signer: Option<Signer>, n: u64) {
    let opts = TrailOptions {
        core: Options {
            segment_bytes: 8192,
            origin: origin.map(str::to_string),
            ..Options::default()
        },
        log_id: Some(LogId::from_hex(LOG_ID).unwrap()),
        signer,
        ..TrailOptions::default()
    };
    block(async {
        let t = Trail::open(dir, opts).await.expect("native open");
        for i in 0..n {
            t.append_at(payload(i), T0 + i * 1000).await.unwrap();
        }
        t.close().await.unwrap();
    });
}

fn assert_same_files(a: &Path, b: &Path) {
    let (a, b) = (trail_files(a), trail_files(b));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between native and component"
        );
    }
}

/// The checkpoint `checkpoint.note` in `dir` is signed over, checked with the key.
fn note_body(dir: &Path) -> CheckpointBody {
    let bytes = std::fs::read(dir.join("checkpoint.note")).expect("checkpoint.note");
    let opened = evident_core::note::open(&bytes, std::slice::from_ref(key().verifier()))
        .expect("the note verifies with the key");
    CheckpointBody::parse(opened.note.text()).unwrap()
}

fn root_b64(b: &CheckpointBody) -> String {
    evident_core::tree::base64::encode(&b.root.0)
}

fn message(e: &WitError) -> String {
    match e {
        WitError::Corrupt(c)
        | WitError::TornTail(c)
        | WitError::BehindCheckpoint(c)
        | WitError::CheckpointMismatch(c) => c.message.clone(),
        WitError::InvalidArgument(m) | WitError::Failed(m) | WitError::Locked(m) => m.clone(),
        WitError::Io(f) => f.message.clone(),
        e => format!("{e:?}"),
    }
}

#[test]
fn origin_is_set_at_creation_kept_and_identical_to_native() {
    let tmp = tempfile::tempdir().unwrap();
    native_write(&tmp.path().join("native"), Some(ORIGIN), None, 200);
    let mut w = Instance::new(tmp.path());
    let opts = OpenOptions {
        origin: Some(ORIGIN.into()),
        ..wit_options()
    };
    let log = w.open("/data/component", &opts).unwrap();
    for i in 0..200 {
        w.append_at(log, &payload(i), T0 + i * 1000).unwrap();
    }
    let note = w.checkpoint_note(log).unwrap();
    assert!(note.starts_with(&format!("{ORIGIN}\n200\n")), "{note}");
    w.close(log).unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("component/origin")).unwrap(),
        format!("{ORIGIN}\n").into_bytes()
    );
    assert_same_files(&tmp.path().join("native"), &tmp.path().join("component"));

    // Reopened without the option: the trail keeps its origin; with another: refused, both
    // named, as the native adapter refuses it.
    let log = w.open("/data/component", &wit_options()).unwrap();
    assert!(w.checkpoint_note(log).unwrap().starts_with(ORIGIN));
    w.close(log).unwrap();
    let other = OpenOptions {
        origin: Some("example.com/other".into()),
        ..wit_options()
    };
    let e = w.open("/data/component", &other).unwrap_err();
    let WitError::InvalidArgument(m) = &e else {
        panic!("{e:?}")
    };
    assert!(m.contains(ORIGIN) && m.contains("example.com/other"), "{m}");
    let native = block(async {
        let opts = TrailOptions {
            core: Options {
                origin: Some("example.com/other".into()),
                ..Options::default()
            },
            ..TrailOptions::default()
        };
        Trail::open(tmp.path().join("native"), opts).await.err()
    })
    .expect("native refuses another origin too");
    assert!(native.to_string().contains(m.as_str()), "{native} / {m}");

    // An origin the checkpoint format cannot carry is refused before anything is created.
    let bad = OpenOptions {
        origin: Some("has space".into()),
        ..wit_options()
    };
    let e = w.open("/data/bad", &bad).unwrap_err();
    assert!(matches!(e, WitError::InvalidArgument(_)), "{e:?}");
    assert!(!tmp.path().join("bad/origin").exists());
}

#[test]
fn a_signed_trail_writes_the_same_note_and_record_as_native() {
    let tmp = tempfile::tempdir().unwrap();
    let native_record = tmp.path().join("native.signed");
    let signer = Signer::new(key(), &native_record).unwrap();
    native_write(&tmp.path().join("native"), None, Some(signer), 300);

    let mut w = Instance::new(tmp.path());
    let log = w
        .open("/data/component", &signed(signer_options(&key_text())))
        .unwrap();
    for i in 0..300 {
        w.append_at(log, &payload(i), T0 + i * 1000).unwrap();
    }
    w.close(log).unwrap();
    let component = tmp.path().join("component");
    assert_eq!(note_body(&component).size, 300);
    assert_eq!(note_body(&component).origin, ORIGIN);
    assert_same_files(&tmp.path().join("native"), &component);
    // The record, by default beside the trail directory, is the native one byte for byte.
    assert_eq!(
        std::fs::read(tmp.path().join("component.signed")).unwrap(),
        std::fs::read(&native_record).unwrap()
    );

    // Each extends the other's signed trail: the native adapter reopens the component's with
    // the component's record, and signs on.
    let signer = Signer::new(key(), tmp.path().join("component.signed")).unwrap();
    block(async {
        let opts = TrailOptions {
            core: Options {
                segment_bytes: 8192,
                ..Options::default()
            },
            signer: Some(signer),
            ..TrailOptions::default()
        };
        let t = Trail::open(&component, opts).await.unwrap();
        t.append_at(payload(300), T0 + 300_000).await.unwrap();
        t.close().await.unwrap();
    });
    assert_eq!(note_body(&component).size, 301);
}

#[test]
fn the_component_signs_at_open_rotation_sync_and_once_per_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let mut w = Instance::new(tmp.path());
    let opts = signed(SignerOptions {
        interval_ms: Some(3_600_000),
        ..signer_options(&key_text())
    });
    let log = w.open("/data/t", &opts).unwrap();
    // At open: the empty tree.
    assert_eq!(note_body(&dir).size, 0);
    assert_eq!(w.signer_status(log).unwrap().signed_size, Some(0));
    // Not on appends within the interval...
    for i in 0..3 {
        w.append_at(log, &payload(i), T0 + i).unwrap();
    }
    assert_eq!(note_body(&dir).size, 0);
    // ...but at sync, and at checkpoint.
    w.sync(log).unwrap();
    assert_eq!(note_body(&dir).size, 3);
    w.append_at(log, &payload(3), T0 + 3).unwrap();
    w.checkpoint(log).unwrap();
    assert_eq!(note_body(&dir).size, 4);
    // At a rotation: the call that rotated signs before it returns.
    let segments = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".evseg")
            })
            .count()
    };
    let mut i = 4;
    while segments(&dir) < 2 {
        w.append_at(log, &payload(i), T0 + i).unwrap();
        i += 1;
        assert!(i < 1000, "no rotation");
    }
    assert_eq!(note_body(&dir).size, i);
    w.close(log).unwrap();

    // A short interval: an append after it passed signs; one before does not.
    let opts = signed(SignerOptions {
        interval_ms: Some(300),
        ..signer_options(&key_text())
    });
    let log = w.open("/data/t", &opts).unwrap();
    let n = w.head(log).seq;
    assert_eq!(note_body(&dir).size, n);
    w.append_at(log, &payload(n), T0 + n).unwrap();
    assert_eq!(note_body(&dir).size, n, "signed within the interval");
    std::thread::sleep(std::time::Duration::from_millis(350));
    w.append_at(log, &payload(n + 1), T0 + n + 1).unwrap();
    assert_eq!(note_body(&dir).size, n + 2, "not signed after the interval");
    let status = w.signer_status(log).unwrap();
    assert_eq!((status.signed_size, status.last_error), (Some(n + 2), None));
    w.close(log).unwrap();
}

#[test]
fn a_failing_signature_never_fails_the_append_and_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let mut w = Instance::new(tmp.path());
    let opts = signed(SignerOptions {
        interval_ms: Some(0),
        ..signer_options(&key_text())
    });
    let log = w.open("/data/t", &opts).unwrap();
    w.append_at(log, &payload(0), T0).unwrap();
    assert_eq!(note_body(&dir).size, 1);
    // The record can no longer be read (a directory took its place).
    let record = tmp.path().join("t.signed");
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    let r = w.append_at(log, &payload(1), T0 + 1).unwrap();
    assert_eq!(r.seq, 2);
    let status = w.signer_status(log).unwrap();
    assert_eq!(status.signed_size, Some(1));
    let why = status.last_error.expect("the failure is reported");
    assert!(why.contains("t.signed"), "{why}");
    assert_eq!(note_body(&dir).size, 1, "nothing signed without the record");
    // `checkpoint` fails with it; once the record is back, signing resumes.
    assert!(w.checkpoint(log).is_err());
    std::fs::remove_dir(&record).unwrap();
    std::fs::write(&record, note_body(&dir).to_text()).unwrap();
    w.checkpoint(log).unwrap();
    assert_eq!(note_body(&dir).size, 2);
    assert_eq!(w.signer_status(log).unwrap().last_error, None);
    w.close(log).unwrap();
}

#[test]
fn the_component_never_signs_a_rolled_back_or_forked_trail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let backup = tmp.path().join("backup");
    let mut w = Instance::new(tmp.path());
    let opts = signed(signer_options(&key_text()));
    let log = w.open("/data/t", &opts).unwrap();
    for i in 0..5 {
        w.append_at(log, &payload(i), T0 + i).unwrap();
    }
    w.close(log).unwrap();
    let at5 = note_body(&dir);
    copy_dir(&dir, &backup);
    let log = w.open("/data/t", &opts).unwrap();
    for i in 5..10 {
        w.append_at(log, &payload(i), T0 + i).unwrap();
    }
    w.close(log).unwrap();
    let at10 = note_body(&dir);
    assert_eq!((at5.size, at10.size), (5, 10));

    // A restored backup: refused at open, naming both roots; the trail is left closed.
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&backup, &dir);
    let e = w.open("/data/t", &opts).unwrap_err();
    let WitError::BehindCheckpoint(c) = &e else {
        panic!("{e:?}")
    };
    assert!(
        c.message.contains(&root_b64(&at10)) && c.message.contains(&root_b64(&at5)),
        "{}",
        c.message
    );
    assert!(c.message.contains("t.signed"), "{}", c.message);
    assert_eq!(note_body(&dir).size, 5, "no note written");
    let log = w
        .open("/data/t", &wit_options())
        .expect("the refused open let go of LOCK");
    w.close(log).unwrap();

    // Another history of the same origin and log id, longer than the signed one: refused,
    // naming the signed root and the new one.
    std::fs::remove_dir_all(&dir).unwrap();
    let unsigned = OpenOptions {
        origin: Some(ORIGIN.into()),
        ..wit_options()
    };
    let log = w.open("/data/t", &unsigned).unwrap();
    for i in 0..12 {
        w.append_at(log, format!("other {i}").as_bytes(), T0 + i)
            .unwrap();
    }
    let forked = w.checkpoint_note(log).unwrap();
    w.close(log).unwrap();
    let forked = CheckpointBody::parse(&forked).unwrap();
    let e = w.open("/data/t", &opts).unwrap_err();
    let WitError::CheckpointMismatch(c) = &e else {
        panic!("{e:?}")
    };
    assert!(
        c.message.contains(&root_b64(&at10)) && c.message.contains(&root_b64(&forked)),
        "{}",
        c.message
    );
    assert!(!dir.join("checkpoint.note").exists(), "never signed");
    // The record still holds what was signed.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("t.signed")).unwrap(),
        at10.to_text()
    );
}

#[test]
fn the_key_is_never_echoed_and_must_be_a_log_key_matching_the_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = Instance::new(tmp.path());
    let secret = "QWxsIHRoaXMgaXMgc2VjcmV0IGtleSBtYXRlcmlhbCEhISE=";
    for text in [
        format!("PRIVATE+KEY+{ORIGIN}+0badc0de+{secret}"),
        format!("PRIVATE+KEY+{ORIGIN}+zz+{secret}"),
        secret.to_string(),
    ] {
        let e = w
            .open("/data/t", &signed(signer_options(&text)))
            .unwrap_err();
        let m = message(&e);
        assert!(matches!(e, WitError::InvalidArgument(_)), "{e:?}");
        assert!(!m.contains(secret), "the key's text in an error: {m}");
    }
    // A witness key does not sign a log.
    let witness = SigningKey::from_seed(ORIGIN, KeyKind::CosignatureV1, &[1; 32]).unwrap();
    let e = w
        .open(
            "/data/t",
            &signed(signer_options(witness.private_text().expose())),
        )
        .unwrap_err();
    assert!(message(&e).contains("witness key"), "{e:?}");
    // Another origin than the key's name: refused, naming the key by its name only.
    let opts = OpenOptions {
        origin: Some("example.com/other".into()),
        ..signed(signer_options(&key_text()))
    };
    let e = w.open("/data/t", &opts).unwrap_err();
    let m = message(&e);
    assert!(m.contains(ORIGIN) && !m.contains(&key_text()), "{m}");
    // An existing trail of another origin: refused the same way.
    let log = w.open("/data/other", &wit_options()).unwrap();
    w.close(log).unwrap();
    let e = w
        .open("/data/other", &signed(signer_options(&key_text())))
        .unwrap_err();
    let m = message(&e);
    assert!(matches!(e, WitError::InvalidArgument(_)), "{e:?}");
    assert!(m.contains(ORIGIN) && !m.contains(&key_text()), "{m}");
    // A record outside every preopen: refused, with the path.
    let e = w
        .open("/data", &signed(signer_options(&key_text())))
        .unwrap_err();
    assert!(message(&e).contains("/data.signed"), "{e:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().map(|e| e.unwrap()) {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The fuel one `append-batch` of 3 records costs on a signed trail of 20 records.
fn batch_fuel(interval_ms: u64) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = Instance::with_fuel(tmp.path(), u64::MAX / 4);
    let opts = signed(SignerOptions {
        interval_ms: Some(interval_ms),
        ..signer_options(&key_text())
    });
    let log = w.open("/data/t", &opts).unwrap();
    for i in 0..20 {
        w.append_at(log, &payload(i), T0 + i).unwrap();
    }
    let before = w.store.get_fuel().unwrap();
    let batch: Vec<Vec<u8>> = (20..23).map(payload).collect();
    w.try_append_batch(log, &batch).unwrap().unwrap();
    before - w.store.get_fuel().unwrap()
}

#[test]
fn a_component_killed_while_signing_leaves_a_note_and_record_that_sign_on() {
    // The part of the call that signs (read the record, write it, read and write the note):
    // what a batch costs with a signature minus what it costs without.
    let unsigned = batch_fuel(3_600_000);
    let signing = batch_fuel(0);
    assert!(signing > unsigned, "{signing} vs {unsigned}");
    let mut outcomes = Vec::new();
    for k in 0..=17u64 {
        // The last one with fuel to spare: the call finishes.
        let fuel = unsigned + (signing - unsigned) * k / 16;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        let mut w = Instance::with_fuel(tmp.path(), u64::MAX / 4);
        let opts = OpenOptions {
            lease_ms: Some(200),
            ..signed(SignerOptions {
                interval_ms: Some(0),
                ..signer_options(&key_text())
            })
        };
        let log = w.open("/data/t", &opts).unwrap();
        for i in 0..20 {
            w.append_at(log, &payload(i), T0 + i).unwrap();
        }
        w.set_fuel(fuel);
        let batch: Vec<Vec<u8>> = (20..23).map(payload).collect();
        let finished = matches!(w.try_append_batch(log, &batch), Ok(Ok(_)));
        drop(w); // killed mid-call: no close

        // Old or new, never torn: the note verifies, the record parses, and the record never
        // runs ahead of the trail's durable records.
        let note = note_body(&dir);
        let record =
            CheckpointBody::parse(&std::fs::read_to_string(tmp.path().join("t.signed")).unwrap())
                .unwrap();
        assert!(
            note.size <= record.size,
            "fuel {fuel}: {note:?} / {record:?}"
        );
        assert!([20, 23].contains(&record.size), "fuel {fuel}: {record:?}");
        // A new instance signs on: the kill left no fork to refuse.
        let mut w = Instance::new(tmp.path());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let log = loop {
            match w.open("/data/t", &opts) {
                Err(WitError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                r => break r.unwrap_or_else(|e| panic!("fuel {fuel}: {e:?}")),
            }
        };
        let head = w.head(log).seq;
        assert!(
            head >= record.size,
            "fuel {fuel}: head {head}, signed {}",
            record.size
        );
        assert_eq!(note_body(&dir).size, head, "fuel {fuel}");
        w.close(log).unwrap();
        outcomes.push((finished, note.size, record.size));
    }
    // The kills landed before the record was written, between record and note, and after
    // the note (at the end of the call, or once it returned).
    assert!(
        outcomes.iter().any(|&(f, n, r)| !f && n == 20 && r == 20),
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|&(f, n, r)| !f && n == 20 && r == 23),
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|&(_, n, r)| n == 23 && r == 23),
        "{outcomes:?}"
    );
}
