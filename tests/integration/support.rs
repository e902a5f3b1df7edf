//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `nutgiao` binary built for this test run.
pub fn nutgiao() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nutgiao"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example arterial site.
pub fn arterial() -> PathBuf {
    root().join("config/examples/arterial.toml")
}

/// `../shared/data`, or `None` (with a message) when it is not beside the checkout.
#[allow(dead_code)]
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/data is not beside the checkout");
        None
    }
}

/// Is a program on PATH?
#[allow(dead_code)]
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| Path::new(&d).join(program).is_file()))
        .unwrap_or(false)
}

/// A free TCP port on loopback (bound and released; good enough for tests).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A minimal HTTP/1.0 client: (status, body). No dependency, loopback only.
#[allow(dead_code)]
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// Polls `f` every 100 ms until it returns Some, or panics after `secs` with `what`.
#[allow(dead_code)]
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < end, "timed out after {secs} s waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A child process that is killed when the test ends, pass or fail.
#[allow(dead_code)]
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A copy of the arterial in `dir` whose three cabinets listen on free loopback ports, so that
/// tests running side by side never share a Modbus port. Returns the file and the ports.
#[allow(dead_code)]
pub fn arterial_on_free_ports(dir: &Path) -> (PathBuf, [u16; 3]) {
    let mut text = std::fs::read_to_string(arterial()).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    for (k, port) in ports.iter().enumerate() {
        text = text.replace(&format!("127.0.0.1:1502{}", k + 1), &format!("127.0.0.1:{port}"));
    }
    let path = dir.join("arterial.toml");
    std::fs::write(&path, text).unwrap();
    (path, ports)
}

/// Films of the arterial's two cameras (60 simulated seconds, seed 3), made once per test run
/// and shared by the tests that watch them: `<dir>/<camera id>.mp4`.
#[allow(dead_code)]
pub fn arterial_films() -> &'static Path {
    static FILMS: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    FILMS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = nutgiao()
                .arg("simulate")
                .arg(arterial())
                .args(["--duration", "60", "--seed", "3", "--cameras"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "filming the arterial: {}", String::from_utf8_lossy(&out.stderr));
            dir
        })
        .path()
}

/// Mosquitto is installed (says so when it is not, for the skip message).
#[allow(dead_code)]
pub fn have_mosquitto() -> bool {
    let ok = have("mosquitto") && have("mosquitto_sub");
    if !ok {
        eprintln!("skipping: mosquitto not installed (scripts/bootstrap.sh installs it)");
    }
    ok
}

/// A Mosquitto broker on loopback `port`, stopped when the guard drops.
#[allow(dead_code)]
pub fn mosquitto_on(dir: &Path, port: u16) -> Child {
    let conf = dir.join(format!("mosquitto-{port}.conf"));
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).unwrap();
    let child = Child(
        Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, "mosquitto to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    child
}

/// A Mosquitto broker on a free loopback port and its `HOST:PORT`; `None` when Mosquitto is
/// not installed.
#[allow(dead_code)]
pub fn mosquitto(dir: &Path) -> Option<(Child, String)> {
    if !have_mosquitto() {
        return None;
    }
    let port = free_port();
    Some((mosquitto_on(dir, port), format!("127.0.0.1:{port}")))
}

/// `nutgiao watch SITE --camera-dir FILMS` with everything it writes under `out`:
/// `out.jsonl` (reported events), `out.sqlite` (the store) and `out/` (evidence).
#[allow(dead_code)]
pub fn watch_films(site: &Path, films: &Path, out: &Path) -> Command {
    let mut cmd = nutgiao();
    cmd.arg("watch")
        .arg(site)
        .arg("--camera-dir")
        .arg(films)
        .arg("--events")
        .arg(out.with_extension("jsonl"))
        .arg("--store")
        .arg(out.with_extension("sqlite"))
        .arg("--evidence")
        .arg(out);
    cmd
}
