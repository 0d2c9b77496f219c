#!/usr/bin/env bash
# Builds doc-controller's container image without network access and runs it the way a cluster runs it, against
# kubewhy's local control plane: a static binary, an image FROM scratch (deploy/Containerfile), run by podman as
# uid 65532 with a read-only root filesystem, no capabilities, and in-cluster configuration (the ServiceAccount's
# token, CA and namespace mounted at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT).
# It passes when the container becomes ready (/readyz) and reconciles the samples of deploy/samples/ (Ready=True).
#
#   deploy/image-check.sh            # from anywhere in the checkout; needs podman (Debian: apt-get install podman)
#
# Not part of `cargo test`: it needs a container runtime, root or a configured rootless podman, and a second,
# static release build of doc-controller (several minutes of CPU on 2 cores); the Rust code it runs is the
# same that the tests cover. Environment:
#   PODMAN_RUNTIME   OCI runtime for `podman run` (default: runc when installed; crun refuses a cgroup v1/v2
#                    hybrid host: "cgroups in hybrid mode not supported")
#   IMAGE            image name (default: ghcr.io/kubewhy/doc-controller:<version>)
#   KEEP=1           keep the work directory (control plane state, logs) for inspection
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '== %s\n' "$*"; }
fail() { printf 'image-check: FAILED: %s\n' "$*" >&2; exit 1; }

command -v podman >/dev/null || fail "podman is not installed (Debian: apt-get install -y podman)"
command -v kubectl >/dev/null || fail "kubectl is not installed"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image=${IMAGE:-ghcr.io/kubewhy/doc-controller:$version}
runtime=${PODMAN_RUNTIME:-}
if [[ -z $runtime ]] && command -v runc >/dev/null; then runtime=runc; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/doc-controller-image.XXXXXX")
container=doc-controller-image-check-$$
cp_pid=
cleanup() {
    status=$?
    if [[ $status -ne 0 ]] && podman container exists "$container" 2>/dev/null; then
        echo "--- the container's log:" >&2
        podman logs "$container" 2>&1 | tail -n 40 >&2 || true
    fi
    # Each step only tidies up after the check; a failure here changes nothing about its result.
    podman rm -f "$container" >/dev/null 2>&1 || true
    if [[ -n $cp_pid ]]; then
        kill -TERM "$cp_pid" 2>/dev/null || true
        wait "$cp_pid" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

say "1/6 a static doc-controller (x86_64-unknown-linux-gnu, +crt-static, release)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
    --target x86_64-unknown-linux-gnu -p doc-controller --bin doc-controller
bin=target/x86_64-unknown-linux-gnu/release/doc-controller
file "$bin" | grep -Eq "statically linked|static-pie linked" || fail "$bin is not static: $(file "$bin")"
"$bin" --version
echo "$(du -h "$bin" | cut -f1) $(file -b "$bin" | cut -d, -f1-2)"

say "2/6 the image $image, FROM scratch, without network"
mkdir "$work/context"
# Without the line tables the release profile keeps for backtraces on the host (function names stay).
strip --strip-debug -o "$work/context/doc-controller" "$bin"
echo "binary in the image: $(du -h "$work/context/doc-controller" | cut -f1)"
podman build --network none --quiet -f deploy/Containerfile -t "$image" "$work/context" >/dev/null
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[[ $user == 65532:65532 ]] || fail "the image runs as '$user', not 65532:65532"
podman image inspect --format 'image: {{.Id}} {{.Size}} bytes, user {{.Config.User}}, entrypoint {{.Config.Entrypoint}}' "$image"

say "3/6 the local control plane, everything in $work/controlplane"
cargo build -p kubewhy-testenv --bin kubewhy-dev
target/debug/kubewhy-dev up --dir "$work/controlplane" >"$work/up.log" 2>&1 &
cp_pid=$!
for _ in $(seq 600); do
    grep -q "control plane ready" "$work/up.log" && break
    kill -0 "$cp_pid" 2>/dev/null || fail "the control plane did not start: $(cat "$work/up.log")"
    sleep 0.5
done
grep -q "control plane ready" "$work/up.log" || fail "the control plane was not ready in 300s"
export KUBECONFIG=$(sed -n 's/^  admin kubeconfig: //p' "$work/up.log")
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
port=${server##*:}
port=${port%%/*}

say "4/6 the CRD, ServiceAccount and RBAC from deploy/, and the pod's ServiceAccount volume"
kubectl apply --server-side --field-manager image-check \
    -f deploy/crd.yaml -f deploy/serviceaccount.yaml -f deploy/rbac.yaml
kubectl wait --for condition=Established --timeout 60s crd/documents.kube.rs
sa=$work/serviceaccount
mkdir "$sa"
kubectl create token doc-controller -n doc-controller --duration 1h >"$sa/token"
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
if [[ -n $ca ]]; then cp "$ca" "$sa/ca.crt"; else
    kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$sa/ca.crt"
fi
printf doc-controller >"$sa/namespace"
# As a projected ServiceAccount volume: readable by the container's user (Kubernetes' defaultMode is 0644).
chmod 0755 "$sa" && chmod 0644 "$sa"/*
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

say "5/6 the container: uid 65532, read-only root filesystem, no capabilities, in-cluster configuration"
run_args=(--detach --name "$container" --network host --read-only --user 65532:65532
    --cap-drop ALL --security-opt no-new-privileges
    # Explicit limits below the host's: podman's defaults (the host's hard limits) need CAP_SYS_RESOURCE to set,
    # which a sandboxed root may lack ("setrlimit `RLIMIT_NOFILE`: Operation not permitted").
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096
    -v "$sa:/var/run/secrets/kubernetes.io/serviceaccount:ro"
    -e KUBERNETES_SERVICE_HOST=127.0.0.1 -e "KUBERNETES_SERVICE_PORT=$port"
    -e "DOC_CONTROLLER_HTTP_ADDR=127.0.0.1:$http_port" -e DOC_CONTROLLER_IDENTITY=image-check
    -e DOC_CONTROLLER_LOG_FORMAT=json)
podman ${runtime:+--runtime "$runtime"} run "${run_args[@]}" "$image" run --leader-elect >/dev/null
podman inspect --format 'container: user {{.Config.User}}, read-only root {{.HostConfig.ReadonlyRootfs}}, caps dropped {{.HostConfig.CapDrop}}' "$container"
ready=
for _ in $(seq 120); do
    [[ $(podman inspect --format '{{.State.Running}}' "$container") == true ]] || fail "the container exited"
    if curl -fsS "http://127.0.0.1:$http_port/readyz" >"$work/readyz" 2>/dev/null; then ready=1; break; fi
    sleep 0.5
done
[[ -n $ready ]] || fail "not ready in 60s: $(curl -sS "http://127.0.0.1:$http_port/readyz" 2>&1)"
echo "ready:"; sed 's/^/  /' "$work/readyz"

say "6/6 the samples of deploy/samples/ are reconciled"
kubectl apply -n default -f deploy/samples/
for doc in $(kubectl get documents -n default -o name); do
    kubectl wait -n default --for condition=Ready=True --timeout 60s "$doc" >/dev/null ||
        fail "$doc is not Ready: $(kubectl get -n default "$doc" -o jsonpath='{.status}')"
done
kubectl get documents -n default -o custom-columns='NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,HIDDEN:.status.hidden,PUBLISHED:.status.publishedConfigMap'
kubectl get lease -n doc-controller doc-controller -o jsonpath='lease holder: {.spec.holderIdentity}{"\n"}'
podman logs "$container" 2>&1 | grep -q '"level":"ERROR"' && fail "the container logged errors"
echo "image-check: passed ($image)"
