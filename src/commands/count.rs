use std::process::ExitCode;

use anyhow::bail;
use nutgiao_vision::camera::{CameraSetup, parse_pixel_line};
use nutgiao_vision::count_job::{self, CountOutputs};
use nutgiao_vision::ingest::{self, Pacing};

use crate::cli::CountArgs;

pub fn run(args: &CountArgs) -> anyhow::Result<ExitCode> {
    let video = args.video.display().to_string();
    let pixel_lines: Vec<[f64; 4]> =
        args.lines.iter().map(|l| parse_pixel_line(l)).collect::<Result<_, _>>().map_err(anyhow::Error::msg)?;
    let setup = match (&args.site, &args.camera) {
        (Some(site), Some(camera)) => {
            let site = super::load_site(site)?;
            let mut setup = CameraSetup::from_site(&site, camera)?;
            setup.uri = video.clone();
            setup.lines.extend(CameraSetup::from_pixel_lines(camera, &video, &pixel_lines).lines);
            setup
        }
        (None, None) => {
            if pixel_lines.is_empty() {
                bail!("nothing to count: give --line X1,Y1,X2,Y2 (pixels of {video}) or --site and --camera");
            }
            let name = args.video.file_stem().map_or_else(|| "video".into(), |s| s.to_string_lossy().into_owned());
            CameraSetup::from_pixel_lines(&name, &video, &pixel_lines)
        }
        _ => bail!("--site and --camera go together"),
    };
    let mut setup = setup;
    setup.decoder_threads = ingest::decoder_threads(args.decoder_threads, 1, Pacing::EveryFrame);
    let outputs = CountOutputs {
        csv: args.csv.clone(),
        summary: args.summary.clone(),
        annotated: args.annotated.clone(),
        events: args.events.clone(),
        movements: args.movements.clone(),
        lanes: args.lanes.clone(),
    };
    let result = count_job::run(setup, &outputs)?;
    println!("{}", serde_json::to_string_pretty(&result.summary)?);
    Ok(ExitCode::SUCCESS)
}
