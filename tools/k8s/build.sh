#!/usr/bin/env bash
# Builds the real Kubernetes components that tests/k8s runs (kubectl,
# kube-apiserver, etcd, kube-scheduler) from their Go modules, pinned by
# tools/k8s/go.mod (k8s.io/kubernetes, staging modules replaced by their
# published releases) and tools/k8s/etcd/go.mod (etcd server).
#
# Binaries land in ${KSCHED_K8S_CACHE:-$HOME/.cache/ksched/k8s}/<k8s-version>/bin/
# and are rebuilt only when the pinned modules change (a stamp per binary
# records the hash of its go.mod and go.sum). kubectl is built first because
# other tests wait for it; each binary appears atomically when complete.
#
# Usage: tools/k8s/build.sh [NAME ...]   (default: all four, in that order)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

fail() {
    echo "tools/k8s/build.sh: FAILED: $*" >&2
    exit 1
}

# Runs a command, naming it on failure so a CI log shows what broke.
run() {
    local rc=0
    "$@" || rc=$?
    ((rc == 0)) || fail "$(printf '%q ' "$@")(exit status $rc)"
}

command -v go >/dev/null || fail "the go command is not on PATH (Go >= 1.26 is needed)"

module_version() { # $1: go.mod, $2: module path
    awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$1"
}

k8s_version=$(module_version "$here/go.mod" k8s.io/kubernetes)
etcd_version=$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
[[ $k8s_version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] ||
    fail "cannot read a k8s.io/kubernetes release from $here/go.mod (got '$k8s_version')"
k8s_major=${BASH_REMATCH[1]}
k8s_minor=${BASH_REMATCH[2]}
[[ -n $etcd_version ]] || fail "cannot read go.etcd.io/etcd/server/v3's version from $here/etcd/go.mod"

bin=${KSCHED_K8S_CACHE:-$HOME/.cache/ksched/k8s}/$k8s_version/bin
run mkdir -p "$bin"

# The release's publication time stands in for its build date, so a rebuild
# reports the same version information.
k8s_date=$(cd "$here" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes) ||
    fail "go list -m k8s.io/kubernetes in $here"

# kubectl refuses to talk sensibly to a server whose version it cannot parse,
# and kube-apiserver derives its emulation version from gitVersion: both need
# the real release number, which `go build` alone leaves as v0.0.0-master.
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version"
    k8s_ldflags+=" -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
    k8s_ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.gitCommit="
    k8s_ldflags+=" -X $pkg.buildDate=$k8s_date"
done

build() { # $1: binary name, $2: module dir, $3: package, $4: ldflags
    local name=$1 dir=$2 pkg=$3 ldflags=$4
    local stamp
    stamp=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1)
    if [[ -x $bin/$name && -f $bin/.$name.stamp && $(<"$bin/.$name.stamp") == "$stamp" ]]; then
        echo "tools/k8s/build.sh: $name is up to date in $bin"
        return
    fi
    echo "tools/k8s/build.sh: building $name ($pkg) into $bin"
    local start=$SECONDS
    (cd "$dir" && run env CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/.$name.tmp" "$pkg")
    run mv -f "$bin/.$name.tmp" "$bin/$name"
    echo "$stamp" >"$bin/.$name.stamp"
    echo "tools/k8s/build.sh: built $name in $((SECONDS - start)) s"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(kubectl kube-apiserver etcd kube-scheduler)
for name in "${targets[@]}"; do
    case $name in
        kubectl | kube-apiserver | kube-scheduler)
            build "$name" "$here" "k8s.io/kubernetes/cmd/$name" "$k8s_ldflags" ;;
        etcd)
            build etcd "$here/etcd" go.etcd.io/etcd/server/v3 "-s -w" ;;
        *) fail "unknown component '$name' (known: kubectl kube-apiserver etcd kube-scheduler)" ;;
    esac
done
echo "tools/k8s/build.sh: Kubernetes $k8s_version and etcd $etcd_version are in $bin"
