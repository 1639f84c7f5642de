//! The built binaries, for tests that run them as separate processes.

use std::path::PathBuf;

/// The path of a built binary of this workspace. Test executables live in
/// `<target>/<profile>/deps`, binaries one level up; fails loudly when it is not built
/// (`cargo build --workspace --bins`, as `scripts/test` does).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("{} has no target directory", exe.display()))
        .join(name);
    assert!(path.exists(), "{} is not built: run `cargo build --workspace --bins` first", path.display());
    path
}

/// A port free now on 127.0.0.1 (for processes that bind it themselves).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or_else(|e| panic!("no free port: {e}"), |a| a.port())
}

/// A listener on a free port of 127.0.0.1 and its `http://` origin, for a service run in
/// the test's process (`run(cli, listener, shutdown)`).
pub async fn listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!("http://{}", l.local_addr().unwrap_or_else(|e| panic!("local address: {e}")));
    (l, url)
}
