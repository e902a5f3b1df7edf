//! Starting SUMO as a child process with a TraCI port on loopback. The child is killed
//! whenever the handle is dropped without a clean close, so no error path leaves a SUMO behind.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::error::SumoError;
use super::traci::TraciClient;

const DEBIAN_SUMO_HOME: &str = "/usr/share/sumo";

/// How SUMO is started.
#[derive(Debug, Clone)]
pub struct SumoLaunch {
    /// The `sumo` binary (`sumo` on PATH by default; `SUMO_BINARY` overrides).
    pub program: PathBuf,
    /// Arguments before `--remote-port` (the config, seed, additional files, extras).
    pub args: Vec<String>,
    /// How long SUMO may take to load the network and open its port.
    pub connect_timeout: Duration,
    /// Bound on every TraCI answer, including a simulation step.
    pub answer_timeout: Duration,
}

impl SumoLaunch {
    pub fn new(args: Vec<String>) -> Self {
        Self {
            program: std::env::var_os("SUMO_BINARY").map_or_else(|| PathBuf::from("sumo"), PathBuf::from),
            args,
            connect_timeout: Duration::from_secs(60),
            answer_timeout: Duration::from_secs(60),
        }
    }
}

/// A running SUMO and the TraCI session to it.
#[derive(Debug)]
pub struct SumoProcess {
    pub client: TraciClient,
    child: Option<Child>,
    pub port: u16,
}

impl SumoProcess {
    /// Starts SUMO on a free loopback port and connects to it. SUMO's console output goes to
    /// nutgiao's standard error so that standard output stays for nutgiao's own results.
    pub fn start(launch: &SumoLaunch) -> Result<Self, SumoError> {
        let port = free_port()?;
        let program = launch.program.display().to_string();
        let mut cmd = Command::new(&launch.program);
        // Without SUMO_HOME, SUMO looks its XML schemas up on the web; Debian installs them here.
        if std::env::var_os("SUMO_HOME").is_none() && std::path::Path::new(DEBIAN_SUMO_HOME).is_dir() {
            cmd.env("SUMO_HOME", DEBIAN_SUMO_HOME);
        }
        cmd.args(&launch.args).arg("--remote-port").arg(port.to_string()).stdin(Stdio::null());
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            cmd.stdout(Stdio::from(fd));
        }
        tracing::debug!(program, args = ?launch.args, port, "starting SUMO");
        let child = cmd.spawn().map_err(|cause| SumoError::Spawn { program, cause })?;
        let mut guard = ChildGuard(Some(child));
        let stream = connect(&mut guard, port, launch.connect_timeout)?;
        let client = TraciClient::new(stream, launch.answer_timeout)?;
        Ok(Self { client, child: guard.0.take(), port })
    }

    /// Closes the TraCI session and waits for SUMO to write its outputs and exit.
    pub fn close(mut self) -> Result<(), SumoError> {
        let closed = self.client.close();
        let Some(mut child) = self.child.take() else { return closed };
        if closed.is_err() {
            kill(&mut child);
            return closed;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(SumoError::BadResponse(format!("SUMO exited with {status} after the run was closed")));
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    kill(&mut child);
                    return Err(SumoError::Timeout { during: "SUMO's exit after close".into(), timeout_s: 120.0 });
                }
                Err(cause) => {
                    kill(&mut child);
                    return Err(SumoError::ConnectionLost { during: "waiting for SUMO to exit".into(), cause });
                }
            }
        }
    }

    /// Process id of SUMO while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SUMO's exit status if it has already exited (for error messages).
    pub fn exit_status(&mut self) -> Option<String> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).map(|s| s.to_string())
    }
}

impl Drop for SumoProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }
}

struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            kill(&mut child);
        }
    }
}

fn kill(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        tracing::warn!(pid = child.id(), "stopping SUMO");
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A port that was free a moment ago; SUMO binds it itself, so a race is possible but SUMO
/// then exits and the error says so.
fn free_port() -> Result<u16, SumoError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|cause| SumoError::ConnectionLost { during: "choosing a free TraCI port".into(), cause })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|cause| SumoError::ConnectionLost { during: "choosing a free TraCI port".into(), cause })
}

fn connect(guard: &mut ChildGuard, port: u16, timeout: Duration) -> Result<TcpStream, SumoError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let start = Instant::now();
    loop {
        if let Some(child) = guard.0.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(SumoError::ExitedBeforeConnect { status: status.to_string(), port });
        }
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(s) => return Ok(s),
            Err(_) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return Err(SumoError::ConnectTimeout { port, waited_s: timeout.as_secs_f64() }),
        }
    }
}
