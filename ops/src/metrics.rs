//! Every Prometheus metric nutgiao exports, registered once with the site as a constant
//! label. Only `events` updates these, so a metric never moves without its log line.

use std::collections::HashMap;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub vehicles_counted: IntCounterVec,
    pub movements_counted: IntCounterVec,
    pub violations: IntCounterVec,
    pub lane_occupancy: GaugeVec,
    pub queue_length: GaugeVec,
    pub signal_indication: IntGaugeVec,
    pub plan_cycle: GaugeVec,
    pub plan_offset: GaugeVec,
    pub plan_split: GaugeVec,
    pub plan_info: IntGaugeVec,
    pub controller_up: IntGaugeVec,
    pub modbus_requests: IntCounterVec,
    pub modbus_errors: IntCounterVec,
    pub modbus_duration: HistogramVec,
    pub camera_up: IntGaugeVec,
    pub camera_fps: GaugeVec,
    pub frames_processed: IntCounterVec,
    pub frames_dropped: IntCounterVec,
    pub frame_stage_duration: HistogramVec,
    pub bus_published: IntCounterVec,
    pub bus_spooled: IntGaugeVec,
    pub api_writes: IntCounterVec,
}

impl Metrics {
    pub fn new(site: &str) -> Result<Metrics, MetricsError> {
        let labels = HashMap::from([("site".to_owned(), site.to_owned())]);
        let registry = Registry::new_custom(Some("nutgiao".to_owned()), Some(labels))?;
        let counter = |name: &str, help: &str, l: &[&str]| -> Result<IntCounterVec, MetricsError> {
            let c = IntCounterVec::new(Opts::new(name, help), l)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let igauge = |name: &str, help: &str, l: &[&str]| -> Result<IntGaugeVec, MetricsError> {
            let g = IntGaugeVec::new(Opts::new(name, help), l)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let gauge = |name: &str, help: &str, l: &[&str]| -> Result<GaugeVec, MetricsError> {
            let g = GaugeVec::new(Opts::new(name, help), l)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let histogram = |name: &str, help: &str, l: &[&str], buckets: Vec<f64>| -> Result<HistogramVec, MetricsError> {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), l)?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let fast = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
        Ok(Metrics {
            vehicles_counted: counter(
                "vehicles_counted_total",
                "Vehicles counted crossing a counting line.",
                &["camera", "line", "lane", "direction", "class"],
            )?,
            movements_counted: counter(
                "movements_counted_total",
                "Vehicles counted through a turning movement (entry line -> exit line).",
                &["camera", "from", "to", "turn", "class"],
            )?,
            violations: counter("violations_total", "Traffic violations detected.", &["camera", "type"])?,
            lane_occupancy: gauge(
                "lane_occupancy_ratio",
                "Share of time a lane's detector or zone is occupied (0..1).",
                &["intersection", "approach", "lane"],
            )?,
            queue_length: gauge(
                "queue_length_meters",
                "Queue length back from the stop line.",
                &["intersection", "approach", "lane"],
            )?,
            signal_indication: igauge(
                "signal_indication",
                "1 for the indication a phase shows now, 0 for the others.",
                &["intersection", "phase", "indication"],
            )?,
            plan_cycle: gauge("plan_cycle_seconds", "Cycle of the plan in effect.", &["intersection"])?,
            plan_offset: gauge("plan_offset_seconds", "Offset of the plan in effect.", &["intersection"])?,
            plan_split: gauge(
                "plan_split_seconds",
                "Split per stage of the plan in effect.",
                &["intersection", "stage"],
            )?,
            plan_info: igauge(
                "plan_info",
                "1 for the plan in effect at an intersection and its source (automatic or manual).",
                &["intersection", "plan", "source"],
            )?,
            controller_up: igauge("controller_up", "1 when the field controller answers.", &["intersection"])?,
            modbus_requests: counter("modbus_requests_total", "Modbus requests sent.", &["intersection", "operation"])?,
            modbus_errors: counter(
                "modbus_errors_total",
                "Modbus requests that failed.",
                &["intersection", "operation", "kind"],
            )?,
            modbus_duration: histogram(
                "modbus_request_duration_seconds",
                "Round trip of Modbus requests.",
                &["intersection", "operation"],
                fast.clone(),
            )?,
            camera_up: igauge("camera_up", "1 when the camera delivers frames.", &["camera"])?,
            camera_fps: gauge("camera_frames_per_second", "Frames processed per second.", &["camera"])?,
            frames_processed: counter("frames_processed_total", "Frames through the vision pipeline.", &["camera"])?,
            frames_dropped: counter(
                "frames_dropped_total",
                "Frames dropped to keep a live camera current.",
                &["camera"],
            )?,
            frame_stage_duration: histogram(
                "frame_stage_duration_seconds",
                "Processing time of one frame per pipeline stage.",
                &["camera", "stage"],
                fast,
            )?,
            bus_published: counter("bus_published_total", "Events acknowledged by the MQTT broker.", &["kind"])?,
            bus_spooled: igauge("bus_spooled_events", "Events on disk waiting for the MQTT broker.", &["kind"])?,
            api_writes: counter("api_writes_total", "Audited writes through the API.", &["action", "outcome"])?,
            registry,
        })
    }

    /// The text exposition format served at /metrics.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
