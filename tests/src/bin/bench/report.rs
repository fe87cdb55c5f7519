//! Measurements, interleaved series, and the Markdown they become.

use crate::probe::State;
use crate::Ctx;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Default, Clone)]
pub struct Measure {
    /// Records (or operations) completed.
    pub ops: u64,
    /// Wall time of the run.
    pub secs: f64,
    /// Bytes processed, for MB/s figures (0 when not meaningful).
    pub bytes: u64,
    /// Acknowledgement latency of each operation, nanoseconds (empty when not measured).
    pub lat_ns: Vec<u64>,
    /// fdatasyncs that acknowledged appends (group-commit contenders; 0 when not counted).
    pub syncs: u64,
}

impl Measure {
    pub fn timed(ops: u64, bytes: u64, start: Instant) -> Measure {
        Measure {
            ops,
            secs: start.elapsed().as_secs_f64(),
            bytes,
            lat_ns: Vec::new(),
            syncs: 0,
        }
    }

    /// One operation per latency in `lat_ns` (nanoseconds), timed from `start` until now.
    pub fn of_latencies(lat_ns: Vec<u64>, start: Instant) -> Measure {
        Measure {
            ops: lat_ns.len() as u64,
            lat_ns,
            ..Measure::timed(0, 0, start)
        }
    }
}

/// One run of one contender.
#[derive(Debug, Clone)]
pub struct Run {
    pub contender: usize,
    pub round: usize,
    pub state: State,
    pub before: Duration,
    pub after: Duration,
    /// Operations per second.
    pub rate: f64,
    /// MB/s (10^6 bytes), when bytes were counted.
    pub mbps: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub ops: u64,
    /// Records per acknowledging fdatasync, when counted.
    pub per_sync: Option<f64>,
}

/// What the ratio column of a table compares.
#[derive(Debug, Clone, Copy)]
pub enum Compare {
    /// `subject ÷ this` (throughput) and `subject ÷ this` (p50): how the subject fares against
    /// each peer.
    SubjectVs(usize),
    /// `this ÷ base`: how each row fares against a reference.
    VsBase(usize),
}

/// The runs of one interleaved comparison.
pub struct Series {
    pub title: String,
    pub names: Vec<String>,
    pub runs: Vec<Run>,
    pub compare: Compare,
    /// Column heading of the rate ("records/s", "ops/s").
    pub unit: &'static str,
    /// Show MB/s instead of the rate as the main figure.
    pub show_mbps: bool,
}

/// The p-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)] as f64)
}

/// The median of some values.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

impl Series {
    /// Runs of contender `c` in state `s`.
    fn of(&self, c: usize, s: State) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(move |r| r.contender == c && r.state == s)
    }

    fn run_in_round(&self, c: usize, round: usize) -> Option<&Run> {
        self.runs
            .iter()
            .find(|r| r.contender == c && r.round == round)
    }

    /// Median rate of contender `c` in state `s`.
    pub fn median_rate(&self, c: usize, s: State) -> Option<f64> {
        median(self.of(c, s).map(|r| r.rate).collect())
    }

    /// Median MB/s of contender `c` in state `s`.
    pub fn median_mbps(&self, c: usize, s: State) -> Option<f64> {
        median(self.of(c, s).filter_map(|r| r.mbps).collect())
    }

    /// Median of the per-run p50 of contender `c` in state `s`.
    pub fn median_p50(&self, c: usize, s: State) -> Option<f64> {
        median(self.of(c, s).filter_map(|r| r.p50).collect())
    }

    /// Median of the per-run p99.
    pub fn median_p99(&self, c: usize, s: State) -> Option<f64> {
        median(self.of(c, s).filter_map(|r| r.p99).collect())
    }

    /// Median over rounds where both ran in state `s` of `f(a) / f(b)`; with the number of
    /// such rounds.
    fn ratio_by(
        &self,
        a: usize,
        b: usize,
        s: State,
        f: impl Fn(&Run) -> Option<f64>,
    ) -> Option<(f64, usize)> {
        let rounds: std::collections::BTreeSet<usize> = self.runs.iter().map(|r| r.round).collect();
        let xs: Vec<f64> = rounds
            .into_iter()
            .filter_map(|round| {
                let (ra, rb) = (self.run_in_round(a, round)?, self.run_in_round(b, round)?);
                if ra.state != s || rb.state != s {
                    return None;
                }
                Some(f(ra)? / f(rb)?)
            })
            .filter(|x| x.is_finite())
            .collect();
        let n = xs.len();
        median(xs).map(|m| (m, n))
    }

    /// Throughput ratio a ÷ b within state `s` (median over same-state rounds).
    pub fn rate_ratio(&self, a: usize, b: usize, s: State) -> Option<f64> {
        self.ratio_by(a, b, s, |r| Some(r.rate)).map(|(m, _)| m)
    }

    /// p50 ratio a ÷ b within state `s`.
    pub fn p50_ratio(&self, a: usize, b: usize, s: State) -> Option<f64> {
        self.ratio_by(a, b, s, |r| r.p50).map(|(m, _)| m)
    }

    /// Median of the probe (before and after) over the runs in state `s`.
    pub fn probe_median(&self, s: State) -> Option<f64> {
        median(
            self.runs
                .iter()
                .filter(|r| r.state == s)
                .flat_map(|r| [r.before, r.after])
                .map(|d| d.as_nanos() as f64)
                .collect(),
        )
    }

    fn states(&self) -> Vec<State> {
        let mut v: Vec<State> = [State::Fast, State::Slow]
            .into_iter()
            .filter(|s| self.runs.iter().any(|r| r.state == *s))
            .collect();
        if v.is_empty() {
            v.push(State::Mixed);
        }
        v
    }

    /// The Markdown of this series: the summary per state and the run log.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let has_lat = self.runs.iter().any(|r| r.p50.is_some());
        let has_sync = self.runs.iter().any(|r| r.per_sync.is_some());
        let (ratio_head, lat_ratio_head) = match self.compare {
            Compare::SubjectVs(i) => (
                format!("{} ÷ this", self.names[i]),
                format!("p50: {} ÷ this", self.names[i]),
            ),
            Compare::VsBase(i) => (
                format!("this ÷ {}", self.names[i]),
                format!("p50: this ÷ {}", self.names[i]),
            ),
        };
        let main_head = if self.show_mbps {
            "MB/s".to_string()
        } else {
            self.unit.to_string()
        };
        let _ = writeln!(s, "\n**{}**\n", self.title);
        let _ = write!(
            s,
            "| fsync state | contender | runs | {main_head} (median) |"
        );
        if has_lat {
            s.push_str(" p50 | p99 |");
        }
        if has_sync {
            s.push_str(" records per fdatasync |");
        }
        let _ = write!(s, " {ratio_head} |");
        if has_lat {
            let _ = write!(s, " {lat_ratio_head} |");
        }
        s.push_str("\n|---|---|---:|---:|");
        if has_lat {
            s.push_str("---:|---:|");
        }
        if has_sync {
            s.push_str("---:|");
        }
        s.push_str("---:|");
        if has_lat {
            s.push_str("---:|");
        }
        s.push('\n');
        for st in self.states() {
            let probe = self
                .probe_median(st)
                .map(|p| format!(" (probe {})", fmt_ns(p)))
                .unwrap_or_default();
            for (c, name) in self.names.iter().enumerate() {
                let runs = self.of(c, st).count();
                if runs == 0 {
                    continue;
                }
                let main = if self.show_mbps {
                    self.median_mbps(c, st).map(fmt_mbps)
                } else {
                    self.median_rate(c, st).map(fmt_rate)
                }
                .unwrap_or_else(|| "—".into());
                let _ = write!(s, "| {}{probe} | {name} | {runs} | {main} |", st.label());
                if has_lat {
                    let _ = write!(
                        s,
                        " {} | {} |",
                        self.median_p50(c, st).map_or("—".into(), fmt_ns),
                        self.median_p99(c, st).map_or("—".into(), fmt_ns)
                    );
                }
                if has_sync {
                    let per = median(self.of(c, st).filter_map(|r| r.per_sync).collect());
                    let _ = write!(s, " {} |", per.map_or("—".into(), |x| format!("{x:.1}")));
                }
                let (a, b) = match self.compare {
                    Compare::SubjectVs(i) => (i, c),
                    Compare::VsBase(i) => (c, i),
                };
                let ratio = if a == b {
                    "1".to_string()
                } else {
                    self.ratio_by(a, b, st, |r| Some(r.rate))
                        .map_or("—".into(), |(m, n)| format!("{} ({n})", fmt_ratio(m)))
                };
                let _ = write!(s, " {ratio} |");
                if has_lat {
                    let lr = if a == b {
                        "1".to_string()
                    } else {
                        self.ratio_by(a, b, st, |r| r.p50)
                            .map_or("—".into(), |(m, n)| format!("{} ({n})", fmt_ratio(m)))
                    };
                    let _ = write!(s, " {lr} |");
                }
                s.push('\n');
            }
        }
        s.push_str(
            "\nRatios are medians over rounds in which both runs saw the same fsync state \
             (number of such rounds in parentheses).\n",
        );
        // The run log: every run, its label and its probes.
        let _ = write!(s, "\n<details><summary>run log</summary>\n\n| round |");
        for n in &self.names {
            let _ = write!(s, " {n} |");
        }
        s.push_str("\n|---:|");
        for _ in &self.names {
            s.push_str("---|");
        }
        s.push('\n');
        let rounds: std::collections::BTreeSet<usize> = self.runs.iter().map(|r| r.round).collect();
        for round in rounds {
            let _ = write!(s, "| {} |", round + 1);
            for c in 0..self.names.len() {
                match self.run_in_round(c, round) {
                    Some(r) => {
                        let main = match (self.show_mbps, r.mbps) {
                            (true, Some(m)) => fmt_mbps(m),
                            _ => fmt_rate(r.rate),
                        };
                        let _ = write!(
                            s,
                            " {main}, {} ({}→{}) |",
                            r.state.label(),
                            fmt_ns(r.before.as_nanos() as f64),
                            fmt_ns(r.after.as_nanos() as f64)
                        );
                    }
                    None => s.push_str(" |"),
                }
            }
            s.push('\n');
        }
        s.push_str("\n</details>\n");
        s
    }
}

impl Ctx {
    /// Runs `rounds` rounds of the contenders `names` in order (A B C A B C ...), probing the
    /// fsync state before and after each run.
    pub fn interleave(
        &mut self,
        title: &str,
        names: &[&str],
        rounds: usize,
        compare: Compare,
        mut run: impl FnMut(&mut Ctx, usize) -> Measure,
    ) -> Series {
        let mut series = Series {
            title: title.to_string(),
            names: names.iter().map(|s| s.to_string()).collect(),
            runs: Vec::new(),
            compare,
            unit: "records/s",
            show_mbps: false,
        };
        for round in 0..rounds {
            for (c, name) in names.iter().enumerate() {
                let before = self.probe.measure();
                let mut m = run(self, c);
                let after = self.probe.measure();
                m.lat_ns.sort_unstable();
                let state = State::between(before, after);
                let r = Run {
                    contender: c,
                    round,
                    state,
                    before,
                    after,
                    rate: m.ops as f64 / m.secs.max(1e-9),
                    mbps: (m.bytes > 0).then(|| m.bytes as f64 / 1e6 / m.secs.max(1e-9)),
                    p50: percentile(&m.lat_ns, 50.0),
                    p99: percentile(&m.lat_ns, 99.0),
                    ops: m.ops,
                    per_sync: (m.syncs > 0).then(|| m.ops as f64 / m.syncs as f64),
                };
                eprintln!(
                    "  [{title}] round {}/{rounds} {name}: {} ops in {:.2} s = {}/s{} p50 {} p99 {} ({}: {} → {})",
                    round + 1,
                    r.ops,
                    m.secs,
                    fmt_rate(r.rate),
                    r.mbps.map(|m| format!(" ({})", fmt_mbps(m))).unwrap_or_default(),
                    r.p50.map_or("—".into(), fmt_ns),
                    r.p99.map_or("—".into(), fmt_ns),
                    state.label(),
                    fmt_ns(before.as_nanos() as f64),
                    fmt_ns(after.as_nanos() as f64),
                );
                series.runs.push(r);
            }
        }
        series
    }
}

/// A target from the issue, checked against one state's ratio.
pub struct Target {
    pub what: String,
    pub state: String,
    pub measured: Option<f64>,
    pub required: String,
    pub met: Option<bool>,
    pub note: String,
}

/// The Markdown report, printed as it grows and written to `--out` at the end.
pub struct Report {
    out: Option<PathBuf>,
    text: String,
    targets: Vec<Target>,
}

impl Report {
    pub fn new(out: Option<PathBuf>) -> Report {
        Report {
            out,
            text: String::new(),
            targets: Vec::new(),
        }
    }

    /// Appends Markdown (and prints it).
    pub fn line(&mut self, s: &str) {
        println!("{s}");
        self.text.push_str(s);
        self.text.push('\n');
    }

    pub fn series(&mut self, s: &Series) {
        self.line(&s.markdown());
    }

    /// Records a target check: `measured` against `required` (≥ when `at_least`).
    pub fn target(
        &mut self,
        what: &str,
        state: State,
        measured: Option<f64>,
        required: f64,
        at_least: bool,
        note: &str,
    ) {
        let met = measured.map(|m| {
            if at_least {
                m >= required
            } else {
                m <= required
            }
        });
        self.targets.push(Target {
            what: what.to_string(),
            state: state.label().to_string(),
            measured,
            required: format!(
                "{} {}",
                if at_least { "≥" } else { "≤" },
                fmt_ratio(required)
            ),
            met,
            note: note.to_string(),
        });
    }

    /// Records a target judged by hand-made criteria (e.g. flatness).
    pub fn target_text(
        &mut self,
        what: &str,
        state: &str,
        measured: &str,
        required: &str,
        met: bool,
    ) {
        self.targets.push(Target {
            what: what.to_string(),
            state: state.to_string(),
            measured: None,
            required: required.to_string(),
            met: Some(met),
            note: measured.to_string(),
        });
    }

    /// The targets table.
    pub fn targets(&mut self) {
        if self.targets.is_empty() {
            return;
        }
        let mut s = String::from(
            "\n## Targets\n\n| target | fsync state | measured | required | met |\n|---|---|---:|---:|---|\n",
        );
        for t in &self.targets {
            let measured = match t.measured {
                // Three decimals: a ratio just under the line must not print as on it.
                Some(m) => format!("{m:.3}x{}", if t.note.is_empty() { "" } else { " " }),
                None => String::new(),
            } + &t.note;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                t.what,
                t.state,
                if measured.is_empty() {
                    "—".into()
                } else {
                    measured
                },
                t.required,
                match t.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "not measured",
                }
            );
        }
        self.line(&s);
    }

    /// The machine, the command, the events.
    pub fn header(&mut self, args: &[String], quick: bool, dir: &Path, events: &[Vec<u8>]) {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpu
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("?")
            .trim()
            .to_string();
        let flags = cpu
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap_or("")
            .to_string();
        let simd: Vec<&str> = ["sse4_2", "avx2", "avx512f", "sha_ni"]
            .into_iter()
            .filter(|f| flags.split_whitespace().any(|x| x == *f))
            .collect();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .and_then(|k| k.parse::<u64>().ok())
            .map_or("?".into(), |kb| format!("{:.1} GiB", kb as f64 / 1048576.0));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        let (dev, fstype) = mount_of(dir);
        let df = command("df", &["-h", &dir.display().to_string()])
            .lines()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let date = command("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);
        let rustc = command("rustc", &["--version"]);
        let lens: Vec<usize> = events.iter().map(Vec::len).collect();
        let s = format!(
            "# evident benchmark{}\n\n\
             | | |\n|---|---|\n\
             | date | {} |\n\
             | command | `cargo run --release -p evident-tests --bin bench --{}` |\n\
             | CPU | {model} ({cores} cores; {}) |\n\
             | memory | {mem} |\n\
             | kernel | {kernel} |\n\
             | disk under test | {dev} ({fstype}), `df -h`: `{df}` |\n\
             | toolchain | {} |\n\
             | records | {} realistic audit events (tool calls, exec lifecycle, queries) in canonical JSON, mean {:.0} B (min {}, max {}) |\n\
             | fsync probe | median of 15 × (256 B pwrite into written blocks + fdatasync); ≥ {} ms is the slow state; a run is fast or slow when the probes before and after it agree, mixed otherwise |\n",
            if quick { " (quick smoke run: numbers are not meaningful)" } else { "" },
            date.trim(),
            args.iter().skip(1).map(|a| format!(" {a}")).collect::<String>(),
            simd.join(", "),
            rustc.trim(),
            events.len(),
            crate::events::mean_len(events),
            lens.iter().min().unwrap_or(&0),
            lens.iter().max().unwrap_or(&0),
            crate::probe::SLOW_THRESHOLD.as_millis(),
        );
        self.line(&s);
    }

    /// Writes the report to `--out`.
    pub fn finish(&mut self) {
        if let Some(p) = &self.out {
            std::fs::write(p, &self.text).expect("writing the report");
            eprintln!("report written to {}", p.display());
        }
    }
}

fn command(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The device and file system type of the mount holding `dir`.
fn mount_of(dir: &Path) -> (String, String) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let d = dir.display().to_string();
    let mut best: (usize, String, String) = (0, "?".into(), "?".into());
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let mp = f[1];
        let under = d == mp || d.starts_with(&format!("{}/", mp.trim_end_matches('/')));
        if under && mp.len() >= best.0 {
            best = (mp.len(), f[0].to_string(), f[2].to_string());
        }
    }
    (best.1, best.2)
}

/// Thousands-separated integer rate.
pub fn fmt_rate(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn fmt_mbps(x: f64) -> String {
    format!("{x:.0}")
}

/// A duration given in nanoseconds: µs below 1 ms, ms with 2 decimals below 100 ms, s above.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e6 {
        format!("{:.0} µs", ns / 1e3)
    } else if ns < 1e8 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

pub fn fmt_ratio(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}x")
    } else if x >= 10.0 {
        format!("{x:.1}x")
    } else {
        format!("{x:.2}x")
    }
}

/// `VmHWM` and `VmRSS` of this process, in KiB.
pub fn mem_kb() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmHWM:"), get("VmRSS:"))
}
