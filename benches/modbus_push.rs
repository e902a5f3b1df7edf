//! Pushes a timing plan (116-register block write + checksum commit) to 100 virtual field
//! controllers on loopback at once, 20 rounds, and reports the total time per round and the
//! p50/p99 per plan write. Run: `cargo bench --bench modbus_push`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nutgiao_controller::CorridorPlan;
use nutgiao_controller::modbus::client::FieldLink;
use nutgiao_simulator::field::{Cabinet, server};

const CABINETS: usize = 100;
const ROUNDS: usize = 20;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = nutgiao_config::load(root.join("config/examples/arterial.toml")).expect("arterial site");
    let j1 = site.intersection("J1").expect("J1").clone();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut links = Vec::new();
        for _ in 0..CABINETS {
            let cab = Arc::new(Mutex::new(Cabinet::new(&site, &j1).expect("cabinet")));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr").to_string();
            tokio::spawn(server::serve(listener, cab, vec!["127.0.0.1".into()], 1));
            links.push(FieldLink::to_address(&j1, &site.modbus_map, &addr, 1, Duration::from_millis(1000)));
        }
        for l in &mut links {
            l.read_status().await.expect("cabinet up");
        }
        let base =
            CorridorPlan::named(&site, "webster-coord").expect("plan").for_intersection("J1").expect("J1").clone();
        let mut totals = Vec::new();
        let mut writes = Vec::new();
        for round in 0..ROUNDS {
            let mut plan = base.clone();
            plan.plan_id = 10 + round as u16;
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for mut link in links.drain(..) {
                let plan = plan.clone();
                tasks.spawn(async move {
                    let t = Instant::now();
                    link.push_plan(&plan).await.expect("plan accepted");
                    (link, t.elapsed().as_secs_f64() * 1e3)
                });
            }
            while let Some(r) = tasks.join_next().await {
                let (link, ms) = r.expect("task");
                writes.push(ms);
                links.push(link);
            }
            totals.push(start.elapsed().as_secs_f64() * 1e3);
        }
        totals.sort_by(f64::total_cmp);
        writes.sort_by(f64::total_cmp);
        println!("plan push to {CABINETS} virtual field controllers on loopback, {ROUNDS} rounds");
        println!(
            "total per round: p50 {:.1} ms, max {:.1} ms (target < 200 ms)",
            percentile(&totals, 0.5),
            totals[totals.len() - 1]
        );
        println!(
            "per plan write (block + commit): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&writes, 0.5),
            percentile(&writes, 0.99)
        );
    });
}
