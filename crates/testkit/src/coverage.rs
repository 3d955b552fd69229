//! Coverage runs and child processes. `cargo llvm-cov` gives every test process an
//! `LLVM_PROFILE_FILE` naming where the instrumented binaries write their counters; a child
//! started with a cleared environment (to test exactly the settings it gets) would instead write
//! `default.profraw` into its working directory, a temporary one, and the lines it ran would
//! count as never run. Tests that clear a child's environment hand it [`coverage_env`] back.

/// The variables that steer where an instrumented process writes its coverage profile, as set
/// for this process (empty outside a coverage run).
pub fn coverage_env() -> Vec<(String, String)> {
    ["LLVM_PROFILE_FILE"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_profile_variable_is_passed_on() {
        let got = super::coverage_env();
        assert!(got.iter().all(|(k, _)| k == "LLVM_PROFILE_FILE"));
        assert_eq!(
            got.is_empty(),
            std::env::var_os("LLVM_PROFILE_FILE").is_none()
        );
    }
}
