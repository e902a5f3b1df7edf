#!/usr/bin/env python3
"""Scale benchmark: a 10x10 grid of signalised intersections with 50,000 veh/h of demand.

Writes the grid as a site file, runs `nutgiao simulate` on it and prints vehicle-updates per
second of the simulation loop and of the whole process, and the peak memory (max RSS).
Usage: benches/sim_grid.py [--n 10] [--vph 50000] [--duration 3600] [--step 1]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACING = 300.0
WIDTH = 20.0


def grid_site(n, vph):
    out = ['[site]\nname = "grid"\ndescription = "synthetic %dx%d grid"\n' % (n, n)]
    def jid(i, j):
        return "J%d_%d" % (i, j)
    nodes, links = [], []
    # Boundary nodes one spacing outside the grid on every side.
    for k in range(n):
        nodes += [("W%d" % k, -SPACING, k * SPACING), ("E%d" % k, n * SPACING, k * SPACING),
                  ("S%d" % k, k * SPACING, -SPACING), ("N%d" % k, k * SPACING, n * SPACING)]
    for (nid, x, y) in nodes:
        out.append('[[node]]\nid = "%s"\nx = %.1f\ny = %.1f\n' % (nid, x, y))
    def pt(i, j):
        if i < 0: return "W%d" % j
        if i >= n: return "E%d" % j
        if j < 0: return "S%d" % i
        if j >= n: return "N%d" % i
        return jid(i, j)
    def link_id(a, b):
        return "%s-%s" % (a, b)
    entries = []
    for i in range(n):
        for j in range(n):
            for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
                a, b = jid(i, j), pt(i + di, j + dj)
                links.append((a, b)); links.append((b, a)) if not (0 <= i + di < n and 0 <= j + dj < n) else None
                if not (0 <= i + di < n and 0 <= j + dj < n):
                    entries.append(link_id(b, a))
    seen = set()
    for (a, b) in links:
        if (a, b) in seen: continue
        seen.add((a, b))
        out.append('[[link]]\nid = "%s"\nfrom = "%s"\nto = "%s"\nlanes = 2\nspeed_limit_kmh = 50.0\n' % (link_id(a, b), a, b))
    # Headings: approach from the west travels east, etc.; exits by turn for traffic keeping right.
    for i in range(n):
        for j in range(n):
            me = jid(i, j)
            w, e, s_, nn = pt(i - 1, j), pt(i + 1, j), pt(i, j - 1), pt(i, j + 1)
            out.append('[[intersection]]\nid = "%s"\nx = %.1f\ny = %.1f\nwidth_m = %.1f\nstages = [[2], [4]]\n' % (me, i * SPACING, j * SPACING, WIDTH))
            appr = {
                "W": (w, {"through": e, "left": nn, "right": s_}),
                "E": (e, {"through": w, "left": s_, "right": nn}),
                "S": (s_, {"through": nn, "left": w, "right": e}),
                "N": (nn, {"through": s_, "left": e, "right": w}),
            }
            for side, (src, ex) in appr.items():
                exits = ", ".join('%s = "%s"' % (t, link_id(me, d)) for t, d in ex.items())
                out.append('[[intersection.approach]]\nid = "%s-%s"\nlink = "%s"\nexits = { %s }\n'
                           'turn_ratios = { through = 0.8, left = 0.1, right = 0.1 }\n'
                           'lane = [{ movements = ["right", "through"] }, { movements = ["through", "left"] }]\n'
                           % (me, side, link_id(src, me), exits))
            for pid, sides, conf in [(2, "WE", 4), (4, "SN", 2)]:
                movs = ", ".join('"%s-%s:%s"' % (me, sd, t) for sd in sides for t in ("through", "left", "right"))
                out.append('[[intersection.phase]]\nid = %d\nmovements = [%s]\nconflicts = [%d]\nmin_green_s = 8.0\n'
                           'max_green_s = 60.0\nyellow_s = 3.3\nred_clearance_s = 2.0\n' % (pid, movs, conf))
    timing = ", ".join('{ intersection = "%s", offset_s = 0.0, splits_s = [30.0, 30.0] }' % jid(i, j) for i in range(n) for j in range(n))
    out.append('[[plan]]\nid = "fixed60"\ncycle_s = 60.0\ntiming = [%s]\n' % timing)
    out.append('[demand]\nduration_s = 3600.0\nmix = { car = 1.0 }\n')
    per = vph / len(entries)
    for k, l in enumerate(entries):
        out.append('[[demand.flow]]\nid = "f%d"\nfrom = "%s"\nvehicles_per_hour = %.2f\n' % (k, l, per))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--vph", type=float, default=50000)
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--step", type=float, default=1.0)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "nutgiao"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = os.path.join(tmp, "grid.toml")
        with open(site, "w") as f:
            f.write(grid_site(a.n, a.vph))
        summary = os.path.join(tmp, "s.json")
        t0 = time.time()
        p = subprocess.run([os.path.join(ROOT, "target/release/nutgiao"), "simulate", site, "--duration", str(a.duration),
                            "--step", str(a.step), "--model", "krauss", "--controller", "fixed:fixed60", "--quiet",
                            "--summary", summary], capture_output=True, text=True)
        wall = time.time() - t0
        if p.returncode != 0:
            print(p.stderr[-3000:], file=sys.stderr)
            sys.exit(1)
        s = json.load(open(summary))
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        print("grid %dx%d, %.0f veh/h, %.0f s at %.1f s steps: generated %d, inserted %d, arrived %d, running %d, "
              "waiting to enter %d, refused %d, teleports %d, gridlocks %d" % (
                  a.n, a.n, a.vph, a.duration, a.step, s["generated"], s["inserted"], s["arrived"], s["running"],
                  s["waiting_to_enter"], s["refused"], s["teleports"], s["gridlocks"]))
        print("vehicle-updates %d; simulation loop %.2f s = %.0f updates/s; whole process %.2f s = %.0f updates/s"
              % (s["vehicle_steps"], s["wall_s"], s["vehicle_steps"] / s["wall_s"], wall, s["vehicle_steps"] / wall))
        print("peak memory (max RSS of nutgiao): %.1f MB" % rss_mb)


if __name__ == "__main__":
    main()
