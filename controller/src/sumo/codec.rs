//! TraCI's wire format: big-endian, length-prefixed messages holding commands, each command
//! `[len][id][content]`, where a length above 255 is written as a zero byte and a 4-byte length.
//! Kept free of sockets so that every byte layout is tested without SUMO.

use super::error::SumoError;

/// Command ids of the TraCI protocol (`traci/constants.py`).
pub mod cmd {
    pub const GET_VERSION: u8 = 0x00;
    pub const SIM_STEP: u8 = 0x02;
    pub const SET_ORDER: u8 = 0x03;
    pub const CLOSE: u8 = 0x7f;
    pub const GET_INDUCTION_LOOP: u8 = 0xa0;
    pub const GET_TL: u8 = 0xa2;
    pub const GET_LANE: u8 = 0xa3;
    pub const GET_SIM: u8 = 0xab;
    pub const GET_LANE_AREA: u8 = 0xad;
    pub const SET_TL: u8 = 0xc2;
    /// A get command is answered by a response whose id is the command's plus 0x10.
    pub const RESPONSE_OFFSET: u8 = 0x10;
}

/// Variable ids used by nutgiao.
pub mod var {
    pub const ID_LIST: u8 = 0x00;
    pub const LAST_STEP_VEHICLE_NUMBER: u8 = 0x10;
    pub const LAST_STEP_MEAN_SPEED: u8 = 0x11;
    pub const LAST_STEP_OCCUPANCY: u8 = 0x13;
    pub const LAST_STEP_VEHICLE_HALTING_NUMBER: u8 = 0x14;
    pub const LAST_STEP_TIME_SINCE_DETECTION: u8 = 0x16;
    pub const JAM_LENGTH_METERS: u8 = 0x19;
    pub const TL_RED_YELLOW_GREEN_STATE: u8 = 0x20;
    pub const TL_PHASE_INDEX: u8 = 0x22;
    pub const TL_PROGRAM: u8 = 0x23;
    pub const TL_CURRENT_PHASE: u8 = 0x28;
    pub const TL_CURRENT_PROGRAM: u8 = 0x29;
    pub const TIME: u8 = 0x66;
    pub const DEPARTED_VEHICLES_NUMBER: u8 = 0x73;
    pub const TELEPORT_STARTING_VEHICLES_NUMBER: u8 = 0x75;
    pub const ARRIVED_VEHICLES_NUMBER: u8 = 0x79;
    pub const DELTA_T: u8 = 0x7b;
    pub const MIN_EXPECTED_VEHICLES: u8 = 0x7d;
}

/// Type tags of typed values.
mod tag {
    pub const UBYTE: u8 = 0x07;
    pub const BYTE: u8 = 0x08;
    pub const INTEGER: u8 = 0x09;
    pub const DOUBLE: u8 = 0x0b;
    pub const STRING: u8 = 0x0c;
    pub const STRING_LIST: u8 = 0x0e;
    pub const COMPOUND: u8 = 0x0f;
    pub const DOUBLE_LIST: u8 = 0x10;
}

/// Result codes of a status response.
const RTYPE_OK: u8 = 0x00;

/// A typed TraCI value (the subset nutgiao reads and writes).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    UByte(u8),
    Byte(i8),
    Int(i32),
    Double(f64),
    String(String),
    StringList(Vec<String>),
    DoubleList(Vec<f64>),
    Compound(Vec<Value>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::UByte(_) => "ubyte",
            Value::Byte(_) => "byte",
            Value::Int(_) => "integer",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::StringList(_) => "string list",
            Value::DoubleList(_) => "double list",
            Value::Compound(_) => "compound",
        }
    }
}

/// Appends big-endian primitives to a buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn string(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn len(&mut self, n: usize) {
        self.i32(i32::try_from(n).unwrap_or(i32::MAX));
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::UByte(b) => {
                self.u8(tag::UBYTE);
                self.u8(*b);
            }
            Value::Byte(b) => {
                self.u8(tag::BYTE);
                self.buf.extend_from_slice(&b.to_be_bytes());
            }
            Value::Int(i) => {
                self.u8(tag::INTEGER);
                self.i32(*i);
            }
            Value::Double(d) => {
                self.u8(tag::DOUBLE);
                self.f64(*d);
            }
            Value::String(s) => {
                self.u8(tag::STRING);
                self.string(s);
            }
            Value::StringList(l) => {
                self.u8(tag::STRING_LIST);
                self.len(l.len());
                for s in l {
                    self.string(s);
                }
            }
            Value::DoubleList(l) => {
                self.u8(tag::DOUBLE_LIST);
                self.len(l.len());
                for d in l {
                    self.f64(*d);
                }
            }
            Value::Compound(items) => {
                self.u8(tag::COMPOUND);
                self.len(items.len());
                for item in items {
                    self.value(item);
                }
            }
        }
    }
}

/// Reads big-endian primitives; every read names what was being read when bytes run out.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], SumoError> {
        if self.remaining() < n {
            return Err(SumoError::BadResponse(format!(
                "message ends after {} bytes while reading {what} ({n} bytes needed)",
                self.pos
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, SumoError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn i32(&mut self, what: &str) -> Result<i32, SumoError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn f64(&mut self, what: &str) -> Result<f64, SumoError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }
    fn count(&mut self, what: &str) -> Result<usize, SumoError> {
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| SumoError::BadResponse(format!("negative length {n} for {what}")))
    }
    pub fn string(&mut self, what: &str) -> Result<String, SumoError> {
        let n = self.count(what)?;
        let b = self.take(n, what)?;
        // Python's TraCI writes Latin-1, SUMO itself UTF-8: accept both rather than reject an id.
        Ok(String::from_utf8(b.to_vec()).unwrap_or_else(|_| b.iter().map(|&c| c as char).collect()))
    }

    pub fn value(&mut self) -> Result<Value, SumoError> {
        let t = self.u8("value type")?;
        Ok(match t {
            tag::UBYTE => Value::UByte(self.u8("ubyte")?),
            tag::BYTE => Value::Byte(i8::from_be_bytes([self.u8("byte")?])),
            tag::INTEGER => Value::Int(self.i32("integer")?),
            tag::DOUBLE => Value::Double(self.f64("double")?),
            tag::STRING => Value::String(self.string("string")?),
            tag::STRING_LIST => {
                let n = self.count("string list length")?;
                let mut l = Vec::with_capacity(n.min(self.remaining() / 4));
                for _ in 0..n {
                    l.push(self.string("string list item")?);
                }
                Value::StringList(l)
            }
            tag::DOUBLE_LIST => {
                let n = self.count("double list length")?;
                let mut l = Vec::with_capacity(n.min(self.remaining() / 8));
                for _ in 0..n {
                    l.push(self.f64("double list item")?);
                }
                Value::DoubleList(l)
            }
            tag::COMPOUND => {
                let n = self.count("compound length")?;
                let mut l = Vec::with_capacity(n.min(self.remaining()));
                for _ in 0..n {
                    l.push(self.value()?);
                }
                Value::Compound(l)
            }
            other => return Err(SumoError::BadResponse(format!("unknown value type 0x{other:02x}"))),
        })
    }

    /// The length header of a command: one byte, or zero followed by a 4-byte length that
    /// counts itself. Returns the content length after the header.
    pub fn command_len(&mut self) -> Result<usize, SumoError> {
        let short = self.u8("command length")?;
        if short != 0 {
            return (short as usize)
                .checked_sub(1)
                .ok_or_else(|| SumoError::BadResponse("command length 1 is too short".into()));
        }
        let long = self.count("extended command length")?;
        long.checked_sub(5)
            .ok_or_else(|| SumoError::BadResponse(format!("extended command length {long} is too short")))
    }
}

/// One request of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    GetVersion,
    /// Simulate up to this time (0 = one step).
    SimStep(f64),
    SetOrder(i32),
    Close,
    Get {
        domain: u8,
        var: u8,
        object: String,
    },
    Set {
        domain: u8,
        var: u8,
        object: String,
        value: Value,
    },
}

impl Command {
    pub fn id(&self) -> u8 {
        match self {
            Command::GetVersion => cmd::GET_VERSION,
            Command::SimStep(_) => cmd::SIM_STEP,
            Command::SetOrder(_) => cmd::SET_ORDER,
            Command::Close => cmd::CLOSE,
            Command::Get { domain, .. } | Command::Set { domain, .. } => *domain,
        }
    }

    fn content(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Command::GetVersion | Command::Close => {}
            Command::SimStep(t) => w.f64(*t),
            Command::SetOrder(o) => w.i32(*o),
            Command::Get { var, object, .. } => {
                w.u8(*var);
                w.string(object);
            }
            Command::Set { var, object, value, .. } => {
                w.u8(*var);
                w.string(object);
                w.value(value);
            }
        }
        w.buf
    }

    /// Appends this command with its length header.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let content = self.content();
        let len = content.len() + 2;
        if len <= 255 {
            out.push(len as u8);
        } else {
            out.push(0);
            out.extend_from_slice(&i32::try_from(len + 4).unwrap_or(i32::MAX).to_be_bytes());
        }
        out.push(self.id());
        out.extend_from_slice(&content);
    }
}

/// A whole message: 4-byte total length (counting itself), then the commands.
pub fn encode_message(commands: &[Command]) -> Vec<u8> {
    let mut body = Vec::new();
    for c in commands {
        c.encode_into(&mut body);
    }
    let mut msg = Vec::with_capacity(body.len() + 4);
    msg.extend_from_slice(&i32::try_from(body.len() + 4).unwrap_or(i32::MAX).to_be_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Commands that only acknowledge (set, close, set order).
    Ack,
    Version {
        api: i32,
        sumo: String,
    },
    /// Number of subscription results that follow a step (nutgiao subscribes to nothing).
    Stepped {
        subscriptions: i32,
    },
    Value {
        var: u8,
        object: String,
        value: Value,
    },
}

/// Decodes a response body (without its 4-byte length) to the commands that were sent.
/// Each command is answered by a status; a get, step or version command by a result too.
pub fn decode_response(body: &[u8], sent: &[Command]) -> Result<Vec<Answer>, SumoError> {
    let mut r = Reader::new(body);
    let mut answers = Vec::with_capacity(sent.len());
    for c in sent {
        let len = r.command_len()?;
        let start = r.pos;
        let id = r.u8("status command id")?;
        let result = r.u8("status result")?;
        let description = r.string("status description")?;
        if r.pos - start != len {
            return Err(SumoError::BadResponse(format!(
                "status of command 0x{:02x} is {} bytes, its header says {len}",
                c.id(),
                r.pos - start
            )));
        }
        if id != c.id() {
            return Err(SumoError::BadResponse(format!(
                "answer to command 0x{id:02x} where 0x{:02x} was sent",
                c.id()
            )));
        }
        if result != RTYPE_OK {
            return Err(SumoError::Refused { command: describe(c), message: description });
        }
        let answer = match c {
            Command::SetOrder(_) | Command::Close | Command::Set { .. } => Answer::Ack,
            Command::SimStep(_) => {
                let n = r.i32("subscription count")?;
                if n != 0 {
                    return Err(SumoError::BadResponse(format!(
                        "{n} subscription results after a step; none were made"
                    )));
                }
                Answer::Stepped { subscriptions: n }
            }
            Command::GetVersion => {
                r.command_len()?;
                let rid = r.u8("version response id")?;
                if rid != cmd::GET_VERSION {
                    return Err(SumoError::BadResponse(format!("version answered by response 0x{rid:02x}")));
                }
                Answer::Version { api: r.i32("API version")?, sumo: r.string("SUMO version")? }
            }
            Command::Get { domain, var, object } => {
                let len = r.command_len()?;
                let start = r.pos;
                let rid = r.u8("response id")?;
                if rid != domain.wrapping_add(cmd::RESPONSE_OFFSET) {
                    return Err(SumoError::BadResponse(format!(
                        "get command 0x{domain:02x} answered by response 0x{rid:02x}"
                    )));
                }
                let rvar = r.u8("variable id")?;
                let robject = r.string("object id")?;
                if rvar != *var || robject != *object {
                    return Err(SumoError::BadResponse(format!(
                        "asked for variable 0x{var:02x} of `{object}`, got 0x{rvar:02x} of `{robject}`"
                    )));
                }
                let value = r.value()?;
                if r.pos - start != len {
                    return Err(SumoError::BadResponse(format!(
                        "response for `{object}` is {} bytes, its header says {len}",
                        r.pos - start
                    )));
                }
                Answer::Value { var: rvar, object: robject, value }
            }
        };
        answers.push(answer);
    }
    if r.remaining() != 0 {
        return Err(SumoError::BadResponse(format!("{} unexpected bytes after the last answer", r.remaining())));
    }
    Ok(answers)
}

/// Names a command in messages for the engineer: `get 0x20 of traffic light J1`.
pub fn describe(c: &Command) -> String {
    let domain_name = |d: u8| match d {
        cmd::GET_INDUCTION_LOOP => "induction loop",
        cmd::GET_TL | cmd::SET_TL => "traffic light",
        cmd::GET_LANE => "lane",
        cmd::GET_SIM => "simulation",
        cmd::GET_LANE_AREA => "lane-area detector",
        _ => "object",
    };
    match c {
        Command::GetVersion => "get version".into(),
        Command::SimStep(t) => format!("simulation step to {t} s"),
        Command::SetOrder(o) => format!("set order {o}"),
        Command::Close => "close".into(),
        Command::Get { domain, var, object } => format!("get 0x{var:02x} of {} `{object}`", domain_name(*domain)),
        Command::Set { domain, var, object, .. } => format!("set 0x{var:02x} of {} `{object}`", domain_name(*domain)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds what SUMO sends back: status, then an optional result command.
    fn status(id: u8, result: u8, text: &str) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(id);
        w.u8(result);
        w.string(text);
        let mut out = vec![(w.buf.len() + 1) as u8];
        out.extend(w.buf);
        out
    }

    fn get_result(domain: u8, var: u8, object: &str, value: &Value) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(domain + cmd::RESPONSE_OFFSET);
        w.u8(var);
        w.string(object);
        w.value(value);
        let mut out = Vec::new();
        if w.buf.len() < 255 {
            out.push((w.buf.len() + 1) as u8);
        } else {
            out.push(0);
            out.extend_from_slice(&((w.buf.len() + 5) as i32).to_be_bytes());
        }
        out.extend(w.buf);
        out
    }

    #[test]
    fn simulation_step_is_encoded_as_in_the_protocol() {
        let msg = encode_message(&[Command::SimStep(0.0)]);
        // total length 14, command length 10, id 0x02, then the target time as a raw double.
        assert_eq!(msg, vec![0, 0, 0, 14, 10, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn set_state_carries_a_typed_string() {
        let c = Command::Set {
            domain: cmd::SET_TL,
            var: var::TL_RED_YELLOW_GREEN_STATE,
            object: "J1".into(),
            value: Value::String("rGy".into()),
        };
        let msg = encode_message(&[c]);
        let expected: Vec<u8> =
            [&[0, 0, 0, 21][..], &[17, 0xc2, 0x20], &[0, 0, 0, 2], b"J1", &[0x0c, 0, 0, 0, 3], b"rGy"].concat();
        assert_eq!(msg, expected);
    }

    #[test]
    fn long_commands_use_the_extended_length() {
        let state = "G".repeat(300);
        let c = Command::Set {
            domain: cmd::SET_TL,
            var: var::TL_RED_YELLOW_GREEN_STATE,
            object: "J1".into(),
            value: Value::String(state),
        };
        let mut out = Vec::new();
        c.encode_into(&mut out);
        assert_eq!(out[0], 0);
        let len = i32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
        assert_eq!(len, out.len());
        let mut r = Reader::new(&out);
        assert_eq!(r.command_len().unwrap(), out.len() - 5);
    }

    #[test]
    fn a_batch_of_gets_is_decoded_in_order() {
        let sent = vec![
            Command::Get { domain: cmd::GET_TL, var: var::TL_RED_YELLOW_GREEN_STATE, object: "J1".into() },
            Command::Get { domain: cmd::GET_SIM, var: var::TIME, object: String::new() },
        ];
        let mut body = status(cmd::GET_TL, 0, "");
        body.extend(get_result(cmd::GET_TL, var::TL_RED_YELLOW_GREEN_STATE, "J1", &Value::String("GGrr".into())));
        body.extend(status(cmd::GET_SIM, 0, ""));
        body.extend(get_result(cmd::GET_SIM, var::TIME, "", &Value::Double(12.0)));
        let answers = decode_response(&body, &sent).unwrap();
        assert_eq!(
            answers,
            vec![
                Answer::Value { var: 0x20, object: "J1".into(), value: Value::String("GGrr".into()) },
                Answer::Value { var: var::TIME, object: String::new(), value: Value::Double(12.0) },
            ]
        );
    }

    #[test]
    fn an_error_status_names_the_command_and_sumos_message() {
        let sent = vec![Command::Get { domain: cmd::GET_TL, var: var::TL_PHASE_INDEX, object: "nope".into() }];
        let body = status(cmd::GET_TL, 0xff, "Traffic light 'nope' is not known");
        match decode_response(&body, &sent) {
            Err(SumoError::Refused { command, message }) => {
                assert!(command.contains("traffic light `nope`"), "{command}");
                assert!(message.contains("not known"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn truncated_and_mismatched_responses_are_errors() {
        let sent = vec![Command::Get {
            domain: cmd::GET_LANE,
            var: var::LAST_STEP_VEHICLE_HALTING_NUMBER,
            object: "a_0".into(),
        }];
        let mut body = status(cmd::GET_LANE, 0, "");
        body.extend(get_result(cmd::GET_LANE, var::LAST_STEP_VEHICLE_HALTING_NUMBER, "a_0", &Value::Int(3)));
        for cut in 0..body.len() {
            assert!(matches!(decode_response(&body[..cut], &sent), Err(SumoError::BadResponse(_))), "cut at {cut}");
        }
        let mut wrong = status(cmd::GET_LANE, 0, "");
        wrong.extend(get_result(cmd::GET_LANE, var::LAST_STEP_VEHICLE_HALTING_NUMBER, "b_0", &Value::Int(3)));
        assert!(matches!(decode_response(&wrong, &sent), Err(SumoError::BadResponse(_))));
        let step = status(cmd::SIM_STEP, 0, "");
        assert!(matches!(decode_response(&step, &sent), Err(SumoError::BadResponse(_))));
    }

    #[test]
    fn version_answer_is_decoded() {
        let mut body = status(cmd::GET_VERSION, 0, "");
        let mut w = Writer::default();
        w.u8(cmd::GET_VERSION);
        w.i32(20);
        w.string("SUMO 1.15.0");
        body.push((w.buf.len() + 1) as u8);
        body.extend(w.buf);
        let answers = decode_response(&body, &[Command::GetVersion]).unwrap();
        assert_eq!(answers, vec![Answer::Version { api: 20, sumo: "SUMO 1.15.0".into() }]);
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let id = "[ -~]{0,12}";
        let leaf = prop_oneof![
            any::<u8>().prop_map(Value::UByte),
            any::<i8>().prop_map(Value::Byte),
            any::<i32>().prop_map(Value::Int),
            any::<f64>().prop_filter("NaN never equals itself", |d| !d.is_nan()).prop_map(Value::Double),
            id.prop_map(Value::String),
            prop::collection::vec(id, 0..5).prop_map(Value::StringList),
            prop::collection::vec(-1e9f64..1e9, 0..5).prop_map(Value::DoubleList),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| prop::collection::vec(inner, 0..4).prop_map(Value::Compound))
    }

    proptest! {
        #[test]
        fn decode_of_encode_is_identity(v in any_value()) {
            let mut w = Writer::default();
            w.value(&v);
            let mut r = Reader::new(&w.buf);
            prop_assert_eq!(r.value().unwrap(), v);
            prop_assert_eq!(r.remaining(), 0);
        }

        #[test]
        fn a_get_answer_round_trips_whatever_the_object_id(object in "[!-~]{0,300}", v in any_value()) {
            let sent = vec![Command::Get { domain: cmd::GET_LANE, var: var::LAST_STEP_OCCUPANCY, object: object.clone() }];
            let mut body = status(cmd::GET_LANE, 0, "");
            body.extend(get_result(cmd::GET_LANE, var::LAST_STEP_OCCUPANCY, &object, &v));
            let answers = decode_response(&body, &sent).unwrap();
            prop_assert_eq!(answers, vec![Answer::Value { var: var::LAST_STEP_OCCUPANCY, object, value: v }]);
        }

        #[test]
        fn command_lengths_match_their_headers(object in "[!-~]{0,400}") {
            let c = Command::Get { domain: cmd::GET_TL, var: var::TL_PHASE_INDEX, object };
            let msg = encode_message(&[c]);
            let mut r = Reader::new(&msg[4..]);
            let len = r.command_len().unwrap();
            prop_assert_eq!(len, r.remaining());
            prop_assert_eq!(i32::from_be_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize, msg.len());
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let sent = vec![Command::SimStep(0.0), Command::Get { domain: cmd::GET_SIM, var: var::TIME, object: String::new() }];
            let _ = decode_response(&bytes, &sent);
        }
    }
}
