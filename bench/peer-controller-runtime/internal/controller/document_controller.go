// Package controller holds the Document reconciler: the same semantics as doc-controller (crates/doc-controller)
// and kube-rs's controller-rs, written the way a kubebuilder project writes a reconciler.
package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/tools/events"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	docsv1 "github.com/kubewhy/kubewhy/bench/peer-controller-runtime/api/v1"
)

const (
	// Finalizer guards a Document's deletion until what it published is removed (doc-controller's name).
	Finalizer = "documents.kube.rs/cleanup"
	// FieldManager is the server-side apply field manager for statuses and ConfigMaps.
	FieldManager = "doc-controller-go"
	// ManagedByLabel marks the ConfigMaps this controller publishes.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel.
	ManagedByValue = "doc-controller-go"
	// Resync is the requeue after a successful reconcile (doc-controller's and controller-rs's 5 minutes).
	Resync = 5 * time.Minute

	conditionReady     = "Ready"
	conditionPublished = "Published"
)

// DocumentReconciler reconciles a Document object.
type DocumentReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// MaxConcurrentReconciles is passed to the controller (controller-runtime's default is 1).
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=kube.rs,resources=documents,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kube.rs,resources=documents/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kube.rs,resources=documents/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves the cluster towards the state a Document asks for.
func (r *DocumentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)

	doc := &docsv1.Document{}
	if err := r.Get(ctx, req.NamespacedName, doc); err != nil {
		// Deleted after the request was queued: nothing to do.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if !doc.DeletionTimestamp.IsZero() {
		if controllerutil.ContainsFinalizer(doc, Finalizer) {
			log.Info("deleting the Document: removing what it published")
			r.Recorder.Eventf(doc, nil, corev1.EventTypeNormal, "DeleteRequested", "Deleting", "Delete `%s`", doc.Name)
			if err := r.removeConfigMap(ctx, doc); err != nil {
				return ctrl.Result{}, err
			}
			controllerutil.RemoveFinalizer(doc, Finalizer)
			if err := r.Update(ctx, doc); err != nil {
				return ctrl.Result{}, fmt.Errorf("removing the finalizer: %w", err)
			}
		}
		return ctrl.Result{}, nil
	}

	if !controllerutil.ContainsFinalizer(doc, Finalizer) {
		controllerutil.AddFinalizer(doc, Finalizer)
		if err := r.Update(ctx, doc); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
	}

	if doc.Spec.Hide && !doc.Status.Hidden {
		log.Info("hiding the Document")
		r.Recorder.Eventf(doc, nil, corev1.EventTypeNormal, "HideRequested", "Hiding", "Hiding `%s`", doc.Name)
	}

	published := ""
	if doc.Spec.Publish && !doc.Spec.Hide {
		if err := r.ensureConfigMap(ctx, doc); err != nil {
			return ctrl.Result{}, err
		}
		published = doc.Name
	} else if err := r.removeConfigMap(ctx, doc); err != nil {
		return ctrl.Result{}, err
	}

	if err := r.writeStatus(ctx, doc, published); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: Resync}, nil
}

// writeStatus server-side applies the status unless it already says the same (no write on a no-op reconcile).
func (r *DocumentReconciler) writeStatus(ctx context.Context, doc *docsv1.Document, published string) error {
	desired := doc.Status.DeepCopy()
	desired.Hidden = doc.Spec.Hide
	desired.ObservedGeneration = doc.Generation
	desired.PublishedConfigMap = published
	what := "the Document is visible"
	switch {
	case published != "":
		what = "the Document is visible and published as ConfigMap " + published
	case doc.Spec.Hide:
		what = "the Document is hidden"
	}
	meta.SetStatusCondition(&desired.Conditions, metav1.Condition{
		Type: conditionReady, Status: metav1.ConditionTrue, Reason: "Reconciled", Message: what,
		ObservedGeneration: doc.Generation,
	})
	switch {
	case doc.Spec.Publish && published != "":
		meta.SetStatusCondition(&desired.Conditions, metav1.Condition{
			Type: conditionPublished, Status: metav1.ConditionTrue, Reason: "ConfigMapPublished",
			Message: "published as ConfigMap " + published, ObservedGeneration: doc.Generation,
		})
	case doc.Spec.Publish:
		meta.SetStatusCondition(&desired.Conditions, metav1.Condition{
			Type: conditionPublished, Status: metav1.ConditionFalse, Reason: "Hidden",
			Message: "a hidden Document is not published", ObservedGeneration: doc.Generation,
		})
	default:
		meta.RemoveStatusCondition(&desired.Conditions, conditionPublished)
	}
	if equality.Semantic.DeepEqual(&doc.Status, desired) {
		return nil
	}

	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return fmt.Errorf("encoding the status: %w", err)
	}
	patch := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": docsv1.GroupVersion.String(),
		"kind":       "Document",
		"metadata":   map[string]any{"name": doc.Name, "namespace": doc.Namespace},
		"status":     status,
	}}
	if err := r.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(patch),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing the status: %w", err)
	}
	return nil
}

// ensureConfigMap creates or repairs the ConfigMap a published Document owns.
func (r *DocumentReconciler) ensureConfigMap(ctx context.Context, doc *docsv1.Document) error {
	existing := &corev1.ConfigMap{}
	err := r.Get(ctx, client.ObjectKeyFromObject(doc), existing)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading ConfigMap %s/%s: %w", doc.Namespace, doc.Name, err)
	case !metav1.IsControlledBy(existing, doc):
		return fmt.Errorf("ConfigMap %s/%s already exists and is not owned by this Document", doc.Namespace, doc.Name)
	case existing.Labels[ManagedByLabel] == ManagedByValue &&
		existing.Data["title"] == doc.Spec.Title && existing.Data["content"] == doc.Spec.Content:
		return nil
	}
	cm := corev1ac.ConfigMap(doc.Name, doc.Namespace).
		WithLabels(map[string]string{ManagedByLabel: ManagedByValue}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(docsv1.GroupVersion.String()).WithKind("Document").
			WithName(doc.Name).WithUID(doc.UID).WithController(true).WithBlockOwnerDeletion(true)).
		WithData(map[string]string{"title": doc.Spec.Title, "content": doc.Spec.Content})
	if err := r.Apply(ctx, cm, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("publishing ConfigMap %s/%s: %w", doc.Namespace, doc.Name, err)
	}
	return nil
}

// removeConfigMap deletes the ConfigMap this Document published, if there is one.
func (r *DocumentReconciler) removeConfigMap(ctx context.Context, doc *docsv1.Document) error {
	if !doc.Spec.Publish && doc.Status.PublishedConfigMap == "" {
		return nil
	}
	existing := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKeyFromObject(doc), existing); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(existing, doc) {
		return nil
	}
	uid := existing.UID
	err := r.Delete(ctx, existing, client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting ConfigMap %s/%s: %w", doc.Namespace, doc.Name, err)
	}
	return nil
}

// SetupWithManager sets up the controller with the Manager.
func (r *DocumentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&docsv1.Document{}).
		Owns(&corev1.ConfigMap{}).
		Named("document").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}
