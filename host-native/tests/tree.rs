//! The writer's tree through the native adapter and the CLI, with real files: the root at the
//! durable head is the root of the records, the origin is set at creation (`--origin` or
//! `Options::origin`), persisted in `origin`, and never changes.

mod common;

use common::{code, describe, evident, s, temp_trail};
use evident_native::core::hash::leaf;
use evident_native::core::naming;
use evident_native::core::tree::{leaf_node, subtree_root};
use evident_native::{Options, Reader, Trail, TrailOptions};

fn with_origin(origin: Option<&str>) -> TrailOptions {
    TrailOptions {
        core: Options {
            segment_bytes: 4096,
            origin: origin.map(str::to_string),
            ..Options::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn the_durable_root_is_the_root_of_the_records_and_survives_reopening() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, with_origin(None)).await.unwrap();
    for i in 0..300u32 {
        trail
            .append(format!("record {i}").into_bytes())
            .await
            .unwrap();
    }
    let th = trail.tree_head();
    let cp = trail.tree_checkpoint();
    let log_id = trail.head().log_id;
    trail.close().await.unwrap();
    // The records as a reader sees them give the same root.
    let mut reader = Reader::open(&dir).unwrap();
    let mut nodes = Vec::new();
    while let Some(r) = reader.next_available().unwrap() {
        nodes.push(leaf_node(&leaf(1, r.seq, r.ts, &r.payload)));
    }
    assert_eq!(nodes.len(), 300);
    assert_eq!((th.size, th.root), (300, subtree_root(&nodes)));
    assert_eq!(
        cp.body(),
        format!(
            "evident/{}\n300\n{}\n",
            log_id.to_hex(),
            evident_native::core::tree::base64::encode(&th.root.0)
        )
    );
    let again = Trail::open(&dir, with_origin(None)).await.unwrap();
    assert_eq!(again.tree_head(), th);
    again.close().await.unwrap();
}

#[test]
fn cli_origin_is_set_at_creation_and_a_different_one_is_refused() {
    let (_tmp, dir) = temp_trail();
    let out = evident(
        &["append", s(&dir), "--raw", "--origin", "example.com/agents"],
        Some(b"one\n"),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join(naming::ORIGIN)).unwrap(),
        "example.com/agents\n"
    );
    // Later runs keep it without naming it, or naming the same one.
    for extra in [&[][..], &["--origin", "example.com/agents"][..]] {
        let mut args = vec!["append", s(&dir), "--raw"];
        args.extend_from_slice(extra);
        let out = evident(&args, Some(b"more\n"));
        assert_eq!(code(&out), 0, "{}", describe(&out));
    }
    let before = std::fs::read(dir.join(naming::segment_name(1))).unwrap();
    let out = evident(
        &["append", s(&dir), "--raw", "--origin", "example.com/other"],
        Some(b"refused\n"),
    );
    assert_ne!(code(&out), 0, "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("example.com/agents") && err.contains("never changes"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.join(naming::segment_name(1))).unwrap(),
        before
    );
}
