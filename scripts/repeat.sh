#!/usr/bin/env bash
# Runs the VM suites N times in a row and counts passes per suite, to find flakes
# (a loaded host stalls the emulated guests). Usage:
#   bash scripts/repeat.sh N [SUITE...]     e.g. bash scripts/repeat.sh 10 vm_pump
# SUITE is a test target (vm_driver, vm_dahdi, vm_pump, vm_boot, vm_loader, vm_loader_sig,
# vm_signatures, vm_upgrade, vm_bootguard, vm_providers, vm_failed_build, vm_release_upgrade, vm_bootfiles);
# all of them by default.
# Logs go to target/repeat/SUITE-RUN.log; the summary is printed at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: repeat.sh N [SUITE...]}
shift
suites=("$@")
if [ "${#suites[@]}" -eq 0 ]; then
    suites=(vm_driver vm_dahdi vm_pump vm_boot vm_loader vm_loader_sig vm_signatures
        vm_upgrade vm_bootguard vm_providers vm_failed_build vm_release_upgrade vm_bootfiles)
fi
package_of() {
    case $1 in
    vm_driver | vm_dahdi | vm_pump | vm_boot) echo dahdi-tests ;;
    *) echo dahdi-loader ;;
    esac
}
mkdir -p target/repeat
declare -A passed
for s in "${suites[@]}"; do
    passed[$s]=0
    cargo test --release -p "$(package_of "$s")" --test "$s" --no-run -q || exit 1
done
for run in $(seq 1 "$n"); do
    for s in "${suites[@]}"; do
        log=target/repeat/$s-$run.log
        start=$(date +%s)
        if cargo test --release -p "$(package_of "$s")" --test "$s" >"$log" 2>&1; then
            passed[$s]=$((passed[$s] + 1))
            verdict=pass
        else
            verdict=FAIL
        fi
        echo "run $run/$n $s: $verdict in $(($(date +%s) - start)) s (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done
echo "== summary ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs)"
for s in "${suites[@]}"; do
    echo "$s: ${passed[$s]}/$n passed"
done
