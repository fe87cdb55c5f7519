//! The benchmark-only option that turns the Merkle tree off
//! (`TrailOptions::without_merkle_tree_for_benchmarks`), with real files: what such a trail
//! lacks (no tiles, no root in its checkpoint, an empty tree head), and the guards that keep
//! it from passing for a real trail or from being mixed into one: it only creates new trails,
//! refuses a signer or an archive beside it, and marks the directory so that a later open, the
//! CLI's `verify` and the API's `verify_dir` refuse it, naming the mark.

mod common;

use common::{code, describe, evident, s, temp_trail};
use evident_native::core::naming;
use evident_native::{Options, Trail, TrailOptions};

fn small_segments() -> TrailOptions {
    TrailOptions {
        core: Options {
            segment_bytes: 4096,
            ..Options::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_trail_without_the_tree_lacks_it_and_is_refused_afterwards() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, small_segments().without_merkle_tree_for_benchmarks())
        .await
        .unwrap();
    for i in 0..200u32 {
        trail
            .append(format!("record {i}").into_bytes())
            .await
            .unwrap();
    }
    // No tree: the head's tree is the empty one (never a root that vouches for nothing).
    assert_eq!(trail.tree_head().size, 0);
    assert_eq!(trail.head().seq, 200);
    trail.close().await.unwrap();

    assert!(dir.join(naming::NO_MERKLE_TREE).is_file());
    let cp = std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    assert!(!cp.contains("root "), "no root line without a tree: {cp}");
    let tiles: Vec<_> = std::fs::read_dir(dir.join(naming::TILE_DIR))
        .map(|d| d.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(tiles.is_empty(), "no tiles without a tree: {tiles:?}");
    let segments = common::segments(&dir);
    assert!(segments.len() > 2, "several sealed segments: {segments:?}");

    // A later open, with the tree or without it, refuses the marked trail naming the mark.
    for opts in [
        small_segments(),
        small_segments().without_merkle_tree_for_benchmarks(),
    ] {
        let e = Trail::open(&dir, opts).await.unwrap_err().to_string();
        assert!(
            e.contains(naming::NO_MERKLE_TREE) && e.contains("benchmark"),
            "{e}"
        );
    }
    // So do both verifiers.
    let e = evident_native::fs_exec::verify_dir(&dir, Vec::new(), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains(naming::NO_MERKLE_TREE), "{e}");
    let out = evident(&["verify", s(&dir)], None);
    assert_ne!(code(&out), 0, "{}", describe(&out));
    assert!(
        describe(&out).contains(naming::NO_MERKLE_TREE),
        "{}",
        describe(&out)
    );
    // Nothing was changed by the refusals.
    assert_eq!(common::segments(&dir), segments);
}

#[tokio::test]
async fn turning_the_tree_off_never_touches_an_existing_trail() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, small_segments()).await.unwrap();
    for i in 0..50u32 {
        trail.append(format!("r{i}").into_bytes()).await.unwrap();
    }
    let th = trail.tree_head();
    trail.close().await.unwrap();
    let e = Trail::open(&dir, small_segments().without_merkle_tree_for_benchmarks())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("only creates new trails"), "{e}");
    assert!(!dir.join(naming::NO_MERKLE_TREE).exists());
    // The trail is as it was: it opens with its tree and verifies.
    let trail = Trail::open(&dir, small_segments()).await.unwrap();
    assert_eq!(trail.tree_head(), th);
    trail.close().await.unwrap();
    evident_native::fs_exec::verify_dir(&dir, Vec::new(), |_, _| {}).unwrap();
}

#[tokio::test]
async fn a_trail_without_the_tree_cannot_be_signed_or_archived() {
    let (tmp, dir) = temp_trail();
    let key = evident_native::keys::generate(
        "example.com/no-tree",
        evident_native::core::note::KeyKind::Ed25519,
    )
    .unwrap();
    let signer =
        evident_native::signer::Signer::new(key, tmp.path().join("log.key.signed")).unwrap();
    let opts = TrailOptions {
        signer: Some(signer),
        ..Default::default()
    }
    .without_merkle_tree_for_benchmarks();
    let e = Trail::open(&dir, opts).await.unwrap_err().to_string();
    assert!(e.contains("cannot be signed or archived"), "{e}");

    // An archive destination that is never contacted (the open refuses before any IO).
    let config = evident_native::archive::StoreConfig {
        endpoint: Some("http://127.0.0.1:9".into()),
        allow_http: true,
        max_retries: Some(0),
        retry_timeout: Some(std::time::Duration::from_secs(1)),
        credentials: Some(evident_native::archive::Credentials {
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
        }),
        region: Some("us-east-1".into()),
    };
    let target = evident_native::archive::ArchiveTarget::from_url("s3://b/p", &config).unwrap();
    let opts = TrailOptions {
        archive: Some(evident_native::archive::BackgroundArchive::new(
            target,
            std::time::Duration::from_secs(60),
        )),
        ..Default::default()
    }
    .without_merkle_tree_for_benchmarks();
    let e = Trail::open(&dir, opts).await.unwrap_err().to_string();
    assert!(e.contains("cannot be signed or archived"), "{e}");
    assert!(!dir.exists(), "nothing was created");
}
