//! The C2SP tlog-witness protocol, sans-IO: the `add-checkpoint` request, the witness's
//! decision against its stored state, and that state's file form. The HTTP server, the
//! durable store and the client live in the native host.
//!
//! Rooms:
//! - [`request`]: the request body (`old`, proof lines, blank line, checkpoint);
//! - [`body`]: the checkpoint body the witness reads (origin, size, root);
//! - [`decide`]: the checks and the cosignature;
//! - [`state`]: the stored latest cosigned checkpoint per origin;
//! - [`sign_guard`]: the log's own refusal to sign a fork;
//! - [`sign_check`]: a live signer's check and note before and after each signature.

pub mod body;
pub mod decide;
pub mod request;
pub mod sign_check;
pub mod sign_guard;
pub mod state;

pub use body::CheckpointBody;
pub use decide::{check_request, Cosigned, Refusal, Submission};
pub use request::{AddCheckpoint, MAX_PROOF_LINES, MAX_REQUEST_LEN};
pub use sign_check::{check_signing, note_to_write, SignCheckError};
pub use sign_guard::{check_before_signing, ForkRefusal};
pub use state::{state_file_name, LogState};
