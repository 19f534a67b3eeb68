{{/*
The operator's RBAC rules, shared by the cluster-wide ClusterRole and the
namespaced Role (templates/rbac.yaml). Least privilege: exactly the API calls the
operator makes; tests/integration/chart compares these rules with
upir_operator.kube.RESOURCES, the verbs of upir_operator.kube.Kube, and kopf's own
needs.
*/}}
{{- define "upir-operator.namespacedRules" -}}
# UPIR objects: kopf lists and watches them (handlers get the body from the
# watch) and patches its finalizer; users' objects are never created or deleted
- apiGroups: ["upir.dev"]
  resources: ["upirs"]
  verbs: ["list", "watch", "patch"]
# verdicts, conditions and kopf's progress live in the status subresource
- apiGroups: ["upir.dev"]
  resources: ["upirs/status"]
  verbs: ["patch"]
# what a UPIR renders (server-side apply = patch, create as the fallback; get
# reads the target Deployment; delete removes what a UPIR no longer asks for);
# events: kopf and the operator post them
- apiGroups: [""]
  resources: ["configmaps", "services", "events"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}
{{- define "upir-operator.discoveryRules" -}}
# kopf watches CustomResourceDefinitions to discover the upirs resource
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- end }}
{{- define "upir-operator.peeringRules" -}}
# kopf peering: each operator keeps its record in the peering object's status
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
