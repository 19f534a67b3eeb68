{{/*
Names and labels. Selector labels are a separate, minimal set: a Deployment's
selector is immutable, so it must never contain anything that changes between
releases (chart version, app version).
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "upir-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The resource name prefix: fullnameOverride, else RELEASE-NAME (or RELEASE when it
already contains the chart name). 63 characters at most (DNS label).
*/}}
{{- define "upir-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* NAME-VERSION for the helm.sh/chart label ("+" is not allowed in labels). */}}
{{- define "upir-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of the release. */}}
{{- define "upir-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "upir-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The descriptive labels, without a component (the callers add theirs). */}}
{{- define "upir-operator.baseLabels" -}}
helm.sh/chart: {{ include "upir-operator.chart" . }}
app.kubernetes.io/name: {{ include "upir-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: upir-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of every operator resource: the base labels plus component=operator. */}}
{{- define "upir-operator.labels" -}}
{{ include "upir-operator.baseLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "upir-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "upir-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: REPOSITORY@DIGEST when a digest is given, else REPOSITORY:TAG. */}}
{{- define "upir-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The peering name (UPIR_PEERING), or "" when peering is off. */}}
{{- define "upir-operator.peeringName" -}}
{{- if .Values.peering.enabled }}
{{- default (include "upir-operator.fullname" .) .Values.peering.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the signing key, or "" when the operator uses an ephemeral key. */}}
{{- define "upir-operator.signingKeySecret" -}}
{{- if .Values.signingKey.existingSecret }}
{{- .Values.signingKey.existingSecret }}
{{- else if .Values.signingKey.generate }}
{{- printf "%s-signing-key" (include "upir-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Where the signing key is mounted (a directory; the file is signingKey.secretKey). */}}
{{- define "upir-operator.signingKeyDir" -}}
/etc/upir/signing
{{- end }}

{{/* The namespace of optional monitoring objects: their own value, else the release's. */}}
{{- define "upir-operator.namespaceOr" -}}
{{- default .root.Release.Namespace .namespace }}
{{- end }}

{{/* operator.prometheus.headers as UPIR_PROMETHEUS_HEADERS: Name=value pairs, by name. */}}
{{- define "upir-operator.prometheusHeaders" -}}
{{- $pairs := list }}
{{- range $k, $v := . }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
