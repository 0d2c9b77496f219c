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
{{- if and .Values.sharding.enabled .Values.leaderElection.enabled -}}
{{- fail "sharding.enabled and leaderElection.enabled are exclusive (sharing replicas do not elect a leader): set leaderElection.enabled=false" -}}
{{- end -}}
{{- if not (has .Values.sharding.filter (list "auto" "client")) -}}
{{- fail (printf "sharding.filter must be `auto` or `client`, not %q" .Values.sharding.filter) -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) (not .Values.sharding.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled or sharding.enabled: without either every replica reconciles every Document" -}}
{{- end -}}
{{- if not (has .Values.log.format (list "json" "human")) -}}
{{- fail (printf "log.format must be `json` or `human`, not %q" .Values.log.format) -}}
{{- end -}}
{{- end -}}
