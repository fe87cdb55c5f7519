//! The C2SP tlog-policy text and quorum evaluation.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Lines are separated by LF; items by spaces and tabs; blank lines and `#` comments are
//! ignored. A group or the quorum may only name witnesses and groups defined on earlier
//! lines (so there are no cycles), each at most once per group; `none` is predefined for
//! the quorum only. Exactly one quorum line. Duplicate keys (the same Ed25519 public key
//! twice among logs, or among witnesses) are refused. Log keys are type 0x01 vkeys (their
//! name is the log's origin); witness keys are type 0x04 (`cosignature/v1`) vkeys. evident
//! reads the file as UTF-8 (names are compared as exact byte strings).

use super::error::NoteError;
use super::key::{KeyKind, VerifierKey};
use super::open::{open, OpenedNote};

/// More than this many logs, witnesses or groups is refused (the spec recommends
/// supporting at least 32 of each).
pub const MAX_POLICY_ENTRIES: usize = 256;

/// A log the policy trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its key (the key name is the log's origin).
    pub key: VerifierKey,
    /// Where to reach it, if given.
    pub url: Option<String>,
}

/// A witness the policy names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name inside the policy (for groups and the quorum).
    pub name: String,
    /// Its cosigner key.
    pub key: VerifierKey,
    /// Its submission prefix (`<url>/add-checkpoint`), if given.
    pub url: Option<String>,
}

/// A witness or a group, as a group member or the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// Index into [`Policy::witnesses`].
    Witness(usize),
    /// Index into [`Policy::groups`].
    Group(usize),
}

/// A group: satisfied when at least `threshold` of its members are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// How many members must be satisfied (1 ≤ threshold ≤ members).
    pub threshold: usize,
    /// Its members, each defined before the group.
    pub members: Vec<Member>,
}

/// The quorum rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// `quorum none`: no cosignature needed.
    None,
    /// A witness or group that must be satisfied.
    Of(Member),
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The logs, in file order.
    pub logs: Vec<PolicyLog>,
    /// The witnesses, in file order.
    pub witnesses: Vec<PolicyWitness>,
    /// The groups, in file order (each refers only to earlier ones).
    pub groups: Vec<Group>,
    /// The quorum.
    pub quorum: Quorum,
}

/// Why a policy file was refused, or a checkpoint did not satisfy one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The policy text is wrong at `line` (1-based).
    Parse {
        /// Line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint note itself was refused.
    Note(NoteError),
    /// No log of the policy signed the checkpoint under its origin.
    NoLogSignature {
        /// The checkpoint's origin line.
        origin: String,
    },
    /// The cosignatures present do not meet the quorum.
    QuorumNotMet {
        /// Policy names of the witnesses whose cosignatures verified.
        cosigned: Vec<String>,
    },
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::Parse { line, reason } => write!(f, "policy line {line}: {reason}"),
            PolicyError::Note(e) => write!(f, "{e}"),
            PolicyError::NoLogSignature { origin } => write!(
                f,
                "no log of the policy signed this checkpoint (origin {origin:?})"
            ),
            PolicyError::QuorumNotMet { cosigned } if cosigned.is_empty() => {
                write!(f, "witness quorum not met: no policy witness cosigned")
            }
            PolicyError::QuorumNotMet { cosigned } => write!(
                f,
                "witness quorum not met: only {} cosigned",
                cosigned.join(", ")
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

impl From<NoteError> for PolicyError {
    fn from(e: NoteError) -> Self {
        PolicyError::Note(e)
    }
}

/// What a checkpoint satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVerdict {
    /// The log (origin) whose signature verified.
    pub log: String,
    /// Policy names of the witnesses whose cosignatures verified.
    pub cosigned: Vec<String>,
    /// The timestamps of those cosignatures, same order.
    pub timestamps: Vec<u64>,
    /// The note as opened.
    pub opened: OpenedNote,
}

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: Quorum::None,
        };
        let mut quorum_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let err = |reason: String| PolicyError::Parse {
                line: line_no,
                reason,
            };
            if let Some(pos) = raw
                .bytes()
                .position(|b| b < 0x20 && b != b'\t' || b == 0x7f)
            {
                return Err(err(format!("control character at column {}", pos + 1)));
            }
            let items: Vec<&str> = raw.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
            let Some(&keyword) = items.first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            let args = &items[1..];
            match keyword {
                "log" => {
                    let (key, url) = match args {
                        [k] => (*k, None),
                        [k, u] => (*k, Some(u.to_string())),
                        _ => return Err(err("expected: log <vkey> [<url>]".into())),
                    };
                    let key = parse_key(key, KeyKind::Ed25519).map_err(err)?;
                    if p.logs
                        .iter()
                        .any(|l| l.key.public_bytes() == key.public_bytes())
                    {
                        return Err(err(format!("log {} listed twice", key.name())));
                    }
                    p.logs.push(PolicyLog { key, url });
                    if p.logs.len() > MAX_POLICY_ENTRIES {
                        return Err(err(format!("more than {MAX_POLICY_ENTRIES} logs")));
                    }
                }
                "witness" => {
                    let (name, key, url) = match args {
                        [n, k] => (*n, *k, None),
                        [n, k, u] => (*n, *k, Some(u.to_string())),
                        _ => return Err(err("expected: witness <name> <vkey> [<url>]".into())),
                    };
                    p.check_new_name(name).map_err(err)?;
                    let key = parse_key(key, KeyKind::CosignatureV1).map_err(err)?;
                    if p.witnesses
                        .iter()
                        .any(|w| w.key.public_bytes() == key.public_bytes())
                    {
                        return Err(err(format!("the key of witness {name} is listed twice")));
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url,
                    });
                    if p.witnesses.len() > MAX_POLICY_ENTRIES {
                        return Err(err(format!("more than {MAX_POLICY_ENTRIES} witnesses")));
                    }
                }
                "group" => {
                    let [name, k, members @ ..] = args else {
                        return Err(err("expected: group <name> all|any|<k> <name>...".into()));
                    };
                    p.check_new_name(name).map_err(err)?;
                    if members.is_empty() {
                        return Err(err(format!("group {name} has no members")));
                    }
                    let mut resolved = Vec::with_capacity(members.len());
                    for m in members {
                        let member = p.resolve(m).map_err(err)?;
                        if resolved.contains(&member) {
                            return Err(err(format!("{m} is listed twice in group {name}")));
                        }
                        resolved.push(member);
                    }
                    let n = resolved.len();
                    let threshold = match *k {
                        "all" => n,
                        "any" => 1,
                        k => match parse_decimal(k) {
                            Some(t) if (1..=n).contains(&t) => t,
                            _ => {
                                return Err(err(format!(
                                    "group {name}: threshold {k:?} is not all, any or a number from 1 to {n}"
                                )))
                            }
                        },
                    };
                    p.groups.push(Group {
                        name: name.to_string(),
                        threshold,
                        members: resolved,
                    });
                    if p.groups.len() > MAX_POLICY_ENTRIES {
                        return Err(err(format!("more than {MAX_POLICY_ENTRIES} groups")));
                    }
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(err("expected: quorum <name>".into()));
                    };
                    if quorum_seen {
                        return Err(err("a second quorum line".into()));
                    }
                    quorum_seen = true;
                    p.quorum = if *name == "none" {
                        Quorum::None
                    } else {
                        Quorum::Of(p.resolve(name).map_err(err)?)
                    };
                }
                other => return Err(err(format!("unknown keyword {other:?}"))),
            }
        }
        if !quorum_seen {
            return Err(PolicyError::Parse {
                line: text.split('\n').count(),
                reason: "the policy has no quorum line".into(),
            });
        }
        Ok(p)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("the name none is reserved".into());
        }
        if self.witnesses.iter().any(|w| w.name == name)
            || self.groups.iter().any(|g| g.name == name)
        {
            return Err(format!("the name {name} is defined twice"));
        }
        Ok(())
    }

    fn resolve(&self, name: &str) -> Result<Member, String> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return Ok(Member::Group(i));
        }
        Err(format!("{name} is not a witness or group defined above"))
    }

    /// Whether the witnesses flagged in `cosigned` (indexed like [`Policy::witnesses`])
    /// meet the quorum. Linear in the policy's size (groups only refer backwards).
    pub fn quorum_met(&self, cosigned: &[bool]) -> bool {
        let witness = |i: usize| cosigned.get(i).copied().unwrap_or(false);
        let mut group_ok = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let n = g
                .members
                .iter()
                .filter(|m| match **m {
                    Member::Witness(i) => witness(i),
                    Member::Group(j) => group_ok.get(j).copied().unwrap_or(false),
                })
                .count();
            group_ok.push(n >= g.threshold);
        }
        match self.quorum {
            Quorum::None => true,
            Quorum::Of(Member::Witness(i)) => witness(i),
            Quorum::Of(Member::Group(j)) => group_ok.get(j).copied().unwrap_or(false),
        }
    }

    /// Every key the policy knows (logs and witnesses), to open a note with.
    pub fn known_keys(&self) -> Vec<VerifierKey> {
        self.logs
            .iter()
            .map(|l| l.key.clone())
            .chain(self.witnesses.iter().map(|w| w.key.clone()))
            .collect()
    }

    /// Opens a checkpoint note and checks it against the policy: a policy log whose key name
    /// is the checkpoint's origin signed it, and the verified cosignatures meet the quorum.
    pub fn verify(&self, note: &[u8]) -> Result<PolicyVerdict, PolicyError> {
        let opened = open(note, &self.known_keys())?;
        self.check_opened(opened)
    }

    /// [`Policy::verify`] for a note already opened against [`Policy::known_keys`].
    pub fn check_opened(&self, opened: OpenedNote) -> Result<PolicyVerdict, PolicyError> {
        let origin = opened
            .note
            .text()
            .split('\n')
            .next()
            .unwrap_or("")
            .to_string();
        let log_signed = opened
            .verified
            .iter()
            .any(|v| v.kind == KeyKind::Ed25519 && v.name == origin);
        if !log_signed {
            return Err(PolicyError::NoLogSignature { origin });
        }
        let mut flags = vec![false; self.witnesses.len()];
        let mut cosigned = Vec::new();
        let mut timestamps = Vec::new();
        for v in &opened.verified {
            if let Some(i) = self
                .witnesses
                .iter()
                .position(|w| w.key.name() == v.name && w.key.id() == v.id)
            {
                flags[i] = true;
                cosigned.push(self.witnesses[i].name.clone());
                timestamps.push(v.timestamp.unwrap_or(0));
            }
        }
        if !self.quorum_met(&flags) {
            return Err(PolicyError::QuorumNotMet { cosigned });
        }
        Ok(PolicyVerdict {
            log: origin,
            cosigned,
            timestamps,
            opened,
        })
    }
}

fn parse_key(text: &str, want: KeyKind) -> Result<VerifierKey, String> {
    let key = VerifierKey::parse(text).map_err(|e| e.to_string())?;
    if key.kind() != want {
        return Err(match want {
            KeyKind::Ed25519 => format!("log key {} is not an Ed25519 (type 0x01) key", key.name()),
            KeyKind::CosignatureV1 => format!(
                "witness key {} is not a cosignature/v1 (type 0x04) key",
                key.name()
            ),
        });
    }
    Ok(key)
}

fn parse_decimal(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}
