//! A blocking TraCI client. Every read and write has a timeout, so a SUMO that hangs or dies
//! surfaces as an error naming the request rather than as a stuck controller.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::codec::{self, Answer, Command, Value, cmd, var};
use super::error::SumoError;

/// A connected TraCI session.
#[derive(Debug)]
pub struct TraciClient {
    stream: Option<TcpStream>,
    timeout: Duration,
}

/// Largest response nutgiao accepts; a longer length header means a corrupt stream.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

impl TraciClient {
    /// Wraps a connected stream; `timeout` bounds every read and write.
    pub fn new(stream: TcpStream, timeout: Duration) -> Result<Self, SumoError> {
        let lost = |cause| SumoError::ConnectionLost { during: "connection setup".into(), cause };
        stream.set_read_timeout(Some(timeout)).map_err(lost)?;
        stream.set_write_timeout(Some(timeout)).map_err(lost)?;
        stream.set_nodelay(true).map_err(lost)?;
        Ok(Self { stream: Some(stream), timeout })
    }

    /// Sends the commands as one message and decodes one answer per command.
    pub fn send(&mut self, commands: &[Command]) -> Result<Vec<Answer>, SumoError> {
        let during = || match commands {
            [one] => codec::describe(one),
            [first, ..] => format!("{} and {} more", codec::describe(first), commands.len() - 1),
            [] => "an empty request".into(),
        };
        let timeout_s = self.timeout.as_secs_f64();
        let io_err = |cause: std::io::Error| match cause.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => SumoError::Timeout { during: during(), timeout_s },
            ErrorKind::UnexpectedEof => SumoError::ConnectionLost {
                during: during(),
                cause: std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "SUMO closed the connection (did it quit on an error?)",
                ),
            },
            _ => SumoError::ConnectionLost { during: during(), cause },
        };
        let stream = self.stream.as_mut().ok_or_else(|| SumoError::ConnectionLost {
            during: during(),
            cause: std::io::Error::new(ErrorKind::NotConnected, "the connection was already closed"),
        })?;
        stream.write_all(&codec::encode_message(commands)).map_err(io_err)?;
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).map_err(io_err)?;
        let total = i32::from_be_bytes(header);
        let body_len =
            usize::try_from(total)
                .ok()
                .and_then(|t| t.checked_sub(4))
                .filter(|n| *n <= MAX_MESSAGE_BYTES)
                .ok_or_else(|| SumoError::BadResponse(format!("message length {total} in answer to {}", during())))?;
        let mut body = vec![0u8; body_len];
        stream.read_exact(&mut body).map_err(io_err)?;
        codec::decode_response(&body, commands)
    }

    fn one(&mut self, command: Command) -> Result<Answer, SumoError> {
        let mut answers = self.send(std::slice::from_ref(&command))?;
        answers.pop().ok_or_else(|| SumoError::BadResponse(format!("no answer to {}", codec::describe(&command))))
    }

    /// The TraCI API version and SUMO's version string.
    pub fn version(&mut self) -> Result<(i32, String), SumoError> {
        match self.one(Command::GetVersion)? {
            Answer::Version { api, sumo } => Ok((api, sumo)),
            other => Err(SumoError::BadResponse(format!("version request answered with {other:?}"))),
        }
    }

    /// Advances SUMO by one step (its `--step-length`).
    pub fn step(&mut self) -> Result<(), SumoError> {
        self.one(Command::SimStep(0.0)).map(drop)
    }

    /// Reads one variable.
    pub fn get(&mut self, domain: u8, var: u8, object: &str) -> Result<Value, SumoError> {
        match self.one(Command::Get { domain, var, object: object.to_owned() })? {
            Answer::Value { value, .. } => Ok(value),
            other => Err(SumoError::BadResponse(format!("get answered with {other:?}"))),
        }
    }

    /// Reads many variables in one round trip; values come back in request order.
    pub fn get_many(&mut self, requests: &[(u8, u8, String)]) -> Result<Vec<Value>, SumoError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let commands: Vec<Command> = requests
            .iter()
            .map(|(domain, var, object)| Command::Get { domain: *domain, var: *var, object: object.clone() })
            .collect();
        self.send(&commands)?
            .into_iter()
            .map(|a| match a {
                Answer::Value { value, .. } => Ok(value),
                other => Err(SumoError::BadResponse(format!("get answered with {other:?}"))),
            })
            .collect()
    }

    pub fn sim_time_s(&mut self) -> Result<f64, SumoError> {
        as_f64(self.get(cmd::GET_SIM, var::TIME, "")?, "simulation time")
    }

    /// Vehicles still on the network or waiting to depart; 0 means the run is over.
    pub fn min_expected_vehicles(&mut self) -> Result<i32, SumoError> {
        as_i32(self.get(cmd::GET_SIM, var::MIN_EXPECTED_VEHICLES, "")?, "expected vehicles")
    }

    pub fn tl_ids(&mut self) -> Result<Vec<String>, SumoError> {
        match self.get(cmd::GET_TL, var::ID_LIST, "")? {
            Value::StringList(l) => Ok(l),
            other => Err(unexpected("traffic light id list", &other)),
        }
    }

    pub fn tl_state(&mut self, tls: &str) -> Result<String, SumoError> {
        as_string(self.get(cmd::GET_TL, var::TL_RED_YELLOW_GREEN_STATE, tls)?, "traffic light state")
    }

    pub fn tl_phase(&mut self, tls: &str) -> Result<i32, SumoError> {
        as_i32(self.get(cmd::GET_TL, var::TL_CURRENT_PHASE, tls)?, "traffic light phase")
    }

    pub fn tl_program(&mut self, tls: &str) -> Result<String, SumoError> {
        as_string(self.get(cmd::GET_TL, var::TL_CURRENT_PROGRAM, tls)?, "traffic light program")
    }

    /// Sets every signal of a traffic light at once (`r`, `y`, `g`, `G`, `s`, `o`, `O`, `u`).
    pub fn set_tl_state(&mut self, tls: &str, state: &str) -> Result<(), SumoError> {
        self.one(set_tl(var::TL_RED_YELLOW_GREEN_STATE, tls, Value::String(state.to_owned()))).map(drop)
    }

    pub fn set_tl_phase(&mut self, tls: &str, phase: i32) -> Result<(), SumoError> {
        self.one(set_tl(var::TL_PHASE_INDEX, tls, Value::Int(phase))).map(drop)
    }

    pub fn set_tl_program(&mut self, tls: &str, program: &str) -> Result<(), SumoError> {
        self.one(set_tl(var::TL_PROGRAM, tls, Value::String(program.to_owned()))).map(drop)
    }

    /// Vehicles that passed an induction loop during the last step.
    pub fn loop_vehicle_count(&mut self, id: &str) -> Result<i32, SumoError> {
        as_i32(self.get(cmd::GET_INDUCTION_LOOP, var::LAST_STEP_VEHICLE_NUMBER, id)?, "loop vehicle number")
    }

    /// Seconds since a vehicle last left the loop; 0 while one is on it.
    pub fn loop_time_since_detection_s(&mut self, id: &str) -> Result<f64, SumoError> {
        as_f64(self.get(cmd::GET_INDUCTION_LOOP, var::LAST_STEP_TIME_SINCE_DETECTION, id)?, "loop time since detection")
    }

    /// Jam length of a lane-area (E2) detector in metres.
    pub fn lane_area_jam_length_m(&mut self, id: &str) -> Result<f64, SumoError> {
        as_f64(self.get(cmd::GET_LANE_AREA, var::JAM_LENGTH_METERS, id)?, "lane-area jam length")
    }

    /// Vehicles slower than 0.1 m/s on a lane.
    pub fn lane_halting(&mut self, lane: &str) -> Result<i32, SumoError> {
        as_i32(self.get(cmd::GET_LANE, var::LAST_STEP_VEHICLE_HALTING_NUMBER, lane)?, "lane halting number")
    }

    /// Ends the session: SUMO writes its outputs and exits.
    pub fn close(&mut self) -> Result<(), SumoError> {
        let result = self.one(Command::Close).map(drop);
        self.stream = None;
        result
    }
}

fn set_tl(var: u8, object: &str, value: Value) -> Command {
    Command::Set { domain: cmd::SET_TL, var, object: object.to_owned(), value }
}

fn unexpected(what: &str, v: &Value) -> SumoError {
    SumoError::BadResponse(format!("{what} came as a {} value", v.type_name()))
}

pub fn as_f64(v: Value, what: &str) -> Result<f64, SumoError> {
    match v {
        Value::Double(d) => Ok(d),
        Value::Int(i) => Ok(f64::from(i)),
        other => Err(unexpected(what, &other)),
    }
}

pub fn as_i32(v: Value, what: &str) -> Result<i32, SumoError> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(unexpected(what, &other)),
    }
}

pub fn as_string(v: Value, what: &str) -> Result<String, SumoError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(unexpected(what, &other)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    /// A peer on a real loopback socket that accepts and then does what `behave` says.
    fn peer(behave: impl FnOnce(TcpStream) + Send + 'static) -> TcpStream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                behave(s);
            }
        });
        TcpStream::connect(addr).unwrap()
    }

    #[test]
    fn a_silent_peer_is_a_timeout_naming_the_request() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let stream = peer(move |s| {
            // Hold the connection open without answering until the client gave up.
            let _ = rx.recv();
            drop(s);
        });
        let mut c = TraciClient::new(stream, Duration::from_millis(200)).unwrap();
        let err = c.step().unwrap_err();
        assert!(matches!(err, SumoError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("simulation step"), "{err}");
        let _ = tx.send(());
    }

    #[test]
    fn a_peer_that_hangs_up_is_a_lost_connection() {
        let stream = peer(drop);
        let mut c = TraciClient::new(stream, Duration::from_secs(5)).unwrap();
        let err = c.tl_state("J1").unwrap_err();
        assert!(matches!(err, SumoError::ConnectionLost { .. }), "{err}");
        assert!(err.to_string().contains("traffic light `J1`"), "{err}");
    }

    #[test]
    fn an_absurd_length_is_a_bad_response() {
        let stream = peer(|mut s| {
            let _ = s.write_all(&[0x7f, 0xff, 0xff, 0xff]);
            std::thread::sleep(Duration::from_millis(50));
        });
        let mut c = TraciClient::new(stream, Duration::from_secs(5)).unwrap();
        let err = c.version().unwrap_err();
        assert!(matches!(err, SumoError::BadResponse(_)), "{err}");
    }

    #[test]
    fn a_closed_client_refuses_further_requests() {
        let stream = peer(|mut s| {
            // Answer the close command with an OK status, as SUMO does.
            let mut buf = [0u8; 6];
            let _ = std::io::Read::read_exact(&mut s, &mut buf);
            let _ = s.write_all(&[0, 0, 0, 11, 7, 0x7f, 0, 0, 0, 0, 0]);
        });
        let mut c = TraciClient::new(stream, Duration::from_secs(5)).unwrap();
        c.close().unwrap();
        assert!(matches!(c.step().unwrap_err(), SumoError::ConnectionLost { .. }));
    }
}
