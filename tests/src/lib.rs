//! Cross-crate tests of evident live under `tests/tests/`.
