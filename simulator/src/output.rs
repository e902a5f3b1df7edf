//! Writers of a run's outputs: `vehicles.csv`, `intervals.csv`, `summary.json` and the
//! time-space diagrams.

use std::path::{Path, PathBuf};

use crate::{SimError, Simulation, Summary};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Write { path: path.to_owned(), source }
}

fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> SimError + '_ {
    move |e| SimError::Write { path: path.to_owned(), source: std::io::Error::other(e) }
}

fn write_csv<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<(), SimError> {
    let mut w = csv::Writer::from_path(path).map_err(csv_err(path))?;
    for r in rows {
        w.serialize(r).map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

pub fn write_summary(path: &Path, summary: &Summary) -> Result<(), SimError> {
    let text = serde_json::to_string_pretty(summary)
        .map_err(|e| SimError::Write { path: path.to_owned(), source: e.into() })?;
    std::fs::write(path, text + "\n").map_err(io_err(path))
}

/// Writes every output into `dir` (created if needed); returns the files written.
pub fn write_all(dir: &Path, sim: &Simulation) -> Result<Vec<PathBuf>, SimError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut written = Vec::new();
    let p = dir.join("vehicles.csv");
    write_csv(&p, sim.trips())?;
    written.push(p);
    let p = dir.join("intervals.csv");
    write_csv(&p, sim.intervals())?;
    written.push(p);
    let p = dir.join("summary.json");
    write_summary(&p, &sim.summary())?;
    written.push(p);
    for rec in sim.arterial_records() {
        let svg = dir.join(format!("time_space_{}.svg", rec.name));
        std::fs::write(&svg, crate::timespace::svg(rec)).map_err(io_err(&svg))?;
        written.push(svg);
        let png = dir.join(format!("time_space_{}.png", rec.name));
        crate::timespace::write_png(&png, rec)?;
        written.push(png);
    }
    Ok(written)
}
