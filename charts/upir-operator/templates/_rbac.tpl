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
# what a UPIR renders, exactly the operations of upir_operator.kube.RESOURCES:
# server-side apply is patch; create is apply's fallback for objects the
# operator owns; get reads the target Deployment and the learner checkpoint.
# Nothing is deleted (owned objects carry an ownerReference: the garbage
# collector removes them with their UPIR), and no Secret is read.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "patch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "patch"]
# events: kopf posts them (the operator's through kopf.event)
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# the user's Deployment: read and patched, never created or deleted
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["create", "patch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["create", "patch"]
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
