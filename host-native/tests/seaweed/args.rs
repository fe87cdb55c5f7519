//! The `weed mini` command line every SeaweedFS this project starts is given: the archive
//! tests' harness (`super`) and the benchmark's section 10 (`tests/src/bin/bench/s3.rs`, which
//! includes this file by path), so that the loopback-only flags live in one place.

use std::path::Path;

/// Arguments after `weed`: `mini` with its data in `data`, bound to 127.0.0.1 only (`-ip`,
/// `-ip.bind`: weed binds every interface otherwise), telemetry off (it reports to an outside
/// host otherwise), the admin UI, WebDAV, Iceberg and Lance off, its Unix sockets in `sockets`,
/// and every port pinned: `ports` = S3, S3 gRPC, master, master gRPC, volume, volume gRPC,
/// filer, filer gRPC, admin, admin gRPC (ten free loopback ports).
pub fn weed_mini_args(data: &Path, sockets: &Path, ports: &[u16]) -> Vec<String> {
    assert_eq!(ports.len(), 10, "weed mini needs ten ports");
    let mut args: Vec<String> = [
        "mini".to_string(),
        format!("-dir={}", data.display()),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        "-master.telemetry=false".into(),
        "-admin.ui=false".into(),
        "-webdav=false".into(),
        "-s3.port.iceberg=0".into(),
        "-s3.port.lance=0".into(),
    ]
    .into();
    let names = [
        "s3.port",
        "s3.port.grpc",
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "admin.port",
        "admin.port.grpc",
    ];
    for (name, port) in names.iter().zip(ports) {
        args.push(format!("-{name}={port}"));
    }
    args.push(format!(
        "-filer.localSocket={}/filer.sock",
        sockets.display()
    ));
    args.push(format!("-s3.localSocket={}/s3.sock", sockets.display()));
    args
}
