package main

// With --workloads, the control plane also runs what turns workloads into pods on nodes in a real cluster: the
// genuine Deployment, ReplicaSet, StatefulSet, DaemonSet and Job controllers of kube-controller-manager
// (k8s.io/kubernetes/pkg/controller/...) and the default kube-scheduler, in this process, as the admin. Nodes and
// kubelets are not part of it: KWOK (sigs.k8s.io/kwok) plays them, and the API server proxies `pods/log` to the
// node's kubelet endpoint that KWOK serves.
//
// The garbage collector, the node lifecycle controller and the other controllers of kube-controller-manager are
// left out: nothing here needs them, and each would add load on a shared test machine.

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/daemon"
	"k8s.io/kubernetes/pkg/controller/deployment"
	"k8s.io/kubernetes/pkg/controller/job"
	"k8s.io/kubernetes/pkg/controller/replicaset"
	"k8s.io/kubernetes/pkg/controller/statefulset"
	"k8s.io/kubernetes/pkg/scheduler"
	"k8s.io/kubernetes/pkg/scheduler/profile"
)

// startWorkloads starts the workload controllers and the scheduler against the API server at state.Server and
// waits until their caches are synced. They run until ctx is done.
func startWorkloads(ctx context.Context, state State, caPEM []byte) error {
	config := &rest.Config{
		Host:            state.Server,
		BearerToken:     state.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             200,
		Burst:           400,
		UserAgent:       "kubewhy-controlplane/workloads",
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building the workload controllers' client: %w", err)
	}
	ctx = klog.NewContext(ctx, klog.Background().WithName("workloads"))

	// One informer factory for the controllers (as kube-controller-manager shares one), one for the scheduler
	// (whose pod informer leaves out finished pods).
	factory := informers.NewSharedInformerFactory(client, 0)
	deployments, err := deployment.NewDeploymentController(ctx,
		factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), client)
	if err != nil {
		return fmt.Errorf("creating the Deployment controller: %w", err)
	}
	replicaSets := replicaset.NewReplicaSetController(ctx,
		factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), client, replicaset.BurstReplicas)
	statefulSets := statefulset.NewStatefulSetController(ctx,
		factory.Core().V1().Pods(), factory.Apps().V1().StatefulSets(),
		factory.Core().V1().PersistentVolumeClaims(), factory.Apps().V1().ControllerRevisions(), client)
	daemonSets, err := daemon.NewDaemonSetsController(ctx,
		factory.Apps().V1().DaemonSets(), factory.Apps().V1().ControllerRevisions(), factory.Core().V1().Pods(),
		factory.Core().V1().Nodes(), client, flowcontrol.NewBackOff(1*time.Second, 15*time.Minute))
	if err != nil {
		return fmt.Errorf("creating the DaemonSet controller: %w", err)
	}
	jobs, err := job.NewController(ctx, client, factory.Core().V1().Pods(), factory.Batch().V1().Jobs(), nil, nil)
	if err != nil {
		return fmt.Errorf("creating the Job controller: %w", err)
	}

	schedulerFactory := scheduler.NewInformerFactory(client, 0)
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	sched, err := scheduler.New(ctx, client, schedulerFactory, nil, profile.NewRecorderFactory(broadcaster),
		scheduler.WithKubeConfig(config))
	if err != nil {
		return fmt.Errorf("creating the scheduler: %w", err)
	}

	factory.Start(ctx.Done())
	schedulerFactory.Start(ctx.Done())
	for informer, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return fmt.Errorf("the workload controllers' %v cache did not sync", informer)
		}
	}
	for informer, synced := range schedulerFactory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return fmt.Errorf("the scheduler's %v cache did not sync", informer)
		}
	}
	if err := sched.WaitForHandlersSync(ctx); err != nil {
		return fmt.Errorf("waiting for the scheduler's handlers: %w", err)
	}

	go deployments.Run(ctx, 5)
	go replicaSets.Run(ctx, 5)
	go statefulSets.Run(ctx, 5)
	go daemonSets.Run(ctx, 2)
	go jobs.Run(ctx, 5)
	go sched.Run(ctx)
	return nil
}
