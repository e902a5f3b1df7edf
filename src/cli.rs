//! The command line, written for traffic engineers and operators.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "nutgiao",
    version,
    about = "Traffic monitoring and signal control for a city's operations centre",
    long_about = "nutgiao counts vehicles and detects violations from roadside cameras, computes signal \
                  timing plans and sends them to field signal controllers over Modbus TCP, and simulates \
                  corridors so that all of it can be tried without hardware.\n\n\
                  Every command takes a site file (TOML) that describes the corridor: intersections, \
                  approaches and lanes, phases with their safety limits, detectors, cameras and field \
                  controllers. Start with `nutgiao check config/examples/arterial.toml`."
)]
pub struct Cli {
    /// Log format: human-readable lines, or JSON objects for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a site file and print a one-screen summary (exit code 0 when valid, 1 when not).
    Check(CheckArgs),
    /// Run a corridor microsimulation (IDM or Krauss car-following) and write its measures.
    Simulate(SimulateArgs),
    /// Run virtual field signal controllers: one Modbus TCP server per intersection.
    Field(FieldArgs),
    /// Run the central controller: compute timing plans and send them to the field controllers.
    Control(ControlArgs),
    /// Watch the site's cameras: count vehicles and detect violations, live.
    Watch(WatchArgs),
    /// Count vehicles in a recorded video file.
    Count(CountArgs),
    /// Score what the vision pipeline reported against the simulator's ground truth.
    Score(ScoreArgs),
    /// Run a deployment: cameras, control, API, metrics and dashboard for a real site.
    Run(SiteArgs),
    /// Run the whole closed loop on the simulator: cameras, vision, control, dashboard.
    Demo(DemoArgs),
    /// Write a site file skeleton from a SUMO network (.net.xml).
    ImportSumo(ImportSumoArgs),
}

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// Site file (TOML).
    pub site: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Site file (TOML).
    pub site: PathBuf,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Site file (TOML).
    pub site: PathBuf,
    /// Simulated time in seconds.
    #[arg(long, default_value_t = 3600.0)]
    pub duration: f64,
    /// Random seed; a run is fully determined by the site, the seed and the options.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time step in seconds (use 1 for comparisons with SUMO's default).
    #[arg(long, default_value_t = 0.5)]
    pub step: f64,
    /// Car-following model.
    #[arg(long, value_enum, default_value_t = Model::Idm)]
    pub model: Model,
    /// Signal control: fixed:PLAN, actuated, webster, scats, max-pressure, green-wave, adaptive;
    /// or sumo-program:NET.xml[,ADD.xml...] to replay SUMO's own signal programs (for
    /// validation against SUMO only: their yellow and all-red are SUMO's, not the site's floors).
    #[arg(long, default_value = "actuated")]
    pub controller: String,
    /// Directory for the per-vehicle and per-interval CSVs and the time-space diagrams.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the summary JSON here (it is always printed).
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Pace the simulation to the wall clock, multiplied by this factor.
    #[arg(long)]
    pub realtime: Option<f64>,
    /// Film the site's cameras: `rtsp` to serve them live, or a directory for MP4 files.
    #[arg(long)]
    pub cameras: Option<String>,
    /// Lighting of the synthetic cameras.
    #[arg(long, default_value = "day")]
    pub time_of_day: String,
    /// Ground truth of the synthetic cameras (JSON lines).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Arrivals of each flow: `poisson` (random), or `uniform` (evenly spaced, as SUMO's vehsPerHour flows).
    #[arg(long, default_value = "poisson")]
    pub arrivals: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Model {
    Idm,
    Krauss,
}

#[derive(Debug, Args)]
pub struct FieldArgs {
    /// Site file (TOML).
    pub site: PathBuf,
    /// Also run the corridor simulation that the field controllers' signals drive.
    #[arg(long)]
    pub simulate: bool,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Random seed of the simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// Site file (TOML).
    pub site: PathBuf,
    /// Plan algorithm; defaults to the site's control.algorithm.
    #[arg(long)]
    pub controller: Option<String>,
    /// Control a SUMO simulation (this .sumocfg) instead of field controllers.
    #[arg(long)]
    pub sumo: Option<PathBuf>,
    /// Random seed passed to SUMO.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub bus: BusArgs,
    /// Extra arguments passed to SUMO unchanged (after `--`).
    #[arg(last = true)]
    pub sumo_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Site file (TOML).
    pub site: PathBuf,
    /// Read each camera from DIR/<camera id>.mp4 instead of its URI, to the end of the files.
    #[arg(long)]
    pub camera_dir: Option<PathBuf>,
    /// Decoder threads per camera (0: one per core). Without it, cameras share the cores:
    /// several streams on few cores decode more frames per CPU second on one thread each.
    #[arg(long, value_name = "N")]
    pub decoder_threads: Option<u32>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Also write every reported event here (JSON lines).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Event store (SQLite); events are on disk here before they are reported anywhere.
    #[arg(long, default_value = "nutgiao-events.sqlite")]
    pub store: PathBuf,
    /// Directory for violation evidence (JPEG and clip per violation).
    #[arg(long, default_value = "evidence")]
    pub evidence: PathBuf,
    /// Delete stored events and evidence older than this many days at start-up.
    #[arg(long, default_value_t = 90.0)]
    pub retention_days: f64,
    /// Watch only this camera (repeatable); by default every camera of the site. An edge node
    /// watches the cameras wired to it.
    #[arg(long = "camera", value_name = "ID")]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub bus: BusArgs,
    /// Outbox of the events waiting for the broker (SQLite); defaults to beside --store.
    #[arg(long)]
    pub outbox: Option<PathBuf>,
}

/// Joining the MQTT event bus of a scaled-out deployment.
#[derive(Debug, Args)]
pub struct BusArgs {
    /// MQTT broker HOST:PORT; defaults to the site's operations.mqtt. Without either the node
    /// runs on its own.
    #[arg(long, value_name = "HOST:PORT")]
    pub mqtt: Option<String>,
    /// This node's name on the bus (its MQTT client ids start with it); defaults to
    /// `<command>-<host name>`.
    #[arg(long)]
    pub node: Option<String>,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    /// Video file (any format GStreamer decodes).
    pub video: PathBuf,
    /// Site file with the camera's lines and zones.
    #[arg(long, requires = "camera")]
    pub site: Option<PathBuf>,
    /// Camera id in the site file.
    #[arg(long)]
    pub camera: Option<String>,
    /// Counting line X1,Y1,X2,Y2 in pixels of the source video (repeatable).
    #[arg(long = "line", value_name = "X1,Y1,X2,Y2")]
    pub lines: Vec<String>,
    /// Counts CSV (1-minute and 15-minute bins).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Summary JSON: frames, fps and per-line totals.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Annotated video (boxes, ids, lines, running counts).
    #[arg(long)]
    pub annotated: Option<PathBuf>,
    /// Every count event (JSON lines, the same schema as `watch --events`).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Turning movements CSV (1-minute and 15-minute bins): entry line -> exit line, turn, class.
    /// A site's stop and entry lines pair with its exit lines; `--line`s pair with each other.
    #[arg(long)]
    pub movements: Option<PathBuf>,
    /// Lane occupancy and queue length per minute from the camera's queue zones (CSV).
    #[arg(long)]
    pub lanes: Option<PathBuf>,
    /// Decoder threads (0: the decoder's one per core; absent: two per core, which keeps the
    /// cores busy while the analysis waits for frames). Give 1 when several jobs share the
    /// cores: a stream decodes more frames per CPU second on one thread.
    #[arg(long, value_name = "N")]
    pub decoder_threads: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Ground truth written by `nutgiao simulate --truth`.
    #[arg(long)]
    pub truth: PathBuf,
    /// Events written by `nutgiao watch --events`.
    #[arg(long)]
    pub events: PathBuf,
    /// Write the scores as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Site file (TOML).
    pub site: PathBuf,
    /// Address of the API, dashboard and /metrics.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Run headless for this many simulated seconds, then print a summary.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Write the demo summary JSON here.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Leave out the synthetic cameras and the vision pipeline (control loop only).
    #[arg(long)]
    pub no_cameras: bool,
}

#[derive(Debug, Args)]
pub struct ImportSumoArgs {
    /// SUMO network file.
    pub net: PathBuf,
    /// Where to write the site TOML (standard output when absent).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Site name; defaults to the network file's name.
    #[arg(long)]
    pub name: Option<String>,
}
