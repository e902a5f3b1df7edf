use std::process::ExitCode;

use anyhow::Context;
use nutgiao_controller::sumo::{Net, import};

use crate::cli::ImportSumoArgs;

pub fn run(args: &ImportSumoArgs) -> anyhow::Result<ExitCode> {
    let net = Net::load(&args.net)?;
    let name = args.name.clone().unwrap_or_else(|| site_name(&args.net));
    let site = import::import_net(&net, &name).with_context(|| format!("importing {}", args.net.display()))?;
    let text = import::to_toml(&site, &args.net.display().to_string())?;
    // The skeleton must pass the same validation as any site file before anyone relies on it.
    if let Err(e) = nutgiao_config::parse(&text, "imported site") {
        anyhow::bail!("the site imported from {} does not validate:\n{e}", args.net.display());
    }
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(
                net = %args.net.display(),
                output = %path.display(),
                intersections = site.intersections.len(),
                links = site.links.len(),
                "site file written"
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `arterial_static.net.xml` -> `arterial_static`.
fn site_name(net: &std::path::Path) -> String {
    let file = net.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
    file.strip_suffix(".net.xml").or_else(|| file.strip_suffix(".xml")).unwrap_or(&file).to_owned()
}
