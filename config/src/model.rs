//! The site model as it is written in a site TOML file.
//!
//! Units are in the field names (`_s`, `_m`, `_kmh`) because a signal engineer reading a
//! file should never have to guess them. Coordinates are metres in the site frame: x east,
//! y north, the same frame as a SUMO network before netconvert's offset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::modbus::RegisterMap;

/// A whole site: the corridor, its intersections and everything attached to them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub site: SiteInfo,
    /// Boundary nodes where traffic enters or leaves the modelled area.
    #[serde(default, rename = "node")]
    pub nodes: Vec<Node>,
    /// Directed road segments between nodes and intersections.
    #[serde(default, rename = "link")]
    pub links: Vec<Link>,
    #[serde(default, rename = "intersection")]
    pub intersections: Vec<Intersection>,
    #[serde(default, rename = "camera")]
    pub cameras: Vec<Camera>,
    /// Timing plans that can be selected by name (`fixed:ID`).
    #[serde(default, rename = "plan")]
    pub plans: Vec<Plan>,
    #[serde(default)]
    pub demand: Demand,
    /// Overrides of the built-in vehicle class parameters, by class.
    #[serde(default)]
    pub vehicle_class: BTreeMap<VehicleClass, VehicleClassParams>,
    #[serde(default)]
    pub control: ControlSettings,
    #[serde(default)]
    pub modbus_map: RegisterMap,
    #[serde(default)]
    pub operations: Operations,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInfo {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// IANA time zone of the site, used for count bins and evidence stamps.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "Asia/Ho_Chi_Minh".to_owned()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: String,
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub id: String,
    /// Upstream node or intersection id.
    pub from: String,
    /// Downstream node or intersection id.
    pub to: String,
    pub lanes: u8,
    pub speed_limit_kmh: f64,
    /// Length from the upstream end to the stop line; defaults to the distance between the
    /// end points less half of each intersection's width.
    #[serde(default)]
    pub length_m: Option<f64>,
    #[serde(default = "default_lane_width")]
    pub lane_width_m: f64,
}

fn default_lane_width() -> f64 {
    3.2
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Intersection {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub x: f64,
    pub y: f64,
    /// Size of the junction box, stop line to far kerb, used for red clearance by default.
    #[serde(default = "default_intersection_width")]
    pub width_m: f64,
    #[serde(default, rename = "approach")]
    pub approaches: Vec<Approach>,
    #[serde(default, rename = "phase")]
    pub phases: Vec<Phase>,
    /// Ring-barrier order: each stage is the set of phases that are green together, in
    /// the order they are served.
    pub stages: Vec<Vec<u8>>,
    #[serde(default, rename = "detector")]
    pub detectors: Vec<Detector>,
    #[serde(default)]
    pub field_controller: Option<FieldController>,
}

fn default_intersection_width() -> f64 {
    20.0
}

/// Turning movement relative to the approach's travel direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    Left,
    Through,
    Right,
    UTurn,
}

impl Turn {
    pub const ALL: [Turn; 4] = [Turn::Left, Turn::Through, Turn::Right, Turn::UTurn];

    pub fn as_str(self) -> &'static str {
        match self {
            Turn::Left => "left",
            Turn::Through => "through",
            Turn::Right => "right",
            Turn::UTurn => "u_turn",
        }
    }
}

impl std::fmt::Display for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Approach {
    pub id: String,
    /// The inbound link whose downstream end is this approach's stop line.
    pub link: String,
    /// Lanes from the kerb (index 0) to the median, SUMO's convention.
    #[serde(rename = "lane")]
    pub lanes: Vec<Lane>,
    /// Outbound link taken by each turning movement.
    pub exits: BTreeMap<Turn, String>,
    /// Share of vehicles per turn for demand given per approach rather than per route.
    #[serde(default)]
    pub turn_ratios: BTreeMap<Turn, f64>,
    /// Distance a vehicle travels from the stop line to clear the conflict area; defaults
    /// to the intersection width.
    #[serde(default)]
    pub crossing_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    pub movements: Vec<Turn>,
}

/// A reference to one movement, written `APPROACH:TURN` (e.g. `J1-W:through`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct MovementRef {
    pub approach: String,
    pub turn: Turn,
}

impl From<MovementRef> for String {
    fn from(m: MovementRef) -> String {
        format!("{}:{}", m.approach, m.turn)
    }
}

impl std::str::FromStr for MovementRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (approach, turn) = s
            .split_once(':')
            .ok_or_else(|| format!("movement `{s}` must be written APPROACH:TURN, e.g. `J1-W:through`"))?;
        let turn = match turn {
            "left" => Turn::Left,
            "through" => Turn::Through,
            "right" => Turn::Right,
            "u_turn" => Turn::UTurn,
            other => {
                return Err(format!("movement `{s}`: unknown turn `{other}`, expected left, through, right or u_turn"));
            }
        };
        Ok(MovementRef { approach: approach.to_owned(), turn })
    }
}

impl<'de> Deserialize<'de> for MovementRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for MovementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.approach, self.turn)
    }
}

/// A signal group (NEMA-style phase number) and its timing limits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: u8,
    #[serde(default)]
    pub name: String,
    pub movements: Vec<MovementRef>,
    /// Phases that may never be green at the same time as this one.
    #[serde(default)]
    pub conflicts: Vec<u8>,
    pub min_green_s: f64,
    pub max_green_s: f64,
    pub yellow_s: f64,
    pub red_clearance_s: f64,
    /// Walk plus flashing don't-walk; the phase's green may not end before it.
    #[serde(default)]
    pub pedestrian_clearance_s: Option<f64>,
    /// Passage (gap) time that extends an actuated green.
    #[serde(default = "default_passage")]
    pub passage_s: f64,
}

fn default_passage() -> f64 {
    3.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// A loop at the stop line: presence for actuation and discharge counts.
    StopLine,
    /// An advance loop upstream of the stop line: arrival counts and gaps.
    Upstream,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Detector {
    pub id: String,
    pub approach: String,
    pub lane: u8,
    pub kind: DetectorKind,
    /// Distance of the loop's downstream edge upstream of the stop line.
    #[serde(default)]
    pub distance_m: f64,
    #[serde(default = "default_loop_length")]
    pub length_m: f64,
}

fn default_loop_length() -> f64 {
    2.0
}

/// A field signal controller reached over Modbus TCP.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldController {
    /// `HOST:PORT` of the cabinet's Modbus TCP server.
    pub address: String,
    #[serde(default = "default_unit")]
    pub unit_id: u8,
    /// Client addresses allowed to write (the virtual controller enforces it).
    #[serde(default = "default_allow")]
    pub allow: Vec<String>,
    /// How long the cabinet keeps a central plan without a heartbeat before it falls back.
    #[serde(default = "default_backup_time")]
    pub backup_time_s: f64,
    /// Plan the cabinet runs on its own: a plan id, or `actuated`.
    #[serde(default = "default_local_plan")]
    pub local_plan: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_unit() -> u8 {
    1
}
fn default_allow() -> Vec<String> {
    vec!["127.0.0.1".to_owned()]
}
fn default_backup_time() -> f64 {
    30.0
}
fn default_local_plan() -> String {
    "actuated".to_owned()
}
fn default_timeout_ms() -> u64 {
    500
}

/// A camera and how its image maps onto the ground.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    pub id: String,
    pub intersection: String,
    /// Any GStreamer URI: rtsp://, file://, http(s)://.
    pub uri: String,
    /// Processing resolution (pixels); all image coordinates below are in it.
    pub resolution: [u32; 2],
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Image point -> ground point pairs (4 or more) that define the homography.
    pub calibration: Vec<CalibrationPoint>,
    /// Pose for the synthetic renderer (the homography still comes from `calibration`).
    #[serde(default)]
    pub pose: Option<CameraPose>,
    /// Region of interest polygon in image pixels; the whole image when absent.
    #[serde(default)]
    pub roi: Vec<[f64; 2]>,
    #[serde(default)]
    pub detector: DetectorSettings,
    #[serde(default, rename = "line")]
    pub lines: Vec<CountingLine>,
    #[serde(default, rename = "zone")]
    pub zones: Vec<Zone>,
    #[serde(default, rename = "signal_head")]
    pub signal_heads: Vec<SignalHead>,
}

fn default_fps() -> f64 {
    25.0
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationPoint {
    pub image: [f64; 2],
    pub ground: [f64; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraPose {
    /// Camera centre in the site frame; z is the mounting height.
    pub position_m: [f64; 3],
    /// Compass-style heading of the optical axis, degrees clockwise from north.
    pub heading_deg: f64,
    /// Downward tilt of the optical axis below the horizon.
    pub tilt_deg: f64,
    pub horizontal_fov_deg: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSettings {
    #[serde(default)]
    pub kind: DetectorBackend,
    /// ONNX model for the DNN backend (YOLOv5/YOLOv8 output layout).
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self { kind: DetectorBackend::default(), model: None, confidence: default_confidence() }
    }
}

fn default_confidence() -> f64 {
    0.4
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorBackend {
    #[default]
    Mog2,
    Knn,
    Dnn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A stop line: counts, and red-light running is judged here.
    StopLine,
    /// A counting section that only counts.
    Count,
    /// Entry of a turning-movement pair.
    Entry,
    /// Exit of a turning-movement pair.
    Exit,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CountingLine {
    pub id: String,
    pub kind: LineKind,
    /// Two image points; the positive direction crosses from the left of p0->p1 to its right.
    pub points: [[f64; 2]; 2],
    /// The approach (and so the lanes and signal) this line belongs to.
    #[serde(default)]
    pub approach: Option<String>,
    /// For a line across departure lanes: the outbound link (leaving the camera's
    /// intersection) whose lanes it crosses. Its positive direction must be that link's
    /// travel direction, away from the junction, so that a crossing the other way is a
    /// driver against the flow, as on an approach's lines (`nutgiao check` verifies it
    /// through the calibration).
    #[serde(default)]
    pub departure: Option<String>,
    /// Distance the ground point must travel past the line before a crossing counts.
    #[serde(default = "default_hysteresis")]
    pub hysteresis_m: f64,
}

fn default_hysteresis() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    NoStopping,
    /// A polyline that may not be crossed.
    SolidLine,
    Speed,
    /// A lane's queue storage, for occupancy and queue length.
    Queue,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    pub kind: ZoneKind,
    /// Polygon (or polyline for `solid_line`) in image pixels.
    pub points: Vec<[f64; 2]>,
    #[serde(default)]
    pub approach: Option<String>,
    /// Dwell allowed in a no-stopping zone.
    #[serde(default)]
    pub max_dwell_s: Option<f64>,
    #[serde(default)]
    pub speed_limit_kmh: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignalHead {
    pub phase: u8,
    /// Lamp centres in image pixels: red, yellow, green.
    pub lamps: [[f64; 2]; 3],
}

/// A fixed timing plan for some or all intersections.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub cycle_s: f64,
    #[serde(rename = "timing")]
    pub timings: Vec<PlanTiming>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTiming {
    pub intersection: String,
    /// Start of the first stage's green relative to the corridor's cycle reference.
    #[serde(default)]
    pub offset_s: f64,
    /// Split per stage in stage order: green plus the change and clearance intervals
    /// that end it. The splits add up to the cycle.
    pub splits_s: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleClass {
    Car,
    Motorbike,
    Bus,
    Truck,
}

impl VehicleClass {
    pub const ALL: [VehicleClass; 4] =
        [VehicleClass::Car, VehicleClass::Motorbike, VehicleClass::Bus, VehicleClass::Truck];

    pub fn as_str(self) -> &'static str {
        match self {
            VehicleClass::Car => "car",
            VehicleClass::Motorbike => "motorbike",
            VehicleClass::Bus => "bus",
            VehicleClass::Truck => "truck",
        }
    }

    /// Built-in parameters; cars match the SUMO arterial's vType so comparisons hold.
    pub fn default_params(self) -> VehicleClassParams {
        match self {
            VehicleClass::Car => VehicleClassParams {
                length_m: 5.0,
                width_m: 1.8,
                min_gap_m: 2.5,
                accel_ms2: 2.6,
                decel_ms2: 4.5,
                emergency_decel_ms2: 9.0,
                max_speed_kmh: 60.0,
                sigma: 0.5,
                abreast: 1,
            },
            VehicleClass::Motorbike => VehicleClassParams {
                length_m: 2.0,
                width_m: 0.8,
                min_gap_m: 1.0,
                accel_ms2: 3.0,
                decel_ms2: 5.0,
                emergency_decel_ms2: 8.0,
                max_speed_kmh: 55.0,
                sigma: 0.5,
                abreast: 2,
            },
            VehicleClass::Bus => VehicleClassParams {
                length_m: 12.0,
                width_m: 2.5,
                min_gap_m: 2.5,
                accel_ms2: 1.2,
                decel_ms2: 4.0,
                emergency_decel_ms2: 7.0,
                max_speed_kmh: 50.0,
                sigma: 0.5,
                abreast: 1,
            },
            VehicleClass::Truck => VehicleClassParams {
                length_m: 9.0,
                width_m: 2.4,
                min_gap_m: 2.5,
                accel_ms2: 1.3,
                decel_ms2: 4.0,
                emergency_decel_ms2: 7.0,
                max_speed_kmh: 50.0,
                sigma: 0.5,
                abreast: 1,
            },
        }
    }
}

impl std::fmt::Display for VehicleClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleClassParams {
    pub length_m: f64,
    pub width_m: f64,
    pub min_gap_m: f64,
    pub accel_ms2: f64,
    pub decel_ms2: f64,
    pub emergency_decel_ms2: f64,
    pub max_speed_kmh: f64,
    /// Driver imperfection of the Krauss model (0 = perfect driver).
    pub sigma: f64,
    /// How many of this class share one lane side by side.
    pub abreast: u8,
}

/// Traffic demand for the simulator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    #[serde(default = "default_demand_duration")]
    pub duration_s: f64,
    /// Multiplier of every flow over time: `[time_s, factor]` points, linear between them.
    #[serde(default)]
    pub profile: Vec<[f64; 2]>,
    /// Class shares of every flow that does not give its own.
    #[serde(default = "default_mix")]
    pub mix: BTreeMap<VehicleClass, f64>,
    #[serde(default, rename = "flow")]
    pub flows: Vec<Flow>,
    #[serde(default)]
    pub misbehaviour: Misbehaviour,
}

impl Default for Demand {
    fn default() -> Self {
        Self {
            duration_s: default_demand_duration(),
            profile: Vec::new(),
            mix: default_mix(),
            flows: Vec::new(),
            misbehaviour: Misbehaviour::default(),
        }
    }
}

fn default_demand_duration() -> f64 {
    3600.0
}

fn default_mix() -> BTreeMap<VehicleClass, f64> {
    BTreeMap::from([(VehicleClass::Car, 1.0)])
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub id: String,
    /// Entry link.
    pub from: String,
    /// Exit link; when absent, vehicles follow each approach's turn ratios.
    #[serde(default)]
    pub to: Option<String>,
    pub vehicles_per_hour: f64,
    #[serde(default)]
    pub begin_s: f64,
    #[serde(default)]
    pub end_s: Option<f64>,
    #[serde(default)]
    pub mix: Option<BTreeMap<VehicleClass, f64>>,
}

/// Shares of deliberately misbehaving drivers, recorded as ground truth.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Misbehaviour {
    #[serde(default)]
    pub red_light_runner: f64,
    #[serde(default)]
    pub wrong_way: f64,
    #[serde(default)]
    pub illegal_stop: f64,
    #[serde(default)]
    pub speeder: f64,
    /// How far above the limit a speeder drives.
    #[serde(default = "default_speeding_factor")]
    pub speeding_factor: f64,
}

impl Default for Misbehaviour {
    fn default() -> Self {
        Self {
            red_light_runner: 0.0,
            wrong_way: 0.0,
            illegal_stop: 0.0,
            speeder: 0.0,
            speeding_factor: default_speeding_factor(),
        }
    }
}

fn default_speeding_factor() -> f64 {
    1.3
}

/// How the central controller runs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSettings {
    /// Plan algorithm: `adaptive`, `webster`, `scats`, `max-pressure`, `green-wave`, or `fixed:PLAN`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// Plan sent when inputs stay stale for longer than `stale_after_s`.
    #[serde(default)]
    pub fallback_plan: Option<String>,
    #[serde(default = "default_stale")]
    pub stale_after_s: f64,
    #[serde(default = "default_min_cycle")]
    pub min_cycle_s: f64,
    #[serde(default = "default_max_cycle")]
    pub max_cycle_s: f64,
    #[serde(default = "default_heartbeat")]
    pub heartbeat_period_s: f64,
    /// Saturation flow per lane used by the plan algorithms.
    #[serde(default = "default_saturation_flow")]
    pub saturation_flow_vph: f64,
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self {
            algorithm: default_algorithm(),
            fallback_plan: None,
            stale_after_s: default_stale(),
            min_cycle_s: default_min_cycle(),
            max_cycle_s: default_max_cycle(),
            heartbeat_period_s: default_heartbeat(),
            saturation_flow_vph: default_saturation_flow(),
        }
    }
}

fn default_algorithm() -> String {
    "adaptive".to_owned()
}
fn default_stale() -> f64 {
    60.0
}
fn default_min_cycle() -> f64 {
    40.0
}
fn default_max_cycle() -> f64 {
    120.0
}
fn default_heartbeat() -> f64 {
    2.0
}
fn default_saturation_flow() -> f64 {
    1800.0
}

/// The operators' surface: API, metrics, storage and event bus.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Environment variable that holds the API bearer token for writes.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Directory for the SQLite database and evidence files.
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// MQTT broker `HOST:PORT`; no event bus when absent.
    #[serde(default)]
    pub mqtt: Option<String>,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            token_env: default_token_env(),
            data_dir: default_data_dir(),
            retention_days: default_retention_days(),
            mqtt: None,
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}
fn default_token_env() -> String {
    "NUTGIAO_TOKEN".to_owned()
}
fn default_data_dir() -> String {
    "out/data".to_owned()
}
fn default_retention_days() -> u32 {
    90
}
