{{/* The pod template of the Deployment and the StatefulSet: non-root, read-only root filesystem, probes on
/healthz and /readyz, and the flags of leader election or sharding. */}}
{{- define "doc-controller.pod" -}}
metadata:
  labels:
    {{- include "doc-controller.labels" . | nindent 4 }}
  {{- with .Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "doc-controller.fullname" . }}
  # Longer than --shutdown-timeout (25s), so running reconciles finish and the Lease is released before SIGKILL.
  terminationGracePeriodSeconds: 30
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: doc-controller
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - run
        {{- if .Values.sharding.enabled }}
        - --shards
        - auto
        - --shard-filter
        - {{ .Values.sharding.filter | quote }}
        {{- else if .Values.leaderElection.enabled }}
        - --leader-elect
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: DOC_CONTROLLER_LOG_FORMAT
          value: {{ .Values.log.format | quote }}
        {{- with .Values.log.filter }}
        - name: RUST_LOG
          value: {{ . | quote }}
        {{- end }}
        {{- with .Values.watchNamespace }}
        - name: DOC_CONTROLLER_NAMESPACE
          value: {{ . | quote }}
        {{- end }}
        - name: DOC_CONTROLLER_IDENTITY
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- if .Values.sharding.enabled }}
        # The ring is the release's; each replica's Lease is named after its pod (DOC_CONTROLLER_IDENTITY).
        - name: DOC_CONTROLLER_RING_NAME
          value: {{ include "doc-controller.fullname" . }}
        {{- end }}
        {{- if or .Values.leaderElection.enabled .Values.sharding.enabled }}
        {{- if not .Values.sharding.enabled }}
        - name: DOC_CONTROLLER_LEASE_NAME
          value: {{ include "doc-controller.fullname" . }}
        {{- end }}
        - name: DOC_CONTROLLER_LEASE_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: DOC_CONTROLLER_LEASE_DURATION
          value: {{ .Values.leaderElection.leaseDuration | quote }}
        - name: DOC_CONTROLLER_LEASE_RENEW_DEADLINE
          value: {{ .Values.leaderElection.renewDeadline | quote }}
        - name: DOC_CONTROLLER_LEASE_RETRY_PERIOD
          value: {{ .Values.leaderElection.retryPeriod | quote }}
        {{- end }}
      ports:
        - name: http
          containerPort: 8080
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        failureThreshold: 2
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
