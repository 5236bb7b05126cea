//! Real servers and tools from Debian's packages that tests drive (`chromium`, `prometheus`):
//! `./scripts/test` installs them; a test that cannot find one fails saying how to get it.

use std::path::PathBuf;

/// `$ENV` if set, else `/usr/bin/NAME`; fails the test, naming the Debian package, when the
/// binary is not there.
pub fn tool(name: &str, env: &str) -> PathBuf {
    let path =
        std::env::var_os(env).map_or_else(|| PathBuf::from("/usr/bin").join(name), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: run ./scripts/test (which installs Debian's {name}), or \
         `apt-get install {name}`, or set {env}",
        path.display()
    );
    path
}
