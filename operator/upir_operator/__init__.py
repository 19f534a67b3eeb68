"""upir-operator: the kopf operator that verifies, synthesizes, applies and tunes
UPIR resources (import name ``upir_operator``; the folder ``operator/`` is not a
package so it never shadows the standard library module ``operator``)."""
