//! glibc malloc's one setting that matters for an edge's resident memory
//! (docs/memory.md): a fixed mmap threshold.
//!
//! glibc serves allocations above its mmap threshold (128 KiB) with their
//! own mappings, which go back to the system when freed; but its default
//! *dynamic* threshold rises to the size of every such block freed (up to
//! 32 MiB). An edge frees large bodies all the time (evictions), so soon
//! every body up to the largest seen comes from the heap, whose holes are
//! not given back: measured, up to 50 MiB more resident memory after a
//! few thousand evictions. Setting the threshold fixes it (and turns the
//! dynamic adjustment off).
//!
//! glibc reads `MALLOC_MMAP_THRESHOLD_` once, when the process starts, and
//! this project allows no `unsafe` (so no `mallopt`): the `edge` and `cdn`
//! binaries re-execute themselves once with the variable set
//! ([`reexec_with_defaults`]), unless it or a `glibc.malloc` tunable is
//! already in the environment (the operator's choice wins). Children of
//! `cdn up`/`cdn run` inherit it.

use std::ffi::OsString;

/// The variable glibc reads.
pub const MMAP_THRESHOLD_ENV: &str = "MALLOC_MMAP_THRESHOLD_";
/// The threshold: glibc's own starting value, kept fixed.
pub const MMAP_THRESHOLD: &str = "131072";

/// The variables to add for a process whose environment is `get`: none if
/// the operator set the threshold (empty counts as unset: glibc would read
/// it as 0, an mmap per allocation) or any glibc malloc tunable.
pub fn missing(get: impl Fn(&str) -> Option<OsString>) -> Option<(&'static str, &'static str)> {
    let set = |k: &str| get(k).is_some_and(|v| !v.is_empty());
    let tunables = get("GLIBC_TUNABLES").is_some_and(|v| v.to_string_lossy().contains("glibc.malloc."));
    (!set(MMAP_THRESHOLD_ENV) && !tunables).then_some((MMAP_THRESHOLD_ENV, MMAP_THRESHOLD))
}

/// Re-executes this program with [`missing`]'s variable set, if any is
/// missing; returns only if none is (or if the re-execution failed, which
/// costs memory, not correctness). Call it first in `main`, before any
/// thread starts.
pub fn reexec_with_defaults() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let Some((k, v)) = missing(|k| std::env::var_os(k)) else { return };
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    use std::os::unix::process::CommandExt;
    let e = std::process::Command::new(&exe).arg0(argv0).args(args).env(k, v).exec();
    eprintln!(
        "cannot re-execute {} with {k}={v} (resident memory may grow past docs/memory.md's formula): {e}",
        exe.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, OsString)> = vars.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_threshold_is_set_unless_the_operator_chose_one() {
        assert_eq!(missing(env(&[])), Some((MMAP_THRESHOLD_ENV, "131072")));
        assert_eq!(missing(env(&[("MALLOC_MMAP_THRESHOLD_", "65536")])), None);
        assert_eq!(missing(env(&[("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")])), None);
        assert_eq!(missing(env(&[("GLIBC_TUNABLES", "glibc.rtld.nns=2")])), Some((MMAP_THRESHOLD_ENV, "131072")));
        // empty would be read as 0 by glibc: one mapping per allocation
        assert_eq!(missing(env(&[("MALLOC_MMAP_THRESHOLD_", "")])), Some((MMAP_THRESHOLD_ENV, "131072")));
    }
}
