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

{{/* The bundled PostgreSQL: its Secret and key holding the password (given, generated or the user's). */}}
{{- define "trodden.dbName" -}}
{{- printf "%s-db" (include "trodden.fullname" .) -}}
{{- end -}}

{{- define "trodden.dbPasswordSecret" -}}
{{- default (include "trodden.dbName" .) .Values.postgres.existingSecret -}}
{{- end -}}

{{- define "trodden.dbPasswordKey" -}}
{{- if .Values.postgres.existingSecret -}}{{ .Values.postgres.passwordKey }}{{- else -}}password{{- end -}}
{{- end -}}

{{/* No password given and no Secret named: a hook Job generates one in the cluster, once. */}}
{{- define "trodden.dbGeneratesPassword" -}}
{{- if and .Values.postgres.enabled (not .Values.postgres.password) (not .Values.postgres.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* The bundled database's DSN without its password: the operator adds the password (URL-encoded)
from TRODDEN_DB_PASSWORD, so no render ever holds it. User and database names are restricted by
values.schema.json to characters that need no encoding. */}}
{{- define "trodden.bundledDsn" -}}
{{- printf "postgresql://%s@%s.%s.svc:5432/%s" .Values.postgres.user (include "trodden.dbName" .) .Release.Namespace .Values.postgres.database -}}
{{- end -}}
