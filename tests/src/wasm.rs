//! A wasmtime host for the evident-wasi component: the same thing a plugin host embedding the
//! component writes (see the README's wasm quick start).

// The WIT error variant is what the component returns; boxing it here would only hide that.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::sync::OnceLock;
use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ path: "../wit", world: "audit-log", additional_derives: [PartialEq] });

pub use evident::log::types::{Checkpoint, Entry, Error, Health, HealthState, Receipt};
pub use exports::evident::log::trail::{
    Durability, OpenOptions, OpenReport, Query, QueryResult, RecoveryMode, SignerOptions,
    SignerStatus,
};
pub use exports::evident::log::verify::{
    ProvenConsistency, ProvenRecord, SegmentFile, VerifyReport,
};

/// Path of the built component (`target/component/audit-log/...`).
pub const COMPONENT: &str = env!("EVIDENT_COMPONENT");
/// Path of the built verifier-only component.
pub const VERIFIER_COMPONENT: &str = env!("EVIDENT_VERIFIER_COMPONENT");

/// The host state: a WASI context and its resource table.
pub struct Host {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

fn engine_and_component(fuel: bool) -> &'static (Engine, Component) {
    static PLAIN: OnceLock<(Engine, Component)> = OnceLock::new();
    static FUELED: OnceLock<(Engine, Component)> = OnceLock::new();
    let cell = if fuel { &FUELED } else { &PLAIN };
    cell.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(fuel);
        // `EVIDENT_WASM_PERFMAP=1`: write /tmp/perf-PID.map so `perf report` names the
        // component's functions (profiling only; see `bench --profile component-batch`).
        if std::env::var_os("EVIDENT_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).expect("engine");
        let component = Component::from_file(&engine, COMPONENT).expect("the component compiles");
        (engine, component)
    })
}

/// One instance of the component with `dir` preopened as `/data`.
pub struct Instance {
    /// The store.
    pub store: Store<Host>,
    /// The exports.
    pub bindings: AuditLog,
}

/// Default options: `None` everywhere, as a host that does not care would pass.
pub fn default_options() -> OpenOptions {
    OpenOptions {
        segment_bytes: None,
        durability: None,
        recovery_mode: None,
        max_payload: None,
        preallocate: None,
        log_id: None,
        lease_ms: None,
        holder: None,
        origin: None,
        signer: None,
    }
}

/// Signer options with `key` (private key text) and the defaults otherwise (the record beside
/// the trail directory, a 1 s interval).
pub fn signer_options(key: &str) -> SignerOptions {
    SignerOptions {
        key: key.to_string(),
        record_path: None,
        interval_ms: None,
    }
}

impl Instance {
    /// Instantiates the component with `dir` preopened read-write at `/data`.
    pub fn new(dir: &Path) -> Instance {
        Instance::build(dir, None)
    }

    /// Like [`Instance::new`], but the instance traps once it has used `fuel` units of work:
    /// a way to kill a plugin in the middle of a call.
    pub fn with_fuel(dir: &Path, fuel: u64) -> Instance {
        Instance::build(dir, Some(fuel))
    }

    /// Sets the remaining fuel of an instance made with [`Instance::with_fuel`].
    pub fn set_fuel(&mut self, fuel: u64) {
        self.store.set_fuel(fuel).expect("fuel is enabled");
    }

    fn build(dir: &Path, fuel: Option<u64>) -> Instance {
        let (engine, component) = engine_and_component(fuel.is_some());
        let mut linker = Linker::<Host>::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI links");
        let mut b = WasiCtxBuilder::new();
        // Before preopened_dir: otherwise every filesystem call hops through a thread pool.
        b.allow_blocking_current_thread(true);
        b.preopened_dir(dir, "/data", FsPerms::ReadWrite)
            .expect("preopen");
        b.inherit_stderr();
        let mut store = Store::new(
            engine,
            Host {
                ctx: b.build(),
                table: ResourceTable::new(),
            },
        );
        if let Some(f) = fuel {
            store.set_fuel(f).expect("fuel is enabled");
        }
        let bindings = AuditLog::instantiate(&mut store, component, &linker).expect("instantiate");
        Instance { store, bindings }
    }

    /// `log.open`.
    pub fn open(&mut self, dir: &str, options: &OpenOptions) -> Result<ResourceAny, Error> {
        let log = self.bindings.evident_log_trail().log();
        log.call_open(&mut self.store, dir, options)
            .expect("no trap")
    }

    /// `log.open-report`.
    pub fn open_report(&mut self, log: ResourceAny) -> OpenReport {
        self.bindings
            .evident_log_trail()
            .log()
            .call_open_report(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.append`.
    pub fn append(&mut self, log: ResourceAny, payload: &[u8]) -> Result<Receipt, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_append(&mut self.store, log, payload)
            .expect("no trap")
    }

    /// `log.append-at`.
    pub fn append_at(
        &mut self,
        log: ResourceAny,
        payload: &[u8],
        ts: u64,
    ) -> Result<Receipt, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_append_at(&mut self.store, log, payload, ts)
            .expect("no trap")
    }

    /// `log.append-batch`.
    pub fn append_batch(
        &mut self,
        log: ResourceAny,
        payloads: &[Vec<u8>],
    ) -> Result<Vec<Receipt>, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_append_batch(&mut self.store, log, payloads)
            .expect("no trap")
    }

    /// `log.append-batch`, returning a trap instead of panicking on it.
    pub fn try_append_batch(
        &mut self,
        log: ResourceAny,
        payloads: &[Vec<u8>],
    ) -> wasmtime::Result<Result<Vec<Receipt>, Error>> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_append_batch(&mut self.store, log, payloads)
    }

    /// `log.append-batch-at`.
    pub fn append_batch_at(
        &mut self,
        log: ResourceAny,
        payloads: &[Vec<u8>],
        ts: &[u64],
    ) -> Result<Vec<Receipt>, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_append_batch_at(&mut self.store, log, payloads, ts)
            .expect("no trap")
    }

    /// `log.sync`.
    pub fn sync(&mut self, log: ResourceAny) -> Result<Checkpoint, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_sync(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.head`.
    pub fn head(&mut self, log: ResourceAny) -> Checkpoint {
        self.bindings
            .evident_log_trail()
            .log()
            .call_head(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.read`.
    pub fn read(&mut self, log: ResourceAny, from: u64, max: u32) -> Result<Vec<Entry>, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_read(&mut self.store, log, from, max)
            .expect("no trap")
    }

    /// `log.query`.
    pub fn query(&mut self, log: ResourceAny, q: &Query) -> Result<QueryResult, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_query(&mut self.store, log, q)
            .expect("no trap")
    }

    /// `log.verify`.
    pub fn verify(&mut self, log: ResourceAny) -> Result<Checkpoint, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_verify(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.health`.
    pub fn health(&mut self, log: ResourceAny) -> Health {
        self.bindings
            .evident_log_trail()
            .log()
            .call_health(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.checkpoint`.
    pub fn checkpoint(&mut self, log: ResourceAny) -> Result<Checkpoint, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_checkpoint(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.close`.
    pub fn close(&mut self, log: ResourceAny) -> Result<Checkpoint, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_close(&mut self.store, log)
            .expect("no trap")
    }

    /// Drops the resource (without close).
    pub fn drop_log(&mut self, log: ResourceAny) {
        log.resource_drop(&mut self.store).expect("drop");
    }

    /// `verify.verify-segments`.
    pub fn verify_segments(
        &mut self,
        segments: &[SegmentFile],
        cps: &[Checkpoint],
    ) -> Result<VerifyReport, Error> {
        self.bindings
            .evident_log_verify()
            .call_verify_segments(&mut self.store, segments, cps)
            .expect("no trap")
    }

    /// `verify.parse-checkpoint`.
    pub fn parse_checkpoint(&mut self, text: &str) -> Result<Checkpoint, String> {
        self.bindings
            .evident_log_verify()
            .call_parse_checkpoint(&mut self.store, text)
            .expect("no trap")
    }

    /// `log.checkpoint-note`.
    pub fn checkpoint_note(&mut self, log: ResourceAny) -> Result<String, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_checkpoint_note(&mut self.store, log)
            .expect("no trap")
    }

    /// `log.prove`.
    pub fn prove(
        &mut self,
        log: ResourceAny,
        seq: u64,
        size: Option<u64>,
        include_payload: bool,
    ) -> Result<String, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_prove(&mut self.store, log, seq, size, include_payload)
            .expect("no trap")
    }

    /// `log.prove-consistency`.
    pub fn prove_consistency(&mut self, log: ResourceAny, old: &str) -> Result<String, Error> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_prove_consistency(&mut self.store, log, old)
            .expect("no trap")
    }

    /// `log.signer-status`.
    pub fn signer_status(&mut self, log: ResourceAny) -> Option<SignerStatus> {
        self.bindings
            .evident_log_trail()
            .log()
            .call_signer_status(&mut self.store, log)
            .expect("no trap")
    }

    /// `verify.check-bundle`.
    pub fn check_bundle(&mut self, text: &str) -> Result<ProvenRecord, String> {
        self.bindings
            .evident_log_verify()
            .call_check_bundle(&mut self.store, text)
            .expect("no trap")
    }

    /// `verify.check-consistency`.
    pub fn check_consistency(&mut self, text: &str) -> Result<ProvenConsistency, String> {
        self.bindings
            .evident_log_verify()
            .call_check_consistency(&mut self.store, text)
            .expect("no trap")
    }
}

/// The `verifier` world (no filesystem), as a browser would run it.
pub mod verifier {
    use super::{Host, VERIFIER_COMPONENT};
    use wasmtime::component::{Component, Linker, ResourceTable};
    use wasmtime::{Engine, Store};
    use wasmtime_wasi::WasiCtxBuilder;

    wasmtime::component::bindgen!({ path: "../wit", world: "verifier" });

    pub use exports::evident::log::verify::{ProvenConsistency, ProvenRecord, SignatureReport};

    /// One instance of the verifier-only component, with no directory preopened.
    pub struct VerifierInstance {
        store: Store<Host>,
        bindings: Verifier,
    }

    impl VerifierInstance {
        /// Instantiates the verifier component (WASI linked, nothing preopened).
        pub fn new() -> VerifierInstance {
            let engine = Engine::default();
            let component =
                Component::from_file(&engine, VERIFIER_COMPONENT).expect("the verifier compiles");
            let mut linker = Linker::<Host>::new(&engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI links");
            let mut store = Store::new(
                &engine,
                Host {
                    ctx: WasiCtxBuilder::new().build(),
                    table: ResourceTable::new(),
                },
            );
            let bindings =
                Verifier::instantiate(&mut store, &component, &linker).expect("instantiate");
            VerifierInstance { store, bindings }
        }

        /// `verify.check-bundle`.
        pub fn check_bundle(&mut self, text: &str) -> Result<ProvenRecord, String> {
            self.bindings
                .evident_log_verify()
                .call_check_bundle(&mut self.store, text)
                .expect("no trap")
        }

        /// `verify.check-consistency`.
        pub fn check_consistency(&mut self, text: &str) -> Result<ProvenConsistency, String> {
            self.bindings
                .evident_log_verify()
                .call_check_consistency(&mut self.store, text)
                .expect("no trap")
        }

        /// `verify.check-signatures`.
        pub fn check_signatures(
            &mut self,
            proof: &str,
            policy: Option<&str>,
        ) -> Result<SignatureReport, String> {
            self.bindings
                .evident_log_verify()
                .call_check_signatures(&mut self.store, proof, policy)
                .expect("no trap")
        }
    }

    impl Default for VerifierInstance {
        fn default() -> Self {
            VerifierInstance::new()
        }
    }
}
