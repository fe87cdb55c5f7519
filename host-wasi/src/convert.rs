//! Conversions between the core's types and the WIT types.

use crate::bindings::evident::log::types as wit;
use evident_core::{Checkpoint, Error, Hash, LogId};

pub fn checkpoint(c: &Checkpoint) -> wit::Checkpoint {
    wit::Checkpoint {
        log_id: c.log_id.to_hex(),
        seq: c.seq,
        hash: c.hash.to_hex(),
    }
}

pub fn from_checkpoint(c: &wit::Checkpoint) -> Result<Checkpoint, wit::Error> {
    Ok(Checkpoint {
        log_id: LogId::from_hex(&c.log_id).ok_or_else(|| {
            wit::Error::InvalidArgument(format!("log id `{}` is not 32 hex digits", c.log_id))
        })?,
        seq: c.seq,
        hash: Hash::from_hex(&c.hash).ok_or_else(|| {
            wit::Error::InvalidArgument(format!("hash `{}` is not 64 hex digits", c.hash))
        })?,
    })
}

pub fn location(l: Option<&evident_core::Location>) -> wit::Location {
    match l {
        Some(l) => wit::Location {
            file: l.file.clone(),
            segment: l.segment,
            offset: l.offset,
            seq: l.seq,
        },
        None => wit::Location {
            file: None,
            segment: None,
            offset: None,
            seq: None,
        },
    }
}

pub fn error(e: &Error) -> wit::Error {
    let corruption = || wit::Corruption {
        location: location(e.location()),
        message: e.to_string(),
    };
    match e {
        Error::Io {
            op,
            location: l,
            error,
        } => wit::Error::Io(wit::IoFailure {
            op: op.to_string(),
            location: location(Some(l)),
            kind: match error.kind {
                evident_core::IoErrorKind::NotFound => wit::IoErrorKind::NotFound,
                evident_core::IoErrorKind::NoSpace => wit::IoErrorKind::NoSpace,
                evident_core::IoErrorKind::PermissionDenied => wit::IoErrorKind::PermissionDenied,
                evident_core::IoErrorKind::Unsupported => wit::IoErrorKind::Unsupported,
                evident_core::IoErrorKind::Other => wit::IoErrorKind::Other,
            },
            message: e.to_string(),
        }),
        Error::Corrupt { .. } => wit::Error::Corrupt(corruption()),
        Error::TornTail { .. } => wit::Error::TornTail(corruption()),
        Error::BehindCheckpoint { .. } => wit::Error::BehindCheckpoint(corruption()),
        Error::CheckpointMismatch { .. } | Error::TreeMismatch { .. } => {
            wit::Error::CheckpointMismatch(corruption())
        }
        Error::TooLarge { len, .. } => wit::Error::TooLarge(*len as u64),
        Error::SeqExhausted { .. } | Error::UnsupportedVersion { .. } => {
            wit::Error::Failed(e.to_string())
        }
        Error::InvalidArgument { what } => wit::Error::InvalidArgument(what.clone()),
        Error::Failed { reason } => wit::Error::Failed(reason.clone()),
        Error::Closed => wit::Error::Closed,
        Error::NotOpen => wit::Error::Failed("the trail failed to open".into()),
    }
}
