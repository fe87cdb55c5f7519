//! Queries and exports across a retained trail and its archive, against a real S3 server
//! (SeaweedFS started by the tests): the answers equal those of the trail before retention,
//! and a time-range query fetches only the segments holding the answer.
mod common;

mod seaweed;

use evident_native::archive;
use evident_native::core::query::QuerySpec;
use seaweed::cli::*;
use seaweed::Seaweed;
use std::path::Path;

#[test]
fn a_time_range_only_in_the_bucket_is_answered_with_range_gets_of_its_segments() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    // Batches written by separate processes: timestamps differ between batches.
    for b in 0..20 {
        make_trail(&dir, b * 40, 40);
    }
    let url = format!("s3://{BUCKET}/query");
    assert!(archive_cli(&s, &dir, &url).status.success());
    let before = tmp.path().join("before");
    common::copy_dir(&dir, &before);
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
    let kept_first = archive::local_segments(&dir).unwrap()[0].0;
    assert!(
        kept_first > 400,
        "records 1..{kept_first} are only in the bucket"
    );
    let mut reader = evident_native::Reader::open(&before).unwrap();
    // Records 201..=280 (batches 6 and 7): far before the first kept segment.
    let since = reader.get(201).unwrap().unwrap().ts;
    let until = reader.get(281).unwrap().unwrap().ts;
    let (since_s, until_s) = (since.to_string(), until.to_string());
    let q = |d: &Path, archive: bool| {
        let mut args = vec![
            "query",
            d.to_str().unwrap(),
            "--since",
            &since_s,
            "--until",
            &until_s,
        ];
        if archive {
            args.extend_from_slice(&["--archive", &url]);
        }
        evident_env(&args, &s.env(), None)
    };
    let expected = q(&before, false);
    assert!(expected.status.success());
    assert_eq!(
        String::from_utf8_lossy(&expected.stdout).lines().count(),
        80
    );
    let without = q(&dir, false);
    assert!(
        without.stdout.is_empty(),
        "the local trail no longer holds them"
    );
    let got = q(&dir, true);
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(
        got.stdout, expected.stdout,
        "the same answer from the bucket"
    );
    assert!(String::from_utf8_lossy(&got.stderr).contains("archive: fetched"));

    // The Rust API: only the segments of the answer are fetched, a fraction of the archive.
    let t = s.target(&url);
    let log = log_id_of(&dir);
    let h = rt().block_on(archive::load_history(&t, &log)).unwrap().0;
    let total: u64 = h.segments.iter().map(|(_, e)| e.size).sum();
    let (r, stats) = rt()
        .block_on(archive::query_with_archive(
            Some(&dir),
            &t,
            &log,
            QuerySpec {
                since: Some(since),
                until: Some(until),
                ..QuerySpec::default()
            },
        ))
        .unwrap();
    assert_eq!(r.records.first().unwrap().seq, 201);
    assert_eq!(r.records.last().unwrap().seq, 280);
    let holding: Vec<String> = h
        .segments
        .iter()
        .filter(|(_, e)| e.last_ts >= since && e.first_ts < until)
        .map(|(_, e)| e.key.clone())
        .collect();
    // Beyond the small probes of the binary search over footers (trailer, footer, header),
    // records are read only from the segments holding the answer, and from each of them.
    let scanned: Vec<String> = stats
        .per_object
        .iter()
        .filter(|(_, &b)| b > 512)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(scanned, holding, "{:?}", stats.per_object);
    assert!(
        stats.bytes < total / 4,
        "fetched {} of {total} archived bytes",
        stats.bytes
    );

    // Export everything: identical to the export before retention.
    let exp = |d: &Path, archive: bool| {
        let mut args = vec!["export", d.to_str().unwrap(), "-q"];
        if archive {
            args.extend_from_slice(&["--archive", &url]);
        }
        evident_env(&args, &s.env(), None)
    };
    let all_before = exp(&before, false);
    let all = exp(&dir, true);
    assert!(all.status.success(), "{}", text(&all));
    assert_eq!(all.stdout, all_before.stdout);
    assert!(String::from_utf8_lossy(&all.stdout).lines().count() >= 800);
}

#[test]
fn a_local_cache_answers_repeated_queries_checks_every_use_and_stays_under_its_cap() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    for b in 0..12 {
        make_trail(&dir, b * 40, 40);
    }
    let url = format!("s3://{BUCKET}/cache");
    assert!(archive_cli(&s, &dir, &url).status.success());
    let mut reader = evident_native::Reader::open(&dir).unwrap();
    let since = reader.get(81).unwrap().unwrap().ts;
    let until = reader.get(161).unwrap().unwrap().ts;
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
    assert!(archive::local_segments(&dir).unwrap()[0].0 > 161);
    let t = s.target(&url);
    let log = log_id_of(&dir);
    let spec = || QuerySpec {
        since: Some(since),
        until: Some(until),
        ..QuerySpec::default()
    };
    let cache_dir = tmp.path().join("cache");
    let cache = archive::SegmentCache::new(&cache_dir, 1 << 30);
    let query = |cache: &archive::SegmentCache, spec: QuerySpec| {
        rt().block_on(archive::query_with_archive_cached(
            Some(&dir),
            &t,
            &log,
            spec,
            Some(cache),
        ))
        .unwrap()
    };
    // First: fetched whole (checked against the manifest) and cached.
    let (first, st1) = query(&cache, spec());
    let seqs = |r: &evident_native::core::query::QueryResult| {
        r.records.iter().map(|e| e.seq).collect::<Vec<_>>()
    };
    assert_eq!(seqs(&first), (81..=160).collect::<Vec<_>>());
    assert!(st1.bytes > 0 && st1.cache.misses > 0, "{st1:?}");
    // Second: nothing read from the bucket.
    let (second, st2) = query(&cache, spec());
    assert_eq!(seqs(&second), seqs(&first));
    assert_eq!((st2.bytes, st2.requests), (0, 0), "{st2:?}");
    assert_eq!(st2.cache.hits, st1.cache.misses + st1.cache.hits, "{st2:?}");
    // A cached file edited: refused (its SHA-256 is not the manifest's), fetched again, the
    // answer unchanged; afterwards the cache serves it again.
    let folder = cache_dir.join(log.to_hex());
    let mut cached: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cached.sort();
    let victim = cached.last().unwrap().clone();
    let mut bytes = std::fs::read(&victim).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x20;
    std::fs::write(&victim, &bytes).unwrap();
    let (third, st3) = query(&cache, spec());
    assert_eq!(seqs(&third), seqs(&first));
    assert_eq!(st3.cache.refused, 1, "{st3:?}");
    assert_eq!(
        st3.requests, 1,
        "only the refused segment is fetched: {st3:?}"
    );
    assert_eq!(st3.bytes, n as u64, "{st3:?}");
    let (_, st4) = query(&cache, spec());
    assert_eq!((st4.bytes, st4.cache.refused), (0, 0), "{st4:?}");
    // A cap of two segments: an export of everything evicts, never holds more than the cap,
    // and answers the same.
    let seg_size = std::fs::metadata(&victim).unwrap().len();
    let small = archive::SegmentCache::new(tmp.path().join("small"), 2 * seg_size + 10);
    let (all, st5) = query(&small, QuerySpec::default());
    assert_eq!(seqs(&all), (1..=480).collect::<Vec<_>>());
    assert!(st5.cache.evicted > 0, "{st5:?}");
    assert!(
        small.size() <= small.cap(),
        "{} > {}",
        small.size(),
        small.cap()
    );
    // The CLI: the second query reads nothing from the bucket.
    let cli = || {
        evident_env(
            &[
                "query",
                dir.to_str().unwrap(),
                "--since",
                &since.to_string(),
                "--until",
                &until.to_string(),
                "--archive",
                &url,
                "--archive-cache",
                tmp.path().join("cli-cache").to_str().unwrap(),
            ],
            &s.env(),
            None,
        )
    };
    let a = cli();
    assert!(a.status.success(), "{}", text(&a));
    let b = cli();
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(String::from_utf8_lossy(&a.stdout).lines().count(), 80);
    assert!(
        String::from_utf8_lossy(&b.stderr).contains("archive: fetched 0 bytes in 0 range GETs"),
        "{}",
        text(&b)
    );
}
