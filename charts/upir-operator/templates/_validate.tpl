{{/*
Checks the schema cannot express (it cannot compare two values). Included by
deployment.yaml, so every render runs them.
*/}}
{{- define "upir-operator.validate" -}}
{{- if eq (int .Values.metrics.port) (int .Values.health.port) }}
{{- fail (printf "metrics.port and health.port must differ (both are %d)" (int .Values.metrics.port)) }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.peering.enabled) }}
{{- fail "replicaCount > 1 requires peering.enabled=true: without kopf peering every pod would reconcile every UPIR" }}
{{- end }}
{{- /* Z3 runs in-process next to Python and PyTorch (about 512 MiB): keep its ceiling below the pod's */}}
{{- $limit := toString (dig "limits" "memory" "" .Values.resources) }}
{{- if regexMatch "^[0-9]+(Mi|Gi)$" $limit }}
{{- $mib := int (trimSuffix "Mi" (trimSuffix "Gi" $limit)) }}
{{- if hasSuffix "Gi" $limit }}{{ $mib = mul $mib 1024 }}{{ end }}
{{- if gt (add (int .Values.operator.solver.memoryMb) 512) $mib }}
{{- fail (printf "operator.solver.memoryMb (%d MiB) plus 512 MiB for Python and PyTorch exceeds resources.limits.memory (%s)" (int .Values.operator.solver.memoryMb) $limit) }}
{{- end }}
{{- end }}
{{- end }}
