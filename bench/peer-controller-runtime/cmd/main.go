// Command peer-controller-runtime is the controller-runtime (Go) benchmark peer of doc-controller: the same
// Document semantics, scaffolded the way kubebuilder scaffolds a project. Its flags select stock settings (the
// framework's defaults) or tuned ones (the concurrency and client rate limits doc-controller uses).
package main

import (
	"flag"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	docsv1 "github.com/kubewhy/kubewhy/bench/peer-controller-runtime/api/v1"
	"github.com/kubewhy/kubewhy/bench/peer-controller-runtime/internal/controller"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(docsv1.AddToScheme(scheme))
}

func main() {
	var metricsAddr, probeAddr string
	var enableLeaderElection, stripManagedFields, selectConfigMaps bool
	var maxConcurrentReconciles int
	var qps float64
	var burst int
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to "+
		"(0 disables it).")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Enable leader election for controller manager.")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 1,
		"Reconcile at most this many Documents at once (controller-runtime's default is 1; doc-controller's is 8).")
	flag.Float64Var(&qps, "kube-api-qps", 0, "Client-side rate limit in requests/s (0: controller-runtime's "+
		"default, which disables the client-side limiter and relies on the server's priority and fairness; "+
		"doc-controller has no client-side limiter either).")
	flag.IntVar(&burst, "kube-api-burst", 0, "Client-side burst (0: controller-runtime's default).")
	flag.BoolVar(&stripManagedFields, "strip-managed-fields", false,
		"Drop managedFields from cached objects (doc-controller trims its cache the same way).")
	flag.BoolVar(&selectConfigMaps, "select-configmaps", false,
		"Cache only the ConfigMaps this controller publishes (by label), as doc-controller does.")
	opts := zap.Options{Development: true}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	cfg := ctrl.GetConfigOrDie()
	if qps != 0 {
		cfg.QPS = float32(qps)
	}
	if burst != 0 {
		cfg.Burst = burst
	}
	cacheOpts := cache.Options{}
	if stripManagedFields {
		cacheOpts.DefaultTransform = cache.TransformStripManagedFields()
	}
	if selectConfigMaps {
		cacheOpts.ByObject = map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: labels.SelectorFromSet(labels.Set{
				controller.ManagedByLabel: controller.ManagedByValue,
			})},
		}
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         enableLeaderElection,
		LeaderElectionID:       "doc-controller-go.kube.rs",
		Cache:                  cacheOpts,
	})
	if err != nil {
		setupLog.Error(err, "unable to start manager")
		os.Exit(1)
	}

	if err := (&controller.DocumentReconciler{
		Client:                  mgr.GetClient(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("doc-controller-go"),
		MaxConcurrentReconciles: maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "Document")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager", "maxConcurrentReconciles", maxConcurrentReconciles,
		"qps", cfg.QPS, "burst", cfg.Burst, "stripManagedFields", stripManagedFields)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
