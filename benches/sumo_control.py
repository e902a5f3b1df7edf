#!/usr/bin/env python3
"""nutgiao's controller against SUMO's own controllers on the reference arterial, judged by SUMO.

Every variant runs in this one invocation with the same demand and seeds; the figures are
SUMO's own (--statistic-output): mean time loss, mean waiting time, arrived vehicles, teleports.

    python3 benches/sumo_control.py                       # base demand, seeds 1..5, adaptive
    python3 benches/sumo_control.py --scenario peak       # the harder peak-hour case (docs/sumo.md)
    python3 benches/sumo_control.py --controller actuated,adaptive --seeds 1,2 --end 3600
    python3 benches/sumo_control.py --step-length 1,0.5   # every variant at both SUMO steps

--step-length sets SUMO's simulation step for every run, SUMO's own variants included, so the
comparison stays fair (a finer step changes SUMO's driving as well as when a signal can change:
at a 1 s step nutgiao's 3.3 s yellow + 1.5 s red clearance last 6 s, at 0.5 s 5 s, at 0.1 s
4.8 s; SUMO's own programs switch on whole seconds at any step). With several step lengths each
gets its own tables and the goal is judged at each; a last table puts them side by side.

Nothing is written into ../shared: nutgiao's runs use a configuration generated in a
temporary directory with absolute paths to the shared network and routes.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = (ROOT / ".." / "shared" / "data" / "sumo-arterial").resolve()
SITE = ROOT / "config" / "examples" / "arterial.toml"

# SUMO's built-in variants, as in ../shared/data/sumo-arterial/run_all.sh.
BUILTIN = {
    "fixed90": ("arterial_static.net.xml", []),
    "webster": ("arterial_static.net.xml", ["webster.tls.add.xml"]),
    "webster_coord": ("arterial_static.net.xml", ["webster.tls.add.xml", "webster_coord.tls.add.xml"]),
    "actuated": ("arterial_actuated.net.xml", []),
    "delay_based": ("arterial_delay.net.xml", []),
}

# The harder case: the base flows, 30 % above base from 1200 s to 2400 s, and unbalanced
# directions (eastbound and southbound heavier, their opposites lighter).
PEAK_WINDOWS = [(0, 1200, 1.0), (1200, 2400, 1.3), (2400, 3600, 1.0)]
DIRECTION_FACTOR = {"WE": 1.3, "EW": 0.7}
SIDE_FACTOR = {"N": 1.2, "S": 0.8}


def peak_routes(base: Path, out: Path) -> Path:
    """Writes the peak scenario's routes: every base flow split into the three windows."""
    tree = ET.parse(base)
    root = tree.getroot()
    flows = [f for f in root if f.tag == "flow"]
    for f in flows:
        root.remove(f)
    for f in flows:
        fid = f.get("id")
        factor = DIRECTION_FACTOR.get(fid) or SIDE_FACTOR.get(fid[0], 1.0)
        base_vph = float(f.get("vehsPerHour"))
        for k, (b, e, peak) in enumerate(PEAK_WINDOWS):
            g = ET.SubElement(root, "flow", dict(f.attrib))
            g.set("id", f"{fid}_{k}")
            g.set("begin", str(b))
            g.set("end", str(e))
            g.set("vehsPerHour", f"{base_vph * factor * peak:.1f}")
    # SUMO wants flows sorted by departure time.
    flows_new = sorted((f for f in root if f.tag == "flow"), key=lambda f: float(f.get("begin")))
    for f in flows_new:
        root.remove(f)
        root.append(f)
    tree.write(out)
    return out


def read_stats(path: Path) -> dict:
    r = ET.parse(path).getroot()
    veh = r.find("vehicles").attrib
    ts = r.find("vehicleTripStatistics").attrib
    tp = r.find("teleports").attrib
    return {
        "inserted": int(veh["inserted"]),
        "arrived": int(ts["count"]),
        "time_loss": float(ts["timeLoss"]),
        "waiting": float(ts["waitingTime"]),
        "teleports": int(tp["total"]),
    }


def run(cmd, stats: Path, log: Path) -> dict:
    t0 = time.monotonic()
    with open(log, "w") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    if p.returncode != 0 or not stats.is_file():
        tail = log.read_text()[-2000:]
        raise SystemExit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    s = read_stats(stats)
    s["wall"] = wall
    return s


def builtin_cmd(variant, routes, seed, end, step, stats):
    net, adds = BUILTIN[variant]
    cmd = ["sumo", "-n", str(DATA / net), "-r", str(routes), "-b", "0", "-e", str(end), "--seed", str(seed),
           "--step-length", step, "--statistic-output", str(stats), "--duration-log.statistics", "--no-step-log"]
    if adds:
        cmd += ["-a", ",".join(str(DATA / a) for a in adds)]
    return cmd


def nutgiao_cmd(binary, controller, cfg, seed, stats):
    return [str(binary), "control", str(SITE), "--sumo", str(cfg), "--controller", controller, "--seed", str(seed),
            "--", "--statistic-output", str(stats), "--duration-log.statistics", "--no-step-log"]


def write_cfg(dir: Path, routes: Path, end: int, step: str) -> Path:
    cfg = dir / "arterial_nutgiao.sumocfg"
    cfg.write_text(f"""<configuration>
  <input><net-file value="{DATA / 'arterial_static.net.xml'}"/><route-files value="{routes}"/></input>
  <time><begin value="0"/><end value="{end}"/><step-length value="{step}"/></time>
</configuration>
""")
    return cfg


def find_binary(arg):
    if arg:
        return Path(arg)
    for p in (ROOT / "target" / "release" / "nutgiao", ROOT / "target" / "debug" / "nutgiao"):
        if p.is_file():
            return p
    raise SystemExit("no nutgiao binary: run `cargo build --release --bin nutgiao` or pass --nutgiao")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=["base", "peak", "both"], default="base")
    ap.add_argument("--controller", default="adaptive", help="nutgiao controllers, comma-separated")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--end", type=int, default=3600)
    ap.add_argument("--builtins", default=",".join(BUILTIN), help="SUMO variants, comma-separated")
    ap.add_argument("--nutgiao", help="path of the nutgiao binary")
    ap.add_argument("--keep", help="keep every run's files in this directory")
    ap.add_argument("--step-length", default="1",
                    help="SUMO's simulation step (s) for every run, comma-separated for several (default 1, as "
                         "../shared/data/sumo-arterial/run_all.sh)")
    a = ap.parse_args()

    if not DATA.is_dir():
        print(f"skipping: {DATA} is not beside the checkout", file=sys.stderr)
        return 0
    if shutil.which("sumo") is None:
        raise SystemExit("`sumo` is not on PATH (Debian package sumo)")
    os.environ.setdefault("SUMO_HOME", "/usr/share/sumo")
    binary = find_binary(a.nutgiao)
    seeds = [int(s) for s in a.seeds.split(",") if s]
    controllers = [c for c in a.controller.split(",") if c]
    builtins = [b for b in a.builtins.split(",") if b]
    steps = [s.strip() for s in a.step_length.split(",") if s.strip()]
    for step in steps:
        try:
            positive = float(step) > 0
        except ValueError:
            positive = False
        if not positive:
            raise SystemExit(f"--step-length {step}: must be a positive number of seconds")
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="nutgiao-sumo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scenarios = ["base", "peak"] if a.scenario == "both" else [a.scenario]
    verdict = 0
    mean = lambda rs, k: statistics.mean(r[k] for r in rs)
    summary = {}
    for scenario, step in [(sc, st) for sc in scenarios for st in steps]:
        # One step length keeps the run directories of before (work/base, work/peak).
        sdir = work / scenario if len(steps) == 1 else work / f"{scenario}_step{step}"
        sdir.mkdir(exist_ok=True)
        routes = DATA / "arterial.rou.xml" if scenario == "base" else peak_routes(DATA / "arterial.rou.xml",
                                                                                sdir / "arterial_peak.rou.xml")
        cfg = write_cfg(sdir, routes, a.end, step)
        rows = {}
        for variant in builtins + [f"nutgiao:{c}" for c in controllers]:
            results = []
            for seed in seeds:
                d = sdir / variant.replace(":", "_") / f"s{seed}"
                d.mkdir(parents=True, exist_ok=True)
                stats = d / "stats.xml"
                if variant.startswith("nutgiao:"):
                    cmd = nutgiao_cmd(binary, variant.split(":", 1)[1], cfg, seed, stats)
                else:
                    cmd = builtin_cmd(variant, routes, seed, a.end, step, stats)
                results.append(run(cmd, stats, d / "console.txt"))
                print(f"  {scenario} step {step} s {variant} seed {seed}: time loss {results[-1]['time_loss']:.1f} s, "
                      f"arrived {results[-1]['arrived']}, teleports {results[-1]['teleports']}", file=sys.stderr)
            rows[variant] = results
        summary[(scenario, step)] = {v: mean(rs, "time_loss") for v, rs in rows.items()}
        print(f"\n## {scenario} demand ({a.end} s, SUMO step {step} s, seeds {','.join(map(str, seeds))}; "
              "SUMO's statistic-output)\n")
        print("| control | mean time loss s | mean waiting s | arrived | inserted | teleports | wall s |")
        print("|---|---|---|---|---|---|---|")
        for variant, rs in rows.items():
            print(f"| {variant} | {mean(rs, 'time_loss'):.1f} | {mean(rs, 'waiting'):.1f} | {mean(rs, 'arrived'):.0f} "
                  f"| {mean(rs, 'inserted'):.0f} | {sum(r['teleports'] for r in rs)} | {mean(rs, 'wall'):.2f} |")
        best_builtin = min((v for v in rows if not v.startswith("nutgiao:")), key=lambda v: mean(rows[v], "time_loss"),
                           default=None)
        for c in controllers:
            v = f"nutgiao:{c}"
            ours = mean(rows[v], "time_loss")
            teleports = sum(r["teleports"] for r in rows[v])
            line = f"{v} ({scenario}, step {step} s): {ours:.1f} s mean time loss"
            if best_builtin:
                best = mean(rows[best_builtin], "time_loss")
                line += f"; best built-in {best_builtin} {best:.1f} s ({ours - best:+.1f} s)"
                ok = ours <= best and teleports == 0 and (scenario != "base" or ours <= 18.0)
                line += "; goal met" if ok else "; goal NOT met"
                verdict |= 0 if ok else 1
            print(line)
    if len(steps) > 1:
        print(f"\n## mean time loss (s) by SUMO step\n")
        head = [f"{sc} {st} s" for sc in scenarios for st in steps]
        print("| control | " + " | ".join(head) + " |")
        print("|---" * (len(head) + 1) + "|")
        for variant in builtins + [f"nutgiao:{c}" for c in controllers]:
            cells = [f"{summary[(sc, st)][variant]:.1f}" for sc in scenarios for st in steps]
            print(f"| {variant} | " + " | ".join(cells) + " |")
    print(f"\nrun files: {work}", file=sys.stderr)
    return verdict


if __name__ == "__main__":
    sys.exit(main())
