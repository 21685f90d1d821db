{{- define "trodden.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trodden.labels" -}}
app.kubernetes.io/name: trodden
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "trodden.selector" -}}
app.kubernetes.io/name: trodden
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "trodden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "trodden.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "trodden.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret and key holding the DSN the operator uses (and copies to the namespaces it serves). */}}
{{- define "trodden.dsnSecret" -}}
{{- if .Values.postgres.enabled -}}
{{- printf "%s-db" (include "trodden.fullname" .) -}}
{{- else -}}
{{- required "set externalDatabase.existingSecret when postgres.enabled is false" .Values.externalDatabase.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "trodden.dsnKey" -}}
{{- if .Values.postgres.enabled -}}dsn{{- else -}}{{ .Values.externalDatabase.dsnKey }}{{- end -}}
{{- end -}}
