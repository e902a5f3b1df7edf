//! The HTTP API (JSON, CSV, server-sent events), /metrics and the dashboard.
//!
//! Reads are open; writes need a bearer token and are audited in SQLite before the
//! answer goes out. A rejected write changes nothing.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use futures_util::StreamExt;
use nutgiao_controller::{CorridorPlan, IntersectionPlan};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;

use crate::audit::AuditLog;
use crate::events::{ApiWrite, InternalEvent};
use crate::live::{ControlCommand, Live};

const INDEX_HTML: &str = include_str!("../dashboard/index.html");
const APP_JS: &str = include_str!("../dashboard/app.js");
const STYLE_CSS: &str = include_str!("../dashboard/style.css");
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Operators allowed to write: `name:token` pairs (or a bare token, named `operator`).
#[derive(Debug, Clone, Default)]
pub struct Tokens(Vec<(String, String)>);

impl Tokens {
    /// Parses `alice:secret1,bob:secret2` or `secret`.
    pub fn parse(spec: &str) -> Tokens {
        Tokens(
            spec.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match s.split_once(':') {
                    Some((name, token)) => (name.to_owned(), token.to_owned()),
                    None => ("operator".to_owned(), s.to_owned()),
                })
                .collect(),
        )
    }

    fn who(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        if self.0.is_empty() {
            return Err(ApiError(StatusCode::FORBIDDEN, "writes are disabled: no API token is configured".into()));
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "a bearer token is required for writes".into()))?;
        self.0
            .iter()
            .find(|(_, t)| constant_time_eq(t.as_bytes(), given.trim().as_bytes()))
            .map(|(n, _)| n.clone())
            .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "the bearer token is not valid".into()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Clone)]
pub struct ApiState {
    pub live: Live,
    pub audit: Arc<AuditLog>,
    pub tokens: Tokens,
}

#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {}", r.body_text()))
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX_HTML) }))
        .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS) }))
        .route("/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE_CSS) }))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/api/health", get(health))
        .route("/api/corridor", get(corridor))
        .route("/api/intersections", get(intersections))
        .route("/api/intersections/{id}", get(intersection))
        .route("/api/intersections/{id}/override", post(override_plan).delete(automatic))
        .route("/api/signals", get(signals))
        .route("/api/plans", get(plans))
        .route("/api/counts", get(counts))
        .route("/api/counts.csv", get(counts_csv))
        .route("/api/movements", get(movements))
        .route("/api/violations", get(violations))
        .route("/api/violations/{id}/evidence", get(evidence))
        .route("/api/violations/{id}/ack", post(acknowledge))
        .route("/api/audit", get(audit))
        .route("/api/stream", get(stream))
        .with_state(state)
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.live.metrics.render())
}

async fn health(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let cameras = s.live.cameras();
    let controllers = s.live.controllers();
    let ok = cameras.values().all(|c| c.up) && controllers.values().all(|c| c.up);
    Json(json!({ "ok": ok, "cameras": cameras, "controllers": controllers }))
}

async fn corridor(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let site = &s.live.site;
    let intersections: Vec<_> = site
        .intersections
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "name": i.name, "x": i.x, "y": i.y,
                "stages": i.stages,
                "phases": i.phases.iter().map(|p| json!({
                    "id": p.id, "name": p.name, "movements": p.movements,
                    "min_green_s": p.min_green_s, "max_green_s": p.max_green_s,
                    "yellow_s": p.yellow_s, "red_clearance_s": p.red_clearance_s,
                })).collect::<Vec<_>>(),
                "approaches": i.approaches.iter().map(|a| json!({
                    "id": a.id, "link": a.link, "lanes": a.lanes.len(),
                    "bound": site.link(&a.link).map(|l| site.link_bound(l)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "site": site.site.name, "description": site.site.description,
        "intersections": intersections,
        "cameras": site.cameras.iter().map(|c| json!({"id": c.id, "intersection": c.intersection})).collect::<Vec<_>>(),
        "plans": site.plans.iter().map(|p| json!({"id": p.id, "cycle_s": p.cycle_s, "description": p.description})).collect::<Vec<_>>(),
    }))
}

fn intersection_view(s: &ApiState, id: &str) -> Option<serde_json::Value> {
    s.live.site.intersection(id)?;
    Some(json!({
        "id": id,
        "signals": s.live.signals().get(id),
        "plan": s.live.plans().get(id),
        "controller": s.live.controllers().get(id),
        "lanes": s.live.lanes().into_iter().filter(|l| l.intersection == id).collect::<Vec<_>>(),
    }))
}

async fn intersections(State(s): State<ApiState>) -> Json<Vec<serde_json::Value>> {
    Json(s.live.site.intersections.iter().filter_map(|i| intersection_view(&s, &i.id)).collect())
}

async fn intersection(State(s): State<ApiState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    intersection_view(&s, &id)
        .map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown intersection `{id}`")))
}

async fn signals(State(s): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!(s.live.signals()))
}

async fn plans(State(s): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!({ "in_effect": s.live.plans(), "available": s.live.site.plans }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountQuery {
    camera: Option<String>,
    line: Option<String>,
    /// Bin width in seconds: 60 or 900 (a multiple of 60).
    bin: Option<i64>,
}

fn bin_of(q: Option<i64>, default: i64) -> Result<i64, ApiError> {
    let bin = q.unwrap_or(default);
    if bin < 60 || bin % 60 != 0 || bin > 86_400 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("bin {bin} s must be a multiple of 60 between 60 and 86400"),
        ));
    }
    Ok(bin)
}

async fn counts(
    State(s): State<ApiState>,
    q: Result<Query<CountQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let bin = bin_of(q.bin, 60)?;
    let series = s.live.count_series(bin, q.camera.as_deref(), q.line.as_deref());
    Ok(Json(json!({ "bin_s": bin, "total": s.live.count_total(), "series": series })))
}

async fn movements(State(s): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!({ "movements": s.live.movements() }))
}

async fn counts_csv(
    State(s): State<ApiState>,
    q: Result<Query<CountQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let bin = bin_of(q.bin, 900)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], s.live.count_csv(bin)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViolationQuery {
    limit: Option<usize>,
}

async fn violations(
    State(s): State<ApiState>,
    q: Result<Query<ViolationQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    Ok(Json(json!(s.live.violations(q.limit.unwrap_or(100).min(500)))))
}

async fn evidence(State(s): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let v =
        s.live.violation(&id).ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown violation `{id}`")))?;
    // Only paths the vision store recorded are served: no path comes from the request.
    let path =
        v.event.evidence.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("violation `{id}` has no evidence")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError(StatusCode::NOT_FOUND, format!("evidence of `{id}` is not readable: {e}")))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"))], bytes).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    /// A plan of the site file by id, or
    plan: Option<String>,
    /// an explicit timing.
    cycle_s: Option<f64>,
    offset_s: Option<f64>,
    splits_s: Option<Vec<f64>>,
}

/// Records the write in the audit log, then answers: the audit entry exists before the caller
/// hears anything.
fn audited(
    s: &ApiState,
    who: &str,
    action: &str,
    target: &str,
    outcome: Result<String, ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (accepted, detail) = match &outcome {
        Ok(d) => (true, d.clone()),
        Err(e) => (false, e.1.clone()),
    };
    s.audit
        .record(who, action, target, &detail, accepted)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("not done: the audit log failed: {e}")))?;
    ApiWrite { who, action, target, accepted, detail: &detail }.emit(&s.live.metrics);
    outcome.map(|d| Json(json!({ "accepted": true, "detail": d })))
}

async fn override_plan(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<OverrideBody>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let who = s.tokens.who(&headers)?;
    let outcome = (|| {
        let Json(body) = body?;
        let inter = s
            .live
            .site
            .intersection(&id)
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown intersection `{id}`")))?;
        let (name, plan) = match (&body.plan, body.cycle_s, &body.splits_s) {
            (Some(name), None, None) => {
                let corridor = CorridorPlan::named(&s.live.site, name)
                    .ok_or_else(|| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("unknown plan `{name}`")))?;
                let plan = corridor.for_intersection(&inter.id).cloned().ok_or_else(|| {
                    ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("plan `{name}` has no timing for {}", inter.id))
                })?;
                (name.clone(), plan)
            }
            (None, Some(cycle_s), Some(splits_s)) => (
                "manual".to_owned(),
                IntersectionPlan {
                    plan_id: 900,
                    intersection: inter.id.clone(),
                    cycle_s,
                    offset_s: body.offset_s.unwrap_or(0.0),
                    splits_s: splits_s.clone(),
                },
            ),
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "give either `plan` (a plan id of the site) or `cycle_s` and `splits_s`".into(),
                ));
            }
        };
        crate::validate::check_override(&s.live.site, &plan)
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("unsafe plan for {}: {e}", inter.id)))?;
        let detail =
            format!("{name}: cycle {} s, offset {} s, splits {:?}", plan.cycle_s, plan.offset_s, plan.splits_s);
        s.live
            .send_command(ControlCommand::Override { intersection: inter.id.clone(), name, plan })
            .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_owned()))?;
        Ok(detail)
    })();
    audited(&s, &who, "override", &id, outcome).map(|j| (StatusCode::ACCEPTED, j))
}

async fn automatic(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let who = s.tokens.who(&headers)?;
    let outcome = if s.live.site.intersection(&id).is_none() {
        Err(ApiError(StatusCode::NOT_FOUND, format!("unknown intersection `{id}`")))
    } else {
        s.live
            .send_command(ControlCommand::Automatic { intersection: id.clone() })
            .map(|()| "returned to automatic control".to_owned())
            .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_owned()))
    };
    audited(&s, &who, "automatic", &id, outcome).map(|j| (StatusCode::ACCEPTED, j))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    note: String,
}

async fn acknowledge(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<AckBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = s.tokens.who(&headers)?;
    let note = body.map(|Json(b)| b.note).unwrap_or_default();
    let outcome = if s.live.violation(&id).is_none() {
        Err(ApiError(StatusCode::NOT_FOUND, format!("unknown violation `{id}`")))
    } else {
        s.audit
            .acknowledge(&id, &who, &note)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
            .map(|()| {
                s.live.mark_acknowledged(&id, &who);
                format!("acknowledged: {note}")
            })
    };
    audited(&s, &who, "acknowledge", &id, outcome)
}

async fn audit(State(s): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    s.audit.entries(200).map(|e| Json(json!(e))).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn stream(State(s): State<ApiState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let updates = BroadcastStream::new(s.live.subscribe()).filter_map(|u| async move {
        // A slow client that lagged behind just misses updates; the next ones carry full states.
        let u = u.ok()?;
        Some(Ok(Event::default().event("update").data(serde_json::to_string(&u).ok()?)))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}
