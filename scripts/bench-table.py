#!/usr/bin/env python3
"""Turn the criterion results of the audio benchmarks into benches/RESULTS.md.

Reads <target>/criterion/**/new/{benchmark,estimates}.json, where <target> is
$CARGO_TARGET_DIR if set and the workspace's target/ otherwise, and writes a markdown
table of our engine and codec against the C baselines measured in the same run, with
the ratios and the targets of issue 5. Python standard library only.

Usage: python3 scripts/bench-table.py [--out PATH] [--target-dir DIR]
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = (
    "cargo bench -p dahdi-benches --bench mix --bench g711 && python3 scripts/bench-table.py"
)

SHAPES = {
    "talk3": "N participants, 3 of them talking (and listening), the rest listening",
    "alltalk": "N participants, all talking and listening",
}
PATHS = {
    "linear": "linear in, linear out",
    "ulaw": "mu-law in, mu-law out (decode and encode included)",
}
BASELINES = [("asterisk", "Asterisk softmix"), ("freeswitch", "FreeSWITCH"), ("dahdi", "DAHDI")]


def load(criterion_dir):
    """Map (group, function, parameter) to the median time in ns per iteration."""
    results = {}
    for dirpath, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        key = (bench["group_id"], bench["function_id"], bench.get("value_str"))
        results[key] = est["median"]["point_estimate"]
    return results


def fmt_ns(v):
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(num, den):
    if num is None or den is None or den == 0:
        return "n/a"
    return f"{num / den:.1f}x"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return " ".join(x for x in ("avx2", "avx512f", "avx512bw") if x in flags)
    except OSError:
        pass
    return "unknown"


def best_isa():
    """The SIMD level the engine's runtime dispatch picks here (dahdi::audio::Isa)."""
    flags = cpu_flags().split()
    if "avx512f" in flags and "avx512bw" in flags:
        return "AVX-512"
    if "avx2" in flags:
        return "AVX2"
    return "portable"


# Everything in RESULTS.md from this line on is written by hand (repeated runs,
# notes) and carried over unchanged when the generated part is rewritten.
KEPT = "<!-- not generated: scripts/bench-table.py keeps everything from here on -->"


def kept_tail(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    at = text.find(KEPT)
    return text[at:] if at >= 0 else None


def rustc_version():
    try:
        return subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def mix_sections(r, out, verdicts):
    for path, path_desc in PATHS.items():
        for shape, shape_desc in SHAPES.items():
            group = f"mix_{path}_{shape}"
            sizes = sorted(
                {int(k[2]) for k in r if k[0] == group and k[2] is not None}
            )
            if not sizes:
                continue
            out.append(f"### Mixing, {path_desc}; {shape_desc}\n")
            out.append(
                "ns per participant-frame (160 samples); ratios are baseline / ours "
                "(higher means ours is faster).\n"
            )
            floor = path == "linear"
            head = ["N", "ours", "ours (portable)"] + [b[1] for b in BASELINES]
            head += [f"{b[1]} / ours" for b in BASELINES]
            if floor:
                head += ["memory floor (copy)", "ours / floor"]
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            for n in sizes:
                def per(fn, n=n):
                    v = r.get((group, fn, str(n)))
                    return None if v is None else v / n

                ours = per("ours")
                row = [f"{n:,}", fmt_ns(ours), fmt_ns(per("ours_portable"))]
                row += [fmt_ns(per(b[0])) for b in BASELINES]
                row += [fmt_ratio(per(b[0]), ours) for b in BASELINES]
                if floor:
                    row += [fmt_ns(per("copy")), fmt_ratio(ours, per("copy"))]
                out.append("| " + " | ".join(row) + " |")
                if n == 1000:
                    verdicts.append((path, shape, ours, per("freeswitch"), per("dahdi"),
                                     per("copy")))
            if floor:
                out.append("")
                out.append(
                    "'memory floor (copy)' is not a mixer: every input row memcpy'd to its "
                    "output row, the least memory traffic any mix-minus that writes each "
                    "participant's frame to its own buffer must move (it reads every input "
                    "once; a mixer reads each talker's twice). 'ours / floor' is how many "
                    "such copies our whole tick costs.")
            out.append("")


def g711_section(r, out, g711_verdicts):
    groups = [
        ("g711_decode_ulaw", "mu-law decode"),
        ("g711_encode_ulaw", "mu-law encode"),
        ("g711_decode_alaw", "A-law decode"),
        ("g711_encode_alaw", "A-law encode"),
    ]
    if not any(k[0] == g for g, _ in groups for k in r):
        return
    out.append("### G.711, ns per sample (4096-sample buffers)\n")
    head = ["operation", "ours", "ours (portable)", "ours (DAHDI-compatible)", "C table",
            "C table / ours"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for group, name in groups:
        def per(fn, group=group):
            keys = [k for k in r if k[0] == group and k[1] == fn]
            if not keys:
                return None
            return r[keys[0]] / int(keys[0][2])

        ours = per("ours")
        row = [name, fmt_ns(ours), fmt_ns(per("ours_portable")),
               fmt_ns(per("ours_dahdi_compat")), fmt_ns(per("c_table")),
               fmt_ratio(per("c_table"), ours)]
        out.append("| " + " | ".join(row) + " |")
        g711_verdicts.append((name, ours, per("ours_dahdi_compat")))
    out.append("")


def targets_section(verdicts, g711_verdicts, out):
    out.append("### Targets (issue 5), from the numbers above\n")
    out.append("| target | shape | measured | met? |")
    out.append("|---|---|---|---|")

    def yes(ok):
        return "yes" if ok else "**no**"

    for path, shape, ours, fs, dahdi, copy in verdicts:
        if ours is None:
            continue
        if path == "linear":
            out.append(f"| linear mix-minus at N=1000 <= 10 ns | {shape} | "
                       f"{fmt_ns(ours)} ns | {yes(ours <= 10)} |")
            if fs:
                out.append(f"| >= 5x faster than FreeSWITCH-style | {shape} | "
                           f"{fs / ours:.1f}x | {yes(fs / ours >= 5)} |")
                if copy and shape == "alltalk":
                    out.append(f"| (for reference: FreeSWITCH-style / 5 against the "
                               f"memory floor) | {shape} | {fmt_ns(fs / 5)} ns vs "
                               f"{fmt_ns(copy)} ns | - |")
            if dahdi:
                out.append(f"| >= 30x faster than DAHDI-style | {shape} | "
                           f"{dahdi / ours:.1f}x | {yes(dahdi / ours >= 30)} |")
        else:
            out.append(f"| mu-law in/out at N=1000 <= 100 ns | {shape} | "
                       f"{fmt_ns(ours)} ns | {yes(ours <= 100)} |")
    for name, ours, compat in g711_verdicts:
        if ours is not None:
            out.append(f"| G.711 {name} <= 0.3 ns/sample | - | {fmt_ns(ours)} ns | "
                       f"{yes(ours <= 0.3)} |")
    out.append("")

PUMP_COMMAND = (
    "cargo bench -p dahdi-benches --bench pump_tick --bench pump_tap --bench pump_shm "
    "&& python3 scripts/bench-table.py"
)


def pump_section(r, out):
    """The channel pump's benches (issue 7), if they were run."""
    if not any(k[0].startswith("pump_") for k in r):
        return
    out.append("## Channel pump (issue 7)\n")
    out.append("Reproduce:\n\n```sh\n" + PUMP_COMMAND + "\n```\n")
    out.append("Times are CPU time as above, except the tap's (monotonic clock around each "
               "tick or publish, the subscriber thread running on the other core); "
               "benches/benches/pump_*.rs say exactly what one iteration covers.\n")
    verdicts = []

    def get(group, fn, param=None):
        return r.get((group, fn, param))

    def per(v, n):
        return None if v is None else v / n

    sizes = sorted({int(k[2]) for k in r if k[0] == "pump_tick" and k[2]})
    if sizes:
        out.append("### Pump tick with N in-memory participants against the bare engine\n")
        out.append("ns per participant per tick (160 samples, everyone talking). 'pump / "
                   "engine' divides two benches run one after the other, the engine "
                   "mixing the same buffers tick after tick, so they stay in cache; 'side "
                   "by side' runs an engine mix and a pump tick (with the application's "
                   "side) in every iteration, alternating the order, and measures the "
                   "pump's overhead over the engine within the same iterations, so the "
                   "machine's drift between benches cannot move the ratio, (engine + "
                   "overhead) / engine; there the engine finds its buffers as far out of "
                   "cache as the pump does, as it would in an application that does other "
                   "work between ticks, which makes the engine slower and the ratio lower. "
                   "The target (at most 2x at N=10,000) is shown both ways.\n")
        out.append("| N | engine (mix alone) | pump tick | pump / engine "
                   "| side by side: engine | side by side: pump overhead "
                   "| side by side: pump / engine "
                   "| pump tick, queues 1 deep | that / engine "
                   "| engine + copies in and out | pump tick + application side "
                   "| ratio of those two |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            e, p, p1, pa, eio, se, so = (get("pump_tick", f, str(n))
                                         for f in ("engine", "pump", "pump_depth1",
                                                   "pump_with_app", "engine_io",
                                                   "side_by_side_engine",
                                                   "side_by_side_overhead"))
            side = None if se is None or so is None else se + so
            out.append(f"| {n:,} | {fmt_ns(per(e, n))} | {fmt_ns(per(p, n))} "
                       f"| {fmt_ratio(p, e)} | {fmt_ns(per(se, n))} | {fmt_ns(per(so, n))} "
                       f"| {fmt_ratio(side, se)} "
                       f"| {fmt_ns(per(p1, n))} | {fmt_ratio(p1, e)} "
                       f"| {fmt_ns(per(eio, n))} | {fmt_ns(per(pa, n))} "
                       f"| {fmt_ratio(pa, eio)} |")
            if n == 10_000 and se and side:
                verdicts.append(("pump tick at N=10,000 <= 2x the bare engine (side by side)",
                                 f"{side / se:.1f}x", side / se <= 2))
            if n == 10_000 and e and p:
                verdicts.append(("pump tick at N=10,000 <= 2x the bare engine (separate "
                                 "benches)", f"{p / e:.1f}x", p / e <= 2))
        out.append("")
    frames = sorted({int(k[2]) for k in r if k[0] == "pump_tap" and k[2]})
    if frames:
        out.append("### In-process tap: F frames per tick to a subscriber thread\n")
        out.append("ns per frame on the publishing (pump) side. 'tap' is what subscribing to "
                   "every port's output adds to a pump tick of F ports that do not lend "
                   "(a tapped and an untapped pump ticked side by side, the difference "
                   "divided by F), with a subscriber that reads every sample ('reader') or "
                   "glances at one sample per frame ('glance'); 'per message' is "
                   "crossbeam-channel with one frame per message and a reader; 'copied' is "
                   "the tap publishing copies of frames that lie elsewhere, with a reader; "
                   "'memcpy' the copy alone.\n")
        out.append("| F | untapped tick | tap, reader | tap, glance | crossbeam, frame per "
                   "message | copied | memcpy | per message / tap (reader) |")
        out.append("|---|---|---|---|---|---|---|---|")
        for f in frames:
            u, tap, glance, m, c, mc = (get("pump_tap", fn, str(f)) for fn in (
                "untapped", "tap_cost", "tap_cost_glance", "per_frame", "copied", "memcpy"))
            out.append(f"| {f:,} | {fmt_ns(per(u, f))} | {fmt_ns(per(tap, f))} "
                       f"| {fmt_ns(per(glance, f))} | {fmt_ns(per(m, f))} "
                       f"| {fmt_ns(per(c, f))} | {fmt_ns(per(mc, f))} "
                       f"| {fmt_ratio(m, tap)} |")
            for subscriber, cost in (("reader", tap), ("glance", glance)):
                if f == 100 and cost is not None:
                    verdicts.append((f"tap at 100 frames a tick <= 10 ns per frame ({subscriber})",
                                     f"{fmt_ns(cost / f)} ns", cost / f <= 10))
        out.append("")
    ring, copy = get("pump_shm", "ring_process"), get("pump_shm", "memcpy")
    if ring:
        out.append("### Shared-memory ring, one process to another, 320-byte frames\n")
        out.append("| | ns per frame | million frames per second |")
        out.append("|---|---|---|")
        out.append(f"| ring, writer and reader processes (CPU time of the busier side) "
                   f"| {fmt_ns(ring)} | {1e3 / ring:.1f} |")
        if copy:
            out.append(f"| memcpy of the same bytes, one thread | {fmt_ns(copy)} "
                       f"| {1e3 / copy:.1f} |")
        out.append("")
        verdicts.append(("shm ring >= 10 M frames/s", f"{1e3 / ring:.1f} M/s",
                         1e3 / ring >= 10))
    if sizes:
        out.append(
            "Reading the pump rows: memory ports lend their queue slots, so the pump copies "
            "no audio; the engine mixes from the frame the application queued into the "
            "slot the application will pop, and a queue reuses the slot freed last, so "
            "with the default depth of 4 a tick touches the same memory as with queues "
            "one frame deep (compare the two columns). The ports of a bank are lent and "
            "committed by the bank in one pass each (one cache line of state per port), "
            "not through two virtual calls per port. What is left over the bare engine "
            "is, first, that those frames were just written or will just be read by the "
            "application, which at N=10,000 pushes them out of the caches the bare "
            "engine keeps its buffers in; and second, the two passes over the ports' "
            "queue positions and counters. "
            "The `pump` figure also includes one CLOCK_THREAD_CPUTIME_ID system call per "
            "tick, which weighs on the small N.\n"
        )
    if frames:
        out.append(
            "Reading the tap rows: a tap costs a hand-over per tick and a price per "
            "frame. The hand-over is one channel message; the batch's buffer comes back "
            "by an atomic or into a word the pump reads once every few ticks, and the "
            "buffer carries its own handle on the tap, so no reference count moves "
            "between the cores. Per frame, the engine writes each tapped output straight "
            "into the batch (no copy), but into memory colder than the engine's own "
            "output buffers: five cache lines per frame that the pump must take for "
            "writing, which is most of the 'glance' figure at F=100 (compare F=16, where "
            "the hand-over weighs more). With a subscriber that reads every sample "
            "('reader') every line of every frame also goes to the other core and back. "
            "A per-message channel pays the hand-over for every frame. "
            "The 'memcpy' column gives the scale: on these machines copying a frame into "
            "a buffer already in cache costs more than the 10 ns target by itself, and a "
            "tap's frames must be written into memory that is not in the pump's cache "
            "for writing (the subscriber holds or has just read the batches before).\n"
        )
    if ring:
        out.append(
            "Reading the ring row: on these machines the same binary measures anywhere from "
            "about 5 to about 20 million frames per second from one run to the next, both "
            "processes busy on their own vCPU throughout (perf stat: 1.99 CPUs utilised, "
            "about a hundred context switches per run). Every frame is six cache lines "
            "that move from the writer's core to the reader's, so the rate follows how "
            "far apart the host places the two vCPUs; the table records the run it was "
            "made from.\n"
        )
    if verdicts:
        out.append("### Targets (issue 7), from the numbers above\n")
        out.append("| target | measured | met? |")
        out.append("|---|---|---|")
        for name, measured, ok in verdicts:
            out.append(f"| {name} | {measured} | {'yes' if ok else '**no**'} |")
        out.append("")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "RESULTS.md"))
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR")
                    or os.path.join(ROOT, "target"))
    args = ap.parse_args()
    criterion_dir = os.path.join(args.target_dir, "criterion")
    if not os.path.isdir(criterion_dir):
        sys.exit(f"bench-table: no criterion results in {criterion_dir}; run the benches first")
    r = load(criterion_dir)

    out = ["# Audio benchmark results\n"]
    out.append("Reproduce (the table is generated; do not edit by hand):\n")
    out.append("```sh\n" + COMMAND + "\n```\n")
    out.append(
        f"Measured {datetime.date.today().isoformat()} on {cpu_model()} "
        f"(SIMD: {cpu_flags()}; {os.cpu_count()} logical CPUs, shared with other engineers "
        f"and measured while other work ran), {rustc_version()}. Times are criterion's "
        "median over 10 samples of the benchmark thread's CPU time "
        "(CLOCK_THREAD_CPUTIME_ID, see benches/benches/common/mod.rs), so that time the "
        "scheduler gives to other processes is not counted; contention for caches and "
        "memory still is, so expect run-to-run noise of 10-30%. The C baselines "
        "(benches/c/baselines.c) are compiled with -O3 -march=native in the same build "
        "and run in the same process under the same measurement.\n"
    )
    out.append(
        "What one iteration covers: one 160-sample tick of the whole conference. Inputs "
        "are in memory (linear) or arrive as mu-law bytes that must be decoded (mu-law); "
        "the tick produces every participant's output frame (encoded, for mu-law) ready "
        "to be read. Ours includes writing the talkers' mu-law frames into the engine and "
        "walking every participant's output slice (Mixer::outputs/outputs_law). The baselines are the hot loops as "
        "described in mixing-perf.md without locks, queues or syscalls, so they are if "
        "anything faster than the real systems. 'ours' is the best SIMD level detected "
        f"on this machine ({best_isa()} here); 'portable' is the plain-Rust path.\n"
    )
    verdicts, g711_verdicts = [], []
    mix_sections(r, out, verdicts)
    g711_section(r, out, g711_verdicts)
    targets_section(verdicts, g711_verdicts, out)
    out.append(
        "Reading the linear all-talk rows: when everyone talks, every participant-frame "
        "needs its own 320-byte input read twice (once for the sum, once for its "
        "mix-minus) and its own 320-byte output written. The 'memory floor (copy)' "
        "column measures, in the same run, the cheapest possible version of that "
        "traffic: one memcpy of every input row to its output row, no arithmetic and "
        "a single read. The per-participant targets for this shape sit at or below "
        "that floor (compare the floor with the FreeSWITCH-style time divided by 5 in "
        "the targets table), so no exact mix-minus that writes each participant's "
        "frame to a buffer of its own can meet them on this machine; 'ours / floor' "
        "shows how close ours gets. In the realistic shape (a few talkers) the "
        "non-talkers share one frame and cost no per-listener traffic, and every "
        "target is met.\n"
    )
    pump_section(r, out)
    tail = kept_tail(args.out)
    if tail is not None:
        out.append(tail.rstrip("\n") + "\n")
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print(f"bench-table: wrote {args.out} ({len(r)} benchmarks)")


if __name__ == "__main__":
    main()
