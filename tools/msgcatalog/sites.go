package main

import "strings"

// A site: a function (or functions: a name ending in `*` is a prefix, `a|b` lists several) of a file of a module,
// whose messages the catalog reads.
type site struct {
	module, file, fn string
	version          string
}

func (s *site) matchesFunc(name string) bool {
	for _, want := range strings.Split(s.fn, "|") {
		if strings.HasSuffix(want, "*") && strings.HasPrefix(name, strings.TrimSuffix(want, "*")) {
			return true
		}
		if name == want {
			return true
		}
	}
	return false
}

const (
	apimachinery = "k8s.io/apimachinery"
	apiserver    = "k8s.io/apiserver"
	kubernetes   = "k8s.io/kubernetes"
	clientgo     = "k8s.io/client-go"
	kubectl      = "k8s.io/kubectl"
	podsecurity  = "k8s.io/pod-security-admission"
	etcdapi      = "go.etcd.io/etcd/api/v3"
	golang       = "go"
)

// The functions read. Each rule (rules.go) names one of them by its file and function.
var sites = []site{
	// The Status constructors and the answers client-go builds when the body is not a Status.
	{module: apimachinery, file: "pkg/api/errors/errors.go", fn: "New*"},
	// Field validation (the causes of an Invalid) and strict decoding.
	{module: apimachinery, file: "pkg/util/validation/field/errors.go", fn: "ErrorType.String|Error.ErrorBody|Error.Error"},
	{module: apimachinery, file: "pkg/runtime/error.go", fn: "strictDecodingError.Error"},
	{module: apimachinery, file: "pkg/runtime/converter.go", fn: "fromUnstructuredContext.pushKey|fromUnstructuredContext.recordUnknownField"},
	// A watch stream client-go could not read: reported as if the server had failed (ClientErrorReporter).
	{module: apimachinery, file: "pkg/watch/streamwatcher.go", fn: "StreamWatcher.receive"},
	// A request body the API server could not decode.
	{module: apiserver, file: "pkg/endpoints/handlers/rest.go", fn: "transformDecodeError"},
	// Server-side apply.
	{module: apimachinery, file: "pkg/util/managedfields/internal/conflict.go", fn: "NewConflictError|getConflictMessage"},
	// The RESTMapper (kubectl, controller-runtime, client-go's dynamic clients).
	{module: apimachinery, file: "pkg/api/meta/errors.go", fn: "NoResourceMatchError.Error|NoKindMatchError.Error|AmbiguousResourceError.Error|AmbiguousKindError.Error"},
	// Authorization: the denial every authorizer's refusal is worded in, RBAC's and the node authorizer's reasons.
	{module: apiserver, file: "pkg/endpoints/handlers/responsewriters/errors.go", fn: "ForbiddenStatusError|forbiddenMessage"},
	{module: kubernetes, file: "plugin/pkg/auth/authorizer/rbac/rbac.go", fn: "RBACAuthorizer.Authorize"},
	{module: kubernetes, file: "plugin/pkg/auth/authorizer/node/node_authorizer.go", fn: "NodeAuthorizer.*|NodeAuthorizer.hasPathFrom"},
	// The kubelet's own authorization of its API (logs, exec, metrics through the API server's proxy).
	{module: kubernetes, file: "pkg/kubelet/server/server.go", fn: "InstallAuthFilter|InstallAuthNotRequiredHandlers|NewServer"},
	// Authentication.
	{module: apiserver, file: "pkg/endpoints/filters/authentication.go", fn: "withAuthentication|Unauthorized"},
	// Admission: webhooks, policies, Pod Security, quota, limits, namespace lifecycle.
	{module: apiserver, file: "pkg/admission/plugin/webhook/errors/statuserror.go", fn: "ToStatusErr|NewDryRunUnsupportedErr"},
	{module: apiserver, file: "pkg/util/webhook/error.go", fn: "ErrCallingWebhook.Error"},
	{module: apiserver, file: "pkg/admission/plugin/webhook/validating/dispatcher.go", fn: "validatingDispatcher.callHook"},
	{module: apiserver, file: "pkg/admission/plugin/policy/validating/dispatcher.go", fn: "dispatcher.Dispatch"},
	{module: podsecurity, file: "admission/admission.go", fn: "Admission.EvaluatePod"},
	{module: apiserver, file: "pkg/admission/plugin/resourcequota/controller.go", fn: "CheckRequest|QuotaAdmission.checkQuotas|quotaEvaluator.checkQuotas|quotaEvaluator.checkRequest"},
	{module: kubernetes, file: "plugin/pkg/admission/limitranger/admission.go", fn: "minConstraint|maxConstraint|limitRequestRatioConstraint|PodValidateLimitFunc|LimitRanger.*"},
	{module: apiserver, file: "pkg/admission/plugin/namespace/lifecycle/admission.go", fn: "Lifecycle.Admit"},
	// The storage behind the API server: etcd's errors as it surfaces them, the watch cache, expired versions.
	{module: apiserver, file: "pkg/storage/errors.go", fn: "StorageError.Error|NewTooLargeResourceVersionError"},
	{module: apiserver, file: "pkg/storage/cacher/ready.go", fn: "ready.readGenerationLocked"},
	{module: apiserver, file: "pkg/storage/etcd3/errors.go", fn: "interpretWatchError|interpretListError|handleCompactedErrorForPaging"},
	{module: etcdapi, file: "v3rpc/rpctypes/error.go", fn: "var"},
	{module: apiserver, file: "pkg/storage/cacher/watch_cache.go", fn: "watchCache.getAllEventsSinceLocked|watchCache.waitAndListExactRV"},
	{module: apiserver, file: "pkg/registry/generic/registry/store.go", fn: "Store.Update"},
	{module: apiserver, file: "pkg/endpoints/handlers/finisher/finisher.go", fn: "finishRequest"},
	{module: apiserver, file: "pkg/endpoints/handlers/responsewriters/status.go", fn: "ErrorToAPIStatus"},
	// API Priority and Fairness and the max-in-flight filter (a plain-text 429), the request time-out filter.
	{module: apiserver, file: "pkg/server/filters/priority-and-fairness.go", fn: "tooManyRequests"},
	{module: apiserver, file: "pkg/server/filters/timeout.go", fn: "WithTimeoutForNonLongRunningRequests|timeoutHandler.ServeHTTP"},
	// client-go: the REST client's throttling notice, the reflector's log lines, discovery.
	{module: clientgo, file: "rest/request.go", fn: "Request.tryThrottleWithInfo"},
	{module: clientgo, file: "tools/cache/reflector.go", fn: "Reflector.*|handleWatch|handleListWatch|handleAnyWatch|DefaultWatchErrorHandler"},
	{module: clientgo, file: "discovery/discovery_client.go", fn: "ErrGroupDiscoveryFailed.Error"},
	// kubectl: how it prints an error (its wrappers) and the errors it makes itself.
	{module: kubectl, file: "pkg/cmd/util/helpers.go", fn: "AddSourceToErr|checkErr|StandardErrorMessage"},
	// Go: the transport's words (TLS, DNS, dial, time-outs).
	{module: golang, file: "crypto/x509/verify.go", fn: "UnknownAuthorityError.Error|CertificateInvalidError.Error|HostnameError.Error"},
	{module: golang, file: "net/http/transport.go", fn: "tlsHandshakeTimeoutError.Error"},
	{module: golang, file: "context/context.go", fn: "deadlineExceededError.Error"},
	{module: golang, file: "net/http/client.go", fn: "Client.do"},
	// A path nothing serves: the plain-text 404 every Go HTTP server (the API server's NotFound handler) answers.
	{module: golang, file: "net/http/server.go", fn: "NotFound"},
}
