//! An Object Lock bucket in COMPLIANCE mode with a default retention (WORM), on a real S3
//! server (SeaweedFS started by the tests): the archiver works unchanged, and the store refuses
//! to delete or overwrite an archived segment's locked version.

mod seaweed;

use evident_native::archive;
use seaweed::cli::*;
use seaweed::Seaweed;

const WORM: &str = "evident-worm";

#[test]
fn the_archiver_works_on_a_compliance_bucket_whose_store_refuses_deletes_and_overwrites() {
    let s = Seaweed::start_with(&[]);
    s.create_locked_bucket(WORM, 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 300);
    let url = format!("s3://{WORM}/locked");
    let out = archive_cli(&s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    make_trail(&dir, 300, 200);
    let out = archive_cli(&s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    let log = log_id_of(&dir);
    let out = verify_cli(&s, &url, &log, &[]);
    assert!(out.status.success(), "{}", text(&out));
    // Retention behind a WORM archive works too.
    let out = evident_env(
        &[
            "retain",
            dir.to_str().unwrap(),
            "--keep-local",
            "1",
            "--archive",
            &url,
        ],
        &s.env(),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));

    let t = s.target(&url);
    let h = rt().block_on(archive::load_history(&t, &log)).unwrap().0;
    let (_, seg) = h.segments[0].clone();
    let key = t.key(&log, &seg.key);
    let original = get_raw(&t, &key);
    let head = s.signed("HEAD", &format!("/{WORM}/{key}"), &[], b"");
    assert_eq!(head.status, 200);
    let version = head.headers["x-amz-version-id"]
        .to_str()
        .unwrap()
        .to_string();
    let retention = s.signed(
        "GET",
        &format!("/{WORM}/{key}?retention&versionId={version}"),
        &[],
        b"",
    );
    assert!(
        retention.status == 200 && retention.body.contains("COMPLIANCE"),
        "the default retention applies to archived objects: {} {}",
        retention.status,
        retention.body
    );
    // Deleting the locked version: refused by the store.
    let del = s.signed(
        "DELETE",
        &format!("/{WORM}/{key}?versionId={version}"),
        &[],
        b"",
    );
    assert!(
        del.status >= 400,
        "delete of a locked version: {} {}",
        del.status,
        del.body
    );
    // Shortening its retention: refused.
    let xml = "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode><RetainUntilDate>2000-01-01T00:00:00Z</RetainUntilDate></Retention>";
    let shorten = s.signed(
        "PUT",
        &format!("/{WORM}/{key}?retention&versionId={version}"),
        &[("content-type", "application/xml")],
        xml.as_bytes(),
    );
    assert!(shorten.status >= 400, "{} {}", shorten.status, shorten.body);
    // Overwriting: a create-only PUT is refused (412); a plain PUT adds a version and the
    // locked one keeps its bytes. Verify (which reads the current version) names the change.
    let create = s.signed(
        "PUT",
        &format!("/{WORM}/{key}"),
        &[("if-none-match", "*")],
        b"other bytes",
    );
    assert_eq!(create.status, 412, "{}", create.body);
    put_raw(&t, &key, b"other bytes".to_vec());
    let old = s.signed(
        "GET",
        &format!("/{WORM}/{key}?versionId={version}"),
        &[],
        b"",
    );
    assert_eq!(old.status, 200);
    assert!(old.bytes == original, "the locked version is unchanged");
    let out = verify_cli(&s, &url, &log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "{} (seq {}..={})",
            seg.key, seg.first_seq, seg.last_seq
        )),
        "{}",
        text(&out)
    );
}
