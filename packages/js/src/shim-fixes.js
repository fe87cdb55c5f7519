// A fix for @bytecodealliance/preview2-shim 0.26.1 (Node): `descriptor.read`, `write` and
// `get-type` let a Node error (ENOSPC, EIO...) escape as a JS exception instead of returning the
// WASI `error-code` the other methods return. Thrown through the component, such an exception
// unwinds the guest mid-call and leaves the instance unusable ("cannot enter component
// instance"): a full disk would wreck the trail handle instead of failing one append. Wrapped
// here, the component sees `insufficient-space` and reports an `io` error (`no-space`), keeps
// its state, and recovers when space returns — as under wasmtime.

const CODES = {
  ENOSPC: "insufficient-space",
  EDQUOT: "quota",
  EIO: "io",
  EFBIG: "file-too-large",
  EBADF: "bad-descriptor",
  EACCES: "access",
  EPERM: "not-permitted",
  EROFS: "read-only",
  EISDIR: "is-directory",
  EINVAL: "invalid",
  ENOENT: "no-entry",
  EINTR: "interrupted",
  EAGAIN: "would-block",
  ENOMEM: "insufficient-memory",
};

const FIXED = Symbol.for("@evident/trail shim fixes");

/** Patches the shim's Descriptor class (once per process) so these methods throw error codes. */
export function fixShim(importObject) {
  const Descriptor = importObject["wasi:filesystem/types"]?.Descriptor;
  if (!Descriptor || Descriptor.prototype[FIXED]) return;
  for (const name of ["read", "write", "getType"]) {
    const original = Descriptor.prototype[name];
    if (typeof original !== "function") continue;
    Descriptor.prototype[name] = function (...args) {
      try {
        return original.apply(this, args);
      } catch (e) {
        if (e && typeof e === "object" && typeof e.code === "string") throw CODES[e.code] ?? "io";
        throw e;
      }
    };
  }
  Descriptor.prototype[FIXED] = true;
}
