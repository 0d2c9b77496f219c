{{/* The name of every object of a release. */}}
{{- define "doc-controller.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select a release's pods. */}}
{{- define "doc-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object the templates write. */}}
{{- define "doc-controller.labels" -}}
{{ include "doc-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Settings the chart refuses instead of ignoring. */}}
{{- define "doc-controller.validate" -}}
{{- if .Values.sharding -}}
{{- fail "sharding is not implemented yet (issue 13): leave `sharding` empty" -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled: without it every replica reconciles every Document" -}}
{{- end -}}
{{- if not (has .Values.log.format (list "json" "human")) -}}
{{- fail (printf "log.format must be `json` or `human`, not %q" .Values.log.format) -}}
{{- end -}}
{{- end -}}
