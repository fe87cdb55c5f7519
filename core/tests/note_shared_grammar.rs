//! The two signed-note envelopes (the note room's and the tree room's checkpoint note) and
//! the two checkpoint-body readers (the log's and the witness's) share one grammar: these
//! tests pin where they agree and where they differ on purpose, so a change to the shared
//! parser that moves either side shows here.

use evident_core::note::{Note as SignedNote, NoteError as SignedError, MAX_SIGNATURES};
use evident_core::tree::{BodyRules, Note as TreeNote, TreeCheckpoint};
use evident_core::witness::CheckpointBody;

const BODY: &str = "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
/// A syntactically valid signature line (key id 01020304, one signature byte).
const LINE: &str = "\u{2014} example.com/log AQIDBAU=\n";

#[test]
fn both_envelopes_read_the_same_signature_lines_alike() {
    let good = format!("{BODY}\n{LINE}");
    let signed = SignedNote::parse(good.as_bytes()).unwrap();
    let tree = TreeNote::parse(good.as_bytes()).unwrap();
    assert_eq!(signed.text(), tree.text());
    assert_eq!(signed.signatures()[0].name, tree.signatures()[0].name);
    assert_eq!(signed.signatures()[0].id.0, tree.signatures()[0].key_id);
    assert_eq!(
        signed.signatures()[0].signature,
        tree.signatures()[0].signature
    );
    assert_eq!(
        signed.signatures()[0].to_line(),
        format!("{}\n", tree.signatures()[0].line())
    );
    // Each bad line is refused by both, on the signature line the note room numbers 1 and
    // the tree room numbers by note line (5: body 3 lines, blank, then the signature).
    for (bad, tree_reason) in [
        ("- example.com/log AQIDBAU=", "em dash"),
        ("\u{2014} example.com/logAQIDBAU=", "`— <name> <base64>`"),
        ("\u{2014} a+b AQIDBAU=", "contains '+'"),
        (
            "\u{2014} example.com/log AQIDBAU",
            "signature of example.com/log: base64",
        ),
        ("\u{2014} example.com/log AQIDBA==", "is 4 bytes"),
    ] {
        let note = format!("{BODY}\n{bad}\n");
        assert!(
            matches!(
                SignedNote::parse(note.as_bytes()),
                Err(SignedError::BadSignatureLine { line: 1, .. })
            ),
            "{bad:?}"
        );
        let e = TreeNote::parse(note.as_bytes()).unwrap_err();
        assert_eq!(e.line, 5, "{bad:?}: {e}");
        assert!(e.reason.contains(tree_reason), "{bad:?}: {e}");
    }
}

#[test]
fn each_envelope_keeps_its_own_limit_and_reports_a_bad_line_before_the_overflow() {
    let lines = |n: usize| format!("{BODY}\n{}", LINE.repeat(n));
    assert_eq!(
        SignedNote::parse(lines(16).as_bytes())
            .unwrap()
            .signatures()
            .len(),
        16
    );
    assert_eq!(
        SignedNote::parse(lines(17).as_bytes()),
        Err(SignedError::TooManySignatures {
            limit: MAX_SIGNATURES
        })
    );
    assert_eq!(
        TreeNote::parse(lines(64).as_bytes())
            .unwrap()
            .signatures()
            .len(),
        64
    );
    let e = TreeNote::parse(lines(65).as_bytes()).unwrap_err();
    assert_eq!(
        (e.line, e.reason.as_str()),
        (5 + 64, "more than 64 signatures")
    );
    // A bad third line among too many: the bad line is what both report (lines are parsed
    // as they are cut, the overflow only counted when reached).
    let bad = format!("{BODY}\n{LINE}{LINE}- x y\n{}", LINE.repeat(100));
    assert!(matches!(
        SignedNote::parse(bad.as_bytes()),
        Err(SignedError::BadSignatureLine { line: 3, .. })
    ));
    assert_eq!(TreeNote::parse(bad.as_bytes()).unwrap_err().line, 7);
}

#[test]
fn the_envelopes_differ_on_purpose_about_unsigned_notes() {
    // The tree room's checkpoint note may be unsigned; a signed note needs a signature.
    assert_eq!(TreeNote::parse(BODY.as_bytes()).unwrap().text(), BODY);
    assert!(matches!(
        SignedNote::parse(BODY.as_bytes()),
        Err(SignedError::Malformed { .. })
    ));
    let blank_only = format!("{BODY}\n");
    assert_eq!(TreeNote::parse(blank_only.as_bytes()).unwrap_err().line, 4);
    assert!(matches!(
        SignedNote::parse(blank_only.as_bytes()),
        Err(SignedError::Malformed { .. })
    ));
}

const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

#[test]
fn the_witness_reads_what_the_spec_allows_the_log_reads_what_it_writes() {
    let log = |t: &str| TreeCheckpoint::parse_body_as(t, BodyRules::Log);
    let witness = |t: &str| TreeCheckpoint::parse_body_as(t, BodyRules::Witness);
    let plain = TreeCheckpoint::parse_body(BODY).unwrap();
    assert_eq!(log(BODY).unwrap(), plain);
    assert_eq!(witness(BODY).unwrap(), plain);
    // Extension lines: the log writes none and refuses them; the witness accepts them.
    let ext = format!("{BODY}ext one\next2\n");
    assert_eq!(log(&ext).unwrap_err().line, 4);
    assert_eq!(witness(&ext).unwrap(), plain);
    // An origin that is no key name (a space): C2SP asks only for a non-empty origin.
    let spaced = format!("example com\n5\n{ROOT}\n");
    assert_eq!(log(&spaced).unwrap_err().line, 1);
    assert_eq!(witness(&spaced).unwrap().origin, "example com");
    // What both refuse, at the same line.
    for (bad, line) in [
        (format!("{BODY}ext\n\n"), 5),
        (format!("\n5\n{ROOT}\n"), 1),
        (format!("example.com/log\n05\n{ROOT}\n"), 2),
        (format!("example.com/log\n5\n{}\n", &ROOT[..43]), 3),
        ("example.com/log\n5\n".to_string(), 3),
        (BODY.trim_end().to_string(), 0),
    ] {
        let w = witness(&bad).unwrap_err();
        assert_eq!(w.line, line, "{bad:?}: {w}");
        if line != 5 {
            assert_eq!(log(&bad).unwrap_err().line, line, "{bad:?}");
        }
        // The witness's own type says the same, naming the line.
        let e = CheckpointBody::parse(&bad).unwrap_err();
        assert_eq!(e, w.to_string());
    }
    let body = CheckpointBody::parse(&ext).unwrap();
    assert_eq!(
        (body.origin.as_str(), body.size, body.root),
        ("example.com/log", 5, plain.root)
    );
    assert_eq!(body.to_text(), plain.body());
}
